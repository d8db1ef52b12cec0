"""The in-memory graph: ties both ways, strengths kept exact, people removed whole."""

from __future__ import annotations

import pytest

from services.network.graph import SocialGraph
from services.network.people import Person
from services.network.policy import NetworkPolicy, TieWeights
from services.network.ties import TieKind, decay, make_tie, session_boost
from tests.network.factories import MENTORSHIP, T0, days, graph_of

S = NetworkPolicy().strengths


def test_a_tie_is_seen_from_both_ends() -> None:
    graph = graph_of([("a", "b")])
    assert graph.tie("a", "b") is graph.tie("b", "a")
    assert set(graph.ties_of("a")) == {"b"}
    assert graph.tie_count == 1


def test_people_named_only_by_a_tie_are_placeholders_not_open_to_introductions() -> None:
    graph = SocialGraph()
    graph.set_tie("a", "b", make_tie(MENTORSHIP))
    placeholder = graph.person("a")
    assert placeholder is not None and not placeholder.introducible


def test_overwriting_a_tie_replaces_its_strength_instead_of_adding_to_it() -> None:
    graph = graph_of([("a", "b"), ("a", "c")])
    graph.set_tie("a", "b", make_tie(frozenset({TieKind.ALUMNI})))
    assert graph.total_strength("a", 1.0, S) == pytest.approx(1.5)
    assert graph.tie_count == 2


def test_total_strength_counts_session_boosts_decayed_to_the_given_time() -> None:
    graph = SocialGraph()
    boost = session_boost(T0)
    graph.set_tie("a", "b", make_tie(MENTORSHIP, boost=boost))
    half_life_later = T0 + days(90)
    assert graph.total_strength("a", decay(T0), S) == pytest.approx(1.25)
    assert graph.total_strength("a", decay(half_life_later), S) == pytest.approx(1.125)


def test_removing_a_person_removes_every_tie_they_had() -> None:
    graph = graph_of([("a", "b"), ("a", "c"), ("b", "c")])
    graph.remove_person("a")
    assert "a" not in graph
    assert graph.ties_of("b").keys() == {"c"}
    assert graph.tie_count == 1
    assert graph.total_strength("b", 1.0, S) == pytest.approx(1.0)


def test_a_person_left_without_ties_has_exactly_zero_strength() -> None:
    graph = graph_of([("a", "b")])
    graph.set_tie("a", "b", make_tie(frozenset({TieKind.INTRODUCTION}), boost=0.3))
    graph.remove_tie("a", "b")
    assert graph.total_strength("a", 0.7, S) == 0.0


def test_a_tie_needs_two_different_people() -> None:
    with pytest.raises(ValueError):
        graph_of([("a", "a")])


def test_updating_a_person_keeps_their_ties() -> None:
    graph = graph_of([("a", "b")])
    graph.put_person(Person(id="a", paused=True))
    assert graph.tie("a", "b") is not None
    person = graph.person("a")
    assert person is not None and person.paused


def test_a_programmes_own_weights_give_its_own_total_strengths_kept_current() -> None:
    graph = graph_of([("a", "b")])
    graph.set_tie("a", "c", make_tie({TieKind.COLLEAGUE}))
    own = NetworkPolicy(tie_weights=TieWeights(colleague=0.1)).strengths
    assert graph.total_strength("a", 1.0, own) == pytest.approx(1.1)
    graph.set_tie("a", "d", make_tie({TieKind.COLLEAGUE}))
    assert graph.total_strength("a", 1.0, own) == pytest.approx(1.2)
    assert graph.total_strength("a", 1.0, S) == pytest.approx(1.0 + 2 * TieWeights().colleague)


def test_a_placeholder_leaves_with_its_last_tie_but_a_profile_stays() -> None:
    graph = SocialGraph()
    graph.put_person(Person(id="a"))
    graph.set_tie("a", "b", make_tie(MENTORSHIP))
    graph.remove_tie("a", "b")
    assert "b" not in graph
    assert "a" in graph


def test_every_mention_of_a_person_shares_one_id_string() -> None:
    graph = SocialGraph()
    first = "".join(["pe", "rson-1"])
    graph.set_tie(first, "b", make_tie(MENTORSHIP))
    graph.set_tie("".join(["per", "son-1"]), "c", make_tie(MENTORSHIP))
    assert all(key is first for key in (*graph.ties_of("b"), *graph.ties_of("c")))
