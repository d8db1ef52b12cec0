"""Network service benchmark: rebuilding the graph, memory per tie, and the time to
rank one person's introductions, next to networkx's Adamic-Adar over the same
candidates, on synthetic graphs of 10k, 100k and 1M ties.

The rebuild is measured from the real local database (SecantusDB) at 10k and 100k
ties. At 1M ties loading the database alone would take minutes on SecantusDB
(~5k inserted documents/s), so the 1M rebuild is measured from the same documents
held in memory (no database) and labelled so; the in-memory figure is printed at
every size, so the database's share can be read off the smaller sizes.

Run: .venv/bin/python bench/network.py [--sizes 10000,100000,1000000] [--persons 300]
(uses MENTORMESH_MONGO_URI if set, otherwise starts the embedded local stack).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import random
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import networkx as nx
from pymongo import AsyncMongoClient

from services.network.people import Person
from services.network.policy import NetworkPolicy
from services.network.population import PASSIONS, TOPICS, TieRecord, large_graph
from services.network.ranking import structural_scores, suggest_introductions
from services.network.repository import (
    PEOPLE,
    TIES,
    NetworkStore,
    person_to_doc,
)
from services.network.state import NetworkState
from services.network.ties import TieKind, decay, pair_key, session_boost

NOW = datetime(2025, 6, 1, tzinfo=UTC)
DB_LIMIT = 100_000  # largest size rebuilt from the real database


def documents(
    records: list[TieRecord], seed: int = 0
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The people and tie documents the service would have stored."""
    rng = random.Random(seed)
    ids = sorted({r.a for r in records} | {r.b for r in records})
    people = []
    for pid in ids:
        skills = frozenset(rng.sample(TOPICS, 3))
        person = Person(id=pid, goals=frozenset(rng.sample(TOPICS, 2)), skills=skills,
                        passions=frozenset(rng.sample(PASSIONS, 2)))  # fmt: skip
        people.append(person_to_doc(person, 1, ["default"]))
    ties = []
    for i, r in enumerate(records):
        low, high = sorted((r.a, r.b))
        doc: dict[str, Any] = {"_id": pair_key(r.a, r.b), "a": low, "b": high,
                               "boost": sum(session_boost(t) for t in r.sessions)}  # fmt: skip
        if r.kind is TieKind.MENTORSHIP:
            doc["active"] = [f"m{i}"]
        elif r.kind is TieKind.ALUMNI:
            doc["ended"] = [f"m{i}"]
        else:
            doc["introduced"] = True
        ties.append(doc)
    return people, ties


def rebuild_in_memory(people: list[dict[str, Any]], ties: list[dict[str, Any]]) -> NetworkState:
    state = NetworkState()
    state.rebuild(people, ties)
    return state


def memory_per_tie(people: list[dict[str, Any]], ties: list[dict[str, Any]]) -> float:
    gc.collect()
    tracemalloc.start()
    state = rebuild_in_memory(people, ties)
    used, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del state
    return used / len(ties)


