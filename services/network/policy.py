"""How a programme wants introductions suggested: the `[network]` section of
`programmes/<programme_id>.toml`, over `programmes/default.toml`, over these defaults."""

from __future__ import annotations

from datetime import timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeAlias

from pydantic import BaseModel, ConfigDict, Field

from services.network.ties import Strengths, TieKind
from shared.programmes import ProgrammeBook


class RankingWeights(BaseModel):
    """The blend of a candidate's score:

        structure' * (structure + goals * goal_share + passions * passion_share)
                   * (1 - load * busy)

    where structure' is the structure score squashed to [0, 1), goal_share the part
    of the person's goals the candidate's skills cover, passion_share the part of
    the person's passions the candidate shares, and busy the candidate's
    suggestions this week over the weekly cap. Relevance multiplies the structural
    evidence rather than adding to it: a stranger with the right skills is still a
    stranger (adding them let far candidates outrank close ones and predicted
    worse on the synthetic population, see bench/network_quality.py)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    structure: float = Field(default=1.0, ge=0)
    goals: float = Field(default=1.0, ge=0)
    passions: float = Field(default=1.0, ge=0)
    load: float = Field(default=0.5, ge=0, le=1)


class TieWeights(BaseModel):
    """How much each kind of tie weighs (a tie of several kinds weighs as much as its
    strongest). A live mentorship is the strongest tie the service sees; an ended one
    is still a trusted acquaintance; an accepted introduction is a fresh, untested
    one. Platform connections weigh what the platform's own `weight` says when it
    sends one, and these defaults otherwise."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    mentorship: float = Field(default=1.0, gt=0)
    alumni: float = Field(default=0.5, gt=0)
    introduction: float = Field(default=0.4, gt=0)
    contact: float = Field(default=1.0, gt=0)
    colleague: float = Field(default=0.6, gt=0)
    follows: float = Field(default=0.2, gt=0)
    mutual_follows: float = Field(default=0.4, gt=0)
    same_group: float = Field(default=0.3, gt=0)
    cohort_alumni: float = Field(default=0.5, gt=0)
    other: float = Field(default=0.3, gt=0)


@lru_cache(maxsize=64)
def strengths_of(weights: TieWeights) -> Strengths:
    """One table per distinct set of weights (the graph keeps per-person sums for
    each table it is asked about, so equal weights must give the same object)."""
    return Strengths.of({kind: getattr(weights, kind.value) for kind in TieKind})


class NetworkPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    suggestions_per_run: int = Field(default=3, ge=1, le=50)
    # A person gets suggestions at most once per this many days (event time).
    period_days: float = Field(default=14.0, gt=0)
    # At most this many suggestions may name the same candidate per ISO week.
    weekly_cap: int = Field(default=3, ge=1)
    # Paths of three ties break ties between equal two-hop scores, and, for a
    # person with fewer than `fallback_below` two-hop candidates, reach people three
    # strong ties away (ranked after every two-hop candidate).
    three_hops: bool = True
    fallback_below: int = Field(default=10, ge=0)
    # Weight of a three-hop path relative to a two-hop one in a fallback's score.
    three_hop_weight: float = Field(default=0.5, ge=0)
    # A tie at least this strong counts as strong (a live mentorship is 1.0).
    strong_tie: float = Field(default=0.8, gt=0)
    # The structure score s is shown to the blend as s / (s + structure_scale).
    structure_scale: float = Field(default=0.25, gt=0)
    weights: RankingWeights = RankingWeights()
    tie_weights: TieWeights = TieWeights()

    @property
    def period(self) -> timedelta:
        return timedelta(days=self.period_days)

    @property
    def strengths(self) -> Strengths:
        return strengths_of(self.tie_weights)

    def structure_only(self) -> NetworkPolicy:
        """The same policy ranking by the graph alone (for evaluation)."""
        return self.model_copy(
            update={"weights": RankingWeights(structure=1.0, goals=0.0, passions=0.0, load=0.0)}
        )


# Each programme's policy: its `[network]` section over the default programme's.
PolicyBook: TypeAlias = ProgrammeBook[NetworkPolicy]


def policy_book(programmes_dir: Path | None = None) -> PolicyBook:
    def policy(_programme: str, section: dict[str, Any]) -> NetworkPolicy:
        return NetworkPolicy.model_validate(section)

    return ProgrammeBook("network", policy, programmes_dir)
