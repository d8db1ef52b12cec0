"""Composition root of the network service."""

from __future__ import annotations

from services.network.follower import ChangeFollower
from services.network.handlers import NetworkHandlers
from services.network.policy import NetworkPolicy, programme_policy
from services.network.repository import NetworkStore
from services.network.state import NetworkState
from shared.runtime import ServiceRuntime, ServiceSpec
from shared.settings import Settings

DESCRIPTION = (
    "Keeps the graph of who knows whom (mentorships, sessions, accepted introductions) "
    "and suggests introductions to a mutual contact, with reasons."
)


class NetworkService:
    """One network process: its in-memory state, how it follows the others, and
    its handlers (tests look inside through `state`)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.state = NetworkState()
        self.follower = ChangeFollower(self.state)
        self.handlers = NetworkHandlers(self.state, self.policy_for)

    def policy_for(self, programme_id: str) -> NetworkPolicy:
        return programme_policy(self.settings.programmes_dir, programme_id)

    async def prepare(self, runtime: ServiceRuntime) -> None:
        await NetworkStore(runtime.db).ensure_indexes()
        await self.follower.start(runtime.db)

    async def follow(self, runtime: ServiceRuntime) -> None:
        await self.follower.follow(runtime.db)

    def spec(self) -> ServiceSpec:
        return ServiceSpec(
            name="network",
            inputs=("profiles", "matches", "activity", "responses"),
            outputs=("introductions",),
            handle=self.handlers.handle,
            prepare=self.prepare,
            background=(self.follow,),
            description=DESCRIPTION,
        )


def build_spec(settings: Settings | None = None) -> ServiceSpec:
    return NetworkService(settings or Settings()).spec()
