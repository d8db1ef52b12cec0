"""Programme policies: the documented defaults, and a programme's overrides."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from pydantic import ValidationError

from services.network.policy import NetworkPolicy, policy_book

EXAMPLE = Path(__file__).resolve().parents[2] / "services" / "network" / "default_policy.toml"


def test_the_documented_example_is_exactly_the_built_in_defaults() -> None:
    with EXAMPLE.open("rb") as fh:
        documented = NetworkPolicy.model_validate(tomllib.load(fh)["network"])
    assert documented == NetworkPolicy()


def test_a_programme_overrides_only_what_it_names(tmp_path: Path) -> None:
    (tmp_path / "default.toml").write_text("[network]\nweekly_cap = 5\n")
    (tmp_path / "rust.toml").write_text(
        "[network]\nperiod_days = 7\n[network.weights]\ngoals = 2.0\n"
    )
    policy = policy_book(tmp_path).for_programme("rust")
    assert (policy.weekly_cap, policy.period_days, policy.weights.goals) == (5, 7.0, 2.0)
    assert policy.weights.passions == NetworkPolicy().weights.passions


def test_an_unknown_key_is_refused_rather_than_ignored() -> None:
    with pytest.raises(ValidationError):
        NetworkPolicy.model_validate({"weekly_capp": 2})


def test_a_programme_sets_the_weight_of_a_kind_of_tie(tmp_path: Path) -> None:
    (tmp_path / "alumni-network.toml").write_text(
        "[network.tie_weights]\ncohort_alumni = 0.9\ncolleague = 0.1\n"
    )
    policy = policy_book(tmp_path).for_programme("alumni-network")
    assert (policy.tie_weights.cohort_alumni, policy.tie_weights.colleague) == (0.9, 0.1)
    assert policy.tie_weights.mentorship == NetworkPolicy().tie_weights.mentorship
    assert policy.strengths is not NetworkPolicy().strengths
