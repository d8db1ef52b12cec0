"""Composition root: the network's graph, how it follows its other processes, its
policies, store and handlers as a service."""

from __future__ import annotations

from services.network.batch_store import BatchNetworkStore
from services.network.follower import ChangeFollower
from services.network.handlers import HANDLERS, NetworkHandlers
from services.network.policy import PolicyBook, policy_book
from services.network.repository import MongoNetworkStore
from services.network.state import NetworkState
from shared.erasure import Pseudonyms
from shared.runtime import ServiceRuntime, ServiceSpec, UnitOfWork, topics_read
from shared.settings import Settings

DESCRIPTION = (
    "Keeps the graph of who knows whom (the platform's connections, mentorships, "
    "sessions, accepted introductions), suggests introductions to a mutual contact, "
    "with reasons, and answers requests for introductions on demand."
)


class NetworkService:
    """One network process: its graph in memory, how it follows what the other
    processes commit, and its handlers (tests look inside through `state`)."""

    def __init__(self, policies: PolicyBook, pseudonyms: Pseudonyms) -> None:
        self.state = NetworkState()
        self.follower = ChangeFollower(self.state)
        self.pseudonyms = pseudonyms
        self.handlers = NetworkHandlers(self.state, policies, self.store_for)

    def store_for(self, uow: UnitOfWork) -> BatchNetworkStore:
        """The batch's store, shared by its units: it writes its buffer before commit."""

        def build() -> BatchNetworkStore:
            batch = uow.batch
            store = BatchNetworkStore(batch.db, batch.session, self.pseudonyms, batch.events)
            batch.before_commit(store.flush)
            return store

        return uow.batch.cached((BatchNetworkStore, id(self)), build)

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


def build_spec(
    settings: Settings | None = None, *, policies: PolicyBook | None = None
) -> ServiceSpec:
    """The network service. `policies` replaces the programmes' files (tests). It
    runs on event time alone, so it takes no clock."""
    settings = settings or Settings()
    service = NetworkService(
        policies or policy_book(settings.programmes_dir), settings.pseudonyms()
    )
    return ServiceSpec(
        name="network",
        inputs=topics_read(HANDLERS),
        outputs=("introductions",),
        handle=service.handlers.handle,
        prepare=service.prepare,
        background=(service.follow,),
        description=DESCRIPTION,
    )
