"""Tags are compared by meaning, not by spelling."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.tags import (
    DEFAULT_TAGS,
    TagNormaliser,
    normalise_language,
    normalise_tag,
)


@pytest.mark.parametrize(
    "variant",
    ["Machine Learning", "machine-learning", "  MACHINE   learning ", "machine_learning."],
)
def test_case_spacing_and_punctuation_do_not_matter(variant: str) -> None:
    assert normalise_tag(variant) == normalise_tag("machine learning")


@pytest.mark.parametrize(
    ("plural", "singular"),
    [("APIs", "API"), ("Data Structures", "data structure"), ("libraries", "library"),
     ("Classes", "class"), ("approaches", "approach"), ("databases", "database")],
)  # fmt: skip
def test_plurals_match_their_singular(plural: str, singular: str) -> None:
    assert normalise_tag(plural) == normalise_tag(singular)


@pytest.mark.parametrize("word", ["Kubernetes", "DevOps", "analytics", "iOS", "Redis", "pandas"])
def test_words_ending_in_s_that_are_not_plurals_keep_their_s(word: str) -> None:
    assert normalise_tag(word) == word.lower()


@pytest.mark.parametrize(
    ("short", "long"),
    [("ML", "machine learning"), ("k8s", "Kubernetes"), ("JS", "JavaScript"),
     ("golang", "Go"), ("Node.js", "nodejs"), ("LLMs", "large language model"),
     ("Postgres", "PostgreSQL"), ("OSS", "open source")],
)  # fmt: skip
def test_synonyms_share_a_canonical_form(short: str, long: str) -> None:
    assert normalise_tag(short) == normalise_tag(long)


def test_an_abbreviation_inside_a_longer_tag_is_expanded() -> None:
    assert normalise_tag("ML engineering") == normalise_tag("machine learning engineering")


def test_language_names_like_cpp_and_csharp_survive_punctuation_rules() -> None:
    assert {normalise_tag("C++"), normalise_tag("C#"), normalise_tag("C")} == {"c++", "c#", "c"}


def test_distinct_tags_stay_distinct() -> None:
    tags = ["Go", "Rust", "machine learning", "deep learning", "Java", "JavaScript"]
    assert len({normalise_tag(t) for t in tags}) == len(tags)


@pytest.mark.parametrize(
    ("code", "name"), [("en", "English"), ("DE", "Deutsch"), ("es", "Español")]
)
def test_spoken_languages_match_by_code_or_name(code: str, name: str) -> None:
    assert normalise_language(code) == normalise_language(name)


def test_spoken_language_codes_are_not_applied_to_skills() -> None:
    assert (normalise_tag("IT"), normalise_tag("es")) == ("it", "es")


def test_a_programme_can_add_its_own_synonyms() -> None:
    extended = DEFAULT_TAGS.extended({"site reliability engineering": ["reliability"]})
    assert extended("Reliability") == extended("SRE") == normalise_tag("SRE")
    assert extended("ML") == normalise_tag("ML")


def test_a_normaliser_without_synonyms_only_folds_spelling() -> None:
    plain = TagNormaliser({})
    assert plain("ML") == "ml" and plain("Data-Pipelines") == "data pipeline"


@given(st.text(max_size=40))
def test_normalising_twice_changes_nothing(raw: str) -> None:
    once = normalise_tag(raw)
    assert normalise_tag(once) == once


@given(st.text(alphabet=st.characters(categories=["L", "N", "Zs", "P"]), max_size=40))
def test_canonical_tags_are_lower_case_single_spaced(raw: str) -> None:
    canonical = normalise_tag(raw)
    assert canonical == canonical.strip() and "  " not in canonical
    assert canonical == canonical.casefold()
