"""Tag normalisation: people write "ML", "Machine-Learning" and "machine learning" for
the same thing, so tags are compared by a canonical form, never by the raw string.

The canonical form is: Unicode-folded, lower case, punctuation turned into spaces
(except the `+`, `#` that name languages such as C++ and C#), single spaces, each word
singularised, then mapped through a synonym table (whole tag first, then word by word
for unambiguous abbreviations such as "ml" in "ml engineering").
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from functools import lru_cache

from shared.languages import LanguageMatching, standard_tag

# Canonical tag -> variants that mean the same thing. Variants are normalised with the
# same rules before lookup, so "Node.js", "node js" and "NodeJS" need one entry each at most.
TAG_SYNONYMS: Mapping[str, tuple[str, ...]] = {
    "machine learning": ("ml",),
    "artificial intelligence": ("ai",),
    "deep learning": ("dl",),
    "natural language processing": ("nlp",),
    "large language model": ("llm", "llms"),
    "computer vision": (),
    "javascript": ("js", "ecmascript"),
    "typescript": ("ts",),
    "python": ("py", "python3"),
    "go": ("golang",),
    "nodejs": ("node js", "node"),
    "react": ("reactjs", "react js"),
    "kubernetes": ("k8s", "kube"),
    "postgresql": ("postgres", "psql"),
    "database": ("db", "dbs"),
    "amazon web services": ("aws",),
    "google cloud": ("gcp", "google cloud platform"),
    "continuous integration": ("ci", "ci cd", "cicd"),
    "user experience": ("ux",),
    "user interface": ("ui",),
    "site reliability engineering": ("sre",),
    "open source": ("oss", "open source software", "foss"),
    "frontend": ("front end",),
    "backend": ("back end",),
    "full stack": ("fullstack",),
    "system design": ("systems design",),
    "data science": ("ds",),
    "public speaking": ("speaking", "talks"),
    "career growth": ("career development", "career progression"),
    "leadership": ("tech leadership", "technical leadership"),
    "security": ("infosec", "cybersecurity", "cyber security"),
    "devops": ("dev ops",),
}

# Abbreviations safe to expand inside a longer tag ("ML engineering").
WORD_SYNONYMS: Mapping[str, str] = {
    "ml": "machine learning",
    "ai": "artificial intelligence",
    "nlp": "natural language processing",
    "k8s": "kubernetes",
    "ux": "user experience",
    "js": "javascript",
}

# Words ending in "s" that are not plurals (singularising them would merge distinct tags
# or produce nonsense such as "kubernete").
_NOT_PLURAL = frozenset(
    {
        "kubernetes", "devops", "mlops", "gitops", "aws", "ios", "macos", "js", "css",
        "sass", "saas", "paas", "iaas", "pandas", "postgres", "redis", "rails", "jenkins",
        "news", "series", "species", "analysis", "basis", "express", "mathematics", "maths",
        "less", "nodejs", "reactjs", "vuejs", "nextjs", "numpy", "chess", "yes", "status",
        "bias", "canvas", "atlas", "corpus", "campus", "focus", "genius", "physics",
        "windows", "dns", "https", "xss", "oss", "dbs", "llms", "its", "this", "gas",
    }
)  # fmt: skip
_IRREGULAR = {"apis": "api", "analyses": "analysis", "indices": "index", "children": "child"}

_PUNCT = re.compile(r"[^\w+#]+")
_SPACES = re.compile(r"\s+")


def _singular(word: str) -> str:
    if word in _IRREGULAR:
        return _IRREGULAR[word]
    if len(word) <= 3 or word in _NOT_PLURAL or not word.endswith("s"):
        return word
    if word.endswith(("ss", "us", "is", "ics")):
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("sses", "xes", "zes", "ches", "shes")):
        return word[:-2]
    return word[:-1]


def _fold(raw: str) -> str:
    """Case, accents-as-written, punctuation, spacing and plurals; no synonyms."""
    text = unicodedata.normalize("NFKC", raw).casefold()
    # "_" is a word character for the regex but a separator in tags ("machine_learning").
    text = _PUNCT.sub(" ", text.replace("_", " "))
    words = _SPACES.sub(" ", text).strip().split(" ")
    return " ".join(_singular(w) for w in words if w)


class TagNormaliser:
    """Maps raw tags to canonical ones through a synonym table."""

    def __init__(
        self,
        synonyms: Mapping[str, Iterable[str]],
        word_synonyms: Mapping[str, str] | None = None,
    ) -> None:
        self._whole: dict[str, str] = {}
        for canonical, variants in synonyms.items():
            target = _fold(canonical)
            self._whole[target] = target
            for variant in variants:
                self._whole[_fold(variant)] = target
        self._words = {_fold(k): _fold(v) for k, v in (word_synonyms or {}).items()}
        self._normalise = lru_cache(maxsize=65536)(self._uncached)

    def __call__(self, raw: str) -> str:
        return self._normalise(raw)

    def _uncached(self, raw: str) -> str:
        folded = _fold(raw)
        if folded in self._whole:
            return self._whole[folded]
        words = folded.split(" ")
        if len(words) > 1 and any(w in self._words for w in words):
            expanded = " ".join(self._words.get(w, w) for w in words)
            return self._whole.get(expanded, expanded)
        return folded

    def extended(self, extra: Mapping[str, Iterable[str]]) -> TagNormaliser:
        """A normaliser with a programme's own synonyms added to this one's."""
        if not extra:
            return self
        merged: dict[str, list[str]] = {}
        for variant, canonical in self._whole.items():
            merged.setdefault(canonical, []).append(variant)
        for canonical, variants in extra.items():
            merged.setdefault(_fold(canonical), []).extend(variants)
        return TagNormaliser(merged, self._words)


DEFAULT_TAGS = TagNormaliser(TAG_SYNONYMS, WORD_SYNONYMS)


def normalise_tag(raw: str) -> str:
    """The canonical form of a skill, goal or passion under the default synonyms."""
    return DEFAULT_TAGS(raw)


def normalise_language(raw: str) -> str:
    """The language a code, locale or name stands for (`en` for `en-GB` and
    `English`); spoken languages are BCP 47 tags, see `shared/languages.py`."""
    return LanguageMatching().key(standard_tag(raw))
