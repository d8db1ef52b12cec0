"""`mentormesh match solve --scores --capacities`: CSV input, JSON output, exit codes."""

from __future__ import annotations

import argparse
import json
import math
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from services.matcher.cli import register
from services.matcher.cohort import MODES
from shared.cli import main as mentormesh

ROOT = Path(__file__).resolve().parents[2]

SCORES = """\
mentee,mentor,score
ana,xavi,0.9
ana,yuki,0.5
ben,xavi,0.8
cai,yuki,0.1
dee,zoe,0.3
"""
CAPS = """\
mentor,capacity
xavi,1
yuki,1
zoe,0
wen,2
"""


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="mentormesh")
    register(top.add_subparsers(dest="command", required=True))
    return top


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def run(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    *options: str,
    scores: str = SCORES,
    caps: str = CAPS,
) -> tuple[int, str, str]:
    args = parser().parse_args(
        [
            "match",
            "solve",
            "--scores",
            str(write(tmp_path, "scores.csv", scores)),
            "--capacities",
            str(write(tmp_path, "caps.csv", caps)),
            *options,
        ]
    )
    code = args.func(args)
    out, err = capsys.readouterr()
    return code, out, err


def solved(capsys: pytest.CaptureFixture[str], tmp_path: Path, *options: str, **files: str) -> Any:
    code, out, err = run(capsys, tmp_path, *options, **files)
    assert (code, err) == (0, "")
    return json.loads(out)


# --- the JSON document ----------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_the_document_has_the_documented_keys(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, mode: str
) -> None:
    doc = solved(capsys, tmp_path, "--mode", mode)
    assert set(doc) == {
        "mode",
        "objective",
        "assignments",
        "unmatched",
        "spare_capacity",
        "matched",
        "total_score",
        "blocking_pairs",
    }
    assert doc["mode"] == mode
    assert all(set(a) == {"mentee", "mentor", "score"} for a in doc["assignments"])
    assert doc["matched"] == len(doc["assignments"])


