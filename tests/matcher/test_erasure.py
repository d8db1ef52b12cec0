"""`profile.deleted` erases a person from the matcher: no document keeps their id, in any
field or text, whatever arrives about them later. Tombstones are keyed one-way hashes."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest

from services.matcher.proposals import match_id_for
from shared.events import (
    MatchAccepted,
    MatchDeclined,
    MatchProposed,
    MentorshipEnded,
    ProfileDeleted,
    SessionCompleted,
)
from shared.runtime import ServiceRuntime
from tests.support import Stack

from .builders import profile
from .harness import Harness, MemoryHarness, MemoryRuntime, memory_harness, mongo_harness


def someone(role: str) -> str:
    return f"{role}-{uuid.uuid4().hex}"


def session(mentorship_id: str) -> SessionCompleted:
    return SessionCompleted(
        mentorship_id=mentorship_id, session_id=uuid.uuid4().hex,
        occurred_at=datetime(2026, 3, 9, tzinfo=UTC), duration_minutes=30,
    )  # fmt: skip


async def everything(h: Harness[Any]) -> str:
    """Every document the matcher keeps (ledger and outbox included), as JSON text."""
    if isinstance(h.runner, MemoryRuntime):
        return json.dumps([h.runner.db.collections, sorted(h.runner.ledger)], default=str)
    assert isinstance(h.runner, ServiceRuntime)
    db = h.runner.db
    dump = {c: [doc async for doc in db[c].find()] for c in await db.list_collection_names()}
    return json.dumps(dump, default=str)


async def erasure_workload(h: Harness[Any]) -> list[str]:
    """People who leave in every state the matcher knows, and events about them that
    arrive after they left; returns the ids of the people who left."""
    mentor_gone, mentor_stays = someone("mentor"), someone("mentor")
    mentee_open, mentee_started, mentee_early = someone("mentee"), someone("mentee"), someone("e")
    mentee_stays = someone("mentee")
    await h.send(profile(mentor_gone, "mentor", capacity=3, skills=["Go"]))
    await h.send(profile(mentor_stays, "mentor", capacity=3, timezone="Europe/Paris"))
    # A started mentorship with a session, with the mentor who will leave.
    await h.send(profile(mentee_started, goals=["Go"]))
    first = h.of(MatchProposed)[-1]
    assert first.mentor_id == mentor_gone
    for person in (mentee_started, mentor_gone):
        await h.send(MatchAccepted(match_id=first.match_id, person_id=person))
    await h.send(session(first.match_id))
    # An open proposal of a mentee who will leave, accepted by the mentor only.
    await h.send(profile(mentee_open, goals=["Go"]))
    second = h.of(MatchProposed)[-1]
    await h.send(MatchAccepted(match_id=second.match_id, person_id=second.mentor_id))
    # Answers kept for a proposal not stored yet, from someone who then leaves.
    kept_for = match_id_for("never-seen", "default", mentee_early, mentor_stays)
    await h.send(MatchAccepted(match_id=kept_for, person_id=mentee_early))
    await h.send(profile(mentee_stays))
    for person in (mentor_gone, mentee_open, mentee_early):
        await h.send(ProfileDeleted(person_id=person))
    # Late events about them and their proposals.
    await h.send(MatchDeclined(match_id=second.match_id, person_id=mentee_open))
    await h.send(MatchAccepted(match_id=first.match_id, person_id=mentor_gone))
    await h.send(MatchAccepted(match_id=kept_for, person_id=mentee_early))
    await h.send(session(first.match_id))
    await h.send(MentorshipEnded(mentorship_id=first.match_id, reason="left"))
    await h.send(MatchAccepted(match_id=uuid.uuid4().hex, person_id=mentee_open))
    await h.send(profile(mentee_open, revision=7))
    return [mentor_gone, mentee_open, mentee_early]


@pytest.fixture
async def h() -> AsyncIterator[MemoryHarness]:
    async with memory_harness() as harness:
        yield harness


async def test_no_document_of_the_memory_store_keeps_a_deleted_id(h: MemoryHarness) -> None:
    gone = await erasure_workload(h)
    text = await everything(h)
    assert [person for person in gone if person in text] == []
    assert memory(h).ledger  # the scan saw the ledger too


@pytest.mark.infra
async def test_no_matcher_collection_keeps_a_deleted_id(stack: Stack) -> None:
    async with mongo_harness(stack) as h:
        gone = await erasure_workload(h)
        text = await everything(h)
        assert isinstance(h.runner, ServiceRuntime)
        collections = set(await h.runner.db.list_collection_names())
    assert [person for person in gone if person in text] == []
    assert {"people", "seats", "proposals", "erased", "processed_events"} <= collections


async def test_answers_about_an_erased_person_are_dropped_not_kept(h: MemoryHarness) -> None:
    await h.send(profile("m1", "mentor"))
    await h.send(profile("e1"))
    [proposal] = h.of(MatchProposed)
    await h.send(ProfileDeleted(person_id="e1"))
    await h.send(MatchAccepted(match_id=proposal.match_id, person_id="m1"))
    await h.send(MatchAccepted(match_id="unknown", person_id="e1"))
    await h.send(MentorshipEnded(mentorship_id=proposal.match_id, reason="gone"))
    assert memory(h).db.collections["early_answers"] == {}


async def test_a_late_profile_of_an_erased_person_does_not_bring_them_back(
    h: MemoryHarness,
) -> None:
    await h.send(profile("m1", "mentor"))
    await h.send(ProfileDeleted(person_id="m1"))
    await h.send(profile("m1", "mentor", revision=2))
    await h.send(profile("e1"))
    assert h.of(MatchProposed) == [] and await h.doc("people", "m1") is None


async def test_tombstones_are_keyed_by_the_erasure_secret() -> None:
    from pydantic import SecretStr

    from shared.erasure import Pseudonyms

    async with memory_harness(pseudonyms=Pseudonyms(SecretStr("one"))) as one:
        await one.send(ProfileDeleted(person_id="e1"))
    async with memory_harness(pseudonyms=Pseudonyms(SecretStr("two"))) as two:
        await two.send(ProfileDeleted(person_id="e1"))
    keys = [set(memory(x).db.collections["erased"]) for x in (one, two)]
    assert keys[0] and keys[1] and not keys[0] & keys[1]


def memory(h: MemoryHarness) -> MemoryRuntime:
    """The in-memory runtime behind a memory harness, to look into its documents."""
    assert isinstance(h.runner, MemoryRuntime)
    return h.runner
