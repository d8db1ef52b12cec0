"""The network service on the real broker and database: the event flow with
events out of order, the double opt-in, and two processes in one consumer group."""

from __future__ import annotations

import asyncio
import itertools
import re
import urllib.request
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from services.network.main import build_spec
from shared.events import (
    CloudEvent,
    IntroductionsOffered,
    IntroductionsRequested,
    IntroductionSuggested,
)
from shared.local_stack import free_port
from shared.settings import Settings
from tests.network.factories import (
    accepted,
    completed,
    connected,
    disconnected,
    event,
    profile,
    started,
)
from tests.support import (
    consume_until,
    in_ledger,
    mongo_client,
    publish,
    read_events_to_end,
    running_service,
    service_process,
    wait_for,
)

pytestmark = pytest.mark.infra
Fresh = Callable[..., Awaitable[Settings]]


def suggestions(events: list[CloudEvent[Any]]) -> dict[str, IntroductionSuggested]:
    """By event id: a republished event counts once."""
    return {e.id: e.data for e in events if isinstance(e.data, IntroductionSuggested)}


async def count(settings: Settings, collection: str, query: dict[str, Any]) -> int:
    client = mongo_client(settings)
    try:
        db = client[settings.database_name("network")]
        return int(await db[collection].count_documents(query))
    finally:
        await client.close()


async def _applied(settings: Settings, events: list[CloudEvent[Any]]) -> bool:
    """Whether the service applied (committed) every one of these events."""
    return await in_ledger(settings, "network", [e.id for e in events])


async def test_a_mentorships_start_and_sessions_in_any_order_lead_to_one_suggestion(
    fresh: Fresh,
) -> None:
    """Every order of one mentorship's start and its two sessions (six orders, each
    its own people), each event applied before the next is sent: whatever arrives
    first, the mentee gets exactly one suggestion, and the double opt-in ties them."""
    settings = await fresh()
    orders = list(itertools.permutations(("start", "session 1", "session 2")))
    async with running_service(build_spec(settings), settings):
        known = []  # the other mentee, both profiles and the mentor come first
        for i in range(len(orders)):
            known += [event(profile(f"ada{i}", skills=["embedded rust"])),
                      event(profile(f"bo{i}", goals=["embedded Rust"])), event(profile(f"mo{i}")),
                      event(started(f"m-ada{i}", f"ada{i}", f"mo{i}"))]  # fmt: skip
        await publish(settings, known)
        await wait_for(lambda: _applied(settings, known))
        for step in range(3):
            batch = []
            for i, order in enumerate(orders):
                what = order[step]
                data = (
                    started(f"m-bo{i}", f"bo{i}", f"mo{i}")
                    if what == "start"
                    else completed(f"m-bo{i}", int(what[-1]))
                )
                batch.append(event(data))
            await publish(settings, batch)
            await wait_for(lambda: _applied(settings, batch))  # noqa: B023
        await wait_for(lambda: _count_is(settings, "introductions", len(orders)))
        found = await consume_until(
            settings, "introductions", lambda es: len(suggestions(es)) >= len(orders)
        )
        made = sorted(suggestions(found).values(), key=lambda s: s.person_id)
        assert [(s.person_id, s.candidate_id, s.introducer_id) for s in made] == [
            (f"bo{i}", f"ada{i}", f"mo{i}") for i in range(len(orders))
        ]
        assert all(any("embedded rust" in r for r in s.reasons) for s in made)

        s = made[0]
        await publish(settings, [event(accepted(s.introduction_id, s.person_id))])
        await wait_for(lambda: _has(settings, "introductions", {"accepted_by": s.person_id}))
        assert await count(settings, "ties", {"introduced": True}) == 0
        await publish(settings, [event(accepted(s.introduction_id, s.candidate_id))])
        await wait_for(lambda: _has(settings, "ties", {"introduced": True, "a": "ada0"}))


