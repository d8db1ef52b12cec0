"""Applying one event to the network: store what it says, update the graph after
the commit, and suggest introductions when it is time."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from services.network.graph import AmendedGraph
from services.network.history import iso_week
from services.network.people import person_from_profile
from services.network.policy import NetworkPolicy
from services.network.ranking import explain, score_candidates
from services.network.repository import (
    Document,
    NetworkStore,
    StoredTie,
    introduction_id,
    person_to_doc,
)
from services.network.state import NetworkState
from services.network.ties import pair_key, session_boost
from shared.events import (
    CloudEvent,
    GoalCheckedIn,
    IntroductionAccepted,
    IntroductionDeclined,
    IntroductionSuggested,
    MentorshipEnded,
    MentorshipStarted,
    ProfileDeleted,
    ProfileUpserted,
    SessionCompleted,
)
from shared.runtime import UnitOfWork

log = logging.getLogger(__name__)

# The mentee's first suggestions come once the mentorship has shown it works.
SESSIONS_BEFORE_SUGGESTING = 2
# Candidates ranked per run, so some can fail the checks in the database and still
# leave enough to suggest.
SPARE_FACTOR = 5

PolicyFor = Callable[[str], NetworkPolicy]


class NetworkHandlers:
    def __init__(self, state: NetworkState, policy_for: PolicyFor) -> None:
        self.state = state
        self.policy_for = policy_for

    async def handle(self, uow: UnitOfWork, event: CloudEvent[Any]) -> None:
        store = NetworkStore(uow.db)
        data = event.data
        if isinstance(data, ProfileUpserted):
            await self.profile_upserted(uow, store, data)
        elif isinstance(data, ProfileDeleted):
            await self.profile_deleted(uow, store, data)
        elif isinstance(data, MentorshipStarted):
            await self.mentorship_started(uow, store, data)
        elif isinstance(data, MentorshipEnded):
            await self.mentorship_ended(uow, store, data)
        elif isinstance(data, SessionCompleted):
            await self.session_completed(uow, store, data)
        elif isinstance(data, GoalCheckedIn):
            await self.goal_checked_in(uow, store, data)
        elif isinstance(data, IntroductionAccepted):
            await self.introduction_accepted(uow, store, data)
        elif isinstance(data, IntroductionDeclined):
            await self.introduction_declined(uow, store, data)
        # Other events on these topics (proposals, scheduling, feedback) do not
        # change who knows whom; feedback is confidential and is never stored here.

    # --- people ------------------------------------------------------------

    async def profile_upserted(
        self, uow: UnitOfWork, store: NetworkStore, data: ProfileUpserted
    ) -> None:
        if await store.is_erased("person", data.person_id, uow.session):
            return
        stored = await store.revision(data.person_id, uow.session)
        if stored is not None and stored >= data.revision:
            return
        doc = person_to_doc(person_from_profile(data), data.revision, list(data.programmes))
        await store.save_person(doc, uow.session)
        uow.after_commit(lambda: self.state.apply_person(doc))

    async def profile_deleted(
        self, uow: UnitOfWork, store: NetworkStore, data: ProfileDeleted
    ) -> None:
        await store.erase(data.person_id, uow.session)
        uow.after_commit(lambda: self.state.forget_person(data.person_id))

    # --- mentorships -------------------------------------------------------

    async def mentorship_started(
        self, uow: UnitOfWork, store: NetworkStore, data: MentorshipStarted
    ) -> None:
        if await store.is_erased("mentorship", data.mentorship_id, uow.session):
            return
        for person in (data.mentee_id, data.mentor_id):
            if await store.is_erased("person", person, uow.session):
                return
        before = await store.start_mentorship(
            data.mentorship_id, data.mentee_id, data.mentor_id, data.programme_id, uow.session
        )
        if before is not None and before.get("started"):
            return
        before = before or {}
        # Sessions and an end that arrived before the start are applied now.
        boost = sum(session_boost(at) for at in before.get("sessions", {}).values())
        state = "ended" if before.get("ended") else "active"
        stored = await store.update_tie(
            data.mentee_id,
            data.mentor_id,
            {"$addToSet": {state: data.mentorship_id}, "$inc": {"boost": boost}},
            uow.session,
        )
        self._apply_after_commit(uow, stored)
        if len(before.get("sessions", {})) >= SESSIONS_BEFORE_SUGGESTING:
            await self.suggest_for(uow, store, data.mentee_id, data.programme_id, [stored])

    async def mentorship_ended(
        self, uow: UnitOfWork, store: NetworkStore, data: MentorshipEnded
    ) -> None:
        if await store.is_erased("mentorship", data.mentorship_id, uow.session):
            return
        before = await store.end_mentorship(data.mentorship_id, uow.session)
        if before is None or not before.get("started") or before.get("ended"):
            return  # applied when the start arrives, or already applied
        stored = await store.update_tie(
            before["mentee"],
            before["mentor"],
            {"$pull": {"active": data.mentorship_id}, "$addToSet": {"ended": data.mentorship_id}},
            uow.session,
        )
        self._apply_after_commit(uow, stored)

    async def session_completed(
        self, uow: UnitOfWork, store: NetworkStore, data: SessionCompleted
    ) -> None:
        if await store.is_erased("mentorship", data.mentorship_id, uow.session):
            return
        before, new = await store.add_session(
            data.mentorship_id, data.session_id, data.occurred_at, uow.session
        )
        if not new or before is None or not before.get("started"):
            return  # stored; applied when the mentorship becomes known
        stored = await store.update_tie(
            before["mentee"],
            before["mentor"],
            {"$inc": {"boost": session_boost(data.occurred_at)}},
            uow.session,
        )
        self._apply_after_commit(uow, stored)
        completed = len(before.get("sessions", {})) + 1
        if completed >= SESSIONS_BEFORE_SUGGESTING and not before.get("ended"):
            await self.suggest_for(uow, store, before["mentee"], before["programme"], [stored])

    async def goal_checked_in(
        self, uow: UnitOfWork, store: NetworkStore, data: GoalCheckedIn
    ) -> None:
        mentorship = await store.mentorship(data.mentorship_id, uow.session)
        programme = (mentorship or {}).get("programme")
        await self.suggest_for(uow, store, data.person_id, programme)

    # --- introductions -------------------------------------------------------

    async def introduction_accepted(
        self, uow: UnitOfWork, store: NetworkStore, data: IntroductionAccepted
    ) -> None:
        intro = await store.introduction(data.introduction_id, uow.session)
        if intro is None or intro["status"] != "suggested":
            return  # unknown (erased) or already settled
        if data.person_id not in (intro["person"], intro["candidate"]):
            return  # the introducer's yes is not one of the two that count
        accepted = set(intro.get("accepted_by", [])) | {data.person_id}
        update: Document = {"$addToSet": {"accepted_by": data.person_id}}
        both = {intro["person"], intro["candidate"]} <= accepted
        if both:
            update["$set"] = {"status": "connected", "settled_at": uow.event_time}
        await store.update_introduction(data.introduction_id, update, uow.session)
        if both:
            stored = await store.update_tie(
                intro["person"], intro["candidate"], {"$set": {"introduced": True}}, uow.session
            )
            self._apply_after_commit(uow, stored)

    async def introduction_declined(
        self, uow: UnitOfWork, store: NetworkStore, data: IntroductionDeclined
    ) -> None:
        intro = await store.introduction(data.introduction_id, uow.session)
        if intro is None or intro["status"] != "suggested":
            return
        await store.update_introduction(
            data.introduction_id,
            {"$set": {"status": "declined", "declined_by": data.person_id,
                      "settled_at": uow.event_time}},
            uow.session,
        )  # fmt: skip

    # --- suggesting ----------------------------------------------------------

    async def suggest_for(
        self,
        uow: UnitOfWork,
        store: NetworkStore,
        person_id: str,
        programme: str | None,
        changed: Sequence[StoredTie] = (),
    ) -> list[IntroductionSuggested]:
        """Suggest introductions for the person unless they got some within the
        period (event time). The in-memory graph ranks; the database decides:
        each candidate is checked there (no tie, never suggested, still open, load
        under the cap) within this transaction. `changed` are ties this transaction
        changed, which the shared graph shows only after the commit."""
        at = uow.event_time
        people = await store.people([person_id], uow.session)
        person = people.get(person_id)
        if person is None or not person.introducible:
            return []
        policy = self.policy_for(programme or person.programme)
        last = await store.last_run(person_id, uow.session)
        if last is not None and at < last + policy.period:
            return []
        week = iso_week(at)
        history = self.state.history
        graph = AmendedGraph(self.state.graph, [(t.a, t.b, t.tie) for t in changed])
        ranked = score_candidates(
            graph,
            person_id,
            at=at,
            policy=policy,
            load=lambda c: history.load(c, week),
            excluded=history.suggested,
            limit=policy.suggestions_per_run * SPARE_FACTOR,
        )
        if not ranked:
            return []
        ids = [c.id for c in ranked]
        tied = await store.tied_pairs([pair_key(person_id, c) for c in ids], uow.session)
        suggested = await store.introductions_exist(
            [introduction_id(person_id, c) for c in ids], uow.session
        )
        current = await store.people(ids, uow.session)
        made: list[IntroductionSuggested] = []
        loads: list[tuple[str, int]] = []
        for scored in ranked:
            if len(made) == policy.suggestions_per_run:
                break
            candidate = current.get(scored.id)
            intro_id = introduction_id(person_id, scored.id)
            if (
                candidate is None
                or not candidate.introducible
                or pair_key(person_id, scored.id) in tied
                or intro_id in suggested
            ):
                continue
            suggestion = explain(graph, person_id, scored, at=at, policy=policy)
            if suggestion is None:
                continue
            count = await store.take_load(scored.id, week, policy.weekly_cap, uow.session)
            if count is None:
                continue
            loads.append((scored.id, count))
            data = IntroductionSuggested(
                introduction_id=intro_id,
                introducer_id=suggestion.introducer,
                person_id=person_id,
                candidate_id=scored.id,
                score=suggestion.score,
                reasons=list(suggestion.reasons),
            )
            await store.add_introduction(_introduction_doc(data, at, week), uow.session)
            uow.emit(data, discriminator=scored.id)
            made.append(data)
        if made:
            await store.record_run(person_id, at, uow.session)
            uow.after_commit(lambda: self._remember(made, loads, week))
        return made

    def _remember(
        self, made: list[IntroductionSuggested], loads: list[tuple[str, int]], week: str
    ) -> None:
        for data in made:
            self.state.history.record_pair(data.person_id, data.candidate_id)
        for candidate, count in loads:
            self.state.history.record_load(candidate, week, count)

    def _apply_after_commit(self, uow: UnitOfWork, stored: StoredTie) -> None:
        def apply() -> None:
            if stored.tie is None:
                self.state.graph.remove_tie(stored.a, stored.b)
            else:
                self.state.graph.set_tie(stored.a, stored.b, stored.tie)

        uow.after_commit(apply)


def _introduction_doc(data: IntroductionSuggested, at: datetime, week: str) -> Document:
    return {
        "_id": data.introduction_id,
        "pair": pair_key(data.person_id, data.candidate_id),
        "person": data.person_id,
        "candidate": data.candidate_id,
        "introducer": data.introducer_id,
        "score": data.score,
        "reasons": data.reasons,
        "suggested_at": at,
        "week": week,
        "status": "suggested",
        "accepted_by": [],
    }