async def rebuild_from_db(
    uri: str, people: list[dict[str, Any]], ties: list[dict[str, Any]]
) -> tuple[float, float]:
    """(seconds to load the documents into the database, seconds to rebuild from it)."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(uri, tz_aware=True)
    db = client[f"bench_network_{os.getpid()}_{len(ties)}"]
    try:
        started = time.perf_counter()
        for name, docs in ((PEOPLE, people), (TIES, ties)):
            for i in range(0, len(docs), 5000):
                await db[name].insert_many(docs[i : i + 5000], ordered=False)
        loaded = time.perf_counter() - started
        started = time.perf_counter()
        state = NetworkState()
        await state.load(NetworkStore(db))
        rebuilt = time.perf_counter() - started
        assert state.graph.tie_count == len(ties)
        return loaded, rebuilt
    finally:
        await client.drop_database(db.name)
        await client.close()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def ranking_times(
    state: NetworkState, ties: list[dict[str, Any]], persons: int
) -> dict[str, float]:
    graph = state.graph
    policy = NetworkPolicy()
    rng = random.Random(1)
    ids = sorted({d["a"] for d in ties} | {d["b"] for d in ties})
    sample = [p for p in rng.sample(ids, min(persons, len(ids))) if graph.ties_of(p)]
    g = nx.Graph()
    g.add_edges_from((d["a"], d["b"]) for d in ties)
    ours, theirs, candidates = [], [], []
    for pid in sample:
        started = time.perf_counter()
        suggest_introductions(graph, pid, at=NOW, policy=policy)
        ours.append(time.perf_counter() - started)
        # networkx scores the same candidate set (two hops, and three over strong ties).
        pool = list(structural_scores(graph, pid, decay(NOW), policy))
        candidates.append(len(pool))
        started = time.perf_counter()
        for _ in nx.adamic_adar_index(g, [(pid, c) for c in pool]):
            pass
        theirs.append(time.perf_counter() - started)
    return {
        "p50": percentile(ours, 0.5), "p99": percentile(ours, 0.99),
        "nx_p50": percentile(theirs, 0.5), "nx_p99": percentile(theirs, 0.99),
        "candidates_p50": percentile(candidates, 0.5), "candidates_max": max(candidates),
        "persons": len(sample),
    }  # fmt: skip


async def mongo_uri() -> tuple[str, Any]:
    uri = os.environ.get("MENTORMESH_MONGO_URI")
    if uri:
        return uri, None
    from shared.local_stack import LocalStack

    stack = LocalStack(Path(tempfile.mkdtemp(prefix="mentormesh-bench-network-")))
    state = await stack.up()
    return state.mongo_uri, stack


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--persons", type=int, default=300)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    uri, stack = await mongo_uri() if min(sizes) <= DB_LIMIT else ("", None)
    print(f"network benchmark: {os.cpu_count()} cores, Python {sys.version.split()[0]}, "
          f"load average at start {os.getloadavg()[0]:.1f}")  # fmt: skip
    try:
        for size in sizes:
            records = list(large_graph(size, seed=size, now=NOW))
            people, ties = documents(records)
            print(f"\n== {len(ties):,} ties among {len(people):,} people ==")
            started = time.perf_counter()
            state = rebuild_in_memory(people, ties)
            in_memory = time.perf_counter() - started
            print(f"rebuild from documents in memory (no database): {in_memory:8.2f} s")
            if size <= DB_LIMIT:
                loaded, rebuilt = await rebuild_from_db(uri, people, ties)
                print(f"rebuild from MongoDB (SecantusDB):               {rebuilt:8.2f} s "
                      f"({rebuilt / in_memory:.1f}x the in-memory rebuild; "
                      f"loading the documents took {loaded:.1f} s)")  # fmt: skip
            else:
                print("rebuild from MongoDB: not measured at this size (see the docstring); "
                      "the in-memory figure above is the graph-building part of it")  # fmt: skip
            per_tie = memory_per_tie(people, ties)
            print(f"memory per tie (tracemalloc, graph + people):  {per_tie:8.0f} bytes")
            t = ranking_times(state, ties, args.persons)
            print(f"one person's suggestions over {t['persons']} people (candidates: "
                  f"median {t['candidates_p50']:.0f}, max {t['candidates_max']:.0f}):")  # fmt: skip
            print(f"  mentormesh (rank + introducer + reasons): p50 {t['p50'] * 1e3:7.2f} ms  "
                  f"p99 {t['p99'] * 1e3:7.2f} ms")  # fmt: skip
            print(f"  networkx adamic_adar_index, same pairs:   p50 {t['nx_p50'] * 1e3:7.2f} ms  "
                  f"p99 {t['nx_p99'] * 1e3:7.2f} ms")  # fmt: skip
            ratio50, ratio99 = t["nx_p50"] / t["p50"], t["nx_p99"] / t["p99"]
            print(f"  ratio networkx / mentormesh:              p50 {ratio50:7.1f}x    "
                  f"p99 {ratio99:7.1f}x")  # fmt: skip
            del state, people, ties, records
            gc.collect()
    finally:
        print(f"\nload average at the end {os.getloadavg()[0]:.1f} (other work on the machine "
              "slows every figure above alike)")  # fmt: skip
        if stack is not None:
            stack.down()


if __name__ == "__main__":
    asyncio.run(main())
