"""What a tie between two people is made of, and how strong it is at a given time.

A tie is a small value: a bit set of its kinds, the platform's own weight when it
gave one, and the credit of completed sessions. How much each kind weighs is a
programme's choice (`TieWeights` in its policy), applied when ranking through a
`Strengths` table, so one graph serves every programme.

Completed sessions strengthen a tie, and recent ones count more: each session adds
a credit that halves every `SESSION_HALF_LIFE`. The credit is stored already scaled
by 2^((t - EPOCH) / half-life), so the decayed sum of any set of sessions is
`boost * decay(now)`: one multiplication, whatever the order the sessions arrived
in, and a person's total strength stays an O(1) sum that can be kept incrementally.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum


class TieKind(StrEnum):
    MENTORSHIP = "mentorship"
    ALUMNI = "alumni"  # a mentorship that ended: they still know each other
    INTRODUCTION = "introduction"  # both accepted an introduction
    CONTACT = "contact"  # a tie given from outside (offline tools)
    # Connections the platform knows of (`connection.added.v1`).
    COLLEAGUE = "colleague"
    FOLLOWS = "follows"  # one follows the other
    MUTUAL_FOLLOWS = "mutual_follows"  # each follows the other
    SAME_GROUP = "same_group"
    COHORT_ALUMNI = "cohort_alumni"
    OTHER = "other"


KINDS: tuple[TieKind, ...] = tuple(TieKind)
BIT: dict[TieKind, int] = {kind: 1 << i for i, kind in enumerate(KINDS)}
CONNECTION_KINDS = frozenset(
    {TieKind.COLLEAGUE, TieKind.FOLLOWS, TieKind.MUTUAL_FOLLOWS, TieKind.SAME_GROUP,
     TieKind.COHORT_ALUMNI, TieKind.OTHER}
)  # fmt: skip

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


def mask_of(kinds: Iterable[TieKind]) -> int:
    mask = 0
    for kind in kinds:
        mask |= BIT[kind]
    return mask


@dataclass(frozen=True, slots=True)
class Tie:
    """`mask`: the kinds whose weight the programme's policy sets; `weight`: the
    platform's own weight for connections that came with one (0.0 if none);
    `boost`: the stored credit of completed sessions."""

    mask: int
    weight: float = 0.0
    boost: float = 0.0

    @property
    def kinds(self) -> frozenset[TieKind]:
        return frozenset(kind for kind in KINDS if self.mask & BIT[kind])


@dataclass(frozen=True, eq=False)
class Strengths:
    """The base strength of every combination of kinds under one programme's
    weights: a tie weighs as much as its strongest kind (or the platform's weight)."""

    by_mask: tuple[float, ...]

    @classmethod
    def of(cls, weights: Mapping[TieKind, float]) -> Strengths:
        table = [0.0] * (1 << len(KINDS))
        for mask in range(1, len(table)):
            table[mask] = max(w for kind, w in weights.items() if mask & BIT[kind])
        return cls(tuple(table))

    def base(self, tie: Tie) -> float:
        base = self.by_mask[tie.mask]
        return tie.weight if tie.weight > base else base

    def strength(self, tie: Tie, decay_now: float) -> float:
        return self.base(tie) + tie.boost * decay_now


# Ties without a weight or sessions are shared: most ties are one of a few values.
_PLAIN: dict[int, Tie] = {}


def make_tie(kinds: Iterable[TieKind], boost: float = 0.0, weight: float | None = None) -> Tie:
    """A tie of these kinds; `weight` is the platform's (or a file's) own weight."""
    mask = mask_of(kinds)
    if boost == 0.0 and not weight:
        plain = _PLAIN.get(mask)
        if plain is None:
            plain = _PLAIN[mask] = Tie(mask)
        return plain
    return Tie(mask, weight or 0.0, boost)


def pair_key(a: str, b: str) -> str:
    """One name for the unordered pair {a, b}."""
    return f"{a}\x1f{b}" if a < b else f"{b}\x1f{a}"


def pair_of(key: str) -> tuple[str, str]:
    a, b = key.split("\x1f")
    return a, b
