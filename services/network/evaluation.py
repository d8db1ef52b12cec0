"""Offline evaluation of the ranking against networkx's link predictors.

Every method scores the same pairs: all pairs of people not tied in the training
graph. Pairs a method does not score count as 0. Equal scores are ranked in random
order, and the metrics take their expected value under that random order, so a
result does not depend on a tie-breaking seed (exact, not sampled); the spread
over tie-breaking seeds is sampled (`precision_spread`). A score may be a tuple,
compared in order (the service's: two hops before fallbacks, then score, then the
three-step flow that breaks ties).
"""

from __future__ import annotations

import random
import statistics
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from itertools import combinations

import networkx as nx
import numpy as np

from services.network.graph import SocialGraph
from services.network.inputs import Edge, build_graph
from services.network.people import Person
from services.network.policy import NetworkPolicy
from services.network.ranking import score_candidates
from services.network.ties import pair_key

Score = float | tuple[float, ...]
PairScores = dict[str, Score]
# Above this many unscored pairs preferential attachment (which scores every pair)
# is left out rather than enumerating them all.
MAX_PAIRS_FOR_EVERY_PAIR = 5_000_000
_ROUND = 12  # significant digits: sums taken in a different order are still equal


@dataclass(frozen=True)
class Split:
    train: list[Edge]
    test: set[str]  # pair keys of the hidden (or future) ties
    nodes: frozenset[str]

    @cached_property
    def train_pairs(self) -> int:
        """Distinct pairs tied in training (a file may list a pair both ways)."""
        return len({pair_key(e.source, e.target) for e in self.train})

    @cached_property
    def candidate_pairs(self) -> int:
        """How many pairs are not tied in training: what every method ranks."""
        n = len(self.nodes)
        return n * (n - 1) // 2 - self.train_pairs


@dataclass(frozen=True)
class Result:
    method: str
    precision: float
    recall: float
    auc: float


def holdout_split(edges: Sequence[Edge], fraction: float, rng: random.Random) -> Split:
    """Hide `fraction` of the distinct ties; every person stays in the graph."""
    if not 0.0 < fraction < 1.0:
        raise ValueError("the holdout fraction must be between 0 and 1")
    unique = list({pair_key(e.source, e.target): e for e in edges}.values())
    rng.shuffle(unique)
    hidden = round(len(unique) * fraction)
    nodes = frozenset(n for e in unique for n in (e.source, e.target))
    test = {pair_key(e.source, e.target) for e in unique[:hidden]}
    return Split(train=unique[hidden:], test=test, nodes=nodes)


def future_split(edges: Sequence[Edge], later: Sequence[Edge]) -> Split:
    """Predict the ties of a later snapshot that are new between people known now."""
    nodes = frozenset(n for e in edges for n in (e.source, e.target))
    known = {pair_key(e.source, e.target) for e in edges}
    test = {
        pair_key(e.source, e.target)
        for e in later
        if e.source in nodes and e.target in nodes and pair_key(e.source, e.target) not in known
    }
    return Split(train=list(edges), test=test, nodes=nodes)


def service_scores(
    graph: SocialGraph, policy: NetworkPolicy, at: datetime | None = None
) -> PairScores:
    """The service's ranking as one score per pair, ordered as the service orders
    one person's candidates: the better of the two directions (goals and passions
    make it asymmetric)."""
    at = at or datetime.now(UTC)
    scores: dict[str, tuple[float, ...]] = {}
    for person in graph.people():
        if not person.introducible:
            continue
        for c in score_candidates(graph, person.id, at=at, policy=policy):
            key = pair_key(person.id, c.id)
            value = (float(c.tier), c.score, c.reach)
            if key not in scores or value > scores[key]:
                scores[key] = value
    return dict(scores)


def _two_hop_pairs(g: nx.Graph) -> list[tuple[str, str]]:
    pairs = set()
    for z in g:
        for u, v in combinations(sorted(g[z]), 2):
            if not g.has_edge(u, v):
                pairs.add((u, v))
    return sorted(pairs)


def _index(triples: Iterable[tuple[str, str, float]]) -> PairScores:
    return {pair_key(u, v): float(s) for u, v, s in triples if s}


def baseline_scores(split: Split) -> dict[str, PairScores | None]:
    """networkx's classic predictors on the training graph (unweighted, as defined)."""
    g = nx.Graph()
    g.add_nodes_from(split.nodes)
    g.add_edges_from((e.source, e.target) for e in split.train)
    near = _two_hop_pairs(g)
    every: PairScores | None = None
    if split.candidate_pairs <= MAX_PAIRS_FOR_EVERY_PAIR:
        every = _index(nx.preferential_attachment(g))
    return {
        "common neighbours": {
            pair_key(u, v): float(len(list(nx.common_neighbors(g, u, v)))) for u, v in near
        },
        "jaccard": _index(nx.jaccard_coefficient(g, near)),
        "adamic-adar": _index(nx.adamic_adar_index(g, near)),
        "resource allocation": _index(nx.resource_allocation_index(g, near)),
        "preferential attachment": every,
    }


