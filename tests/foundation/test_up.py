"""`mentormesh up`: the local stack a platform team integrates against."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from shared.local_stack import pid_alive
from tests.support import env_without_settings

pytestmark = pytest.mark.infra
ROOT = Path(__file__).resolve().parents[2]


def test_up_serves_three_ready_services_until_sigterm_then_stops_everything(
    tmp_path: Path,
) -> None:
    env = env_without_settings()
    env["MENTORMESH_STATE_DIR"] = str(tmp_path)
    proc = subprocess.Popen(
        [sys.executable, "-m", "shared.cli", "up"], cwd=ROOT, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    lines: list[str] = []
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if line.startswith("running"):
                break
        output = "".join(lines)
        assert "kafka bootstrap: 127.0.0.1:" in output, output
        assert "mongo uri:       mongodb://127.0.0.1:" in output, output
        urls = dict(re.findall(r"^(matcher|network|notifier)\s+(http://\S+)", output, re.M))
        assert set(urls) == {"matcher", "network", "notifier"}, output
        pids = [int(p) for p in re.findall(r"pid (\d+)\)", output)]
        for url in urls.values():
            with urllib.request.urlopen(url + "/readyz", timeout=5) as resp:
                assert resp.status == 200
        state = (tmp_path / "infra.json").read_text()
        infra_pids = [int(p) for p in re.findall(r'"(?:kafka|mongo)_pid": (\d+)', state)]
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=60)
    assert code == 0
    assert not any(pid_alive(pid) for pid in pids + infra_pids)
