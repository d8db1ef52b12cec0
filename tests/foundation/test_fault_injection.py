"""A fault-injection run staged as an operator would, on the real stack: two processes
of each service, a platform's workload (signups the matcher pairs, and mentorships
with proposals, answers, sessions, feedback with private notes and goal check-ins),
malformed input of every rejection kind, one CloudEvent id sent three times, a few
deletions, and a matcher and a notifier killed with SIGKILL and a network process
stopped with SIGTERM mid-stream, each restarted. Afterwards: no mentor over capacity,
no pair proposed twice, the dead-letter topics hold exactly the malformed messages,
the nudges are the simulator's on the same history, no private note is anywhere, and
no deleted person's id is in any document of any service database."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from bson import json_util

from services.matcher.main import build_spec as matcher_spec
from services.network.main import build_spec as network_spec
from services.notifier.clock import TICK
from services.notifier.config import NotifierSettings
from services.notifier.main import build_spec as notifier_spec
from services.notifier.simulator import simulate
from shared.dead_letter import DeadLetter
from shared.events import (
    CloudEvent,
    MatchProposed,
    ProfileDeleted,
    SessionCompleted,
    make_event,
)
from shared.limits import MAX_JSON_DEPTH, MAX_MESSAGE_BYTES
from shared.local_stack import free_port
from shared.runtime import OUTBOX
from shared.scenario import population
from shared.settings import Settings
from tests.foundation.workloads import (
    ENV,
    NOTIFIER_GRACE,
    WEEKS,
    Backlog,
    _check_network,
    applied,
    consumed,
)
from tests.notifier import builders as b
from tests.notifier.scenario import programme_weeks
from tests.notifier.stack import emitted_by_id, event_ids_per_nudge, expected_by_id, settled_until
from tests.support import (
    mongo_client,
    publish,
    read_events_to_end,
    read_to_end,
    service_process,
    wait_for,
)

pytestmark = [pytest.mark.infra, pytest.mark.slow]

SERVICES = ("matcher", "network", "notifier")
UNTIL = b.T0 + timedelta(weeks=WEEKS)
OUTPUTS = ("matches", "introductions", "nudges")


def _envelope(type_: str, data: dict[str, Any], id: str) -> bytes:
    envelope = {"specversion": "1.0", "id": id, "source": "/platform", "type": type_,
                "time": "2025-03-04T00:00:00Z", "data": data}  # fmt: skip
    return json.dumps(envelope).encode()


def malformed() -> list[tuple[str, str, bytes | None, bytes]]:
    """(reason, topic key, Kafka key, body): every kind of rejection on the profiles
    topic and two on activity, which all three services read."""
    deep = b"[" * (MAX_JSON_DEPTH + 8) + b"]" * (MAX_JSON_DEPTH + 8)
    large = b'{"pad": "' + b"x" * MAX_MESSAGE_BYTES + b'"}'
    answer = b.accepted(b.T0, "mentee-0", match="ms-0")
    ghost = make_event(ProfileDeleted(person_id="ghost"), source="/platform")
    return [
        ("too-large", "profiles", b"k", large),
        ("too-deep", "profiles", b"k", deep),
        ("not-json", "profiles", b"k", b"{this is not json"),
        ("not-cloudevent", "profiles", b"k", json.dumps({"hello": "world"}).encode()),
        ("unknown-type", "profiles", b"k", _envelope("mentormesh.nope.v1", {}, "bad-type")),
        ("wrong-topic", "profiles", answer.key, answer.to_json()),
        ("invalid-data", "profiles", b"k",
         _envelope("mentormesh.profile.deleted.v1", {"person_id": 42}, "bad-data")),
        ("wrong-key", "profiles", b"somebody-else", ghost.to_json()),
        ("not-json", "activity", b"k", b"\xff\xfe not json"),
        ("invalid-data", "activity", b"ms-0",
         _envelope("mentormesh.session.completed.v1", {"mentorship_id": "ms-0"}, "bad-session")),
    ]  # fmt: skip


async def database_text(settings: Settings, service: str) -> str:
    """Every document of every collection of a service's database, as JSON text."""
    client = mongo_client(settings)
    try:
        db = client[settings.database_name(service)]
        lines = []
        for name in sorted(await db.list_collection_names()):
            lines += [f"{name} {json_util.dumps(doc)}" async for doc in db[name].find()]
        return "\n".join(lines)
    finally:
        await client.close()


