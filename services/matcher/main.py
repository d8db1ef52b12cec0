"""Composition root: the matcher's handlers, policies, clock and expiry loop as a service."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.clock import Clock
from shared.runtime import ServiceRuntime, ServiceSpec
from shared.settings import Settings

from .directory import directory_loop
from .handlers import Matcher
from .policy import MatchingPolicy, PolicyBook
from .repository import MatcherRepository
from .upkeep import expiry_loop, reconcile_loop


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


def build_spec(
    settings: Settings | None = None,
    *,
    policy: MatchingPolicy | None = None,
    clock: Clock | None = None,
    matcher_settings: MatcherSettings | None = None,
) -> ServiceSpec:
    """The matcher service. `policy` replaces every programme's policy (tests); `clock`
    replaces the runtime's clock (tests; otherwise the runtime's is used)."""
    settings = settings or Settings()
    matcher = Matcher(PolicyBook(settings.programmes_dir, base=policy), clock)
    return matcher_spec(matcher, matcher_settings or MatcherSettings(), own_clock=clock is None)


def matcher_spec(
    matcher: Matcher, knobs: MatcherSettings, *, own_clock: bool = True
) -> ServiceSpec:
    """The service around a ready `Matcher`; with `own_clock` it adopts the runtime's clock."""

    async def prepare(runtime: ServiceRuntime) -> None:
        await MatcherRepository.ensure_indexes(runtime.db)
        if own_clock:
            matcher.clock = runtime.clock
        # A broken default policy should stop the service at start, not at the first event.
        matcher.policies.for_programme("default")
        await matcher.directory.refresh(runtime.db)

    async def expire(runtime: ServiceRuntime) -> None:
        await expiry_loop(runtime, matcher, knobs.expiry_interval_s)

    async def keep_directory(runtime: ServiceRuntime) -> None:
        await directory_loop(runtime.db, matcher.directory, knobs.directory_refresh_s)

    async def reconcile(runtime: ServiceRuntime) -> None:
        await reconcile_loop(runtime, matcher, knobs.reconcile_interval_s)

    return ServiceSpec(
        name="matcher",
        inputs=("profiles", "responses"),
        outputs=("matches",),
        handle=matcher.handle,
        prepare=prepare,
        background=(expire, keep_directory, reconcile),
        description="Proposes mentors to mentees, starts mentorships, expires proposals.",
    )
