"""A cohort run in the running matcher: `cohort.match.requested.v1` solves a programme's
waiting mentees at once with the cohort solver (`cohort.py`) and proposes its pairs.

The cohort is what the matcher knows when the request is applied, read from the store
(not the directory's mirror): the programme's waiting mentees, and its mentors with
their room now (capacity minus load, since load counts every programme). Pairs come
from the online ranking (`ranking.rank_mentors`), so every hard rule holds, including
"never the same pair twice", and each pair carries the score and reasons its proposal
will show. Every chosen pair is then opened like an online proposal (reserve -> take
seat -> store -> emit), and a `cohort.matched.v1` summary follows with the solver's
`blocking_pairs`.

A programme whose policy says `assignment = "cohort"` leaves its mentees waiting for
such a run; in an online programme a run solves whoever still waits.
"""

from __future__ import annotations

from shared.events import CohortMatched, CohortMatchRequested
from shared.limits import MAX_MATCH_IDS

from .cohort import Enrolment, solve
from .cohort_scoring import scored_cohort, scored_pair
from .constraints import prefilter_mentor
from .matching import Matching, Opening
from .proposals import match_id_for
from .ranking import Candidate, rank_mentors

# How many of each mentee's best mentors are pairs the solver may choose.
MAX_PER_MENTEE = 200


async def run_cohort(matching: Matching, request: CohortMatchRequested) -> None:
    store, programme_id = matching.store, request.programme_id
    policy = matching.policy(programme_id)
    waiting = await store.waiting_in(programme_id)
    mentors = [
        (mentor, standing)
        for mentor, standing in await store.mentors_in(programme_id)
        if prefilter_mentor(mentor, standing, programme_id)
    ]
    candidates: dict[tuple[str, str], Candidate] = {}
    for mentee in waiting:
        blocked = await store.mentors_proposed_to(mentee.person_id)
        for candidate in rank_mentors(
            mentee, programme_id, mentors, policy, blocked_mentors=blocked, limit=MAX_PER_MENTEE
        ):
            candidates[mentee.person_id, candidate.mentor.person_id] = candidate
    room = {mentor.person_id: mentor.capacity - standing.load for mentor, standing in mentors}
    scored = scored_cohort(
        (scored_pair(c) for c in candidates.values()),
        room,
        [Enrolment(programme_id, mentee.person_id) for mentee in waiting],
    )
    # Only the optimal mode has a choice of objective; the others have their own.
    objective = request.objective if request.mode == "optimal" else "score"
    solved = solve(scored.cohort, request.mode, objective)
    match_ids: list[str] = []
    for assignment in solved.assignments():
        candidate = candidates[assignment.mentee, assignment.mentor]
        if await matching.open(candidate) is Opening.OPENED:
            match_ids.append(
                match_id_for(
                    matching.unit.cause_id, programme_id, assignment.mentee, assignment.mentor
                )
            )
    matching.unit.emit(
        CohortMatched(
            request_id=matching.unit.cause_id,
            programme_id=programme_id,
            mode=request.mode,
            objective=objective,
            mentees=len(waiting),
            proposed=len(match_ids),
            unmatched=len(waiting) - len(match_ids),
            total_score=solved.total_score,
            blocking_pairs=solved.blocking_pairs(),
            match_ids=match_ids[:MAX_MATCH_IDS],
        ),
        discriminator=programme_id,
    )