def mentions(text: str, person: str) -> bool:
    """Whether `text` holds `person` as a whole id (not "mentee-1" inside "mentee-12")."""
    return re.search(rf"(?<![\w-]){re.escape(person)}(?![\w-])", text) is not None


def consumed_topics(settings: Settings) -> dict[str, tuple[str, ...]]:
    """The topics each service reads, from its own composition root."""
    return {
        "matcher": matcher_spec(settings).inputs,
        "network": network_spec(settings).inputs,
        "notifier": notifier_spec(settings).inputs,
    }


async def quiet(
    settings: Settings, service: str, reads: Sequence[str], events: Sequence[CloudEvent[Any]]
) -> bool:
    """Every event of the topics the service reads is in its ledger; its outbox is empty."""
    mine = [e for e in events if e.data.TOPIC in reads]
    return await applied(settings, service, mine)


async def outbox_empty(settings: Settings, service: str) -> bool:
    client = mongo_client(settings)
    try:
        db = client[settings.database_name(service)]
        return await db[OUTBOX].count_documents({}) == 0
    finally:
        await client.close()


async def test_a_run_with_kills_malformed_input_and_deletions_keeps_every_promise(
    fresh: Callable[..., Awaitable[Settings]], tmp_path: Path
) -> None:
    began = time.monotonic()
    settings = await fresh()
    reads = consumed_topics(settings)
    cohort = population(mentees=45, mentors=15, seed=11)
    signups = [make_event(p, source="/platform") for p in cohort.everyone]
    history = programme_weeks(mentorships=45, weeks=WEEKS, seed=11, proposals=True)
    notes = [e for e in history if getattr(e.data, "private_note", None)]
    assert notes and {e.data.private_note for e in notes} == {b.NOTE}
    assert any(type(e.data).__name__ == "GoalCheckedIn" for e in history)
    twice = next(e for e in history if isinstance(e.data, SessionCompleted))
    bad = malformed()
    # Paused, so the matcher proposes nothing to it: it only moves event time on.
    tick = b.profile("clock", at=UNTIL + NOTIFIER_GRACE + TICK)
    tick = tick.model_copy(update={"data": tick.data.model_copy(update={"paused": True})})

    half = len(history) // 2
    first_half = [*signups, *history[:half]]
    published = await publish(settings, first_half)
    published += await publish(settings, [(t, k, v) for _, t, k, v in bad[:5]])

    env = ENV["notifier"]
    ports = {name: free_port() for name in SERVICES}
    logs = tmp_path
    kills = Counter[str]()
    survivors: list[subprocess.Popen[bytes]] = []

    with contextlib.ExitStack() as processes:

        def start(
            name: str, label: str, extra: dict[str, str] | None = None
        ) -> subprocess.Popen[bytes]:
            proc = processes.enter_context(service_process(
                name, settings, {**(env if name == "notifier" else {}), **(extra or {})},
                logs / f"{name}-{label}.log",
            ))  # fmt: skip
            if label != "victim":
                survivors.append(proc)
            return proc

        victims = {
            name: start(name, "victim", {"MENTORMESH_HTTP_PORT": str(ports[name])})
            for name in SERVICES
        }
        for name in SERVICES:
            start(name, "peer")
        # Each victim has partitions and work: it applied events when it is stopped.
        for name in SERVICES:
            await wait_for(partial(_consumed_some, ports[name]), timeout=180, interval=0.2)
        for name, how in (("matcher", signal.SIGKILL), ("notifier", signal.SIGKILL),
                          ("network", signal.SIGTERM)):  # fmt: skip
            victims[name].send_signal(how)
            code = await asyncio.to_thread(victims[name].wait, settings.shutdown_grace_s + 20)
            assert code == (0 if how == signal.SIGTERM else -signal.SIGKILL), name
            kills[how.name] += 1
        published += await publish(settings, [(t, k, v) for _, t, k, v in bad[5:]])
        # People the matcher proposed leave: they are in every service's state by now.
        gone = await _proposed_people(settings, mentees=2, mentors=1)
        await wait_for(partial(_held_everywhere, settings, gone), timeout=300, interval=1.0)
        deletions = [make_event(ProfileDeleted(person_id=p), source="/platform") for p in gone]
        second_half = [*history[half:], *deletions]
        published += await publish(settings, second_half)
        published += await publish(settings, [twice, twice])
        for name in SERVICES:
            start(name, "restarted")

        valid = [*first_half, *second_half]
        await wait_for(partial(quiet, settings, "matcher", reads["matcher"], valid), 400, 0.5)
        await wait_for(partial(outbox_empty, settings, "matcher"), 120, 0.5)
        matches = await read_events_to_end(settings, "matches")
        everything = [*valid, *{e.id: e for e in matches}.values()]
        for name in ("network", "notifier"):
            await wait_for(partial(quiet, settings, name, reads[name], everything), 400, 0.5)
        published += await publish(settings, [tick])
        for name in SERVICES:
            await wait_for(
                partial(quiet, settings, name, reads[name], [*everything, tick]), 400, 0.5
            )
            await wait_for(partial(outbox_empty, settings, name), 120, 0.5)
        await wait_for(partial(settled_until, settings, UNTIL), 400, 0.5)
        await wait_for(partial(outbox_empty, settings, "notifier"), 120, 0.5)
        assert [p.poll() for p in survivors] == [None] * len(survivors), "nobody else died"

    # Read once everything is stopped and quiet, each topic to its end.
    matches = await read_events_to_end(settings, "matches")
    nudges = await read_events_to_end(settings, "nudges")
    letters = []
    for key in ("profiles", "activity", "responses", "connections", "matches"):
        letters += [(key, r) for r in await read_to_end(settings, f"{key}.dlq")]
    outputs = b"\n".join(
        [r.value or b"" for key in OUTPUTS for r in await read_to_end(settings, key)]
        + [r.value or b"" for _, r in letters]
    )
    texts = {name: await database_text(settings, name) for name in SERVICES}

    proposed = [e for e in matches if isinstance(e.data, MatchProposed)]
    pairs = Counter((e.data.mentee_id, e.data.mentor_id) for e in proposed)
    ids_per_match: dict[str, set[str]] = {}
    for event in proposed:
        ids_per_match.setdefault(event.data.match_id, set()).add(event.id)
    client = mongo_client(settings)
    try:
        db = client[settings.database_name("matcher")]
        mentors = [doc async for doc in db["mentors"].find()]
        open_held = Counter(
            [p["mentor_id"] async for p in db["proposals"].find({"status": "open"})]
        )
    finally:
        await client.close()

    books = NotifierSettings(admins="").rulebooks(settings)
    inputs = {e.id: e for e in [*valid, *matches] if e.time <= UNTIL}
    expected = expected_by_id(await simulate(inputs.values(), books, UNTIL))

    # A dead letter is published before its offset is committed, so a SIGKILL between
    # the two publishes it again: the same message from the same origin, which `dlq
    # replay` republishes once. Account for letters by service and origin.
    by_body = {body: (topic, reason) for reason, topic, _, body in bad}
    expected_letters = Counter(
        (service, topic, reason)
        for reason, topic, _, _ in bad
        for service in SERVICES
        if topic in reads[service]
    )
    origins: dict[tuple[str, tuple[str, int, int]], set[tuple[str, str, bytes]]] = {}
    for key, record in letters:
        letter = DeadLetter.from_record(
            record.partition, record.offset, record.timestamp, record.key, record.value,
            record.headers,
        )  # fmt: skip
        origins.setdefault((letter.service, letter.origin), set()).add(
            (key, letter.reason, letter.value)
        )
    found_letters = Counter(
        (service, key, reason) for (service, _), seen in origins.items() for key, reason, _ in seen
    )
    repeated = len(letters) - len(origins)
    reasons = Counter(reason for reason, _, _, _ in bad)
    print(
        f"\nfault injection: {published} messages published ({len(valid)} valid events, "
        f"{len(bad)} malformed, 1 id sent 3 times, {len(deletions)} deletions); "
        f"malformed by reason {dict(sorted(reasons.items()))}; kills {dict(kills)}; "
        f"{len(proposed)} proposals ({len(ids_per_match)} match ids); "
        f"{len(nudges)} nudge events of {len(emitted_by_id(nudges))} nudges "
        f"({len(expected)} simulated); "
        f"DLQ by service {dict(Counter(s for (s, _, _) in found_letters.elements()))}, "
        f"{len(letters)} dead letters of {len(origins)} (service, origin) pairs "
        f"({repeated} repeated after a kill); elapsed {time.monotonic() - began:.0f} s"
    )

    # No mentor over capacity.
    assert mentors
    for mentor in mentors:
        assert open_held[mentor["_id"]] <= mentor["load"] <= mentor["capacity"], mentor["_id"]
    # No pair proposed twice, and each proposal published under one id.
    assert proposed and max(pairs.values()) == 1
    assert all(len(ids) == 1 for ids in ids_per_match.values())
    # The dead letters are exactly the malformed messages, by reason, per service.
    assert found_letters == expected_letters
    assert all(len(seen) == 1 for seen in origins.values()), "one origin, one message"
    for seen in origins.values():
        ((key, reason, body),) = seen
        assert by_body.get(body) == (key, reason), (key, reason, body[:200])
    # The duplicate applied once, killed processes or not (ties count each session).
    await _check_network(settings, Backlog("network", history))
    # The simulator's nudges, each under one CloudEvent id.
    assert expected, "the workload should lead to nudges"
    assert all(len(ids) == 1 for ids in event_ids_per_nudge(nudges).values())
    assert emitted_by_id(nudges) == expected
    # No private note anywhere.
    assert b.NOTE.encode() not in outputs
    for name, text in texts.items():
        assert b.NOTE not in text, name
    # No deleted person's id in any document of any service database.
    for name, text in texts.items():
        held = [p for p in gone if mentions(text, p)]
        where = [line for line in text.splitlines() if any(mentions(line, p) for p in held)]
        about = [
            (e.type, e.id, e.time.isoformat(), e.data.model_dump_json())
            for e in [*deletions, *matches]
            if any(mentions(e.data.model_dump_json(), p) for p in held)
        ]
        assert held == [], (name, where[:10], about)


async def _proposed_people(settings: Settings, mentees: int, mentors: int) -> list[str]:
    """Some mentees and mentors of the matcher's proposals so far (the workload's own
    proposals are `ms-*`), once it has made enough."""
    people: list[str] = []

    async def enough() -> bool:
        proposed = [
            e.data
            for e in await read_events_to_end(settings, "matches")
            if isinstance(e.data, MatchProposed) and not e.data.match_id.startswith("ms-")
        ]
        some_mentees = list(dict.fromkeys(p.mentee_id for p in proposed))[:mentees]
        some_mentors = list(dict.fromkeys(p.mentor_id for p in proposed))[:mentors]
        people[:] = [*some_mentees, *some_mentors]
        return len(some_mentees) == mentees and len(some_mentors) == mentors

    await wait_for(enough, timeout=300, interval=1.0)
    return people


async def _held_everywhere(settings: Settings, people: Sequence[str]) -> bool:
    """Whether every service's database holds each of these people (so that their
    absence after the deletions says something)."""
    for service in SERVICES:
        text = await database_text(settings, service)
        if not all(mentions(text, person) for person in people):
            return False
    return True


async def _consumed_some(port: int) -> bool:
    return await asyncio.to_thread(consumed, port) > 0
