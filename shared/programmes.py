"""Per-programme configuration: `programmes/<programme_id>.toml`, whose sections
(`matching`, `network`, `nudges`) override `programmes/default.toml`, whose
sections override each service's built-in defaults."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

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
