"""The image's entry point and health check on a real process: `mentormesh serve NAME`
runs the service, `mentormesh probe PATH` reports what its endpoint answers."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable

import pytest

from shared.local_stack import free_port
from shared.settings import Settings
from tests.support import ROOT, env_without_settings, service_env, stop_process

pytestmark = pytest.mark.infra


def mentormesh(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "shared.cli", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def probe(*args: str, env: dict[str, str]) -> int:
    """The image's health check command."""
    return subprocess.run(
        [sys.executable, "-m", "shared.container", "probe", *args],
        cwd=ROOT, env=env, capture_output=True, timeout=60,
    ).returncode  # fmt: skip


async def test_serve_runs_the_named_service_whose_probes_then_pass(
    fresh: Callable[..., Awaitable[Settings]],
) -> None:
    settings = await fresh()
    port = str(free_port())
    env = service_env(settings, MENTORMESH_HTTP_PORT=port)
    assert probe("/healthz", env=env) == 1, "nothing listens yet"
    proc = subprocess.Popen(
        [sys.executable, "-m", "shared.cli", "serve", "network"], cwd=ROOT, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while probe("/readyz", env=env) != 0:
            assert proc.poll() is None, "the service exited"
            assert time.monotonic() < deadline, "not ready in time"
            await asyncio.sleep(0.5)
        assert probe(env=env) == 0, "/healthz by default"
        assert probe("/no-such-page", env=env) == 1
        assert mentormesh("probe", "/metrics", env=env).returncode == 0, "also as mentormesh"
    finally:
        stop_process(proc, timeout=60)


def test_serve_refuses_a_name_that_is_not_a_service() -> None:
    result = mentormesh("serve", "billing", env=env_without_settings())
    assert result.returncode == 2
    assert "invalid choice: 'billing'" in result.stderr


def test_probe_without_a_port_says_what_is_missing() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "shared.container", "probe"],
        cwd=ROOT, env=env_without_settings(), capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2
    assert "MENTORMESH_HTTP_PORT" in result.stderr
