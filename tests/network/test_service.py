"""The network service on the real broker and database: the event flow with
events out of order, the double opt-in, and two processes in one consumer group."""

from __future__ import annotations

import asyncio
import re
import urllib.request
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from services.network.main import build_spec
from shared.events import CloudEvent, IntroductionSuggested
from shared.local_stack import free_port
from shared.settings import Settings
from tests.network.factories import accepted, completed, event, profile, started
from tests.support import (
    consume_until,
    mongo_client,
    publish,
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


async def test_events_in_any_order_lead_to_a_suggestion_and_a_double_opt_in(fresh: Fresh) -> None:
    settings = await fresh()
    async with running_service(build_spec(settings), settings):
        # The sessions come before the matcher's mentorship.started that names the people.
        await publish(settings, [
            event(profile("ada", skills=["embedded rust"])),
            event(profile("bo", goals=["embedded Rust"])),
            event(profile("mo")),
            event(completed("m-bo", 1)),
            event(completed("m-bo", 2)),
            event(started("m-ada", "ada", "mo")),
        ])  # fmt: skip
        await wait_for(lambda: _has(settings, "mentorships", {"_id": "m-ada", "started": True}))
        await publish(settings, [event(started("m-bo", "bo", "mo"))])
        found = await consume_until(settings, "introductions", lambda es: bool(suggestions(es)))
        [s] = suggestions(found).values()
        assert (s.person_id, s.candidate_id, s.introducer_id) == ("bo", "ada", "mo")
        assert any("embedded rust" in r for r in s.reasons)

        await publish(settings, [event(accepted(s.introduction_id, "bo"))])
        await wait_for(lambda: _has(settings, "introductions", {"accepted_by": "bo"}))
        assert await count(settings, "ties", {"introduced": True}) == 0
        await publish(settings, [event(accepted(s.introduction_id, "ada"))])
        await wait_for(lambda: _has(settings, "ties", {"introduced": True, "a": "ada", "b": "bo"}))


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
