"""Which pairs were ever suggested (never twice), and how often each candidate was
named this week (the load cap). In memory, mirrored from MongoDB, where the
authoritative check happens inside the transaction that makes a suggestion."""

from __future__ import annotations

from datetime import datetime

from services.network.ties import pair_key


def iso_week(at: datetime) -> str:
    """The load cap's period: the ISO week of the event time (sortable as text)."""
    year, week, _ = at.isocalendar()
    return f"{year:04d}-W{week:02d}"


class IntroductionHistory:
    def __init__(self) -> None:
        self._pairs: set[str] = set()
        self._pairs_of: dict[str, set[str]] = {}
        self._load: dict[str, tuple[str, int]] = {}  # candidate -> (week, suggestions)

    def __len__(self) -> int:
        return len(self._pairs)

    def suggested(self, a: str, b: str) -> bool:
        return pair_key(a, b) in self._pairs

    def load(self, candidate: str, week: str) -> int:
        recorded = self._load.get(candidate)
        return recorded[1] if recorded is not None and recorded[0] == week else 0

    def record_pair(self, a: str, b: str) -> None:
        key = pair_key(a, b)
        self._pairs.add(key)
        self._pairs_of.setdefault(a, set()).add(key)
        self._pairs_of.setdefault(b, set()).add(key)

    def record_load(self, candidate: str, week: str, count: int) -> None:
        """The stored count for that week; an older week never replaces a newer one."""
        recorded = self._load.get(candidate)
        if recorded is None or recorded[0] <= week:
            self._load[candidate] = (week, count)

    def forget_load(self, candidate: str, week: str) -> None:
        if self._load.get(candidate, ("", 0))[0] == week:
            del self._load[candidate]

    def forget_person(self, person_id: str) -> None:
        for key in self._pairs_of.pop(person_id, set()):
            self._pairs.discard(key)
            for end in key.split("\x1f"):
                if end != person_id:
                    self._pairs_of.get(end, set()).discard(key)
        self._load.pop(person_id, None)
