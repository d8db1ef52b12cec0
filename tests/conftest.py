"""Session-wide real infrastructure: one broker and one database for the whole run.

By default the embedded local stack (Tansu + SecantusDB) is started. Set
MENTORMESH_KAFKA_BOOTSTRAP and MENTORMESH_MONGO_URI to use your own, or pass
`--testcontainers` on a machine with a Docker engine to run Apache Kafka and
MongoDB in containers.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from shared.local_stack import LocalStack
from shared.settings import Settings
from tests.support import Stack, fresh_settings


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--testcontainers",
        action="store_true",
        help="run the suite on Apache Kafka and MongoDB containers (needs a Docker engine)",
    )


def _containers() -> Iterator[Stack]:
    from testcontainers.kafka import KafkaContainer
    from testcontainers.mongodb import MongoDbContainer

    with (
        KafkaContainer("confluentinc/cp-kafka:7.6.0").with_kraft() as kafka,
        MongoDbContainer("mongo:7.0").with_command("--replSet rs0 --bind_ip_all") as mongo,
    ):
        host = mongo.get_container_host_ip()
        port = mongo.get_exposed_port(27017)
        mongo.exec(["mongosh", "--quiet", "--eval", "rs.initiate()"])
        yield Stack(
            kafka.get_bootstrap_server(),
            f"mongodb://{host}:{port}/?directConnection=true",
            embedded=False,
            single_broker=True,
        )


@pytest.fixture(scope="session")
def stack(request: pytest.FixtureRequest) -> Iterator[Stack]:
    if request.config.getoption("--testcontainers"):
        yield from _containers()
        return
    configured = Settings()
    if configured.kafka_bootstrap and configured.mongo_uri:
        # Your own cluster: MENTORMESH_KAFKA_EMBEDDED and the topic settings come from
        # the environment too.
        yield Stack(configured.kafka_bootstrap, configured.mongo_uri, configured.kafka_embedded)
        return
    import asyncio

    state_dir = Path(tempfile.mkdtemp(prefix="mentormesh-test-stack-"))
    local = LocalStack(state_dir)
    state = asyncio.run(local.up())
    try:
        yield Stack(state.kafka_bootstrap, state.mongo_uri)
    finally:
        local.down()
        # `down` keeps a stack's data for the next `up`; this one is the run's alone.
        shutil.rmtree(state_dir, ignore_errors=True)


@pytest.fixture
def fresh(stack: Stack) -> Callable[..., Awaitable[Settings]]:
    async def make(**overrides: Any) -> Settings:
        return await fresh_settings(stack, **overrides)

    return make
