"""The in-memory graph of who knows whom: people and the ties between them.

It is a cache of the state in MongoDB, rebuilt at start and kept current by
overwriting a tie or a person with its latest stored state, so applying the same
change twice, or a change this process made itself and then reads back from the
change feed, is harmless.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Protocol

from services.network.people import Person, unknown_person
from services.network.ties import Tie

_NO_TIES: Mapping[str, Tie] = {}


class SocialGraph:
    def __init__(self) -> None:
        self._people: dict[str, Person] = {}
        self._ties: dict[str, dict[str, Tie]] = {}
        # Per person, the sums of base strengths and of stored session boosts of
        # their ties, so their total strength at any time is O(1) (see ties.py).
        self._base_sum: dict[str, float] = {}
        self._boost_sum: dict[str, float] = {}
        self._tie_count = 0

    # --- reading ---------------------------------------------------------

    def __contains__(self, person_id: object) -> bool:
        return person_id in self._people

    def __len__(self) -> int:
        return len(self._people)

    @property
    def tie_count(self) -> int:
        return self._tie_count

    def people(self) -> Iterator[Person]:
        return iter(self._people.values())

    def person(self, person_id: str) -> Person | None:
        return self._people.get(person_id)

    def ties_of(self, person_id: str) -> Mapping[str, Tie]:
        return self._ties.get(person_id, _NO_TIES)

    def tie(self, a: str, b: str) -> Tie | None:
        return self._ties.get(a, _NO_TIES).get(b)

    def ties(self) -> Iterator[tuple[str, str, Tie]]:
        """Every tie once."""
        for a, ties in self._ties.items():
            for b, tie in ties.items():
                if a < b:
                    yield a, b, tie

    def total_strength(self, person_id: str, decay_now: float) -> float:
        return self._base_sum.get(person_id, 0.0) + decay_now * self._boost_sum.get(person_id, 0.0)

    # --- changing ----------------------------------------------------------

    def put_person(self, person: Person) -> None:
        self._people[person.id] = person

    def set_tie(self, a: str, b: str, tie: Tie) -> None:
        """Make the tie between a and b exactly `tie` (people unknown so far are
        added as placeholders until their profile arrives)."""
        if a == b:
            raise ValueError(f"a tie needs two people, got {a!r} twice")
        for end in (a, b):
            if end not in self._people:
                self._people[end] = unknown_person(end)
        self._unlink(a, b)
        self._ties.setdefault(a, {})[b] = tie
        self._ties.setdefault(b, {})[a] = tie
        for end in (a, b):
            self._base_sum[end] = self._base_sum.get(end, 0.0) + tie.base
            self._boost_sum[end] = self._boost_sum.get(end, 0.0) + tie.boost
        self._tie_count += 1

    def remove_tie(self, a: str, b: str) -> None:
        self._unlink(a, b)

    def remove_person(self, person_id: str) -> None:
        """Forget the person and every tie they had."""
        for other in list(self._ties.get(person_id, _NO_TIES)):
            self._unlink(person_id, other)
        self._ties.pop(person_id, None)
        self._base_sum.pop(person_id, None)
        self._boost_sum.pop(person_id, None)
        self._people.pop(person_id, None)

    def _unlink(self, a: str, b: str) -> None:
        tie = self._ties.get(a, {}).pop(b, None)
        if tie is None:
            return
        del self._ties[b][a]
        self._tie_count -= 1
        for end in (a, b):
            if self._ties[end]:
                self._base_sum[end] -= tie.base
                self._boost_sum[end] -= tie.boost
            else:
                # Exact zero rather than a float residue once nobody is left.
                del self._ties[end]
                self._base_sum[end] = 0.0
                self._boost_sum[end] = 0.0


class GraphView(Protocol):
    """What ranking reads: a SocialGraph, or one amended by uncommitted ties."""

    def person(self, person_id: str) -> Person | None: ...
    def ties_of(self, person_id: str) -> Mapping[str, Tie]: ...
    def tie(self, a: str, b: str) -> Tie | None: ...
    def total_strength(self, person_id: str, decay_now: float) -> float: ...


class AmendedGraph:
    """A graph as it will be once a transaction commits: ties changed by the
    transaction are seen by ranking within it, while the shared graph changes
    only after the commit."""

    def __init__(self, graph: SocialGraph, changed: Iterable[tuple[str, str, Tie | None]]) -> None:
        self._graph = graph
        self._ties: dict[str, dict[str, Tie | None]] = {}
        for a, b, tie in changed:
            self._ties.setdefault(a, {})[b] = tie
            self._ties.setdefault(b, {})[a] = tie

    def person(self, person_id: str) -> Person | None:
        found = self._graph.person(person_id)
        if found is None and person_id in self._ties:
            return unknown_person(person_id)
        return found

    def ties_of(self, person_id: str) -> Mapping[str, Tie]:
        changed = self._ties.get(person_id)
        base = self._graph.ties_of(person_id)
        if changed is None:
            return base
        merged = dict(base)
        for other, tie in changed.items():
            if tie is None:
                merged.pop(other, None)
            else:
                merged[other] = tie
        return merged

    def tie(self, a: str, b: str) -> Tie | None:
        changed = self._ties.get(a)
        if changed is not None and b in changed:
            return changed[b]
        return self._graph.tie(a, b)

    def total_strength(self, person_id: str, decay_now: float) -> float:
        total = self._graph.total_strength(person_id, decay_now)
        for other, tie in self._ties.get(person_id, {}).items():
            old = self._graph.tie(person_id, other)
            if old is not None:
                total -= old.strength(decay_now)
            if tie is not None:
                total += tie.strength(decay_now)
        return total
