"""Spoken languages as BCP 47 tags.

People and platforms write a language many ways: a locale (`en-GB`, `pt_BR`), a bare
code (`en`, `DE`), an English name (`English`) or a name in another language
(`Englisch`, `Español`). Each is read with `langcodes` (names through
`language-data`) into one standard tag, so all of these are one language. A value
that is neither a well-formed, registered tag nor a known language name is an error:
the event carrying it is rejected, not silently left unmatched.

Whether the script or the region also matters when two people are compared is a
programme's choice (`LanguageMatching`): by default only the language does, so an
`en-GB` mentee meets an `en` mentor. Where a tag leaves the script or the region
out, the likely one is filled in from CLDR (`zh-TW` is Traditional Chinese, `zh` is
Simplified, `pt` is Brazilian Portuguese), so comparisons never depend on how much
of the tag was written.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

from langcodes import Language, find, standardize_tag
from langcodes.tag_parser import LanguageTagError
from pydantic import BaseModel, ConfigDict

from shared.limits import MAX_LANGUAGE_LENGTH

# Codes that name no language a person speaks.
_NOT_A_LANGUAGE = frozenset({"und", "mul", "mis", "zxx"})


class UnknownLanguage(ValueError):
    """A value that names no language."""


@lru_cache(maxsize=4096)
def standard_tag(raw: str) -> str:
    """The standard BCP 47 tag of a language code, locale or name (`en-GB` for
    `en_gb`, `zh` for `Mandarin`, `de` for `Deutsch`), or `UnknownLanguage`."""
    text = raw.strip()
    # No language name holds a control character, and language-data's name trie
    # fails on some (a NUL gives UnicodeDecodeError): refuse them before looking up.
    if not text or len(text) > MAX_LANGUAGE_LENGTH or not text.isprintable():
        raise UnknownLanguage(f"{raw!r} is not a language tag or a language name")
    language: Language | None = None
    try:
        parsed = Language.get(text)
        if parsed.is_valid():
            language = parsed
    except LanguageTagError:
        pass  # not a tag: maybe a name
    if language is None:
        try:
            language = find(text)
        except LookupError:
            raise UnknownLanguage(
                f"{raw!r} is neither a BCP 47 language tag (such as en-GB) nor a language "
                "name langcodes knows (such as English or Deutsch)"
            ) from None
    # Macrolanguages win (cmn is zh), deprecated codes are replaced (iw is he).
    tag = standardize_tag(language.to_tag(), macro=True)
    code = Language.get(tag).language
    if code is None or code.startswith("x-") or code in _NOT_A_LANGUAGE:
        raise UnknownLanguage(f"{raw!r} names no particular language")
    return tag


def is_language(raw: str) -> bool:
    try:
        standard_tag(raw)
    except UnknownLanguage:
        return False
    return True


def language_name(tag: str) -> str:
    """A person-readable English name of a standard tag (`Chinese (Traditional)`)."""
    return str(Language.get(tag).display_name())


class LanguageMatching(BaseModel):
    """What must agree for two people to share a language (a programme's setting).

    `script`: also the writing system (Chinese in Simplified vs Traditional script,
    Serbian in Cyrillic vs Latin). `region`: also the regional variety (pt-BR vs
    pt-PT). Off by default: the language alone decides.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    script: bool = False
    region: bool = False

    def key(self, tag: str) -> str:
        """What is compared for one language (a standard tag, or any code or name)
        under this setting."""
        return _key(tag, self.script, self.region)

    def keys(self, tags: Iterable[str]) -> frozenset[str]:
        # A person's tags are a frozenset already (hashed once), so this is a lookup.
        return _keys(frozenset(tags), self.script, self.region)

    def shared(self, a: Iterable[str], b: Iterable[str]) -> bool:
        return not self.keys(a).isdisjoint(self.keys(b))


@lru_cache(maxsize=4096)
def _key(tag: str, script: bool, region: bool) -> str:
    try:
        language = Language.get(standard_tag(tag))
    except UnknownLanguage:
        return tag.strip().casefold()  # matches only itself
    if not (script or region):
        return str(language.language)
    likely = language.maximize()
    parts = [str(language.language)]
    if script:
        parts.append(str(likely.script))
    if region:
        parts.append(str(likely.territory))
    return "-".join(parts)


@lru_cache(maxsize=65536)
def _keys(tags: frozenset[str], script: bool, region: bool) -> frozenset[str]:
    return frozenset(_key(t, script, region) for t in tags)


def standard_tags(raws: Iterable[str]) -> list[str]:
    """Standard tags of the values that name a language, in order, without repeats.

    For data read back from storage, which was validated when it arrived: a value
    that no longer parses (e.g. stored before languages were checked) is skipped."""
    seen: dict[str, None] = {}
    for raw in raws:
        try:
            seen.setdefault(standard_tag(raw))
        except UnknownLanguage:
            continue
    return list(seen)
