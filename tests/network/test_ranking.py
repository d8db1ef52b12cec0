"""Who is suggested to whom, through whom, and why."""

from __future__ import annotations

from services.network.graph import SocialGraph
from services.network.people import Person
from services.network.policy import NetworkPolicy
from services.network.ranking import (
    Excluded,
    Load,
    choose_introducer,
    score_candidates,
    structural_scores,
    suggest_introductions,
)
from services.network.ties import TieKind, make_tie, pair_key
from tests.network.factories import INTRODUCTION, T0, graph_of, person

POLICY = NetworkPolicy()
TWO_HOPS = NetworkPolicy(three_hops=False)


def candidates(
    graph: SocialGraph,
    pid: str,
    policy: NetworkPolicy = POLICY,
    load: Load = lambda _: 0,
    excluded: Excluded = lambda _a, _b: False,
) -> list[str]:
    ranked = score_candidates(graph, pid, at=T0, policy=policy, load=load, excluded=excluded)
    return [c.id for c in ranked]


def test_candidates_are_friends_of_friends_never_the_person_or_their_ties() -> None:
    graph = graph_of([("x", "m"), ("m", "y"), ("m", "z"), ("x", "z")])
    assert candidates(graph, "x", TWO_HOPS) == ["y"]


def test_paused_or_closed_people_are_never_candidates() -> None:
    people = [person("x"), person("m"), person("p", paused=True),
              person("c", open_to_introductions=False), person("y")]  # fmt: skip
    graph = graph_of([("x", "m"), ("m", "p"), ("m", "c"), ("m", "y")], people)
    assert candidates(graph, "x") == ["y"]


def test_a_person_whose_profile_has_not_arrived_is_not_a_candidate() -> None:
    graph = graph_of([("x", "m")], [person("x"), person("m")])
    graph.set_tie("m", "stranger", make_tie(INTRODUCTION))
    assert candidates(graph, "x") == []


def test_excluded_pairs_such_as_declined_ones_are_not_candidates() -> None:
    graph = graph_of([("x", "m"), ("m", "y"), ("m", "z")])
    declined = {pair_key("x", "y")}
    assert candidates(graph, "x", excluded=lambda a, b: pair_key(a, b) in declined) == ["z"]


def test_a_candidate_at_the_weekly_cap_is_not_suggested() -> None:
    graph = graph_of([("x", "m"), ("m", "y"), ("m", "z")])
    busy = {"y": POLICY.weekly_cap}
    assert candidates(graph, "x", load=lambda c: busy.get(c, 0)) == ["z"]


def test_a_busier_candidate_ranks_below_an_otherwise_equal_one() -> None:
    graph = graph_of([("x", "m"), ("m", "y"), ("m", "z")])
    assert candidates(graph, "x", load=lambda c: 1 if c == "y" else 0) == ["z", "y"]


def test_a_contact_who_knows_few_people_counts_for_more_than_a_hub() -> None:
    hub_friends = [("hub", f"h{i}") for i in range(20)]
    graph = graph_of([("x", "hub"), ("x", "quiet"), ("hub", "y"), ("quiet", "z"), *hub_friends])
    scores = structural_scores(graph, "x", 1.0, TWO_HOPS)
    assert scores["z"] > scores["y"]


def test_more_mutual_contacts_score_higher() -> None:
    graph = graph_of([("x", "a"), ("x", "b"), ("a", "y"), ("b", "y"), ("a", "z")])
    assert candidates(graph, "x", TWO_HOPS)[0] == "y"


def test_stronger_ties_through_the_contact_score_higher() -> None:
    graph = graph_of([("x", "m"), ("m", "y")])
    graph.set_tie("m", "z", make_tie(INTRODUCTION))
    scores = structural_scores(graph, "x", 1.0, TWO_HOPS)
    assert scores["y"] > scores["z"]


def test_three_hops_reach_only_through_strong_ties() -> None:
    graph = graph_of([("x", "a"), ("a", "b"), ("b", "far")])
    graph.set_tie("b", "weak", make_tie(INTRODUCTION))
    assert "far" in candidates(graph, "x")
    assert "weak" not in candidates(graph, "x")


def test_three_hops_can_be_switched_off() -> None:
    graph = graph_of([("x", "a"), ("a", "b"), ("b", "far")])
    assert "far" not in candidates(graph, "x", TWO_HOPS)


def test_a_candidate_whose_skills_cover_the_persons_goals_ranks_first() -> None:
    people = [person("x", goals=frozenset({"embedded rust"})), person("m"),
              person("y"), person("z", skills=frozenset({"embedded rust"}))]  # fmt: skip
    graph = graph_of([("x", "m"), ("m", "y"), ("m", "z")], people)
    assert candidates(graph, "x") == ["z", "y"]


def test_structure_alone_ignores_goals() -> None:
    people = [person("x", goals=frozenset({"rust"})), person("m"),
              person("y"), person("z", skills=frozenset({"rust"}))]  # fmt: skip
    graph = graph_of([("x", "m"), ("m", "y"), ("m", "z")], people)
    ranked = score_candidates(graph, "x", at=T0, policy=POLICY.structure_only())
    assert ranked[0].score == ranked[1].score


