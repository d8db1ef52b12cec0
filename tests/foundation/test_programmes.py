"""Each service's configuration per programme: one `ProgrammeBook` shape for the
matcher's policies, the network's policies and the notifier's rule books."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from shared.programmes import ProgrammeBook


def _files(folder: Path) -> Path:
    (folder / "default.toml").write_text("[matching]\nmin_score = 0.2\nlanguage = 'en'\n")
    (folder / "spring.toml").write_text("[matching]\nmin_score = 0.5\n[network]\nx = 1\n")
    return folder


def test_a_programme_section_lies_over_the_default_programmes(tmp_path: Path) -> None:
    book = ProgrammeBook("matching", lambda _programme, section: section, _files(tmp_path))
    assert book.for_programme("spring") == {"min_score": 0.5, "language": "en"}
    assert book.for_programme("autumn") == {"min_score": 0.2, "language": "en"}


def test_no_programme_means_the_default_programme(tmp_path: Path) -> None:
    book = ProgrammeBook("matching", lambda programme, _section: programme, _files(tmp_path))
    assert book.for_programme(None) == book.for_programme("") == "default"


def test_each_programme_is_built_once(tmp_path: Path) -> None:
    built: list[str] = []

    def build(programme: str, section: dict[str, Any]) -> dict[str, Any]:
        built.append(programme)
        return section

    book = ProgrammeBook("matching", build, _files(tmp_path))
    first = book.for_programme("spring")
    assert book.for_programme("spring") is first
    book.for_programme("autumn")
    assert built == ["spring", "autumn"]


def test_a_fixed_book_ignores_the_files() -> None:
    book = ProgrammeBook.fixed("matching", "everyone's")
    assert book.for_programme("spring") == "everyone's"


def test_a_broken_section_fails_that_programmes_lookup_and_is_not_kept(tmp_path: Path) -> None:
    def build(programme: str, section: dict[str, Any]) -> float:
        if section["min_score"] > 0.3:
            raise ValueError(f"{programme}: too strict")
        return float(section["min_score"])

    book = ProgrammeBook("matching", build, _files(tmp_path))
    assert book.for_programme("default") == 0.2
    for _ in range(2):
        with pytest.raises(ValueError, match="spring: too strict"):
            book.for_programme("spring")
