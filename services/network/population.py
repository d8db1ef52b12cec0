"""Synthetic people and ties for evaluation and benchmarks.

`attributed_population` makes a population whose ties follow shared passions and
goals (people meet through friends, and stay in touch when they have something to
learn from each other or to share), the situation the service's blend is built
for. `large_graph` makes big graphs shaped like a mentoring network (mentors with
a handful of mentees, alumni and introduction ties, a few well-connected people)
for timing.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from services.network.inputs import Edge
from services.network.people import Person
from services.network.ties import TieKind

TOPICS = tuple(f"topic {i}" for i in range(40))
PASSIONS = tuple(f"passion {i}" for i in range(25))


@dataclass(frozen=True)
class Population:
    people: dict[str, Person]
    edges: list[Edge]


def _affinity(a: Person, b: Person) -> int:
    return len(a.passions & b.passions) + len(a.goals & b.skills) + len(b.goals & a.skills)


def attributed_population(n: int = 400, seed: int = 0, closures: int = 6) -> Population:
    rng = random.Random(seed)
    people: dict[str, Person] = {}
    for i in range(n):
        skills = frozenset(rng.sample(TOPICS, 3))
        goals = frozenset(rng.sample([t for t in TOPICS if t not in skills], 2))
        passions = frozenset(rng.sample(PASSIONS, rng.choice((2, 3))))
        pid = f"p{i:04d}"
        people[pid] = Person(id=pid, goals=goals, passions=passions, skills=skills)
    ids = list(people)
    ties: dict[str, set[str]] = {pid: set() for pid in ids}

    def link(a: str, b: str) -> None:
        ties[a].add(b)
        ties[b].add(a)

    # First acquaintances: people drift towards those they have things in common with.
    for a in ids:
        others = [b for b in ids if b != a]
        weights = [(0.05 + _affinity(people[a], people[b])) ** 2 for b in others]
        for b in rng.choices(others, weights=weights, k=2):
            link(a, b)
    # Then friends of friends meet; they stay in touch when they have affinity.
    for _ in range(n * closures):
        a = rng.choice(ids)
        if not ties[a]:
            continue
        z = rng.choice(sorted(ties[a]))
        b = rng.choice(sorted(ties[z]))
        if b == a or b in ties[a]:
            continue
        if rng.random() < min(1.0, 0.03 + 0.3 * _affinity(people[a], people[b])):
            link(a, b)
    edges = [Edge(a, b) for a in ids for b in sorted(ties[a]) if a < b]
    return Population(people=people, edges=edges)


@dataclass(frozen=True)
class TieRecord:
    a: str
    b: str
    kind: TieKind
    sessions: tuple[datetime, ...]


def large_graph(ties: int, seed: int = 0, now: datetime | None = None) -> Iterator[TieRecord]:
    """About `ties` ties among ties/10 people: each person has a few mentorships
    (live or ended, with sessions), and introductions, attached preferentially so
    that some people are hubs, as in real social graphs."""
    rng = random.Random(seed)
    n = max(10, ties // 10)
    now = now or datetime(2025, 6, 1, tzinfo=UTC)
    ends: list[int] = []  # every tie's two ends: picking from it is preferential
    seen: set[tuple[int, int]] = set()
    made = 0
    while made < ties:
        a = rng.randrange(n)
        b = rng.choice(ends) if ends and rng.random() < 0.7 else rng.randrange(n)
        if a == b or (min(a, b), max(a, b)) in seen:
            continue
        seen.add((min(a, b), max(a, b)))
        ends.extend((a, b))
        roll = rng.random()
        kind = (
            TieKind.MENTORSHIP
            if roll < 0.1
            else TieKind.ALUMNI
            if roll < 0.4
            else TieKind.INTRODUCTION
        )
        sessions: tuple[datetime, ...] = ()
        if kind is not TieKind.INTRODUCTION:
            sessions = tuple(
                now - timedelta(days=rng.uniform(0, 400)) for _ in range(rng.randrange(0, 6))
            )
        made += 1
        yield TieRecord(f"u{a:07d}", f"u{b:07d}", kind, sessions)
