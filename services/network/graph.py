"""The in-memory graph of who knows whom: people and the ties between them.

It is a cache of the state in MongoDB, rebuilt at start and kept current by
overwriting a tie or a person with its latest stored state, so applying the same
change twice, or a change this process made itself and then reads back from the
change feed, is harmless.

Memory: each id is held once (every mention of a person shares the string of their
first mention), ties without weight or sessions are shared values (`make_tie`), and
a person's total strength is kept per weights table in use, not per tie.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import replace
from typing import Protocol

from services.network.people import Person, unknown_person
from services.network.ties import Strengths, Tie

_NO_TIES: Mapping[str, Tie] = {}


class SocialGraph:
    def __init__(self, strengths: Iterable[Strengths] = ()) -> None:
        self._people: dict[str, Person] = {}
        self._ties: dict[str, dict[str, Tie]] = {}
        # People known only because a tie names them (no profile yet): they leave
        # the graph with their last tie, so an erasure that deletes someone's ties
        # also forgets them in every process that follows the database.
        self._placeholders: set[str] = set()
        # Per weights table, per person, the sum of the base strengths of their ties;
        # and per person the sum of stored session boosts, so a person's total
        # strength at any time is O(1) (see ties.py).
        self._base_sums: dict[Strengths, dict[str, float]] = {s: {} for s in strengths}
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

    def has_profile(self, person_id: str) -> bool:
        """Whether the person's own profile is known (not only ties naming them)."""
        return person_id in self._people and person_id not in self._placeholders

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

    def total_strength(self, person_id: str, decay_now: float, strengths: Strengths) -> float:
        sums = self._base_sums.get(strengths)
        if sums is None:
            sums = self._sums_under(strengths)
        return sums.get(person_id, 0.0) + decay_now * self._boost_sum.get(person_id, 0.0)

    def _sums_under(self, strengths: Strengths) -> dict[str, float]:
        """Start keeping sums for a table not seen before (a programme's own weights)."""
        sums: dict[str, float] = {}
        base = strengths.base
        for person_id, ties in self._ties.items():
            sums[person_id] = sum(base(t) for t in ties.values())
        self._base_sums[strengths] = sums
        return sums

    # --- changing ----------------------------------------------------------

    def put_person(self, person: Person) -> None:
        known = self._people.get(person.id)
        if known is not None and known.id is not person.id:
            person = _with_id(person, known.id)
        self._people[person.id] = person
        self._placeholders.discard(person.id)

    def set_tie(self, a: str, b: str, tie: Tie) -> None:
        """Make the tie between a and b exactly `tie` (people unknown so far are
        added as placeholders until their profile arrives)."""
        if a == b:
            raise ValueError(f"a tie needs two people, got {a!r} twice")
        self._unlink(a, b)
        a, b = self._known(a), self._known(b)
        self._ties.setdefault(a, {})[b] = tie
        self._ties.setdefault(b, {})[a] = tie
        for strengths, sums in self._base_sums.items():
            weight = strengths.base(tie)
            sums[a] = sums.get(a, 0.0) + weight
            sums[b] = sums.get(b, 0.0) + weight
        if tie.boost:
            for end in (a, b):
                self._boost_sum[end] = self._boost_sum.get(end, 0.0) + tie.boost
        self._tie_count += 1

    def remove_tie(self, a: str, b: str) -> None:
        self._unlink(a, b)

    def remove_person(self, person_id: str) -> None:
        """Forget the person and every tie they had."""
        for other in list(self._ties.get(person_id, _NO_TIES)):
            self._unlink(person_id, other)
        self._forget(person_id)

    def _known(self, person_id: str) -> str:
        """The person's id as the graph holds it, adding a placeholder if needed."""
        person = self._people.get(person_id)
        if person is None:
            self._people[person_id] = unknown_person(person_id)
            self._placeholders.add(person_id)
            return person_id
        return person.id

    def _forget(self, person_id: str) -> None:
        self._ties.pop(person_id, None)
        for sums in self._base_sums.values():
            sums.pop(person_id, None)
        self._boost_sum.pop(person_id, None)
        self._people.pop(person_id, None)
        self._placeholders.discard(person_id)

    def _unlink(self, a: str, b: str) -> None:
        tie = self._ties.get(a, {}).pop(b, None)
        if tie is None:
            return
        del self._ties[b][a]
        self._tie_count -= 1
        for end in (a, b):
            if self._ties[end]:
                for strengths, sums in self._base_sums.items():
                    sums[end] -= strengths.base(tie)
                if tie.boost:
                    self._boost_sum[end] -= tie.boost
            else:
                # Exact zero rather than a float residue once nobody is left.
                del self._ties[end]
                for sums in self._base_sums.values():
                    sums.pop(end, None)
                self._boost_sum.pop(end, None)
                if end in self._placeholders:
                    self._forget(end)


def _with_id(person: Person, canonical: str) -> Person:
    return replace(person, id=canonical)


class GraphView(Protocol):
    """What ranking reads: a SocialGraph, or one amended by uncommitted ties."""

    def person(self, person_id: str) -> Person | None: ...
    def ties_of(self, person_id: str) -> Mapping[str, Tie]: ...
    def tie(self, a: str, b: str) -> Tie | None: ...
    def total_strength(self, person_id: str, decay_now: float, strengths: Strengths) -> float: ...


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

    def total_strength(self, person_id: str, decay_now: float, strengths: Strengths) -> float:
        total = self._graph.total_strength(person_id, decay_now, strengths)
        for other, tie in self._ties.get(person_id, {}).items():
            old = self._graph.tie(person_id, other)
            if old is not None:
                total -= strengths.strength(old, decay_now)
            if tie is not None:
                total += strengths.strength(tie, decay_now)
        return total
