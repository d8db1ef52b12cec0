"""`mentormesh nudges simulate`: the dry run admins use before switching rules on."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shared.cli import main
from tests.notifier import builders as b


def _write_history(path: Path) -> Path:
    history = [b.profile("ana", "Europe/Berlin"), b.started(b.T0), b.proposed(b.T0, match="p1")]
    path.write_text("\n".join(e.to_json().decode() for e in history) + "\n")
    return path


def test_one_json_line_per_nudge_with_the_time_it_would_be_sent(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    events = _write_history(tmp_path / "events.jsonl")
    argv = ["nudges", "simulate", "--events", str(events), "--programmes", str(tmp_path)]
    assert main([*argv, "--until", "2025-03-06T12:00:00Z"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(n["kind"], n["person_id"], n["at"]) for n in lines] == [
        ("proposal-reminder", "ana", "2025-03-06T09:00:00Z"),
        ("proposal-reminder", "bo", "2025-03-06T09:00:00Z"),
    ]
    assert set(lines[0]) == {
        "nudge_id", "person_id", "kind", "mentorship_id", "reason", "message",
        "programme_id", "escalation", "at",
    }  # fmt: skip


def test_a_rules_file_is_tried_as_given(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    events = _write_history(tmp_path / "events.jsonl")
    rules = tmp_path / "rules.toml"
    rules.write_text(
        'admins = ["ops"]\n'
        "[rules.nobody-met-yet]\n"
        'trigger = "no_session"\nafter = "2d"\nrecipients = ["admins"]\n'
        'message = "{mentorship_id}: {reason}"\n'
    )
    argv = ["nudges", "simulate", "--events", str(events), "--rules", str(rules)]
    assert main([*argv, "--until", "2025-03-06T12:00:00Z"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(n["kind"], n["person_id"], n["message"], n["escalation"]) for n in lines] == [
        ("nobody-met-yet", "ops", "m1: no session since 3 March", True)
    ]


def test_without_until_the_simulation_stops_at_the_last_event(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    events = _write_history(tmp_path / "events.jsonl")
    assert main(["nudges", "simulate", "--events", str(events), "--programmes", str(tmp_path)]) == 0
    assert capsys.readouterr().out == ""


def test_lines_that_are_not_events_are_reported_and_skipped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    events = _write_history(tmp_path / "events.jsonl")
    events.write_text(events.read_text() + "{not json\n")
    argv = ["nudges", "simulate", "--events", str(events), "--programmes", str(tmp_path)]
    assert main([*argv, "--until", "2025-03-06T12:00:00Z"]) == 0
    captured = capsys.readouterr()
    assert len(captured.out.splitlines()) == 2
    assert "line 4: not-json" in captured.err


def test_a_broken_rules_file_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    events = _write_history(tmp_path / "events.jsonl")
    rules = tmp_path / "rules.toml"
    rules.write_text('[rules.x]\ntrigger = "no_session"\nafter = "2d"\nrecipients = ["boss"]\n')
    assert main(["nudges", "simulate", "--events", str(events), "--rules", str(rules)]) == 2
    assert "recipients" in capsys.readouterr().err


def test_until_must_say_its_time_zone(tmp_path: Path) -> None:
    events = _write_history(tmp_path / "events.jsonl")
    with pytest.raises(SystemExit):
        main(["nudges", "simulate", "--events", str(events), "--until", "2025-03-06T12:00:00"])
