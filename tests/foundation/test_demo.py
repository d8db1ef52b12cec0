"""`make run`'s main job, at a small size: it runs the whole system as separate
processes, starts each run from a clean state of its own, checks that every stage of
its story produced something, stops everything and exits 0, or names the stage
that produced nothing and exits non-zero."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import env_without_settings

pytestmark = [pytest.mark.infra, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]


def demo(state: Path, out: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "shared.cli", "demo", "--mentees", "40", "--mentors", "16",
         "--state-dir", str(state), "--out", str(out), *args],
        cwd=ROOT, env=env_without_settings(), capture_output=True, text=True, timeout=900,
    )  # fmt: skip


def story(out: str) -> dict[str, int]:
    found = re.search(
        r"^the story: (\d+) proposals -> (\d+) mentorships -> (\d+) sessions -> "
        r"(\d+) introductions; (\d+) nudges$",
        out,
        re.M,
    )
    assert found, out
    keys = ("proposals", "mentorships", "sessions", "introductions", "nudges")
    return dict(zip(keys, map(int, found.groups()), strict=True))


def test_the_demo_run_twice_in_one_place_tells_the_whole_story_of_each_run_and_exits_cleanly(
    tmp_path: Path,
) -> None:
    state = tmp_path / "state"
    first = demo(state, tmp_path / "first", "--weeks", "4")
    second = demo(state, tmp_path / "second", "--weeks", "4")
    cleaned = "clean start: deleted the previous run's database and logs in"
    for run, said in ((first, "clean start: first run in"), (second, cleaned)):
        out = run.stdout
        assert run.returncode == 0, out[-3000:] + run.stderr[-3000:]
        assert said in "\n".join(out.splitlines()[:3]), out[:1000]
        told = story(out)
        assert all(n > 0 for n in told.values()), told
        # The summary describes this run only: the matcher's database holds exactly
        # the proposals this run received, and 56 people.
        assert re.search(rf"^Matcher: 40 mentees, \d+ mentors, {told['proposals']} proposals",
                         out, re.M), out  # fmt: skip
        for service in ("matcher", "network", "notifier"):
            consumed = re.search(rf"^{service}\s+consumed (\d+), .*dead-lettered (\d+)", out, re.M)
            assert consumed, out
            assert int(consumed.group(1)) > 0
            assert int(consumed.group(2)) == 2  # the two malformed messages the demo sends
        assert "private feedback notes found in any published event: 0" in out
        assert re.search(r"Mentorship \w+: mentee-\d+ with mentor mentor-\d+", out)
        assert "introduce mentee-" in out
    assert (tmp_path / "second" / "network.png").stat().st_size > 10_000
    assert not (state / "infra.json").exists(), "the demo left its stack running"


def test_a_demo_whose_matching_stage_produces_nothing_says_so_and_exits_non_zero(
    tmp_path: Path,
) -> None:
    run = demo(tmp_path / "state", tmp_path, "--weeks", "1", "--mentor-capacity", "0")
    assert run.returncode == 1, run.stdout[-3000:] + run.stderr[-3000:]
    assert (
        "DEMO FAILED: the matching stage produced nothing: 56 people signed up but the "
        "matcher proposed no match. Likely cause: every mentor has capacity 0"
    ) in run.stdout, run.stdout[-3000:]
    assert "SUMMARY" not in run.stdout
    assert not (tmp_path / "state" / "infra.json").exists(), "the demo left its stack running"
