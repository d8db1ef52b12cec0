"""Quality of the network service's ranking next to networkx's link predictors.

1. Structure alone, on networkx's les_miserables_graph and karate_club_graph
   (unweighted), 100 random 90/10 splits: precision@L (L = hidden ties), recall@L
   and AUC for every method on the same splits. The issue's bar: the service's
   precision@L is no worse than resource allocation's.
2. With attributes that carry signal: a generated population whose ties follow
   shared passions and goals (services/network/population.py); the full blend
   against every structural baseline (and the service's structure alone).
3. Split in time, on a public graph a registry package ships (bench/public_graphs.py:
   Coleman's high-school friendships from Debian's r-cran-sna): every pair not tied
   in the fall ranked, scored against the ties new in the spring, with the spread
   of each method over random tie-breaking orders. Skipped, saying why, when the
   data or its reader is missing.

Ties at the cut-off are counted at their expected value under random tie-breaking,
so figures do not depend on a tie-breaking seed.

Run: .venv/bin/python bench/network_quality.py [--splits 100] [--population-splits 20]
(section 3 needs `pip install -e '.[public-data]'` and `apt-get download` to work)
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import networkx as nx
import public_graphs

from services.network.evaluation import (
    Result,
    average,
    future_split,
    method_scores,
    precision_recall_auc,
    precision_spread,
    repeated_holdout,
)
from services.network.inputs import Edge
from services.network.policy import NetworkPolicy
from services.network.population import attributed_population

RA = "resource allocation"


def table(title: str, runs: list[list[Result]]) -> dict[str, Result]:
    mean = average(runs)
    print(f"\n{title}")
    print(f"{'method':<34} {'precision@L':>11} {'recall@L':>9} {'AUC':>7}")
    for r in mean:
        print(f"{r.method:<34} {r.precision:>11.4f} {r.recall:>9.4f} {r.auc:>7.4f}")
    return {r.method: r for r in mean}


def per_split_wins(runs: list[list[Result]], ours: str, other: str) -> tuple[int, int, int]:
    wins = ties = losses = 0
    for run in runs:
        by = {r.method: r.precision for r in run}
        diff = by[ours] - by[other]
        wins += diff > 1e-12
        losses += diff < -1e-12
        ties += abs(diff) <= 1e-12
    return wins, ties, losses


def structure_alone(name: str, graph: nx.Graph, splits: int) -> None:
    edges = [Edge(str(u), str(v)) for u, v in graph.edges()]
    started = time.perf_counter()
    runs = repeated_holdout(edges, NetworkPolicy().structure_only(), splits=splits, seed=0)
    took = time.perf_counter() - started
    title = (f"{name}: {graph.number_of_nodes()} people, {len(edges)} ties, "
             f"{splits} random 90/10 splits, structure alone ({took:.1f} s)")  # fmt: skip
    mean = table(title, runs)
    ours, ra = mean["mentormesh"].precision, mean[RA].precision
    wins, ties, losses = per_split_wins(runs, "mentormesh", RA)
    verdict = "no worse than" if ours >= ra else "WORSE than"
    print(f"=> mentormesh {ours:.4f} vs resource allocation {ra:.4f}: ratio {ours / ra:.3f}, "
          f"{verdict} RA (per split: {wins} better, {ties} equal, {losses} worse)")  # fmt: skip


def with_attributes(splits: int) -> None:
    population = attributed_population(400, seed=1)
    started = time.perf_counter()
    runs = repeated_holdout(
        population.edges, NetworkPolicy(), splits=splits, seed=0, people=population.people
    )
    alone = repeated_holdout(
        population.edges, NetworkPolicy().structure_only(), splits=splits, seed=0,
        people=population.people,
    )  # fmt: skip
    took = time.perf_counter() - started
    for run, structure in zip(runs, alone, strict=True):
        run.append(Result("mentormesh, structure alone", *_metrics(structure[0])))
    people, ties = len(population.people), len(population.edges)
    title = (f"generated population: {people} people, {ties} ties following shared "
             f"passions and goals, {splits} splits ({took:.1f} s)")  # fmt: skip
    mean = table(title, runs)
    ours = mean.pop("mentormesh").precision
    mean.pop("mentormesh, structure alone")
    best_name, best = max(((n, r.precision) for n, r in mean.items()), key=lambda x: x[1])
    print(f"=> mentormesh {ours:.4f} vs the best structural baseline ({best_name}) {best:.4f}: "
          f"ratio {ours / best:.2f}")  # fmt: skip
    spread = [
        {r.method: r.precision for r in run}["mentormesh"]
        - max(r.precision for r in run if not r.method.startswith("mentormesh"))
        for run in runs
    ]
    better = sum(d > 0 for d in spread)
    print(f"   per split, mentormesh minus the best baseline: mean {statistics.mean(spread):+.4f}, "
          f"better on {better} of {len(spread)} splits")  # fmt: skip


def time_split(seeds: int) -> None:
    try:
        graph = public_graphs.coleman()
    except public_graphs.Unavailable as exc:
        print(f"\ntime split on a public graph: skipped ({exc})")
        return
    split = future_split(graph.before, graph.after)
    k = len(split.test)
    print(f"\n{graph.name} ({graph.source}): {len(split.nodes)} people, "
          f"{split.train_pairs} ties before, {k} new ties after between them, "
          f"{split.candidate_pairs} pairs ranked; k = {k}")  # fmt: skip
    print(f"{'method':<28} {'precision@k':>11} {'hits':>6}   over {seeds} tie-break seeds: "
          "mean ± sd [min, max] hits")  # fmt: skip
    found = {}
    for name, scores in method_scores(split, NetworkPolicy().structure_only(), with_random=True):
        precision, _, _ = precision_recall_auc(scores, split.test, split.candidate_pairs, k)
        spread = precision_spread(scores, split.test, split.candidate_pairs, k, range(seeds))
        found[name] = precision
        print(f"{name:<28} {precision:>11.4f} {precision * k:>6.2f}   {spread.mean * k:6.2f} ± "
              f"{spread.stdev * k:4.2f} [{spread.low * k:.0f}, {spread.high * k:.0f}]")  # fmt: skip
    ours, ra = found["mentormesh"] * k, found[RA] * k
    print(f"=> mentormesh {ours:.2f} hits vs resource allocation {ra:.2f} (expected over "
          f"random tie-breaks): {ours - ra:+.2f} hits")  # fmt: skip


def _metrics(r: Result) -> tuple[float, float, float]:
    return r.precision, r.recall, r.auc


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--splits", type=int, default=100)
    parser.add_argument("--population-splits", type=int, default=20)
    parser.add_argument("--tie-seeds", type=int, default=100)
    args = parser.parse_args()
    time_split(args.tie_seeds)
    structure_alone("les_miserables_graph", nx.les_miserables_graph(), args.splits)
    structure_alone("karate_club_graph", nx.karate_club_graph(), args.splits)
    with_attributes(args.population_splits)


if __name__ == "__main__":
    main()
