"""A programme's nudge rules: which silences and omissions deserve a nudge, after how
long, to whom, with which words; plus quiet hours and the weekly limit.

A rules file (TOML, see `default_rules.toml`) holds the base book; a programme's
`[nudges]` section uses the same keys and is laid over it key by key, so a
programme can switch one rule off (`[nudges.rules.goal-check-in] enabled = false`)
without repeating the others.
"""

from __future__ import annotations

import re
import string
import tomllib
from collections.abc import Mapping
from datetime import time, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from shared.programmes import merge_tables

DEFAULT_RULES_FILE = Path(__file__).with_name("default_rules.toml")

Trigger = Literal["proposal_unanswered", "no_session", "feedback_missing", "goal_check_in"]
Audience = Literal["mentee", "mentor", "admins"]

_DURATION = re.compile(r"^\s*(\d+)\s*(w|d|h|m)\s*$")
_UNITS = {"w": timedelta(weeks=1), "d": timedelta(days=1), "h": timedelta(hours=1),
          "m": timedelta(minutes=1)}  # fmt: skip
_RULE_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")

# Placeholders a message template may use. Nothing from feedback is among them, so
# a rule cannot leak a rating or a note even by mistake.
PLACEHOLDERS = frozenset(
    {"reason", "since", "days", "rule_id", "mentorship_id", "match_id", "session_id",
     "programme_id", "mentee_id", "mentor_id"}
)  # fmt: skip


class RulesError(ValueError):
    """A rules file or a programme's `[nudges]` section that cannot be used."""


def parse_duration(value: object) -> object:
    """`"3d"`, `"24h"`, `"2w"`, `"90m"`; anything else is left to pydantic (ISO 8601)."""
    if isinstance(value, str):
        found = _DURATION.match(value)
        if found:
            return int(found.group(1)) * _UNITS[found.group(2)]
    return value


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]


def _clock_time(value: object) -> object:
    if isinstance(value, str) and re.fullmatch(r"\d{1,2}:\d{2}", value):
        hours, minutes = value.split(":")
        return time(int(hours), int(minutes))
    return value


ClockTime = Annotated[time, BeforeValidator(_clock_time)]


class Rule(BaseModel):
    """One nudge rule: when `trigger` has held for `after`, nudge `recipients`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    trigger: Trigger
    after: Duration
    recipients: tuple[Audience, ...]
    message: str = "{reason}"
    enabled: bool = True

    @field_validator("id")
    @classmethod
    def _id_is_a_slug(cls, value: str) -> str:
        if not _RULE_ID.match(value):
            raise ValueError("a rule id is lowercase letters, digits and dashes")
        if value == "digest":
            raise ValueError("'digest' is the kind of merged nudges, not a rule id")
        return value

    @field_validator("after")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise ValueError("a threshold must be positive")
        return value

    @field_validator("recipients")
    @classmethod
    def _some_recipients(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value or len(set(value)) != len(value):
            raise ValueError("recipients must be a non-empty list without repeats")
        return value

    @field_validator("message")
    @classmethod
    def _known_placeholders(cls, value: str) -> str:
        try:
            fields = {name for _, name, _, _ in string.Formatter().parse(value) if name}
        except ValueError as exc:
            raise ValueError(f"malformed template: {exc}") from None
        unknown = fields - PLACEHOLDERS
        if unknown:
            raise ValueError(
                f"unknown placeholders {sorted(unknown)}; allowed: {sorted(PLACEHOLDERS)}"
            )
        return value

    @model_validator(mode="after")
    def _goal_reminds_the_mentee(self) -> Rule:
        if self.trigger == "goal_check_in" and "mentor" in self.recipients:
            raise ValueError("goal check-ins are the mentee's: recipients may not name the mentor")
        return self

    def render(self, values: Mapping[str, str]) -> str:
        return self.message.format_map({name: values.get(name, "") for name in PLACEHOLDERS})


class QuietHoursConfig(BaseModel):
    """Local times between which nobody is nudged (start == end: never quiet)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    start: ClockTime = time(21, 0)
    end: ClockTime = time(8, 0)


class RateLimitConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    max_nudges: Annotated[int, Field(ge=1, le=1000)] = 3
    per: Duration = timedelta(days=7)


class RuleBook(BaseModel):
    """Every rule of one programme, its quiet hours, its limit and its admins."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rules: dict[str, Rule] = Field(default_factory=dict)
    quiet_hours: QuietHoursConfig = Field(default_factory=QuietHoursConfig)
    rate_limit: RateLimitConfig = Field(default_factory=RateLimitConfig)
    admins: tuple[str, ...] = ()

    @model_validator(mode="before")
    @classmethod
    def _ids_from_keys(cls, raw: Any) -> Any:
        if isinstance(raw, dict) and isinstance(raw.get("rules"), dict):
            rules = {}
            for key, body in raw["rules"].items():
                rules[key] = {"id": key, **body} if isinstance(body, dict) else body
            raw = {**raw, "rules": rules}
        return raw

    @model_validator(mode="after")
    def _keys_match_ids(self) -> RuleBook:
        for key, rule in self.rules.items():
            if key != rule.id:
                raise ValueError(f"rule {key!r} declares id {rule.id!r}")
        return self

    def active(self, trigger: Trigger) -> list[Rule]:
        """The switched-on rules of one trigger, shortest threshold first."""
        found = [r for r in self.rules.values() if r.enabled and r.trigger == trigger]
        return sorted(found, key=lambda r: (r.after, r.id))

    def rule(self, rule_id: str) -> Rule | None:
        return self.rules.get(rule_id)

    def overlaid(self, section: Mapping[str, Any], extra_admins: tuple[str, ...] = ()) -> RuleBook:
        """This book with a programme's `[nudges]` section laid over it."""
        merged = merge_tables(self.as_toml(), dict(section))
        merged["admins"] = list(dict.fromkeys([*merged.get("admins", []), *extra_admins]))
        return book_from_mapping(merged, "programme [nudges] section")

    def as_toml(self) -> dict[str, Any]:
        """The book as the plain mapping a rules file would hold."""
        raw = self.model_dump(mode="python")
        for body in raw["rules"].values():
            body.pop("id")
        return raw


def book_from_mapping(raw: Mapping[str, Any], origin: str) -> RuleBook:
    try:
        return RuleBook.model_validate(dict(raw))
    except ValidationError as exc:
        raise RulesError(f"{origin}: {exc}") from None


def load_rules(path: Path = DEFAULT_RULES_FILE) -> RuleBook:
    try:
        with path.open("rb") as fh:
            raw = tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise RulesError(f"{path}: {exc}") from None
    return book_from_mapping(raw, str(path))
