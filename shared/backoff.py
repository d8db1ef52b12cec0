"""How long to wait before trying again: capped exponential backoff with jitter.

Every retry in MentorMesh (a failing batch, a failing background loop, an outage of
the database or the broker) waits this way, so a failure never turns into a hot loop
and processes that failed together do not retry in lockstep.
"""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class Backoff:
    """The n-th retry (1-based) waits between half and all of `min(cap, base * 2**(n-1))`
    seconds: the fixed half keeps attempts apart, the random half spreads processes."""

    base_s: float = 0.2
    cap_s: float = 10.0

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        ceiling = min(self.cap_s, self.base_s * 2.0 ** max(0, attempt - 1))
        return ceiling / 2 + (rng or random).uniform(0.0, ceiling / 2)
