"""Tie strength: kinds, and sessions that count less as they age."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.network.policy import NetworkPolicy, TieWeights
from services.network.ties import (
    SESSION_CREDIT,
    TieKind,
    decay,
    make_tie,
    pair_key,
    pair_of,
    session_boost,
)
from tests.network.factories import T0, days

STRENGTHS = NetworkPolicy().strengths


def test_a_live_mentorship_is_stronger_than_an_ended_one_or_an_introduction() -> None:
    live = make_tie({TieKind.MENTORSHIP})
    alumni = make_tie({TieKind.ALUMNI})
    intro = make_tie({TieKind.INTRODUCTION})
    assert STRENGTHS.base(live) > STRENGTHS.base(alumni) > STRENGTHS.base(intro)


def test_a_tie_of_several_kinds_is_as_strong_as_its_strongest_kind() -> None:
    tie = make_tie({TieKind.ALUMNI, TieKind.INTRODUCTION, TieKind.FOLLOWS})
    assert STRENGTHS.base(tie) == TieWeights().alumni


def test_a_tie_takes_the_weight_it_was_given_over_its_kinds() -> None:
    assert STRENGTHS.base(make_tie((), weight=3.5)) == 3.5
    assert STRENGTHS.base(make_tie({TieKind.FOLLOWS}, weight=0.9)) == 0.9


def test_a_programme_sets_the_weight_of_each_kind() -> None:
    colleagues_count = NetworkPolicy(tie_weights=TieWeights(colleague=0.95)).strengths
    tie = make_tie({TieKind.COLLEAGUE})
    assert colleagues_count.base(tie) == 0.95
    assert STRENGTHS.base(tie) == TieWeights().colleague


def test_equal_weights_share_one_table() -> None:
    assert NetworkPolicy(weekly_cap=9).strengths is STRENGTHS


def test_ties_without_weight_or_sessions_are_one_shared_value() -> None:
    assert make_tie({TieKind.COLLEAGUE}) is make_tie([TieKind.COLLEAGUE])
    assert make_tie({TieKind.COLLEAGUE}).kinds == {TieKind.COLLEAGUE}


def test_a_session_counts_fully_when_it_happens_and_half_after_the_half_life() -> None:
    boost = session_boost(T0)
    assert boost * decay(T0) == pytest.approx(SESSION_CREDIT)
    assert boost * decay(T0 + days(90)) == pytest.approx(SESSION_CREDIT / 2)


@given(st.lists(st.integers(min_value=-2000, max_value=2000), min_size=1, max_size=12))
def test_session_boosts_add_up_the_same_in_any_order(offsets: list[int]) -> None:
    now = T0 + days(max(offsets))
    forward = sum(session_boost(T0 + days(o)) for o in offsets)
    backward = sum(session_boost(T0 + days(o)) for o in reversed(offsets))
    direct = sum(SESSION_CREDIT * 0.5 ** ((now - (T0 + days(o))) / days(90)) for o in offsets)
    assert forward * decay(now) == pytest.approx(direct)
    assert backward * decay(now) == pytest.approx(direct)


def test_a_pair_key_names_the_pair_whatever_the_order() -> None:
    assert pair_key("b", "a") == pair_key("a", "b")
    assert pair_of(pair_key("b", "a")) == ("a", "b")
