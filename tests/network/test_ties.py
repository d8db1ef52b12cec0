"""Tie strength: kinds, and sessions that count less as they age."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.network.ties import (
    BASE_STRENGTH,
    SESSION_CREDIT,
    TieKind,
    decay,
    make_tie,
    pair_key,
    pair_of,
    session_boost,
)
from tests.network.factories import T0, days


def test_a_live_mentorship_is_stronger_than_an_ended_one_or_an_introduction() -> None:
    live = make_tie(frozenset({TieKind.MENTORSHIP}))
    alumni = make_tie(frozenset({TieKind.ALUMNI}))
    intro = make_tie(frozenset({TieKind.INTRODUCTION}))
    assert live.base > alumni.base > intro.base


def test_a_tie_of_several_kinds_is_as_strong_as_its_strongest_kind() -> None:
    tie = make_tie(frozenset({TieKind.ALUMNI, TieKind.INTRODUCTION}))
    assert tie.base == BASE_STRENGTH[TieKind.ALUMNI]


def test_a_contact_tie_takes_the_weight_it_was_given() -> None:
    assert make_tie(frozenset({TieKind.CONTACT}), weight=3.5).base == 3.5


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
