"""Composition root: the matcher's handlers, policies, clock, store and background
loops as a service."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from pymongo.asynchronous.database import AsyncDatabase

from shared.clock import Clock
from shared.documents import Document
from shared.erasure import Pseudonyms
from shared.periodic import every
from shared.runtime import ServiceRuntime, ServiceSpec, UnitOfWork, topics_read
from shared.settings import Settings

from .batch_store import BatchMatcherStore
from .handlers import HANDLERS, MatcherHandlers
from .policy import MatchingPolicy, policy_book
from .repository import MongoMatcherStore
from .upkeep import EXPIRY_PAGE, expire_due_proposals, reconcile


class MatcherSettings(BaseSettings):
    """The matcher's own knobs, from `MENTORMESH_MATCHER_*` environment variables."""

    model_config = SettingsConfigDict(env_prefix="MENTORMESH_MATCHER_", extra="ignore")

    # How often each process looks for proposals past their `expires_at`.
    expiry_interval_s: float = Field(default=5.0, gt=0.0)
    # How often each process takes in what other processes changed (mentors' loads,
    # waiting lines): the lag after which they are ranked on fresh figures.
    directory_refresh_s: float = Field(default=1.0, gt=0.0)
    # How often each process looks for mentors with room and mentees waiting for them
    # that two concurrent units missed.
    reconcile_interval_s: float = Field(default=10.0, gt=0.0)


class MongoStores:
    """The matcher's Mongo store: bound to a unit's session, or unbound on the
    service's database once the runtime is up."""

    def __init__(self, pseudonyms: Pseudonyms) -> None:
        self.pseudonyms = pseudonyms
        self.db: AsyncDatabase[Document] | None = None

    def bound(self, unit: UnitOfWork) -> MongoMatcherStore:
        """The batch's store, shared by its units: it writes its buffer before commit."""

        def build() -> BatchMatcherStore:
            events = [e.data for e in unit.batch.events]
            people = [getattr(data, "person_id", "") for data in events]
            # Answers name their proposal, ends and sessions their mentorship (the same id).
            proposals = [
                getattr(data, "match_id", "") or getattr(data, "mentorship_id", "")
                for data in events
            ]
            store = BatchMatcherStore(
                unit.db,
                unit.session,
                self.pseudonyms,
                filter(None, people),
                filter(None, proposals),
            )
            unit.batch.before_commit(store.flush)
            return store

        return unit.batch.cached((BatchMatcherStore, id(self)), build)

    def unbound(self) -> MongoMatcherStore:
        assert self.db is not None, "the matcher's runtime is not prepared yet"
        return MongoMatcherStore(self.db, None, self.pseudonyms)


def build_spec(
    settings: Settings | None = None,
    *,
    clock: Clock | None = None,
    matcher_settings: MatcherSettings | None = None,
    policy: MatchingPolicy | None = None,
) -> ServiceSpec:
    """The matcher service. `policy` replaces every programme's policy (tests); `clock`
    replaces the runtime's clock (tests; otherwise the runtime's is used)."""
    settings = settings or Settings()
    stores = MongoStores(settings.pseudonyms())
    matcher = MatcherHandlers(policy_book(settings.programmes_dir, base=policy), stores, clock)
    return matcher_spec(
        matcher, stores, matcher_settings or MatcherSettings(), own_clock=clock is None
    )


def matcher_spec(
    matcher: MatcherHandlers[UnitOfWork],
    stores: MongoStores,
    knobs: MatcherSettings,
    *,
    own_clock: bool = True,
) -> ServiceSpec:
    """The service around a ready `MatcherHandlers`; with `own_clock` it adopts the
    runtime's clock."""

    async def prepare(runtime: ServiceRuntime) -> None:
        await MongoMatcherStore.ensure_indexes(runtime.db)
        stores.db = runtime.db
        if own_clock:
            matcher.clock = runtime.clock
        # A broken default policy should stop the service at start, not at the first event.
        matcher.policies.for_programme("default")
        await matcher.directory.refresh(stores.unbound())

    async def expire(runtime: ServiceRuntime) -> None:
        async def once() -> bool:
            # A full page expired: more may be due at once.
            return await expire_due_proposals(runtime, matcher, EXPIRY_PAGE) == EXPIRY_PAGE

        await every(knobs.expiry_interval_s, once, name="matcher: expiring proposals",
                    until=runtime.stopping)  # fmt: skip

    async def keep_directory(runtime: ServiceRuntime) -> None:
        async def once() -> None:
            await matcher.directory.refresh(stores.unbound())

        await every(knobs.directory_refresh_s, once, name="matcher: refreshing the directory",
                    until=runtime.stopping, first_delay_s=knobs.directory_refresh_s)  # fmt: skip

    async def reconcile_missed(runtime: ServiceRuntime) -> None:
        async def once() -> None:
            await reconcile(runtime, matcher)

        await every(knobs.reconcile_interval_s, once, name="matcher: reconciling",
                    until=runtime.stopping)  # fmt: skip

    return ServiceSpec(
        name="matcher",
        inputs=topics_read(HANDLERS),
        outputs=("matches",),
        handle=matcher.handle,
        prepare=prepare,
        background=(expire, keep_directory, reconcile_missed),
        description=(
            "Proposes mentors to mentees, starts mentorships, expires proposals, runs cohorts."
        ),
    )
