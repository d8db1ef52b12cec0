"""The rules file: defaults, a programme's overrides, and what is refused."""

from __future__ import annotations

from datetime import time, timedelta
from pathlib import Path

import pytest

from services.notifier.rulebooks import rule_books
from services.notifier.rules import RulesError, book_from_mapping, load_rules


def test_default_rules_are_those_of_the_issue() -> None:
    book = load_rules()
    thresholds = {
        rule.id: (rule.trigger, rule.after, rule.recipients) for rule in book.rules.values()
    }
    assert thresholds == {
        "proposal-reminder": ("proposal_unanswered", timedelta(days=3), ("mentee", "mentor")),
        "no-session-reminder": ("no_session", timedelta(days=14), ("mentee", "mentor")),
        "no-session-warning": ("no_session", timedelta(days=28), ("mentee", "mentor")),
        "no-session-escalation": ("no_session", timedelta(days=42), ("admins",)),
        "feedback-reminder": ("feedback_missing", timedelta(hours=24), ("mentee", "mentor")),
        "goal-check-in": ("goal_check_in", timedelta(days=28), ("mentee",)),
    }
    assert (book.quiet_hours.start, book.quiet_hours.end) == (time(21), time(8))
    assert (book.rate_limit.max_nudges, book.rate_limit.per) == (3, timedelta(days=7))


def test_a_programme_switches_one_rule_off_and_keeps_the_others() -> None:
    book = load_rules().overlaid({"rules": {"goal-check-in": {"enabled": False}}})
    assert book.active("goal_check_in") == []
    assert [r.id for r in book.active("no_session")] == [
        "no-session-reminder", "no-session-warning", "no-session-escalation",
    ]  # fmt: skip


def test_a_programme_changes_a_threshold_and_adds_a_rule() -> None:
    book = load_rules().overlaid(
        {
            "rules": {
                "no-session-reminder": {"after": "10d"},
                "no-session-nudge-admins-early": {
                    "trigger": "no_session", "after": "3w", "recipients": ["admins"],
                },
            }
        }
    )  # fmt: skip
    assert [(r.id, r.after.days) for r in book.active("no_session")] == [
        ("no-session-reminder", 10),
        ("no-session-nudge-admins-early", 21),
        ("no-session-warning", 28),
        ("no-session-escalation", 42),
    ]


def test_admins_come_from_the_programme_and_from_the_service_setting() -> None:
    book = load_rules().overlaid({"admins": ["alice"]}, extra_admins=("ops",))
    assert book.admins == ("alice", "ops")


def test_programme_sections_are_read_from_the_programmes_directory(tmp_path: Path) -> None:
    (tmp_path / "default.toml").write_text('[nudges]\nadmins = ["root"]\n')
    (tmp_path / "fellows.toml").write_text(
        '[nudges]\nadmins = ["fay"]\n[nudges.quiet_hours]\nstart = "22:00"\n'
    )
    books = rule_books(load_rules(), tmp_path)
    assert books.for_programme("default").admins == ("root",)
    fellows = books.for_programme("fellows")
    assert fellows.admins == ("fay",)
    assert (fellows.quiet_hours.start, fellows.quiet_hours.end) == (time(22), time(8))


def test_a_message_may_only_use_known_placeholders() -> None:
    with pytest.raises(RulesError, match="rating"):
        load_rules().overlaid({"rules": {"feedback-reminder": {"message": "You rated {rating}"}}})


def test_a_rule_needs_a_trigger_a_threshold_and_recipients() -> None:
    with pytest.raises(RulesError):
        book_from_mapping({"rules": {"new-rule": {"after": "3d"}}}, "test")
    with pytest.raises(RulesError):
        book_from_mapping(
            {"rules": {"x": {"trigger": "no_session", "after": "0d", "recipients": ["mentee"]}}},
            "test",
        )
    with pytest.raises(RulesError):
        book_from_mapping(
            {"rules": {"x": {"trigger": "no_session", "after": "1d", "recipients": []}}}, "test"
        )


def test_goal_check_ins_are_never_sent_to_the_mentor() -> None:
    with pytest.raises(RulesError, match="mentor"):
        load_rules().overlaid({"rules": {"goal-check-in": {"recipients": ["mentor"]}}})


def test_a_broken_rules_file_names_itself(tmp_path: Path) -> None:
    path = tmp_path / "rules.toml"
    path.write_text("[rules.x\n")
    with pytest.raises(RulesError, match=r"rules\.toml"):
        load_rules(path)