def test_the_introducer_is_the_mutual_contact_with_the_strongest_ties_to_both() -> None:
    graph = graph_of([("x", "mentor"), ("mentor", "y")])
    graph.set_tie("x", "acquaintance", make_tie(INTRODUCTION))
    graph.set_tie("acquaintance", "y", make_tie(frozenset({TieKind.MENTORSHIP})))
    chosen = choose_introducer(graph, "x", "y", 1.0, POLICY)
    assert chosen is not None and chosen[0] == "mentor"


def test_a_paused_mutual_contact_does_not_introduce() -> None:
    people = [person("x"), person("mentor", paused=True), person("other"), person("y")]
    graph = graph_of([("x", "mentor"), ("mentor", "y")], people)
    graph.set_tie("x", "other", make_tie(INTRODUCTION))
    graph.set_tie("other", "y", make_tie(INTRODUCTION))
    chosen = choose_introducer(graph, "x", "y", 1.0, POLICY)
    assert chosen is not None and chosen[0] == "other"


def test_a_three_hop_candidate_is_introduced_by_the_persons_own_contact() -> None:
    graph = graph_of([("x", "a"), ("a", "b"), ("b", "far")])
    chosen = choose_introducer(graph, "x", "far", 1.0, POLICY)
    assert chosen == ("a", ("a", "b"))


def test_reasons_name_the_mutual_contacts_the_goals_and_the_shared_passions() -> None:
    people = [
        person("x", goals=frozenset({"embedded rust", "public speaking"}),
               passions=frozenset({"climbing", "jazz"})),
        person("m"),
        person("y", skills=frozenset({"embedded rust"}), passions=frozenset({"climbing"})),
    ]  # fmt: skip
    graph = graph_of([("x", "m"), ("m", "y")], people)
    [suggestion] = suggest_introductions(graph, "x", at=T0, policy=POLICY)
    assert suggestion.introducer == "m"
    text = "\n".join(suggestion.reasons)
    assert "1 mutual contact of x and y: m" in text
    assert "embedded rust" in text and "public speaking" not in text
    assert "climbing" in text and "jazz" not in text


def test_a_paused_person_gets_no_suggestions() -> None:
    people = [person("x", paused=True), person("m"), person("y")]
    graph = graph_of([("x", "m"), ("m", "y")], people)
    assert suggest_introductions(graph, "x", at=T0, policy=POLICY) == []


def test_suggestions_stop_at_the_requested_count_best_first() -> None:
    graph = graph_of([("x", "m"), *[("m", f"y{i}") for i in range(6)], ("x", "n"), ("n", "y5")])
    made = suggest_introductions(graph, "x", at=T0, policy=POLICY, count=2)
    assert len(made) == 2 and made[0].candidate == "y5"


def test_a_deleted_person_is_neither_candidate_nor_introducer() -> None:
    graph = graph_of([("x", "m"), ("m", "y"), ("x", "n"), ("n", "z")])
    graph.remove_person("m")
    made = suggest_introductions(graph, "x", at=T0, policy=TWO_HOPS, count=5)
    assert [(s.candidate, s.introducer) for s in made] == [("z", "n")]


def test_nobody_is_suggested_for_an_unknown_person() -> None:
    assert suggest_introductions(graph_of([]), "ghost", at=T0, policy=POLICY) == []


def test_people_open_by_default_in_offline_files() -> None:
    assert Person(id="a").introducible


def test_people_three_strong_ties_away_come_only_when_two_hop_candidates_are_few() -> None:
    graph = graph_of([("x", "a"), ("a", "b"), ("b", "far"), ("a", "c")])
    assert "far" in candidates(graph, "x", NetworkPolicy(fallback_below=3))
    assert "far" not in candidates(graph, "x", NetworkPolicy(fallback_below=2))


def test_a_three_hop_fallback_ranks_after_every_two_hop_candidate() -> None:
    # "far" is reached by three strong paths, "y" by one weak two-hop path.
    graph = graph_of([("x", "a"), ("a", "b1"), ("a", "b2"), ("a", "b3"),
                      ("b1", "far"), ("b2", "far"), ("b3", "far")])  # fmt: skip
    graph.put_person(person("y"))
    graph.set_tie("a", "y", make_tie(INTRODUCTION))
    ranked = candidates(graph, "x", POLICY.structure_only())
    assert ranked.index("y") < ranked.index("far")


def test_equal_two_hop_scores_are_ordered_by_the_three_step_flow() -> None:
    # y and z share one mutual contact each (equal scores); z is also reached through
    # a third tie (x-a-b-z), y is not.
    graph = graph_of([("x", "m"), ("m", "y"), ("m", "z"), ("x", "a"), ("a", "b"), ("b", "z"),
                      ("b", "y2"), ("a", "y3")])  # fmt: skip
    ranked = score_candidates(graph, "x", at=T0, policy=POLICY.structure_only())
    by_id = {c.id: c for c in ranked}
    assert by_id["y"].score == by_id["z"].score
    assert by_id["z"].reach > by_id["y"].reach
    order = [c.id for c in ranked]
    assert order.index("z") < order.index("y")
    # With a limit too, the tie at the cut is broken the same way.
    top = score_candidates(graph, "x", at=T0, policy=POLICY.structure_only(), limit=1)
    assert [c.id for c in top] == [order[0]]