def _rounded(value: Score) -> tuple[float, ...]:
    parts = value if isinstance(value, tuple) else (value,)
    return tuple(float(f"{v:.{_ROUND}g}") for v in parts)


def _groups(scores: PairScores, positives: set[str], total: int) -> list[tuple[int, int]]:
    """(pairs, positives) per distinct score, best first; unscored pairs score 0."""
    size: Counter[tuple[float, ...]] = Counter()
    hits: Counter[tuple[float, ...]] = Counter()
    for key, value in scores.items():
        rounded = _rounded(value)
        size[rounded] += 1
        hits[rounded] += key in positives
    zero = tuple(0.0 for _ in next(iter(size), (0.0,)))
    size[zero] += total - len(scores)
    hits[zero] += len(positives) - sum(hits.values())
    return [(size[s], hits[s]) for s in sorted(size, reverse=True)]


def precision_recall_auc(
    scores: PairScores, positives: set[str], total: int, k: int
) -> tuple[float, float, float]:
    groups = _groups(scores, positives, total)
    taken, found = 0, 0.0
    for size, hits in groups:
        if taken >= k:
            break
        take = min(size, k - taken)
        found += hits * take / size if size else 0.0
        taken += take
    negatives_total = total - len(positives)
    wins, below = 0.0, 0
    for size, hits in reversed(groups):
        negatives = size - hits
        wins += hits * (below + 0.5 * negatives)
        below += negatives
    auc = wins / (len(positives) * negatives_total) if positives and negatives_total else 0.0
    precision = found / k if k else 0.0
    recall = found / len(positives) if positives else 0.0
    return precision, recall, auc


@dataclass(frozen=True)
class Spread:
    """precision@k over random tie-breaking orders (one per seed)."""

    mean: float
    stdev: float
    low: float
    high: float


def precision_spread(
    scores: PairScores, positives: set[str], total: int, k: int, seeds: Sequence[int]
) -> Spread:
    """Break equal scores in a random order per seed and take precision@k: only the
    group cut by k is drawn (hypergeometrically), the groups above count whole."""
    groups = _groups(scores, positives, total)
    found = []
    for seed in seeds:
        rng = np.random.default_rng(seed)
        taken, hits_taken = 0, 0
        for size, hits in groups:
            if taken >= k:
                break
            take = min(size, k - taken)
            if take == size:
                hits_taken += hits
            elif hits:
                hits_taken += int(rng.hypergeometric(hits, size - hits, take))
            taken += take
        found.append(hits_taken / k if k else 0.0)
    mean = statistics.fmean(found)
    stdev = statistics.pstdev(found)
    return Spread(mean, stdev, min(found), max(found))


def evaluate(
    split: Split,
    policy: NetworkPolicy,
    people: dict[str, Person] | None = None,
    k: int | None = None,
    service_label: str = "mentormesh",
) -> list[Result]:
    """The service's ranking next to the baselines, on the same split. `k` defaults
    to the number of hidden ties (precision@L)."""
    positives = split.test
    total = split.candidate_pairs
    k = k or len(positives)
    return [
        Result(name, *precision_recall_auc(scores, positives, total, k))
        for name, scores in method_scores(split, policy, people, service_label)
    ]


def method_scores(
    split: Split,
    policy: NetworkPolicy,
    people: dict[str, Person] | None = None,
    service_label: str = "mentormesh",
    with_random: bool = False,
) -> list[tuple[str, PairScores]]:
    """Each method's scores on the split: the service first, then networkx's
    predictors (and, if asked, random: every pair tied)."""
    graph = build_graph(split.train, people)
    for node in split.nodes - {p.id for p in graph.people()}:
        graph.put_person(Person(id=node))
    methods: list[tuple[str, PairScores]] = [(service_label, service_scores(graph, policy))]
    methods.extend(
        (name, scores) for name, scores in baseline_scores(split).items() if scores is not None
    )
    if with_random:
        methods.append(("random", {}))
    return methods


def average(runs: Sequence[list[Result]]) -> list[Result]:
    """Mean of each method's metrics over several splits."""
    by_method: dict[str, list[Result]] = {}
    for run in runs:
        for r in run:
            by_method.setdefault(r.method, []).append(r)
    return [
        Result(
            name,
            sum(r.precision for r in rs) / len(rs),
            sum(r.recall for r in rs) / len(rs),
            sum(r.auc for r in rs) / len(rs),
        )
        for name, rs in by_method.items()
    ]


def repeated_holdout(
    edges: Sequence[Edge],
    policy: NetworkPolicy,
    *,
    splits: int,
    fraction: float = 0.1,
    seed: int = 0,
    people: dict[str, Person] | None = None,
    on_split: Callable[[int, list[Result]], None] | None = None,
) -> list[list[Result]]:
    runs = []
    for i in range(splits):
        run = evaluate(holdout_split(edges, fraction, random.Random(seed + i)), policy, people)
        runs.append(run)
        if on_split is not None:
            on_split(i, run)
    return runs
