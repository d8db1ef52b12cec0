"""`mentormesh up`: the local stack a platform team integrates against."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from shared.events import make_event
from shared.local_stack import pid_alive
from shared.scenario import population
from shared.settings import Settings
from tests.support import env_without_settings, publish, wait_for

pytestmark = pytest.mark.infra
ROOT = Path(__file__).resolve().parents[2]
SERVICE_LINE = re.compile(
    r"^(matcher|network|notifier)\s+(http://\S+) .* pid (\d+)  log (\S+)$", re.M
)


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as resp:
        return str(resp.read().decode())


@contextlib.contextmanager
def running_up(state_dir: Path, *args: str) -> Iterator[str]:
    """`mentormesh up ARGS` until it says it is running; yields what it printed, then
    stops it with SIGTERM and requires a clean exit."""
    env = env_without_settings()
    env["MENTORMESH_STATE_DIR"] = str(state_dir)
    proc = subprocess.Popen(
        [sys.executable, "-m", "shared.cli", "up", *args], cwd=ROOT, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    lines: list[str] = []
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if line.startswith("running"):
                break
        assert lines and lines[-1].startswith("running"), "".join(lines)
        yield "".join(lines)
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=120)
    assert code == 0, "".join(lines)


def test_up_serves_three_ready_services_until_sigterm_then_stops_everything(
    tmp_path: Path,
) -> None:
    with running_up(tmp_path) as output:
        assert "kafka bootstrap: 127.0.0.1:" in output, output
        assert "mongo uri:       mongodb://127.0.0.1:" in output, output
        assert "broker storage:  durable" in output, output
        services = SERVICE_LINE.findall(output)
        assert sorted(name for name, *_ in services) == ["matcher", "network", "notifier"]
        for _, url, _, log in services:
            with urllib.request.urlopen(url + "/readyz", timeout=5) as resp:
                assert resp.status == 200
            assert Path(log).is_file(), log
        infra = re.search(r"^infra pids:\s+([\d ]+?)\s+logs in", output, re.M)
        assert infra, output
        infra_pids = [int(p) for p in infra.group(1).split()]
        recorded = json.loads((tmp_path / "infra.json").read_text())
    pids = [int(pid) for _, _, pid, _ in services]
    # Three services; the broker, the database and the broker's object store.
    assert len(set(pids)) == 3 and len(set(infra_pids)) == 3, output
    assert sorted(infra_pids) == sorted(
        recorded[k] for k in ("kafka_pid", "mongo_pid", "object_store_pid")
    )
    assert not [pid for pid in pids + infra_pids if pid_alive(pid)]
    assert not (tmp_path / "infra.json").exists()


async def test_up_says_what_an_earlier_run_left_and_starts_clean_with_fresh(
    tmp_path: Path,
) -> None:
    people = population(mentees=2, mentors=1, seed=5).everyone
    with running_up(tmp_path, "--broker", "memory") as first:
        assert "state: nothing from an earlier run" in first, first
        kafka = re.search(r"^kafka bootstrap: (\S+)", first, re.M)
        mongo = re.search(r"^mongo uri:\s+(\S+)", first, re.M)
        matcher = dict((name, url) for name, url, *_ in SERVICE_LINE.findall(first))["matcher"]
        assert kafka and mongo, first
        settings = Settings(kafka_bootstrap=kafka.group(1), mongo_uri=mongo.group(1))
        await publish(settings, [make_event(p, source="/test") for p in people])

        async def applied() -> bool:
            text = await asyncio.to_thread(_get, matcher + "/metrics")
            consumed = re.findall(r"^mentormesh_events_consumed_total\{.*\} (\S+)$", text, re.M)
            return sum(float(n) for n in consumed) >= len(people)

        await wait_for(applied, timeout=120)

    # The broker in memory starts empty while the database remembers: said plainly.
    with running_up(tmp_path, "--broker", "memory") as second:
        assert "WARNING: the database remembers an earlier run: 3 people, 0 mentorships" in second
        assert "The broker starts empty" in second
        assert "mentormesh up --fresh" in second

    with running_up(tmp_path, "--broker", "memory", "--fresh") as third:
        assert re.search(r"^fresh start: deleted the database's storage", third, re.M), third
        assert "state: nothing from an earlier run" in third, third
