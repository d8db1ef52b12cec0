"""Composition root of the network service."""

from __future__ import annotations

from services.network.follower import ChangeFollower
from services.network.handlers import NetworkHandlers
from services.network.policy import NetworkPolicy, programme_policy
from services.network.repository import MongoNetworkStore
from services.network.state import NetworkState
from shared.runtime import ServiceRuntime, ServiceSpec, UnitOfWork
from shared.settings import Settings

DESCRIPTION = (
    "Keeps the graph of who knows whom (the platform's connections, mentorships, "
    "sessions, accepted introductions), suggests introductions to a mutual contact, "
    "with reasons, and answers requests for introductions on demand."
)


class NetworkService:
    """One network process: its in-memory state, how it follows the others, and
    its handlers (tests look inside through `state`)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.state = NetworkState()
        self.follower = ChangeFollower(self.state)
        self.handlers = NetworkHandlers(self.state, self.policy_for, self.store_for)
        self.pseudonyms = settings.pseudonyms()

    def store_for(self, uow: UnitOfWork) -> MongoNetworkStore:
        return MongoNetworkStore(uow.db, uow.session, self.pseudonyms)

    def policy_for(self, programme_id: str) -> NetworkPolicy:
        return programme_policy(self.settings.programmes_dir, programme_id)

    async def prepare(self, runtime: ServiceRuntime) -> None:
        await MongoNetworkStore(runtime.db).ensure_indexes()
        await self.follower.start(runtime.db)

        async def nodes() -> float:
            return len(self.state.graph)

        async def edges() -> float:
            return self.state.graph.tie_count

        metrics = runtime.metrics
        metrics.gauge_at_scrape("mentormesh_graph_nodes", "People in the graph.", nodes)
        metrics.gauge_at_scrape("mentormesh_graph_edges", "Ties between people.", edges)

    async def follow(self, runtime: ServiceRuntime) -> None:
        await self.follower.follow(runtime.db)

    def spec(self) -> ServiceSpec:
        return ServiceSpec(
            name="network",
            inputs=("profiles", "matches", "activity", "responses", "connections"),
            outputs=("introductions",),
            handle=self.handlers.handle,
            prepare=self.prepare,
            background=(self.follow,),
            description=DESCRIPTION,
        )


def build_spec(settings: Settings | None = None) -> ServiceSpec:
    return NetworkService(settings or Settings()).spec()
