"""`mentormesh events validate|publish|tail` and `mentormesh dlq list|replay`."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from shared.cli import main
from shared.dead_letter import HEADER_ERROR, Reason
from shared.events import (
    DATA_MODELS,
    CloudEvent,
    MatchAccepted,
    ProfileDeleted,
    SessionCompleted,
    example_event,
    make_event,
)
from shared.runtime import ServiceSpec, UnitOfWork
from shared.settings import Settings
from tests.support import (
    dead_letters,
    mongo_client,
    publish,
    read_records,
    running_service,
    wait_for,
)

INPUTS = [m for m in DATA_MODELS if m.TOPIC in ("profiles", "activity", "responses")]


def write_lines(path: Path, lines: list[bytes]) -> Path:
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def use(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MENTORMESH_KAFKA_BOOTSTRAP", settings.resolved_kafka())
    monkeypatch.setenv("MENTORMESH_TOPIC_PREFIX", settings.topic_prefix)


def test_validate_reports_each_invalid_line_with_its_reason_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    unknown_field = json.loads(example_event(ProfileDeleted).to_json())
    unknown_field["data"]["nickname"] = "Sam"
    path = write_lines(tmp_path / "events.jsonl", [
        example_event(ProfileDeleted).to_json(),
        b"{not json",
        example_event(SessionCompleted).to_json().replace(b":45", b":0"),
        json.dumps(unknown_field).encode(),
        b"\xff\xfe",
    ])  # fmt: skip
    assert main(["events", "validate", str(path)]) == 1
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert lines[0].startswith("line 2: not-json: ")
    assert lines[1].startswith("line 3: invalid-data: data.duration_minutes")
    assert lines[2] == "line 4: note: data fields this version does not know (ignored): nickname"
    assert lines[3].startswith("line 5: not-json: not UTF-8")
    assert "2 valid, 3 invalid" in err


def test_validate_exits_0_on_a_file_of_valid_events(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "ok.jsonl", [example_event(m).to_json() for m in DATA_MODELS])
    assert main(["events", "validate", str(path)]) == 0


@pytest.mark.infra
async def test_publish_sends_each_event_to_its_topic_keyed_by_its_key_field(
    fresh: Callable[..., Awaitable[Settings]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = await fresh()
    use(settings, monkeypatch)
    path = write_lines(tmp_path / "events.jsonl", [example_event(m).to_json() for m in INPUTS])
    assert await asyncio.to_thread(main, ["events", "publish", str(path)]) == 0
    for topic in ("profiles", "activity", "responses"):
        expected = {example_event(m).key for m in INPUTS if topic == m.TOPIC}
        records = await read_records(settings, topic, partial(_at_least, len(expected)))
        assert {r.key for r in records} == expected
        assert all(dict(r.headers)["content-type"].startswith(b"application/cloudevents+json")
                   for r in records)  # fmt: skip


@pytest.mark.infra
async def test_publish_sends_nothing_when_a_line_is_invalid(
    fresh: Callable[..., Awaitable[Settings]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = await fresh()
    use(settings, monkeypatch)
    path = write_lines(tmp_path / "events.jsonl", [example_event(ProfileDeleted).to_json(), b"{"])
    assert await asyncio.to_thread(main, ["events", "publish", str(path)]) == 1
    marker = make_event(ProfileDeleted(person_id="marker"), source="/t")
    await publish(settings, [marker])
    records = await read_records(settings, "profiles", lambda r: len(r) >= 1)
    assert [r.key for r in records] == [b"marker"]


@pytest.mark.infra
async def test_tail_prints_one_line_per_event_of_the_asked_type(
    fresh: Callable[..., Awaitable[Settings]],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    settings = await fresh(partitions=1)
    use(settings, monkeypatch)
    accepted = example_event(MatchAccepted)
    await publish(settings, [example_event(ProfileDeleted), ("responses", b"k", b"{oops"),
                             accepted])  # fmt: skip
    await publish(settings, [example_event(ProfileDeleted)])
    args = ["events", "tail", "responses", "--from-beginning", "--idle-timeout", "5"]
    assert await asyncio.to_thread(main, args) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("[0@0] rejected not-json")
    assert lines[1].startswith("2026-03-02T09:30:00Z  match.accepted.v1  key=")
    assert f"id={accepted.id}" in lines[1]
    args = [*args, "--type", "mentormesh.match.accepted.v1", "--max", "1"]
    assert await asyncio.to_thread(main, args) == 0
    assert capsys.readouterr().out.splitlines() == lines[1:]


# --- the dead-letter topics, against a service with a bug fixed later ------------------


class Flaky:
    """A service whose handler has a bug for a while: it fails on every event."""

    def __init__(self) -> None:
        self.broken = True

    async def handle(self, uow: UnitOfWork, event: CloudEvent[Any]) -> None:
        if self.broken and event.subject == "victim":
            raise RuntimeError("a bug, fixed in the next release")
        await uow.db.applied.update_one(
            {"_id": event.id}, {"$inc": {"times": 1}}, upsert=True, session=uow.session
        )

    def spec(self) -> ServiceSpec:
        return ServiceSpec(name="probe", inputs=("profiles",), outputs=(), handle=self.handle)


async def applied_times(settings: Settings) -> dict[str, int]:
    client = mongo_client(settings)
    try:
        docs = client[f"{settings.database_prefix}_probe"].applied.find()
        return {d["_id"]: d["times"] async for d in docs}
    finally:
        await client.close()


@pytest.mark.infra
async def test_dlq_list_shows_reasons_and_replay_applies_a_fixed_event_once(
    fresh: Callable[..., Awaitable[Settings]],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    settings = await fresh(partitions=1)
    use(settings, monkeypatch)
    service = Flaky()
    victim = make_event(ProfileDeleted(person_id="victim"), source="/platform")
    async with running_service(service.spec(), settings):
        await publish(settings, [victim, ("profiles", b"k", b"{not json")])
        await read_records(settings, "profiles.dlq", lambda r: len(r) >= 2, timeout=120)

        assert await asyncio.to_thread(main, ["dlq", "list", "--topic", "profiles", "--json"]) == 0
        out = capsys.readouterr().out
        listed = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
        assert sorted(d["reason"] for d in listed) == ["handler-error", "not-json"]
        assert await asyncio.to_thread(
            main, ["dlq", "list", "--topic", "profiles", "--reason", "handler-error"]
        ) == 0  # fmt: skip
        [line] = capsys.readouterr().out.splitlines()
        detail = "handler-error: after 3 attempts: RuntimeError: a bug, fixed in the next release"
        assert detail in line

        service.broken = False  # the fix is deployed
        replay = ["dlq", "replay", "--topic", "profiles", "--reason", "handler-error"]
        assert await asyncio.to_thread(main, replay) == 0
        assert await asyncio.to_thread(main, replay) == 0
        assert (
            capsys.readouterr().out.splitlines()
            == ["replayed 1 message(s) from 1 dead letter(s)"] * 2
        )
        # Same partition, after the replays: once it is applied, so are they.
        marker = make_event(ProfileDeleted(person_id="victim"), source="/platform")
        await publish(settings, [marker])
        await wait_for(lambda: _applied(settings, marker.id), timeout=120)
    assert (await applied_times(settings))[victim.id] == 1
    records = await read_records(settings, "profiles", lambda r: len(r) >= 5)
    assert [r.value for r in records].count(victim.to_json()) == 3  # the original + 2 replays
    headers = dead_letters(await read_records(settings, "profiles.dlq", lambda r: len(r) >= 2))
    assert sorted(h[HEADER_ERROR] for h in headers) == ["handler-error", "not-json"]


async def _applied(settings: Settings, event_id: str) -> bool:
    return event_id in await applied_times(settings)


def _letter(service: str, source_offset: int, at_ms: int, reason: Reason = "invalid-data") -> Any:
    from shared.dead_letter import DeadLetter, Rejection

    headers = Rejection(reason, "why").headers(service, "mm.profiles", 0, source_offset, {})
    original = [("ce_id", b"e1")]
    return DeadLetter.from_record(
        0, source_offset, at_ms, b"k", b"body",
        [*original, *((k, v.encode()) for k, v in headers.items())],
    )  # fmt: skip


def test_a_message_several_services_dead_lettered_is_replayed_once_with_its_own_headers() -> None:
    from shared.contract_cli import replay_plan

    letters = [_letter("matcher", 7, 1000), _letter("network", 7, 2000), _letter("matcher", 3, 0)]
    plan = replay_plan(letters, "fallback")
    assert [(o.topic, o.value) for o in plan] == [("mm.profiles", b"body")] * 2
    assert [dict(o.headers) for o in plan] == [{"ce_id": b"e1"}] * 2


def test_replay_can_be_limited_to_a_reason_and_to_what_was_dead_lettered_since_a_time() -> None:
    import argparse
    from datetime import UTC, datetime

    from shared.contract_cli import _selected

    letters = [_letter("matcher", 1, 1_000), _letter("matcher", 2, 5_000, "not-json"),
               _letter("matcher", 3, 9_000)]  # fmt: skip
    since = argparse.Namespace(reason="invalid-data", since=datetime.fromtimestamp(2, UTC))
    assert [d.source_offset for d in _selected(letters, since)] == [3]


def _at_least(count: int, records: Sequence[object]) -> bool:
    return len(records) >= count
