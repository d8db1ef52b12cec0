"""What a tie between two people is made of, and how strong it is at a given time.

Completed sessions strengthen a tie, and recent ones count more: each session adds
a credit that halves every `SESSION_HALF_LIFE`. The credit is stored already scaled
by 2^((t - EPOCH) / half-life), so the decayed sum of any set of sessions is
`boost * decay(now)`: one multiplication, whatever the order the sessions arrived
in, and a person's total strength stays an O(1) sum that can be kept incrementally.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum


class TieKind(StrEnum):
    MENTORSHIP = "mentorship"
    ALUMNI = "alumni"  # a mentorship that ended: they still know each other
    INTRODUCTION = "introduction"  # both accepted an introduction
    CONTACT = "contact"  # a tie given from outside (offline tools), with its own weight


# A live mentorship is the strongest tie the service sees; an ended one is still a
# trusted acquaintance; an accepted introduction is a fresh, untested one.
BASE_STRENGTH: dict[TieKind, float] = {
    TieKind.MENTORSHIP: 1.0,
    TieKind.ALUMNI: 0.5,
    TieKind.INTRODUCTION: 0.4,
    TieKind.CONTACT: 1.0,
}
SESSION_CREDIT = 0.25
SESSION_HALF_LIFE = timedelta(days=90)
EPOCH = datetime(2024, 1, 1, tzinfo=UTC)


def _half_lives(at: datetime) -> float:
    return (at - EPOCH) / SESSION_HALF_LIFE


def session_boost(occurred_at: datetime) -> float:
    """The stored credit of one completed session (see the module docstring)."""
    return SESSION_CREDIT * math.pow(2.0, _half_lives(occurred_at))


def decay(at: datetime) -> float:
    """Multiply a stored boost by this to get its weight at `at`."""
    return math.pow(2.0, -_half_lives(at))


@dataclass(frozen=True, slots=True)
class Tie:
    kinds: frozenset[TieKind]
    base: float
    boost: float = 0.0

    def strength(self, decay_now: float) -> float:
        return self.base + self.boost * decay_now


def make_tie(kinds: frozenset[TieKind], boost: float = 0.0, weight: float | None = None) -> Tie:
    """A tie of these kinds; `weight` replaces the base strength of a CONTACT tie."""
    bases = [
        weight if (kind is TieKind.CONTACT and weight is not None) else BASE_STRENGTH[kind]
        for kind in kinds
    ]
    return Tie(kinds=kinds, base=max(bases, default=0.0), boost=boost)


def pair_key(a: str, b: str) -> str:
    """One name for the unordered pair {a, b}."""
    return f"{a}\x1f{b}" if a < b else f"{b}\x1f{a}"


def pair_of(key: str) -> tuple[str, str]:
    a, b = key.split("\x1f")
    return a, b
