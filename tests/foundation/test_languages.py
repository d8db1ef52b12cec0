"""Spoken languages as BCP 47 tags: one language however it is written, a
programme's choice whether script or region matter, and a clear error for a value
that names no language."""

from __future__ import annotations

import json

import pytest

from services.matcher.constraints import allowed, violations
from services.matcher.policy import MatchingPolicy
from services.matcher.ranking import MentorIndex
from shared.events import InvalidEvent, ProfileUpserted, example_event, parse_event
from shared.languages import LanguageMatching, UnknownLanguage, language_name, standard_tag
from tests.matcher.builders import mentee, mentor

LANGUAGE_ONLY = MatchingPolicy()
SCRIPT = MatchingPolicy(languages=LanguageMatching(script=True))
REGION = MatchingPolicy(languages=LanguageMatching(region=True))


@pytest.mark.parametrize("written", ["en-GB", "en", "English", "Englisch", "EN-us", "en_AU",
                                     "anglais", " english "])  # fmt: skip
def test_english_is_one_language_however_it_is_written(written: str) -> None:
    assert LanguageMatching().key(standard_tag(written)) == "en"


@pytest.mark.parametrize(
    ("written", "tag"),
    [("pt_BR", "pt-BR"), ("Deutsch", "de"), ("Español", "es"), ("Mandarin", "zh"),
     ("iw", "he"), ("Simplified Chinese", "zh-Hans"), ("zh-hant", "zh-Hant"),
     ("Brazilian Portuguese", "pt-BR")],
)  # fmt: skip
def test_codes_locales_and_names_become_standard_tags(written: str, tag: str) -> None:
    assert standard_tag(written) == tag


def test_simplified_and_traditional_chinese_are_chinese_in_two_scripts() -> None:
    hans, hant = standard_tag("zh-Hans"), standard_tag("zh-Hant")
    assert LanguageMatching().key(hans) == LanguageMatching().key(hant) == "zh"
    assert LanguageMatching(script=True).keys([hans]) == {"zh-Hans"}
    assert LanguageMatching(script=True).keys([hant]) == {"zh-Hant"}
    # A region implies its likely script: Taiwan writes Traditional Chinese.
    assert LanguageMatching(script=True).key(standard_tag("zh-TW")) == "zh-Hant"
    assert language_name(hant) == "Chinese (Traditional)"


@pytest.mark.parametrize(
    "value", ["Elvish-ish", "xx", "und", "x-private", "", "A" * 300, "\x00", "en\x07"]
)
def test_a_value_that_names_no_language_is_an_error(value: str) -> None:
    with pytest.raises(UnknownLanguage):
        standard_tag(value)


def test_a_profile_with_a_language_nobody_can_read_is_invalid_data_saying_so() -> None:
    body = json.loads(example_event(ProfileUpserted).to_json())
    body["data"]["languages"] = ["en-GB", "Blorbish"]
    with pytest.raises(InvalidEvent) as info:
        parse_event(json.dumps(body))
    assert info.value.reason == "invalid-data"
    assert "languages.1" in info.value.detail
    assert "'Blorbish' is neither a BCP 47 language tag" in info.value.detail


def test_an_en_gb_mentee_is_matched_with_an_en_mentor() -> None:
    assert allowed(mentee(languages=["en-GB"]), mentor(languages=["en"]), "default",
                   LANGUAGE_ONLY)  # fmt: skip
    index = MentorIndex([mentor("m-en", languages=["en"])], LANGUAGE_ONLY)
    ranked = index.rank(mentee(languages=["en-GB"]), "default", limit=1)
    assert [r.mentor.person_id for r in ranked] == ["m-en"]


@pytest.mark.parametrize(("a", "b"), [("pt-BR", "Portuguese"), ("English", "en-US"),
                                      ("Deutsch", "de-AT"), ("zh-Hans", "zh-Hant")])  # fmt: skip
def test_by_default_only_the_language_decides(a: str, b: str) -> None:
    assert allowed(mentee(languages=[a]), mentor(languages=[b]), "default", LANGUAGE_ONLY)


def test_a_programme_that_compares_scripts_keeps_the_two_chinese_scripts_apart() -> None:
    hans, hant = mentee(languages=["zh-CN"]), mentor(languages=["zh-Hant"])
    assert "no shared language" in violations(hans, hant, "default", SCRIPT)
    assert allowed(mentee(languages=["zh-TW"]), hant, "default", SCRIPT)
    index = MentorIndex([hant], SCRIPT)
    assert index.rank(hans, "default", limit=1) == []


def test_a_programme_that_compares_regions_keeps_brazil_and_portugal_apart() -> None:
    brazil, portugal = mentee(languages=["pt-BR"]), mentor(languages=["pt-PT"])
    assert "no shared language" in violations(brazil, portugal, "default", REGION)
    # Portuguese without a region is, most likely, Brazilian Portuguese.
    assert allowed(brazil, mentor(languages=["pt"]), "default", REGION)


def test_the_policy_setting_is_read_from_a_programme_s_matching_section() -> None:
    policy = MatchingPolicy.model_validate({"languages": {"script": True}})
    assert policy.languages == LanguageMatching(script=True, region=False)
