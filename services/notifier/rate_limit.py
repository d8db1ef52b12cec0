"""At most N nudges per person per period. Escalations do not count: the caller
simply never records them here."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class RateLimit:
    max_nudges: int
    per: timedelta

    def recent(self, sent: Sequence[datetime], at: datetime) -> list[datetime]:
        """The sends that still count at `at`, oldest first."""
        return sorted(x for x in sent if at - self.per < x <= at)

    def room(self, sent: Sequence[datetime], at: datetime) -> int:
        return max(0, self.max_nudges - len(self.recent(sent, at)))

    def next_slot(self, sent: Sequence[datetime], at: datetime) -> datetime:
        """The first instant after `at` with room for one more nudge."""
        recent = self.recent(sent, at)
        if len(recent) < self.max_nudges:
            return at
        # Room appears when enough of the oldest sends have left the period.
        return recent[len(recent) - self.max_nudges] + self.per

    def kept(self, sent: Sequence[datetime], at: datetime) -> list[datetime]:
        """The sends worth remembering at `at` (older ones can never count again)."""
        return sorted(x for x in sent if x > at - self.per)
