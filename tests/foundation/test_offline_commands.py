"""The command line never crashes on a bad input line: it names the line and the
reason. And every option of every command says what it is for."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from shared.cli import build_parser, main
from shared.events import ProfileUpserted, SessionCompleted, example_event

POISON_LINES = {
    "long time zone": json.dumps(
        {
            **json.loads(example_event(ProfileUpserted).to_json()),
            "data": {**ProfileUpserted.example().model_dump(), "timezone": "A" * 300},
        }
    ).encode(),
    "deep nesting": b"[" * 100_000 + b"]" * 100_000,
    "not UTF-8": b'{"specversion": "1.0", "id": "\xff\xfe"}',
    "lone surrogate": b'{"specversion": "1.0", "id": "\\ud800"}',
    "a directory of the tz database": example_event(ProfileUpserted)
    .to_json()
    .replace(b"Europe/London", b"Europe"),
}


def _options(parser: argparse.ArgumentParser, path: list[str]) -> Iterator[tuple[str, str | None]]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _options(sub, [*path, name])
        elif action.dest != "help":
            name = action.option_strings[0] if action.option_strings else action.dest
            yield " ".join([*path, name]), action.help


def test_every_option_of_every_command_has_help() -> None:
    assert [name for name, text in _options(build_parser(), []) if not text] == []


@pytest.mark.parametrize("poison", POISON_LINES, ids=list(POISON_LINES))
def test_nudges_simulate_skips_a_bad_line_naming_it_and_fails_only_when_strict(
    poison: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    events = tmp_path / "events.jsonl"
    events.write_bytes(example_event(SessionCompleted).to_json() + b"\n" + POISON_LINES[poison])
    assert main(["nudges", "simulate", "--events", str(events)]) == 0
    assert "skipped line 2: " in capsys.readouterr().err
    assert main(["nudges", "simulate", "--events", str(events), "--strict"]) == 2
    err = capsys.readouterr().err
    assert "skipped line 2: " in err and "1 line(s) skipped (--strict)" in err


@pytest.mark.parametrize("poison", POISON_LINES, ids=list(POISON_LINES))
def test_match_solve_reports_the_bad_line_of_a_profiles_file(
    poison: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    people = tmp_path / "people.jsonl"
    people.write_bytes(example_event(ProfileUpserted).to_json() + b"\n" + POISON_LINES[poison])
    assert main(["match", "solve", "--profiles", str(people), "--mode", "greedy"]) == 2
    assert f"{people} line 2: " in capsys.readouterr().err


# The people file holds plain records (no time zones): what breaks it is below the JSON.
PEOPLE_POISON = [
    POISON_LINES["deep nesting"], POISON_LINES["not UTF-8"], POISON_LINES["lone surrogate"],
    b'{"person_id": "p", "goals": 7}', b'{"person_id": "p", "programmes": 5}',
    b'{"person_id": "p", "skills": [null]}',
]  # fmt: skip


@pytest.mark.parametrize("poison", PEOPLE_POISON)
def test_introductions_suggest_reports_the_bad_line_of_a_people_file(
    poison: bytes, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    edges = tmp_path / "edges.csv"
    edges.write_text("source,target\na,b\nb,c\n")
    people = tmp_path / "people.jsonl"
    people.write_bytes(b'{"person_id": "a", "goals": ["Go"]}\n' + poison)
    assert main(["introductions", "suggest", "--edges", str(edges), "--people", str(people)]) == 2
    assert f"{people}:2: " in capsys.readouterr().err