def test_the_objective_defaults_to_score_for_optimal_and_is_null_otherwise(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert solved(capsys, tmp_path, "--mode", "optimal")["objective"] == "score"
    assert solved(capsys, tmp_path, "--mode", "stable")["objective"] is None
    doc = solved(capsys, tmp_path, "--mode", "optimal", "--objective", "participation")
    assert doc["objective"] == "participation"


@pytest.mark.parametrize("mode", MODES)
def test_mentees_in_scores_but_unassigned_are_unmatched(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, mode: str
) -> None:
    doc = solved(capsys, tmp_path, "--mode", mode)
    assigned = {a["mentee"] for a in doc["assignments"]}
    assert sorted({"ana", "ben", "cai", "dee"} - assigned) == doc["unmatched"]
    assert "dee" in doc["unmatched"]  # her only mentor has capacity 0


@pytest.mark.parametrize("mode", MODES)
def test_mentors_with_spare_capacity_are_reported_even_without_pairs(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, mode: str
) -> None:
    doc = solved(capsys, tmp_path, "--mode", mode)
    used = {m: sum(a["mentor"] == m for a in doc["assignments"]) for m in ("xavi", "yuki", "wen")}
    expected = [
        {"mentor": m, "spare": cap - used[m]}
        for m, cap in (("wen", 2), ("xavi", 1), ("yuki", 1))
        if cap > used[m]
    ]
    assert doc["spare_capacity"] == expected
    assert {"mentor": "wen", "spare": 2} in doc["spare_capacity"]


@pytest.mark.parametrize("mode", MODES)
def test_the_total_is_the_sum_of_the_assigned_scores(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, mode: str
) -> None:
    doc = solved(capsys, tmp_path, "--mode", mode)
    assert doc["total_score"] == math.fsum(a["score"] for a in doc["assignments"])


def test_stable_reports_no_blocking_pair_and_optimal_reports_the_price(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    stable = solved(capsys, tmp_path, "--mode", "stable")
    optimal = solved(capsys, tmp_path, "--mode", "optimal")
    assert stable["blocking_pairs"] == 0
    # optimal pairs ana with yuki so ben gets xavi; ana and xavi would both rather be together
    assert optimal["blocking_pairs"] >= 1
    assert optimal["total_score"] > stable["total_score"]


def test_the_mentor_score_column_ranks_mentees_for_mentors(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    scores = "mentee,mentor,score,mentor_score\nana,xavi,0.9,0.1\nben,xavi,0.8,0.7\n"
    doc = solved(
        capsys, tmp_path, "--mode", "stable", scores=scores, caps="mentor,capacity\nxavi,1\n"
    )
    assert [(a["mentee"], a["mentor"]) for a in doc["assignments"]] == [("ben", "xavi")]


def test_an_empty_mentor_score_cell_falls_back_to_the_score(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    scores = "mentee,mentor,score,mentor_score\nana,xavi,0.9,\nben,xavi,0.8,0.85\n"
    doc = solved(
        capsys, tmp_path, "--mode", "stable", scores=scores, caps="mentor,capacity\nxavi,1\n"
    )
    assert [a["mentee"] for a in doc["assignments"]] == ["ana"]


@pytest.mark.parametrize("mode", MODES)
def test_the_same_rows_in_another_order_give_the_same_bytes(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, mode: str
) -> None:
    rnd = random.Random(7)
    header = "mentee,mentor,score"
    rows = [f"e{i},m{j},{rnd.choice([0.2, 0.5, 0.8])}" for i in range(12) for j in range(5)]
    caps = "mentor,capacity\n" + "".join(f"m{j},2\n" for j in range(5))
    first = run(capsys, tmp_path, "--mode", mode, scores="\n".join([header, *rows]), caps=caps)
    rnd.shuffle(rows)
    second = run(capsys, tmp_path, "--mode", mode, scores="\n".join([header, *rows]), caps=caps)
    assert first[0] == 0
    assert first == second


def test_a_header_only_scores_file_matches_nobody(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    doc = solved(capsys, tmp_path, "--mode", "optimal", scores="mentee,mentor,score\n")
    assert (doc["assignments"], doc["unmatched"], doc["total_score"]) == ([], [], 0.0)


def test_cells_are_trimmed_and_a_byte_order_mark_is_ignored(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    scores = "\ufeffmentee, mentor ,score\n ana , xavi , 0.5 \n\n"
    doc = solved(
        capsys, tmp_path, "--mode", "greedy", scores=scores, caps="mentor,capacity\nxavi,1"
    )
    assert doc["assignments"] == [{"mentee": "ana", "mentor": "xavi", "score": 0.5}]


# --- bad input: a clear message and exit code 2 ------------------------------------------------

BAD_SCORES = [
    ("", "scores.csv: the file is empty"),
    ("mentee,mentor\nana,xavi\n", "scores.csv line 1: the header must be"),
    ("mentee,mentor,score,extra\nana,xavi,0.5,1\n", "scores.csv line 1: the header must be"),
    ("mentee,mentor,score\nana,xavi\n", "scores.csv line 2: expected 3 fields"),
    ("mentee,mentor,score\nana,xavi,high\n", "scores.csv line 2: score 'high' is not a number"),
    ("mentee,mentor,score\nana,xavi,nan\n", "scores.csv line 2: score 'nan' is not a finite"),
    ("mentee,mentor,score\nana,xavi,1e999\n", "scores.csv line 2: score '1e999' is not a finite"),
    ("mentee,mentor,score\n,xavi,0.5\n", "scores.csv line 2: mentee is empty"),
    ("mentee,mentor,score\nana,,0.5\n", "scores.csv line 2: mentor is empty"),
    (
        "mentee,mentor,score,mentor_score\nana,xavi,0.5,lots\n",
        "scores.csv line 2: mentor_score 'lots' is not a number",
    ),
    (
        "mentee,mentor,score\nana,xavi,0.5\nben,xavi,0.5\nana,xavi,0.7\n",
        "scores.csv line 4: the pair (ana, xavi) is already on line 2",
    ),
    ("mentee,mentor,score\nxavi,xavi,0.5\n", "scores.csv line 2: 'xavi' cannot mentor themselves"),
]

BAD_CAPS = [
    ("", "caps.csv: the file is empty"),
    ("mentor,cap\nxavi,1\n", "caps.csv line 1: the header must be 'mentor,capacity'"),
    ("mentor,capacity\nxavi\n", "caps.csv line 2: expected 2 fields"),
    ("mentor,capacity\nxavi,-1\n", "caps.csv line 2: capacity -1 is negative"),
    ("mentor,capacity\nxavi,1.5\n", "caps.csv line 2: capacity '1.5' is not a whole number"),
    ("mentor,capacity\nxavi,1\nxavi,2\n", "caps.csv line 3: mentor 'xavi' is already on line 2"),
    ("mentor,capacity\nyuki,1\n", "no capacity for mentor(s) 'xavi'"),
]


@pytest.mark.parametrize(("scores", "message"), BAD_SCORES)
def test_bad_scores_exit_2_with_the_line_at_fault(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, scores: str, message: str
) -> None:
    code, out, err = run(
        capsys, tmp_path, "--mode", "greedy", scores=scores, caps="mentor,capacity\nxavi,1\n"
    )
    assert (code, out) == (2, "")
    assert message in err


@pytest.mark.parametrize(("caps", "message"), BAD_CAPS)
def test_bad_capacities_exit_2_with_the_line_at_fault(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, caps: str, message: str
) -> None:
    code, out, err = run(
        capsys,
        tmp_path,
        "--mode",
        "greedy",
        scores="mentee,mentor,score\nana,xavi,0.5\n",
        caps=caps,
    )
    assert (code, out) == (2, "")
    assert message in err


def test_a_mentor_missing_from_caps_is_an_error_not_capacity_zero(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, _, err = run(capsys, tmp_path, "--mode", "optimal", caps="mentor,capacity\nxavi,1\n")
    assert code == 2
    assert "'yuki', 'zoe'" in err
    assert "capacity 0" in err  # tells the admin how to leave a mentor out on purpose


def test_a_missing_file_exits_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    args = parser().parse_args(
        ["match", "solve", "--scores", str(tmp_path / "nope.csv"), "--capacities",
         str(write(tmp_path, "caps.csv", CAPS)), "--mode", "optimal"]
    )  # fmt: skip
    assert args.func(args) == 2
    assert "nope.csv: no such file" in capsys.readouterr().err


@pytest.mark.parametrize("mode", ["stable", "greedy"])
def test_the_participation_objective_is_refused_outside_optimal(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, mode: str
) -> None:
    code, _, err = run(capsys, tmp_path, "--mode", mode, "--objective", "participation")
    assert code == 2
    assert "--objective applies to --mode optimal only" in err


def test_scores_without_capacities_exit_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    scores = str(write(tmp_path, "scores.csv", SCORES))
    args = parser().parse_args(["match", "solve", "--scores", scores, "--mode", "optimal"])
    assert args.func(args) == 2
    assert "--scores needs --capacities" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv",
    [
        ["match", "solve", "--scores", "s.csv", "--capacities", "c.csv"],
        ["match", "solve", "--scores", "s.csv", "--capacities", "c.csv", "--mode", "best"],
        ["match", "solve", "--mode", "optimal"],
        ["match", "solve", "--scores", "s.csv", "--profiles", "p.jsonl", "--mode", "optimal"],
    ],
)
def test_malformed_command_lines_exit_2(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        parser().parse_args(argv)
    assert exited.value.code == 2


# --- through the project's command line ------------------------------------------------------


def test_the_mentormesh_command_has_match_solve(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    scores, caps = write(tmp_path, "s.csv", SCORES), write(tmp_path, "c.csv", CAPS)
    argv = ["match", "solve", "--scores", str(scores), "--capacities", str(caps)]
    assert mentormesh([*argv, "--mode", "stable"]) == 0
    assert json.loads(capsys.readouterr().out)["blocking_pairs"] == 0


def test_a_bad_input_makes_the_process_exit_2(tmp_path: Path) -> None:
    scores = write(tmp_path, "s.csv", "mentee,mentor,score\nana,xavi,oops\n")
    caps = write(tmp_path, "c.csv", CAPS)
    done = subprocess.run(
        [sys.executable, "-m", "shared.cli", "match", "solve", "--scores", str(scores),
         "--capacities", str(caps), "--mode", "optimal"],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert "line 2: score 'oops' is not a number" in done.stderr
    assert done.stdout == ""
