"""`mentormesh match solve --profiles`: the admin's cohort run on the matcher's own model."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from services.matcher.cli import register
from services.matcher.cohort import MODES
from services.matcher.cohort_scoring import cohort_from_people, score_cohort
from services.matcher.policy import MatchingPolicy
from services.matcher.solve_io import read_people
from shared.events import MatchAccepted, ProfileDeleted, ProfileUpserted, make_event


def person(person_id: str, role: str, **changes: Any) -> ProfileUpserted:
    fields: dict[str, Any] = {
        "person_id": person_id,
        "roles": [role],
        "programmes": ["p1"],
        "goals": [],
        "passions": [],
        "skills": [],
        "languages": ["en"],
        "timezone": "Europe/London",
        "capacity": 1 if role == "mentor" else 0,
        "open_to_introductions": True,
        "paused": False,
        "revision": 1,
    }
    fields.update(changes)
    return ProfileUpserted(**fields)


PEOPLE = [
    person("mona", "mentor", programmes=["p1", "p2"], skills=["python"], timezone="Europe/Berlin"),
    person("max", "mentor", skills=["rust"]),
    person("ada", "mentee", programmes=["p1", "p2"], goals=["python"]),
    person("bo", "mentee", goals=["rust"]),
    person("cy", "mentee", languages=["fr"]),  # shares no language with any mentor
]


def data_line(profile: ProfileUpserted) -> str:
    return profile.model_dump_json()


def event_line(data: ProfileUpserted | ProfileDeleted) -> str:
    return make_event(data, source="test/platform").to_json().decode()


def jsonl(tmp_path: Path, lines: Sequence[str]) -> Path:
    path = tmp_path / "people.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def run(capsys: pytest.CaptureFixture[str], people: Path, *options: str) -> tuple[int, str, str]:
    top = argparse.ArgumentParser(prog="mentormesh")
    register(top.add_subparsers(dest="command", required=True))
    args = top.parse_args(["match", "solve", "--profiles", str(people), *options])
    code = args.func(args)
    out, err = capsys.readouterr()
    return code, out, err


def solved(capsys: pytest.CaptureFixture[str], people: Path, *options: str) -> Any:
    code, out, err = run(capsys, people, *options)
    assert (code, err) == (0, "")
    return json.loads(out)


@pytest.mark.parametrize("mode", MODES)
def test_assignments_carry_their_programme_and_the_models_reasons(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, mode: str
) -> None:
    doc = solved(capsys, jsonl(tmp_path, [data_line(p) for p in PEOPLE]), "--mode", mode)
    model = {
        (p.programme_id, p.mentee_id, p.mentor_id): list(p.reasons)
        for programme in ("p1", "p2")
        for p in score_cohort(
            [q.model_copy(update={"programmes": [programme]}) for q in PEOPLE
             if programme in q.programmes],
            MatchingPolicy(),
        )
    }  # fmt: skip
    assert doc["assignments"]
    for a in doc["assignments"]:
        assert set(a) == {"mentee", "mentor", "score", "programme", "reasons"}
        assert a["reasons"] == model[a["programme"], a["mentee"], a["mentor"]]


@pytest.mark.parametrize("mode", MODES)
def test_a_mentors_capacity_is_shared_by_their_programmes(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, mode: str
) -> None:
    doc = solved(capsys, jsonl(tmp_path, [data_line(p) for p in PEOPLE]), "--mode", mode)
    mentors = [a["mentor"] for a in doc["assignments"]]
    # Each has one seat and someone who wants it: both are used, neither twice.
    assert mentors.count("mona") == 1
    assert mentors.count("max") == 1
    places = [(a["programme"], a["mentee"]) for a in doc["assignments"]]
    assert len(places) == len(set(places))


@pytest.mark.parametrize("mode", MODES)
def test_two_people_in_two_shared_programmes_are_paired_in_one_only(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, mode: str
) -> None:
    # mona has room for two and is ada's only mentor in both programmes: once is all.
    roomy = [p.model_copy(update={"capacity": 2}) if p.person_id == "mona" else p for p in PEOPLE]
    doc = solved(capsys, jsonl(tmp_path, [data_line(p) for p in roomy]), "--mode", mode)
    couples = [(a["mentee"], a["mentor"]) for a in doc["assignments"]]
    assert couples.count(("ada", "mona")) == 1
    assert {"mentee": "ada", "programme": "p1"} in doc["unmatched"] or {
        "mentee": "ada",
        "programme": "p2",
    } in doc["unmatched"]


def test_unmatched_entries_name_the_programme(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    doc = solved(capsys, jsonl(tmp_path, [data_line(p) for p in PEOPLE]), "--mode", "optimal")
    assert {"mentee": "cy", "programme": "p1"} in doc["unmatched"]
    matched = {(a["programme"], a["mentee"]) for a in doc["assignments"]}
    enrolled = {("p1", "ada"), ("p2", "ada"), ("p1", "bo"), ("p1", "cy")}
    assert {(u["programme"], u["mentee"]) for u in doc["unmatched"]} == enrolled - matched


def test_cloudevents_and_bare_profiles_give_the_same_result(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    bare = solved(capsys, jsonl(tmp_path, [data_line(p) for p in PEOPLE]), "--mode", "stable")
    mixed = [event_line(p) if i % 2 else data_line(p) for i, p in enumerate(PEOPLE)]
    assert solved(capsys, jsonl(tmp_path, mixed), "--mode", "stable") == bare


def test_the_highest_revision_of_a_profile_wins_whatever_the_line_order(tmp_path: Path) -> None:
    newer = person("max", "mentor", capacity=3, revision=5)
    older = person("max", "mentor", capacity=1, revision=2)
    people = read_people(jsonl(tmp_path, [data_line(newer), data_line(older)]))
    assert [p.capacity for p in people] == [3]


def test_a_deleted_person_leaves_the_cohort(tmp_path: Path) -> None:
    lines = [data_line(p) for p in PEOPLE] + [event_line(ProfileDeleted(person_id="bo"))]
    assert "bo" not in {p.person_id for p in read_people(jsonl(tmp_path, lines))}


def test_a_paused_mentor_gets_nobody_and_has_no_spare_capacity(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    people = [p if p.person_id != "max" else p.model_copy(update={"paused": True}) for p in PEOPLE]
    doc = solved(capsys, jsonl(tmp_path, [data_line(p) for p in people]), "--mode", "greedy")
    assert "max" not in {a["mentor"] for a in doc["assignments"]}
    assert "max" not in {s["mentor"] for s in doc["spare_capacity"]}


def test_each_programme_is_scored_with_its_own_policy(tmp_path: Path) -> None:
    # ada (London) and mona (Berlin) are an hour apart; p2 allows only half an hour.
    (tmp_path / "p2.toml").write_text("[matching]\nmax_timezone_gap_hours = 0.5\n")
    strict = cohort_from_people(PEOPLE, programmes_dir=tmp_path).cohort
    lenient = cohort_from_people(PEOPLE, programmes_dir=tmp_path / "none").cohort

    def programmes_with_pairs(cohort: Any) -> set[str]:
        return {cohort.enrolments[int(i)].programme for i in cohort.pair_enrolment}

    assert programmes_with_pairs(lenient) == {"p1", "p2"}
    assert programmes_with_pairs(strict) == {"p1"}


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", "people.jsonl line 2: not JSON"),
        ("[1, 2]", "people.jsonl line 2: expected a JSON object"),
        ('{"person_id": "zed"}', "people.jsonl line 2: not a profile"),
        (
            make_event(MatchAccepted(match_id="m", person_id="p"), source="t").to_json().decode(),
            "people.jsonl line 2: wrong-topic",
        ),
    ],
)
def test_a_bad_line_exits_2_with_its_number(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, line: str, message: str
) -> None:
    code, out, err = run(capsys, jsonl(tmp_path, [data_line(PEOPLE[0]), line]), "--mode", "stable")
    assert (code, out) == (2, "")
    assert message in err


def test_capacities_cannot_be_given_with_profiles(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    people = jsonl(tmp_path, [data_line(p) for p in PEOPLE])
    code, _, err = run(capsys, people, "--capacities", "caps.csv", "--mode", "optimal")
    assert code == 2
    assert "capacities come from profiles" in err