async def test_connections_from_the_platform_make_introductions_offered_on_request(
    fresh: Fresh,
) -> None:
    """On the real broker: a colleague connection (its own topic) lets the service
    offer an introduction it could not before; removing it takes the offer away.
    Each request gets exactly one answer on the introductions topic."""
    settings = await fresh()
    async with running_service(build_spec(settings), settings):
        setup = [event(profile("xan", goals=["Go"])), event(profile("yul", skills=["go"])),
                 event(profile("mei")), event(started("m-yul", "yul", "mei"))]  # fmt: skip
        await publish(settings, setup)
        await wait_for(lambda: _applied(settings, setup))

        async def answer(request_id: str) -> IntroductionsOffered:
            ask = event(IntroductionsRequested(request_id=request_id, person_id="xan", k=3))
            await publish(settings, [ask])
            found = await consume_until(
                settings, "introductions", lambda es: request_id in offered(es)
            )
            return offered(found)[request_id]

        before = await answer("r1")
        assert before.suggestions == [] and before.reason == "nobody to suggest yet"
        link = event(connected("c-xan-mei", "mei", "xan", "colleague"))
        await publish(settings, [link])
        await wait_for(lambda: _applied(settings, [link]))
        [offer] = (await answer("r2")).suggestions
        assert (offer.candidate_id, offer.introducer_id) == ("yul", "mei")

        unlink = event(disconnected("c-xan-mei", "xan", "mei"))
        await publish(settings, [unlink])
        await wait_for(lambda: _applied(settings, [unlink]))
        assert (await answer("r3")).suggestions == []
        everything = await read_events_to_end(settings, "introductions")
        assert sorted(offered(everything)) == ["r1", "r2", "r3"]
        assert not suggestions(everything)


def offered(events: list[CloudEvent[Any]]) -> dict[str, IntroductionsOffered]:
    """Answers by request id."""
    return {e.data.request_id: e.data for e in events if isinstance(e.data, IntroductionsOffered)}


async def _has(settings: Settings, collection: str, query: dict[str, Any]) -> bool:
    return await count(settings, collection, query) > 0


MENTORS, MENTEES_EACH = 12, 4


async def _consumed(port: int) -> int:
    def read() -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
            return str(r.read().decode())

    try:
        text = await asyncio.to_thread(read)
    except OSError:
        return 0
    found = re.findall(r"^mentormesh_events_consumed_total\{[^}]*\} ([0-9.e+]+)$", text, re.M)
    return int(sum(float(v) for v in found))


@pytest.mark.slow
async def test_two_processes_in_one_group_share_the_graph_and_never_repeat_a_pair(
    fresh: Fresh,
) -> None:
    settings = await fresh()
    ports = [free_port(), free_port()]
    with (
        service_process("network", settings, env={"MENTORMESH_HTTP_PORT": str(ports[0])}),
        service_process("network", settings, env={"MENTORMESH_HTTP_PORT": str(ports[1])}),
    ):
        # Probe profiles until both processes have applied some: both own partitions.
        probe = 0

        async def both_consuming() -> bool:
            nonlocal probe
            await publish(settings, [event(profile(f"probe{probe + i}")) for i in range(8)])
            probe += 8
            counts = [await _consumed(p) for p in ports]
            return all(counts)

        await wait_for(both_consuming, timeout=90, interval=1.0)

        groups = {f"mentor{m}": [f"mentee{m}-{i}" for i in range(MENTEES_EACH)]
                  for m in range(MENTORS)}  # fmt: skip
        everyone = list(groups) + [x for ms in groups.values() for x in ms]
        await publish(settings, [event(profile(p)) for p in everyone])
        await publish(settings, [event(started(f"ms-{x}", x, m))
                                 for m, ms in groups.items() for x in ms])  # fmt: skip
        ties = MENTORS * MENTEES_EACH
        await wait_for(lambda: _count_is(settings, "ties", ties), timeout=60)
        # Profiles travel on their own topic: wait for them too, as a platform's
        # sessions come long after sign-up.
        await wait_for(lambda: _count_is(settings, "people", len(everyone) + probe), timeout=60)
        # Sessions are keyed by mentorship, the starts by mentee: the process that
        # handles a mentee's sessions often never saw their mentorship start.
        sessions = [completed(f"ms-{x}", n) for ms in groups.values() for x in ms for n in (1, 2)]
        await publish(settings, [event(s) for s in sessions])
        pairs_per_group = MENTEES_EACH * (MENTEES_EACH - 1) // 2
        expected = MENTORS * pairs_per_group
        found = await consume_until(
            settings, "introductions", lambda es: len(suggestions(es)) >= expected, timeout=120
        )
        made = list(suggestions(found).values())
        pairs = [frozenset((s.person_id, s.candidate_id)) for s in made]
        assert len(pairs) == len(set(pairs)) == expected
        mentor_of = {x: m for m, ms in groups.items() for x in ms}
        for s in made:
            assert mentor_of[s.person_id] == mentor_of[s.candidate_id] == s.introducer_id
        assert await count(settings, "introductions", {}) == expected


async def _count_is(settings: Settings, collection: str, n: int) -> bool:
    return await count(settings, collection, {}) == n
