"""Real service processes (`python -m services.<name>`) stopped with SIGTERM under a
backlog, killed at chosen points (`shared.faults`), and fed a poison event: afterwards
nothing is lost, nothing applied twice, nothing dead-lettered but the poison."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path

import pytest

from shared.dead_letter import HEADER_ERROR, HEADER_SERVICE
from shared.events import MatchProposed, ProfileUpserted, Role, make_event, parse_event
from shared.faults import AFTER_COMMIT_BEFORE_PUBLISH, FAULT_ENV, FAULT_EXIT_CODE, MID_BATCH
from shared.local_stack import free_port
from shared.runtime import PROCESSED
from shared.settings import Settings
from tests.foundation.workloads import applied, backlog, check, finish, wait_consumed
from tests.support import (
    dead_letters,
    mongo_client,
    publish,
    read_to_end,
    service_process,
    wait_for,
)

pytestmark = [pytest.mark.infra, pytest.mark.slow]

SERVICES = ("matcher", "network", "notifier")


async def ledger_size(settings: Settings, service: str) -> int:
    client = mongo_client(settings)
    try:
        return await client[settings.database_name(service)][PROCESSED].count_documents({})
    finally:
        await client.close()


def problems(log: Path) -> list[str]:
    return [line for line in log.read_text().splitlines() if "ERROR" in line or "Traceback" in line]


@pytest.mark.parametrize("service", SERVICES)
async def test_a_service_stopped_with_sigterm_under_a_backlog_resumes_without_loss_or_repeat(
    fresh: Callable[..., Awaitable[Settings]], tmp_path: Path, service: str
) -> None:
    settings = await fresh()
    work = backlog(service, 1000)
    assert len(work.events) >= 1000
    await publish(settings, work.events)
    port = free_port()
    env = {**work.env, "MENTORMESH_HTTP_PORT": str(port)}
    with service_process(service, settings, env, tmp_path / "stopped.log") as first:
        await wait_consumed(port, len(work.events) // 5)
        first.send_signal(signal.SIGTERM)
        code = await asyncio.to_thread(first.wait, settings.shutdown_grace_s + 10)
    assert code == 0
    assert 0 < await ledger_size(settings, service) < len(work.events), "stopped mid-way"
    assert problems(tmp_path / "stopped.log") == []
    with service_process(service, settings, work.env, tmp_path / "restarted.log"):
        await finish(settings, work)
    await check(settings, work)


@pytest.mark.parametrize("service", SERVICES)
async def test_a_service_killed_mid_batch_resumes_without_loss_or_repeat(
    fresh: Callable[..., Awaitable[Settings]], tmp_path: Path, service: str
) -> None:
    settings = await fresh()
    work = backlog(service, 300)
    port = free_port()
    env = {**work.env, "MENTORMESH_HTTP_PORT": str(port), FAULT_ENV: MID_BATCH}
    with service_process(service, settings, env, tmp_path / "killed.log") as first:
        # One event alone is a batch of one, which has no middle: the process lives
        # and shows that it consumes; the backlog's first batch kills it.
        await publish(settings, work.events[:1])
        await wait_consumed(port, 1)
        await publish(settings, work.events[1:])
        code = await asyncio.to_thread(first.wait, 120)
    assert code == FAULT_EXIT_CODE
    assert await ledger_size(settings, service) < len(work.events)
    with service_process(service, settings, work.env, tmp_path / "restarted.log"):
        await finish(settings, work)
    await check(settings, work)


async def test_a_matcher_killed_between_commit_and_publish_publishes_that_batch_after_restart(
    fresh: Callable[..., Awaitable[Settings]], tmp_path: Path
) -> None:
    settings = await fresh()
    work = backlog("matcher", 240)
    port = free_port()
    env = {"MENTORMESH_HTTP_PORT": str(port), FAULT_ENV: f"{AFTER_COMMIT_BEFORE_PUBLISH}@2"}
    with service_process("matcher", settings, env, tmp_path / "killed.log") as first:
        await publish(settings, work.events[:1])
        await wait_consumed(port, 1)
        await publish(settings, work.events[1:])
        code = await asyncio.to_thread(first.wait, 120)
    assert code == FAULT_EXIT_CODE
    client = mongo_client(settings)
    try:
        outbox = await client[settings.database_name("matcher")]["outbox"].count_documents({})
    finally:
        await client.close()
    assert outbox > 0, "the killed batch committed outputs it did not publish"
    with service_process("matcher", settings, {}, tmp_path / "restarted.log"):
        await finish(settings, work)
    await check(settings, work)


def _profile(person: str, role: Role, revision: int) -> bytes:
    mentor = role == "mentor"
    data = ProfileUpserted(
        person_id=person, roles=[role], goals=[] if mentor else ["SQL"], passions=["chess"],
        skills=["SQL"] if mentor else [], languages=["en"], timezone="Europe/Berlin",
        capacity=2 if mentor else 0, open_to_introductions=True, paused=False,
        revision=revision,
    )  # fmt: skip
    return make_event(data, source="/platform").to_json()


def _poison() -> bytes:
    envelope = json.loads(_profile("pat", "mentee", 1))
    envelope["id"] = "poison"
    envelope["data"]["timezone"] = "A" * 300
    return json.dumps(envelope).encode()


async def test_a_poison_event_is_dead_lettered_once_and_the_events_behind_it_are_applied(
    fresh: Callable[..., Awaitable[Settings]], tmp_path: Path
) -> None:
    settings = await fresh(partitions=1)
    poison = _poison()
    valid = [_profile("pat", "mentee", 1), _profile("max", "mentor", 1)]
    valid.append(_profile("pat", "mentee", 2))
    ids = [json.loads(v)["id"] for v in valid]
    # One partition: the mentor is behind the poison too.
    keyed = [("profiles", json.loads(v)["data"]["person_id"].encode(), v) for v in valid]
    await publish(settings, [("profiles", b"pat", poison), *keyed])
    events = [parse_event(v, "profiles") for v in valid]
    logs = {name: tmp_path / f"{name}.log" for name in SERVICES}
    with contextlib.ExitStack() as processes:
        for name in SERVICES:
            processes.enter_context(service_process(name, settings, {}, logs[name]))
        for name in SERVICES:
            await wait_for(partial(applied, settings, name, events), 120, 0.5)
    assert len(set(ids)) == 3
    letters = await read_to_end(settings, "profiles.dlq")
    headers = dead_letters(letters)
    assert sorted(h[HEADER_SERVICE] for h in headers) == sorted(SERVICES)
    assert all(h[HEADER_ERROR] in ("invalid-data", "undecodable") for h in headers)
    assert all(letter.value == poison for letter in letters)
    for name in SERVICES:
        lines = logs[name].read_text().splitlines()
        assert len([line for line in lines if "profiles[0]@0" in line]) == 1, name
        assert problems(logs[name]) == [], name
    records = await read_to_end(settings, "matches")
    outputs = [parse_event(r.value, "matches").data for r in records]
    proposed = [(d.mentee_id, d.mentor_id) for d in outputs if isinstance(d, MatchProposed)]
    assert ("pat", "max") in proposed
