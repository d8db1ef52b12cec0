"""The reference client in examples/ works against the real services: a platform
can start from it."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from shared.settings import Settings
from tests.support import ROOT, service_process

pytestmark = [pytest.mark.infra, pytest.mark.slow]


async def test_the_reference_client_signs_up_two_people_and_sees_their_mentorship_start(
    fresh: Callable[..., Awaitable[Settings]], tmp_path: Path
) -> None:
    settings = await fresh()
    with service_process("matcher", settings, log=tmp_path / "matcher.log"):
        client = await asyncio.create_subprocess_exec(
            sys.executable, str(ROOT / "examples" / "reference_client.py"),
            "--bootstrap", settings.resolved_kafka(), "--prefix", settings.topic_prefix,
            "--timeout", "240",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        output, _ = await client.communicate()
    text = output.decode()
    assert client.returncode == 0, text
    lines = text.splitlines()
    assert lines[0].startswith("signed up mentee-")
    assert any(line.startswith("proposal ") for line in lines)
    assert any("is covered by the mentor's skill 'System Design'" in line for line in lines)
    assert any(line.startswith("mentorship started: ") for line in lines)
    assert lines[-1] == "session reported"
