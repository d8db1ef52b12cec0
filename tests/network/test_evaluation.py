"""Offline evaluation: the metrics, the splits, and the ranking's quality."""

from __future__ import annotations

import random

import networkx as nx
import pytest

from services.network.evaluation import (
    PairScores,
    average,
    future_split,
    holdout_split,
    precision_recall_auc,
    repeated_holdout,
)
from services.network.inputs import Edge
from services.network.people import Person
from services.network.policy import NetworkPolicy
from services.network.population import attributed_population
from services.network.ties import pair_key

RA = "resource allocation"


def edges_of(graph: nx.Graph) -> list[Edge]:
    return [Edge(str(u), str(v)) for u, v in graph.edges()]


def test_precision_counts_hits_among_the_top_k() -> None:
    scores: PairScores = {"a": 3.0, "b": 2.0, "c": 1.0}
    precision, recall, _ = precision_recall_auc(scores, {"a", "c"}, total=10, k=2)
    assert precision == pytest.approx(0.5)
    assert recall == pytest.approx(0.5)


def test_ties_at_the_cut_off_count_at_their_expected_value() -> None:
    scores: PairScores = {"a": 1.0, "b": 1.0, "c": 1.0, "d": 1.0}
    precision, _, _ = precision_recall_auc(scores, {"a"}, total=4, k=2)
    assert precision == pytest.approx(0.25)


def test_unscored_pairs_rank_below_scored_ones_and_tie_among_themselves() -> None:
    precision, _, auc = precision_recall_auc({"a": 0.5}, {"z"}, total=5, k=2)
    assert precision == pytest.approx(0.5 * 1 / 4)
    # z ties with the 3 other unscored pairs and loses to "a".
    assert auc == pytest.approx((0 + 0.5 * 3) / 4)


def test_auc_is_one_when_every_hidden_tie_outscores_every_other_pair() -> None:
    _, _, auc = precision_recall_auc({"a": 2.0, "b": 1.5, "c": 0.1}, {"a", "b"}, total=6, k=1)
    assert auc == 1.0


def test_a_holdout_hides_the_fraction_and_keeps_everyone() -> None:
    edges = edges_of(nx.karate_club_graph())
    split = holdout_split(edges, 0.1, random.Random(1))
    assert len(split.test) == round(len(edges) * 0.1)
    assert len(split.train) + len(split.test) == len(edges)
    assert len(split.nodes) == 34
    assert not split.test & {pair_key(e.source, e.target) for e in split.train}


def test_a_future_snapshot_predicts_only_new_ties_between_known_people() -> None:
    now = [Edge("a", "b"), Edge("b", "c")]
    later = [Edge("a", "b"), Edge("a", "c"), Edge("c", "newcomer")]
    assert future_split(now, later).test == {pair_key("a", "c")}


@pytest.mark.parametrize("name", ["les_miserables_graph", "karate_club_graph"])
def test_structure_alone_is_no_worse_than_resource_allocation(name: str) -> None:
    edges = edges_of(getattr(nx, name)())
    runs = repeated_holdout(edges, NetworkPolicy().structure_only(), splits=20, seed=7)
    results = {r.method: r for r in average(runs)}
    assert results["mentormesh"].precision >= results[RA].precision


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_with_attributes_that_carry_signal_it_beats_every_structural_baseline(seed: int) -> None:
    population = attributed_population(200, seed=seed)
    runs = repeated_holdout(
        population.edges, NetworkPolicy(), splits=3, seed=seed, people=population.people
    )
    results = {r.method: r.precision for r in average(runs)}
    ours = results.pop("mentormesh")
    assert ours > max(results.values())


def test_on_the_karate_club_its_factions_as_passions_beat_every_structural_baseline() -> None:
    """A public graph whose people carry a real attribute: the club each member
    sided with, shared as a passion."""
    graph = nx.karate_club_graph()
    people = {
        str(n): Person(id=str(n), passions=frozenset({club}))
        for n, club in graph.nodes(data="club")
    }
    runs = repeated_holdout(edges_of(graph), NetworkPolicy(), splits=20, seed=5, people=people)
    results = {r.method: r.precision for r in average(runs)}
    ours = results.pop("mentormesh")
    assert ours > max(results.values())
