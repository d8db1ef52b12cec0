"""The demo's summary of the matcher, read from its database."""

from __future__ import annotations

import pytest

from services.matcher.report import summarise
from shared.events import MatchAccepted, MatchProposed
from shared.runtime import ServiceRuntime
from tests.support import Stack

from .builders import profile
from .harness import mongo_harness

pytestmark = pytest.mark.infra


async def test_the_summary_lists_proposals_and_started_mentorships_with_reasons(
    stack: Stack,
) -> None:
    async with mongo_harness(stack) as h:
        await h.send(profile("m1", "mentor", skills=["Go"]))
        await h.send(profile("e1", goals=["Go"]))
        await h.send(profile("e2"))
        proposal = h.of(MatchProposed)[0]
        for person in (proposal.mentee_id, proposal.mentor_id):
            await h.send(MatchAccepted(match_id=proposal.match_id, person_id=person))
        assert isinstance(h.runner, ServiceRuntime)
        lines = await summarise(h.runner.db)
    assert lines[0] == "Matcher: 2 mentees, 1 mentors, 2 proposals (1 open, 1 started, " \
        "0 declined, 0 expired, 0 withdrawn, 0 ended)"  # fmt: skip
    assert any("e1 with mentor m1" in line for line in lines)
    assert any("Goal 'Go' is covered" in line for line in lines)
