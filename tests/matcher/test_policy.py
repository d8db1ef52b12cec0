"""A programme's policy comes from its file, over the default programme's, over defaults."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from services.matcher.policy import MatchingPolicy, Weights, policy_book

EXAMPLE = Path(__file__).resolve().parents[2] / "services" / "matcher" / "default_policy.toml"
PROGRAMMES = Path(__file__).resolve().parents[2] / "programmes"


def test_an_absent_section_gives_the_built_in_defaults(tmp_path: Path) -> None:
    assert policy_book(tmp_path).for_programme("anything") == MatchingPolicy()


def test_a_programme_file_overrides_the_default_programme_key_by_key(tmp_path: Path) -> None:
    (tmp_path / "default.toml").write_text(
        "[matching]\nproposal_ttl_days = 5\n[matching.weights]\ntimezone = 0.5\n"
    )
    (tmp_path / "wit.toml").write_text("[matching.weights]\ngoal_coverage = 0.9\n")
    policy = policy_book(tmp_path).for_programme("wit")
    assert policy.proposal_ttl_days == 5
    assert (policy.weights.timezone, policy.weights.goal_coverage) == (0.5, 0.9)
    assert policy_book(tmp_path).for_programme("default").weights.goal_coverage == 0.45


def test_a_misspelt_key_is_rejected_rather_than_ignored(tmp_path: Path) -> None:
    (tmp_path / "default.toml").write_text("[matching]\nmax_timezone_gap = 3\n")
    with pytest.raises(ValidationError):
        policy_book(tmp_path).for_programme("default")


def test_weights_cannot_all_be_zero() -> None:
    with pytest.raises(ValidationError):
        Weights(goal_coverage=0, shared_passions=0, timezone=0, availability=0, responsiveness=0)


def test_a_base_policy_replaces_every_programmes_policy(tmp_path: Path) -> None:
    base = MatchingPolicy(min_score=0.4)
    assert policy_book(tmp_path, base=base).for_programme("wit") is base


def test_the_example_section_shipped_with_the_matcher_is_valid_and_states_the_defaults(
    tmp_path: Path,
) -> None:
    (tmp_path / "default.toml").write_text(EXAMPLE.read_text())
    assert policy_book(tmp_path).for_programme("default") == MatchingPolicy()


def test_the_projects_default_programme_states_the_built_in_defaults() -> None:
    assert policy_book(PROGRAMMES).for_programme("default") == MatchingPolicy()
