"""A cohort run in the running matcher: `cohort.match.requested.v1` solves a programme's
waiting mentees with the cohort solver, proposes its pairs and sends a summary."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from services.matcher.cohort import Mode
from services.matcher.main import build_spec
from services.matcher.policy import MatchingPolicy
from shared.events import (
    CohortMatched,
    CohortMatchRequested,
    MatchDeclined,
    MatchProposed,
    make_event,
)
from shared.scenario import population
from shared.settings import Settings
from tests.support import in_ledger, publish, read_events_to_end, running_service, wait_for

from .builders import profile
from .harness import MemoryHarness, memory_harness

COHORT = MatchingPolicy(assignment="cohort")


@pytest.fixture
async def h() -> AsyncIterator[MemoryHarness]:
    async with memory_harness(COHORT) as harness:
        yield harness


async def two_mentors_two_mentees(h: MemoryHarness) -> None:
    """a likes x best but could take y; b speaks French and only x does: the best total
    gives y to a and x to b, while the best pair first leaves b alone."""
    await h.send(profile("x", "mentor", capacity=1, skills=["Go", "Rust"], languages=["en", "fr"]))
    await h.send(profile("y", "mentor", capacity=1, skills=["Rust"]))
    await h.send(profile("a", goals=["Go", "Rust"]))
    await h.send(profile("b", goals=["Go"], languages=["fr"]))


def pairs(h: MemoryHarness) -> set[tuple[str, str]]:
    return {(p.mentee_id, p.mentor_id) for p in h.of(MatchProposed)}


async def test_mentees_of_a_cohort_programme_wait_for_the_run(h: MemoryHarness) -> None:
    await two_mentors_two_mentees(h)
    assert h.of(MatchProposed) == []


async def test_an_optimal_run_proposes_the_best_total_and_reports_it(h: MemoryHarness) -> None:
    await two_mentors_two_mentees(h)
    request = await h.send(CohortMatchRequested(programme_id="default", mode="optimal"))
    assert pairs(h) == {("a", "y"), ("b", "x")}
    [summary] = h.of(CohortMatched)
    assert (summary.request_id, summary.mentees, summary.proposed, summary.unmatched) == (
        request.id, 2, 2, 0,
    )  # fmt: skip
    assert sorted(summary.match_ids) == sorted(p.match_id for p in h.of(MatchProposed))
    assert summary.total_score == pytest.approx(sum(p.score for p in h.of(MatchProposed)), 1e-5)
    assert all(p.reasons for p in h.of(MatchProposed))


async def test_a_greedy_run_takes_the_best_pair_first_and_leaves_the_rest_waiting(
    h: MemoryHarness,
) -> None:
    await two_mentors_two_mentees(h)
    await h.send(CohortMatchRequested(programme_id="default", mode="greedy"))
    assert pairs(h) == {("a", "x")}
    [summary] = h.of(CohortMatched)
    assert (summary.proposed, summary.unmatched, summary.mode) == (1, 1, "greedy")
    seat = await h.doc("seats", "default\x1fb")
    assert seat is not None and seat["seat"] == "waiting"


@pytest.mark.parametrize(("mode", "blocking"), [("optimal", 1), ("stable", 0)])
async def test_the_summary_counts_the_pairs_that_would_rather_be_together(
    mode: Mode, blocking: int
) -> None:
    async with memory_harness(COHORT) as h:
        # As above, and x now shares a passion with a: a and x would rather be together
        # than with whom the best total gives them.
        await h.send(profile("x", "mentor", capacity=1, skills=["Go", "Rust"],
                             languages=["en", "fr"], passions=["chess"]))  # fmt: skip
        await h.send(profile("y", "mentor", capacity=1, skills=["Rust"]))
        await h.send(profile("a", goals=["Go", "Rust"], passions=["chess"]))
        await h.send(profile("b", goals=["Go"], languages=["fr"]))
        await h.send(CohortMatchRequested(programme_id="default", mode=mode))
        [summary] = h.of(CohortMatched)
    assert summary.blocking_pairs == blocking
    if mode == "optimal":
        assert pairs(h) == {("a", "y"), ("b", "x")}


async def test_a_declined_cohort_proposal_waits_for_the_next_run_and_never_repeats(
    h: MemoryHarness,
) -> None:
    await two_mentors_two_mentees(h)
    await h.send(CohortMatchRequested(programme_id="default", mode="optimal"))
    first = {p.mentee_id: p for p in h.of(MatchProposed)}
    await h.send(MatchDeclined(match_id=first["a"].match_id, person_id="a"))
    assert len(h.of(MatchProposed)) == 2  # no online proposal in a cohort programme
    await h.send(CohortMatchRequested(programme_id="default", mode="optimal"))
    [_, again] = h.of(CohortMatched)
    assert (again.mentees, again.proposed) == (1, 0)  # y was a's only other mentor


async def test_a_run_uses_only_the_room_mentors_have_left(h: MemoryHarness) -> None:
    await h.send(profile("x", "mentor", capacity=2))
    for mentee in ("a", "b", "c"):
        await h.send(profile(mentee))
    await h.send(CohortMatchRequested(programme_id="default", mode="optimal"))
    await h.send(profile("d"))
    await h.send(CohortMatchRequested(programme_id="default", mode="optimal"))
    first, second = h.of(CohortMatched)
    assert (first.proposed, second.mentees, second.proposed) == (2, 2, 0)


async def test_a_run_in_an_online_programme_solves_whoever_still_waits() -> None:
    async with memory_harness() as h:
        await h.send(profile("e1", languages=["fr"]))
        await h.send(profile("m1", "mentor", languages=["en", "fr"], capacity=1))
        assert pairs(h) == {("e1", "m1")}  # online: proposed at once
        await h.send(CohortMatchRequested(programme_id="default", mode="greedy"))
        [summary] = h.of(CohortMatched)
        assert (summary.mentees, summary.proposed) == (0, 0)


async def test_a_stable_run_asked_for_participation_solves_for_stability_and_says_so(
    h: MemoryHarness,
) -> None:
    await two_mentors_two_mentees(h)
    await h.send(
        CohortMatchRequested(programme_id="default", mode="stable", objective="participation")
    )
    [summary] = h.of(CohortMatched)
    assert (summary.mode, summary.objective) == ("stable", "score")


@pytest.mark.infra
async def test_a_cohort_run_requested_on_the_responses_topic_proposes_and_reports(
    fresh: Callable[..., Awaitable[Settings]], tmp_path: Path
) -> None:
    (tmp_path / "spring.toml").write_text('[matching]\nassignment = "cohort"\n')
    settings = await fresh(programmes_dir=tmp_path)
    people = population(40, 12, seed=5)
    cohort = [p.model_copy(update={"programmes": ["spring"]}) for p in people.everyone]
    signups = [make_event(p, source="/platform") for p in cohort]
    request = make_event(
        CohortMatchRequested(programme_id="spring", mode="optimal", objective="participation"),
        source="/admin",
    )
    async with running_service(build_spec(settings), settings) as runtime:
        await publish(settings, signups)
        ids = [e.id for e in signups]
        await wait_for(lambda: in_ledger(settings, "matcher", ids), timeout=180)
        await publish(settings, [request])
        await wait_for(lambda: in_ledger(settings, "matcher", [request.id]), timeout=180)
        await wait_for(lambda: _empty(runtime.db["outbox"]), timeout=60)
        matches = await read_events_to_end(settings, "matches")
    [summary] = [e.data for e in matches if isinstance(e.data, CohortMatched)]
    proposed = [e.data for e in matches if isinstance(e.data, MatchProposed)]
    assert len(matches) == len(proposed) + 1  # nothing else on the topic
    assert summary.request_id == request.id and summary.objective == "participation"
    assert sorted(summary.match_ids) == sorted(p.match_id for p in proposed)
    assert summary.proposed > 0 and summary.mentees == len(people.mentees)
    assert summary.blocking_pairs >= 0 and summary.unmatched == summary.mentees - summary.proposed
    assert len({p.mentee_id for p in proposed}) == len(proposed)


async def _empty(collection: object) -> bool:
    return bool(await collection.count_documents({}) == 0)  # type: ignore[attr-defined]
