"""Secrets reach the clients that need them and no output: not `mentormesh up`'s,
not the services' logs, not `/metrics`. On real processes, with MongoDB over TLS and
a password (as a managed MongoDB wants) and Kafka credentials in the settings."""

from __future__ import annotations

import asyncio
import re
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from shared.events import ProfileDeleted, make_event
from shared.settings import redacted_uri
from tests.operations.secured_mongo import PASSWORD as MONGO_PASSWORD
from tests.operations.secured_mongo import secured_mongo
from tests.support import ROOT, Stack, env_without_settings, publish

pytestmark = [pytest.mark.infra, pytest.mark.slow]

KAFKA_PASSWORD = "kafka-pass-8c1e22"
KEY_PASSWORD = "key-pass-77d0aa"
ERASURE_SECRET = "erasure-secret-3b9f04"
SECRETS = (MONGO_PASSWORD, KAFKA_PASSWORD, KEY_PASSWORD, ERASURE_SECRET)


@pytest.fixture(scope="module")
def mongo_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from secured_mongo(tmp_path_factory.mktemp("secured-mongo"))


def get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as resp:
        return str(resp.read().decode())


def test_up_over_tls_and_passwords_shows_no_secret_in_output_logs_or_metrics(
    stack: Stack, mongo_uri: str, tmp_path: Path
) -> None:
    tag = "t" + uuid.uuid4().hex[:10]
    env = env_without_settings() | {
        "MENTORMESH_STATE_DIR": str(tmp_path),
        "MENTORMESH_KAFKA_BOOTSTRAP": stack.kafka_bootstrap,
        "MENTORMESH_KAFKA_EMBEDDED": "true",
        "MENTORMESH_MONGO_URI": mongo_uri,
        "MENTORMESH_TOPIC_PREFIX": tag,
        "MENTORMESH_DATABASE_PREFIX": tag,
        # Set but unused on a PLAINTEXT broker: still settings that must not leak.
        "MENTORMESH_KAFKA_SASL_USERNAME": "mentormesh",
        "MENTORMESH_KAFKA_SASL_PASSWORD": KAFKA_PASSWORD,
        "MENTORMESH_KAFKA_SSL_KEY_PASSWORD": KEY_PASSWORD,
        "MENTORMESH_ERASURE_SECRET": ERASURE_SECRET,
        "MENTORMESH_LOG_LEVEL": "DEBUG",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "shared.cli", "up"], cwd=ROOT, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    lines: list[str] = []
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and not (lines and lines[-1].startswith("running")):
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
        output = "".join(lines)
        assert output.endswith(("running; Ctrl-C or SIGTERM stops everything\n",)), output
        urls = dict(re.findall(r"^(matcher|network|notifier)\s+(http://\S+)", output, re.M))
        settings = Stack(stack.kafka_bootstrap, mongo_uri).settings(topic_prefix=tag)
        event = make_event(ProfileDeleted(person_id="leak-probe"), source="/test")
        asyncio.run(publish(settings, [event]))
        metrics: dict[str, str] = {}
        deadline = time.monotonic() + 90
        while len(metrics) < len(urls) and time.monotonic() < deadline:
            for name, url in urls.items():
                text = get(url + "/metrics")
                if "mentormesh_events_consumed_total{" in text:  # the event went through
                    metrics[name] = text + get(url + "/readyz")
            time.sleep(0.5)
        assert set(metrics) == {"matcher", "network", "notifier"}, "each applied the event"
    finally:
        proc.send_signal(signal.SIGTERM)
        rest, _ = proc.communicate(timeout=90)
    output += rest
    logs = {p.name: p.read_text() for p in (tmp_path / "logs").glob("*.log")}
    assert {"matcher.log", "network.log", "notifier.log"} <= set(logs)
    assert "DEBUG" in logs["matcher.log"], "the most talkative level was on"
    assert f"mongo uri:       {redacted_uri(mongo_uri)}\n" in output
    for secret in SECRETS:
        assert secret not in output
        for where, text in {**logs, **metrics}.items():
            assert secret not in text, f"{secret!r} appears in {where}"
