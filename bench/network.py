"""Network service benchmark: rebuilding the graph (from the real database and from
documents in memory), memory per tie next to a bare networkx Graph of the same
ties, the time to rank one person's introductions next to networkx's Adamic-Adar
over the same candidates, and the time to answer an `introductions.requested`
from the in-memory graph, on synthetic graphs of 10k, 100k and 1M ties.

The database is loaded with bulk inserts first (at 1M ties that takes minutes on
SecantusDB, ~5k documents/s); `--no-db` skips it.

Run: .venv/bin/python bench/network.py [--sizes 10000,100000,1000000] [--persons 300]
[--no-db] (uses MENTORMESH_MONGO_URI if set, otherwise starts the embedded local stack).
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

from services.network.documents import introduction_id, person_to_doc
from services.network.people import Person
from services.network.policy import NetworkPolicy
from services.network.population import PASSIONS, TOPICS, TieRecord, large_graph
from services.network.ranking import structural_scores, suggest_introductions
from services.network.repository import PEOPLE, TIES, MongoNetworkStore
from services.network.state import NetworkState
from services.network.ties import TieKind, decay, pair_key, session_boost
from shared.events import IntroductionsOffered, OfferedIntroduction, make_event

NOW = datetime(2025, 6, 1, tzinfo=UTC)


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


def networkx_memory_per_tie(ties: list[dict[str, Any]]) -> float:
    """The same ties in a bare networkx Graph (no attributes), measured the same way."""
    gc.collect()
    tracemalloc.start()
    g = nx.Graph()
    g.add_edges_from((d["a"], d["b"]) for d in ties)
    used, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del g
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
            for i in range(0, len(docs), 10_000):
                await db[name].insert_many(docs[i : i + 10_000], ordered=False)
        loaded = time.perf_counter() - started
        started = time.perf_counter()
        state = NetworkState()
        await state.load(MongoNetworkStore(db))
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
    answers = []
    for pid in sample:
        started = time.perf_counter()
        answer_request(graph, pid, policy)
        answers.append(time.perf_counter() - started)
    return {
        "answer_p50": percentile(answers, 0.5), "answer_p99": percentile(answers, 0.99),
        "p50": percentile(ours, 0.5), "p99": percentile(ours, 0.99),
        "nx_p50": percentile(theirs, 0.5), "nx_p99": percentile(theirs, 0.99),
        "candidates_p50": percentile(candidates, 0.5), "candidates_max": max(candidates),
        "persons": len(sample),
    }  # fmt: skip


def answer_request(graph: Any, person_id: str, policy: NetworkPolicy) -> bytes:
    """What the service does for `introductions.requested` before its transaction:
    rank, explain, build the answer and serialise it (history and load excluded:
    empty in this benchmark)."""
    found = suggest_introductions(graph, person_id, at=NOW, policy=policy, count=10)
    data = IntroductionsOffered(
        request_id="bench",
        person_id=person_id,
        suggestions=[
            OfferedIntroduction(introduction_id=introduction_id(person_id, s.candidate),
                                candidate_id=s.candidate, introducer_id=s.introducer,
                                score=s.score, reasons=list(s.reasons))
            for s in found
        ],
    )  # fmt: skip
    return make_event(data, source="/bench", time=NOW).to_json()


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
    parser.add_argument("--no-db", action="store_true", help="skip the database rebuild")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    uri, stack = ("", None) if args.no_db else await mongo_uri()
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
            if not args.no_db:
                loaded, rebuilt = await rebuild_from_db(uri, people, ties)
                print(f"rebuild from MongoDB (SecantusDB):               {rebuilt:8.2f} s "
                      f"({rebuilt / in_memory:.1f}x the in-memory rebuild; "
                      f"bulk-loading the documents took {loaded:.1f} s)")  # fmt: skip
            per_tie = memory_per_tie(people, ties)
            bare = networkx_memory_per_tie(ties)
            print(f"memory per tie (tracemalloc, graph + people):  {per_tie:8.0f} bytes "
                  f"(a bare networkx Graph of the same ties: {bare:.0f} bytes, "
                  f"ratio {per_tie / bare:.2f})")  # fmt: skip
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
            a50, a99 = t["answer_p50"] * 1e3, t["answer_p99"] * 1e3
            print(f"  answer to a request (k = 10, as JSON):    p50 {a50:7.2f} ms  "
                  f"p99 {a99:7.2f} ms (target: p99 under 50 ms)")  # fmt: skip
            del state, people, ties, records
            gc.collect()
    finally:
        print(f"\nload average at the end {os.getloadavg()[0]:.1f} (other work on the machine "
              "slows every figure above alike)")  # fmt: skip
        if stack is not None:
            stack.down()


if __name__ == "__main__":
    asyncio.run(main())
