"""Per-programme configuration: `programmes/<programme_id>.toml`, whose sections
(`matching`, `network`, `nudges`) override `programmes/default.toml`, whose
sections override each service's built-in defaults."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any, Generic, TypeVar

T = TypeVar("T")

DEFAULT_DIR = Path(__file__).resolve().parent.parent / "programmes"
_SAFE_ID = re.compile(r"^[A-Za-z0-9_.-]+$")


def _read(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    with path.open("rb") as fh:
        return tomllib.load(fh)


def merge_tables(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """`override` laid over `base`, table by table, key by key."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge_tables(merged[key], value)
        else:
            merged[key] = value
    return merged


def load_programme_section(
    programmes_dir: Path | None, programme_id: str, section: str
) -> dict[str, Any]:
    """The `section` table for `programme_id`, layered over the default programme's."""
    folder = programmes_dir or DEFAULT_DIR
    layered = _read(folder / "default.toml").get(section, {})
    if programme_id != "default" and _SAFE_ID.match(programme_id):
        layered = merge_tables(layered, _read(folder / f"{programme_id}.toml").get(section, {}))
    return dict(layered)


class ProgrammeBook(Generic[T]):
    """One service's configuration for each programme: the programme's `section`,
    layered over the default programme's, made into a `T` by `build(programme_id,
    section)`. Read once per programme id and kept: the files are read at the first
    event of a programme, and a broken one fails that programme's first event (or
    the service's start, for the default programme)."""

    def __init__(
        self,
        section: str,
        build: Callable[[str, dict[str, Any]], T],
        programmes_dir: Path | None = None,
        *,
        read_files: bool = True,
    ) -> None:
        self.section = section
        self._build = build
        self._dir = programmes_dir
        self._read_files = read_files
        self._books: dict[str, T] = {}

    @classmethod
    def fixed(cls, section: str, value: T) -> ProgrammeBook[T]:
        """Every programme gets `value`, whatever the files say (tests, tryouts)."""
        return cls(section, lambda _programme, _section: value, read_files=False)

    def for_programme(self, programme_id: str | None) -> T:
        key = programme_id or "default"
        book = self._books.get(key)
        if book is None:
            section = {}
            if self._read_files:
                section = load_programme_section(self._dir, key, self.section)
            book = self._books[key] = self._build(key, section)
        return book
