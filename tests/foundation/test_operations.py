"""What an operator relies on: the local stack's commands and each service's
health, readiness and metrics endpoints."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from shared.local_stack import pid_alive
from shared.service import ServiceHost
from shared.settings import Settings
from tests.foundation.test_delivery import deleted, probe_spec
from tests.support import env_without_settings, publish, wait_for

pytestmark = pytest.mark.infra


def mentormesh(state_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = env_without_settings()
    env["MENTORMESH_STATE_DIR"] = str(state_dir)
    return subprocess.run(
        [sys.executable, "-m", "shared.cli", *args],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_infra_up_status_down_start_answer_and_stop_both_servers(tmp_path: Path) -> None:
    up = mentormesh(tmp_path, "infra", "up")
    assert up.returncode == 0, up.stderr
    state = json.loads((tmp_path / "infra.json").read_text())
    try:
        status = mentormesh(tmp_path, "infra", "status")
        report = json.loads(status.stdout)
        assert report["kafka_answers"] and report["mongo_answers"]
        assert state["kafka_bootstrap"] in up.stdout
    finally:
        down = mentormesh(tmp_path, "infra", "down")
    assert down.returncode == 0
    assert not pid_alive(state["kafka_pid"]) and not pid_alive(state["mongo_pid"])
    assert mentormesh(tmp_path, "infra", "status").returncode == 3


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


async def test_a_service_reports_health_readiness_and_metrics(
    fresh: Callable[..., Awaitable[Settings]],
) -> None:
    settings = await fresh()
    host = ServiceHost(probe_spec(), settings)
    async with host.running():
        assert host.ops is not None
        base = f"http://127.0.0.1:{host.ops.port}"
        event = deleted("metrics-person")
        await publish(settings, [event])

        async def counted() -> bool:
            _, text = await asyncio.to_thread(get, base + "/metrics")
            return "mentormesh_events_consumed_total{" in text

        await wait_for(counted, timeout=60)
        health = await asyncio.to_thread(get, base + "/healthz")
        ready = await asyncio.to_thread(get, base + "/readyz")
        _, metrics = await asyncio.to_thread(get, base + "/metrics")
    assert health[0] == 200
    assert ready == (200, "kafka: ok\nmongo: ok\n")
    assert 'type="mentormesh.profile.deleted.v1"' in metrics
    assert "mentormesh_events_published_total" in metrics
