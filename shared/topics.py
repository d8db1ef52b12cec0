"""Topic names: one place, so a prefix change renames every topic at once."""

from __future__ import annotations

from dataclasses import dataclass

DLQ_SUFFIX = ".dlq"


@dataclass(frozen=True)
class Topics:
    prefix: str = "mentormesh"

    @property
    def profiles(self) -> str:
        return f"{self.prefix}.profiles"

    @property
    def activity(self) -> str:
        return f"{self.prefix}.activity"

    @property
    def responses(self) -> str:
        return f"{self.prefix}.responses"

    @property
    def connections(self) -> str:
        return f"{self.prefix}.connections"

    @property
    def matches(self) -> str:
        return f"{self.prefix}.matches"

    @property
    def introductions(self) -> str:
        return f"{self.prefix}.introductions"

    @property
    def nudges(self) -> str:
        return f"{self.prefix}.nudges"

    @property
    def inputs(self) -> tuple[str, ...]:
        """Topics that platforms publish to."""
        return (self.profiles, self.activity, self.responses, self.connections)

    @property
    def outputs(self) -> tuple[str, ...]:
        """Topics that MentorMesh's services publish to."""
        return (self.matches, self.introductions, self.nudges)

    def all(self) -> tuple[str, ...]:
        base = self.inputs + self.outputs
        return base + tuple(dead_letter_topic(t) for t in base)


def dead_letter_topic(topic: str) -> str:
    return topic + DLQ_SUFFIX
