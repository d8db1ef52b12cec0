"""Applying one event to the network: store what it says, update the graph after
the commit, and suggest introductions when it is time."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from services.network.documents import (
    Document,
    StoredTie,
    introduction_doc,
    introduction_id,
    offer_doc,
    person_to_doc,
)
from services.network.graph import AmendedGraph
from services.network.history import iso_week
from services.network.people import person_from_profile
from services.network.policy import PolicyBook
from services.network.ranking import (
    Suggestion,
    explain,
    score_candidates,
    suggest_introductions,
)
from services.network.state import NetworkState
from services.network.store import NetworkStore
from services.network.ties import pair_key, session_boost
from shared.events import (
    CloudEvent,
    ConnectionAdded,
    ConnectionRemoved,
    EventData,
    GoalCheckedIn,
    IntroductionAccepted,
    IntroductionDeclined,
    IntroductionsOffered,
    IntroductionsRequested,
    IntroductionSuggested,
    MentorshipEnded,
    MentorshipStarted,
    OfferedIntroduction,
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

StoreFor = Callable[[UnitOfWork], NetworkStore]


class NetworkHandlers:
    def __init__(self, state: NetworkState, policies: PolicyBook, store_for: StoreFor) -> None:
        self.state = state
        self.policies = policies
        self.store_for = store_for

    async def handle(self, uow: UnitOfWork, event: CloudEvent[Any]) -> None:
        handler = HANDLERS.get(type(event.data))
        # Other events on these topics (proposals, scheduling, feedback) do not
        # change who knows whom; feedback is confidential and is never stored here.
        if handler is not None:
            await handler(self, uow, self.store_for(uow), event.data)

    # --- people ------------------------------------------------------------

    async def profile_upserted(
        self, uow: UnitOfWork, store: NetworkStore, data: ProfileUpserted
    ) -> None:
        if await store.is_erased("person", data.person_id):
            return
        stored = await store.revision(data.person_id)
        if stored is not None and stored >= data.revision:
            return
        doc = person_to_doc(person_from_profile(data), data.revision, list(data.programmes))
        await store.save_person(doc)
        uow.after_commit(lambda: self.state.apply_person(doc))

    async def profile_deleted(
        self, uow: UnitOfWork, store: NetworkStore, data: ProfileDeleted
    ) -> None:
        await store.erase(data.person_id)
        uow.after_commit(lambda: self.state.forget_person(data.person_id))

    # --- mentorships -------------------------------------------------------

    async def mentorship_started(
        self, uow: UnitOfWork, store: NetworkStore, data: MentorshipStarted
    ) -> None:
        if await store.is_erased("mentorship", data.mentorship_id):
            return
        for person in (data.mentee_id, data.mentor_id):
            if await store.is_erased("person", person):
                return
        before = await store.start_mentorship(
            data.mentorship_id, data.mentee_id, data.mentor_id, data.programme_id, uow.event_time
        )
        if before is not None and before.get("started"):
            return
        before = before or {}
        # Sessions and an end that arrived before the start are applied now.
        boost = sum(session_boost(at) for at in before.get("sessions", {}).values())
        state = "ended" if before.get("ended") else "active"
        stored = await store.tie_mentorship(
            data.mentee_id, data.mentor_id, data.mentorship_id, ended=state == "ended", boost=boost
        )
        self._apply_after_commit(uow, stored)
        if len(before.get("sessions", {})) >= SESSIONS_BEFORE_SUGGESTING:
            await self.suggest_for(uow, store, data.mentee_id, data.programme_id, [stored])

    async def mentorship_ended(
        self, uow: UnitOfWork, store: NetworkStore, data: MentorshipEnded
    ) -> None:
        if await store.is_erased("mentorship", data.mentorship_id):
            return
        before = await store.end_mentorship(data.mentorship_id)
        if before is None or not before.get("started") or before.get("ended"):
            return  # applied when the start arrives, or already applied
        stored = await store.tie_mentorship(
            before["mentee"], before["mentor"], data.mentorship_id, ended=True
        )
        self._apply_after_commit(uow, stored)

    async def session_completed(
        self, uow: UnitOfWork, store: NetworkStore, data: SessionCompleted
    ) -> None:
        if await store.is_erased("mentorship", data.mentorship_id):
            return
        before, new = await store.add_session(data.mentorship_id, data.session_id, data.occurred_at)
        if not new or before is None or not before.get("started"):
            return  # stored; applied when the mentorship becomes known
        stored = await store.strengthen_tie(
            before["mentee"], before["mentor"], session_boost(data.occurred_at)
        )
        self._apply_after_commit(uow, stored)
        completed = len(before.get("sessions", {})) + 1
        if completed >= SESSIONS_BEFORE_SUGGESTING and not before.get("ended"):
            await self.suggest_for(uow, store, before["mentee"], before["programme"], [stored])

    async def goal_checked_in(
        self, uow: UnitOfWork, store: NetworkStore, data: GoalCheckedIn
    ) -> None:
        mentorship = await store.mentorship(data.mentorship_id)
        programme = (mentorship or {}).get("programme")
        await self.suggest_for(uow, store, data.person_id, programme)

    # --- the platform's connections -------------------------------------------

    async def connection_added(
        self, uow: UnitOfWork, store: NetworkStore, data: ConnectionAdded
    ) -> None:
        if data.person_a == data.person_b or await self._either_erased(
            store, data.person_a, data.person_b
        ):
            return
        connection = {"kind": data.kind, "from": data.person_a, "weight": data.weight,
                      "since": data.since}  # fmt: skip
        stored = await store.connect(data.person_a, data.person_b, data.connection_id, connection)
        if stored is not None:
            self._apply_after_commit(uow, stored)

    async def connection_removed(
        self, uow: UnitOfWork, store: NetworkStore, data: ConnectionRemoved
    ) -> None:
        if data.person_a == data.person_b or await self._either_erased(
            store, data.person_a, data.person_b
        ):
            return
        stored = await store.disconnect(data.person_a, data.person_b, data.connection_id)
        self._apply_after_commit(uow, stored)

    @staticmethod
    async def _either_erased(store: NetworkStore, a: str, b: str) -> bool:
        return await store.is_erased("person", a) or await store.is_erased("person", b)

    # --- introductions -------------------------------------------------------

    async def _introduction(
        self, uow: UnitOfWork, store: NetworkStore, intro_id: str
    ) -> Document | None:
        """The stored introduction, or the offered one made an introduction now that
        one of the two answers it."""
        intro = await store.introduction(intro_id)
        if intro is not None:
            return intro
        offer = await store.take_offer(intro_id)
        if offer is None:
            return None
        at = uow.event_time
        intro = {**offer, "status": "suggested", "suggested_at": at, "week": iso_week(at)}
        intro.pop("stored_at", None)
        await store.add_introduction(intro)
        uow.after_commit(lambda: self.state.apply_introduction(intro))
        return intro

    async def introduction_accepted(
        self, uow: UnitOfWork, store: NetworkStore, data: IntroductionAccepted
    ) -> None:
        intro = await self._introduction(uow, store, data.introduction_id)
        if intro is None or intro["status"] != "suggested":
            return  # unknown (erased) or already settled
        if data.person_id not in (intro["person"], intro["candidate"]):
            return  # the introducer's yes is not one of the two that count
        accepted = set(intro.get("accepted_by", [])) | {data.person_id}
        both = {intro["person"], intro["candidate"]} <= accepted
        await store.accept_introduction(data.introduction_id, data.person_id, both, uow.event_time)
        if both:
            stored = await store.mark_introduced(intro["person"], intro["candidate"])
            self._apply_after_commit(uow, stored)

    async def introduction_declined(
        self, uow: UnitOfWork, store: NetworkStore, data: IntroductionDeclined
    ) -> None:
        intro = await self._introduction(uow, store, data.introduction_id)
        if intro is None or intro["status"] != "suggested":
            return
        await store.decline_introduction(data.introduction_id, data.person_id, uow.event_time)

    # --- suggesting ----------------------------------------------------------

    async def introductions_requested(
        self, uow: UnitOfWork, store: NetworkStore, data: IntroductionsRequested
    ) -> None:
        """Answer from the in-memory graph: rank, explain and offer; the only write
        is the offers, so an acceptance can find them."""
        at = uow.event_time
        graph, history = self.state.graph, self.state.history
        person = graph.person(data.person_id)
        suggestions: list[Suggestion] = []
        if person is None or not graph.has_profile(data.person_id):
            reason: str | None = "unknown person (never seen, or erased)"
        elif person.paused:
            reason = "paused"
        elif not person.open_to_introductions:
            reason = "not open to introductions"
        else:
            policy = self.policies.for_programme(data.programme_id or person.programme)
            week = iso_week(at)
            suggestions = suggest_introductions(
                graph,
                data.person_id,
                at=at,
                policy=policy,
                load=lambda c: history.load(c, week),
                excluded=history.suggested,
                count=data.k,
            )
            reason = None if suggestions else "nobody to suggest yet"
        offered = []
        offers = []
        for s in suggestions:
            offer = OfferedIntroduction(
                introduction_id=introduction_id(s.person, s.candidate),
                candidate_id=s.candidate,
                introducer_id=s.introducer,
                score=s.score,
                reasons=list(s.reasons),
            )
            offered.append(offer)
            offers.append(offer_doc(offer, s.explanation, at))
        await store.save_offers(offers)
        uow.emit(
            IntroductionsOffered(
                request_id=data.request_id,
                person_id=data.person_id,
                suggestions=offered,
                reason=reason,
            )
        )

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
        people = await store.people([person_id])
        person = people.get(person_id)
        if person is None or not person.introducible:
            return []
        policy = self.policies.for_programme(programme or person.programme)
        last = await store.last_run(person_id)
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
        tied = await store.tied_pairs([pair_key(person_id, c) for c in ids])
        suggested = await store.introductions_exist([introduction_id(person_id, c) for c in ids])
        current = await store.people(ids)
        await store.read_loads(ids, week)
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
            count = await store.take_load(scored.id, week, policy.weekly_cap)
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
            await store.add_introduction(introduction_doc(data, suggestion.explanation, at, week))
            uow.emit(data, discriminator=scored.id)
            made.append(data)
        if made:
            await store.record_run(person_id, at)
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


Handler = Callable[[NetworkHandlers, UnitOfWork, NetworkStore, Any], Awaitable[None]]

# What the network does with each event it reads; its input topics come from here.
HANDLERS: Mapping[type[EventData], Handler] = {
    ProfileUpserted: NetworkHandlers.profile_upserted,
    ProfileDeleted: NetworkHandlers.profile_deleted,
    MentorshipStarted: NetworkHandlers.mentorship_started,
    MentorshipEnded: NetworkHandlers.mentorship_ended,
    SessionCompleted: NetworkHandlers.session_completed,
    GoalCheckedIn: NetworkHandlers.goal_checked_in,
    IntroductionAccepted: NetworkHandlers.introduction_accepted,
    IntroductionDeclined: NetworkHandlers.introduction_declined,
    ConnectionAdded: NetworkHandlers.connection_added,
    ConnectionRemoved: NetworkHandlers.connection_removed,
    IntroductionsRequested: NetworkHandlers.introductions_requested,
}
