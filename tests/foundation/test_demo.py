"""`make run`'s main job, at a small size: it runs the whole system as separate
processes, shows what each service did, stops everything and exits 0."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import env_without_settings

pytestmark = [pytest.mark.infra, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]


def test_the_demo_shows_matches_introductions_and_nudges_and_exits_cleanly(
    tmp_path: Path,
) -> None:
    env = env_without_settings()
    run = subprocess.run(
        [sys.executable, "-m", "shared.cli", "demo", "--mentees", "40", "--mentors", "16",
         "--weeks", "4", "--state-dir", str(tmp_path / "state"), "--out", str(tmp_path)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    out = run.stdout
    assert run.returncode == 0, out[-3000:] + run.stderr[-3000:]
    for service in ("matcher", "network", "notifier"):
        consumed = re.search(rf"^{service}\s+consumed (\d+), .*dead-lettered (\d+)", out, re.M)
        assert consumed, out
        assert int(consumed.group(1)) > 0
        assert int(consumed.group(2)) == 2  # the two malformed messages the demo sends
    assert "private feedback notes found in any published event: 0" in out
    assert re.search(r"Mentorship \w+: mentee-\d+ with mentor mentor-\d+", out)
    assert "introduce mentee-" in out
    assert re.search(r"nudges emitted: [1-9]\d*", out)
    assert (tmp_path / "network.png").stat().st_size > 10_000
    assert not (tmp_path / "state" / "infra.json").exists(), "the demo left its stack running"
