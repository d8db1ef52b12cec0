"""Topics are created as configured, and the producer is idempotent except on the
embedded broker, on the real (embedded) broker."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta

import pytest
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import KafkaError

from shared.kafka_client import admin_client
from shared.service import ServiceHost, ensure_topics
from shared.settings import Settings
from shared.topics import Topics
from tests.foundation.test_delivery import probe_spec
from tests.support import Stack

pytestmark = pytest.mark.infra


async def topic_configs(settings: Settings, topics: list[str]) -> dict[str, dict[str, str]]:
    """The configs set on each topic itself (not the broker's defaults)."""
    admin = admin_client(settings)
    await admin.start()
    try:
        described = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, t) for t in topics]
        )
        partitions = {t["topic"]: len(t["partitions"]) for t in await admin.describe_topics(topics)}
    finally:
        await admin.close()
    topic_config_source = 5  # DescribeConfigs' TOPIC_CONFIG
    found: dict[str, dict[str, str]] = {}
    for response in described:
        for resource in response.resources:
            found[resource[3]] = {
                name: value
                for name, value, _ro, source, *_ in resource[4]
                if source == topic_config_source
            }
    for topic, count in partitions.items():
        found[topic]["(partitions)"] = str(count)
    return found


async def test_the_embedded_broker_gets_topics_as_today_with_no_configs(
    fresh: Callable[..., Awaitable[Settings]],
) -> None:
    settings = await fresh(partitions=3)
    topics = list(Topics(settings.topic_prefix).all())
    configs = await topic_configs(settings, topics)
    assert configs == {t: {"(partitions)": "3"} for t in topics}


async def test_elsewhere_each_kind_of_topic_gets_its_retention_and_min_insync_replicas(
    stack: Stack,
) -> None:
    prefix = "t" + uuid.uuid4().hex[:10]
    # Tansu accepts any replication factor, so it stands in for a production cluster here.
    settings = stack.settings(
        topic_prefix=prefix,
        kafka_embedded=False,
        topic_replication_factor=3,
        topic_min_insync_replicas=2,
        output_topic_retention=timedelta(days=21),
    )
    await ensure_topics(settings)
    names = Topics(prefix)
    configs = await topic_configs(settings, list(names.all()))
    days = {t: int(c["retention.ms"]) // 86_400_000 for t, c in configs.items()}
    assert {days[t] for t in names.inputs} == {7}
    assert {days[t] for t in names.outputs} == {21}
    assert {days[t + ".dlq"] for t in names.inputs + names.outputs} == {30}
    assert {c["min.insync.replicas"] for c in configs.values()} == {"2"}


async def test_topics_that_exist_are_left_as_they_are(
    fresh: Callable[..., Awaitable[Settings]],
) -> None:
    settings = await fresh(partitions=2)
    again = settings.model_copy(update={"partitions": 5, "kafka_embedded": False})
    await ensure_topics(again)
    configs = await topic_configs(settings, [Topics(settings.topic_prefix).profiles])
    assert configs[Topics(settings.topic_prefix).profiles] == {"(partitions)": "2"}


async def test_the_producer_is_idempotent_unless_the_broker_is_the_embedded_one(
    fresh: Callable[..., Awaitable[Settings]],
) -> None:
    settings = await fresh()
    embedded = ServiceHost(probe_spec(), settings)
    await embedded.broker.start()
    try:
        await embedded.broker.publish(b"{}", Topics(settings.topic_prefix).nudges)
    finally:
        await embedded.broker.stop()
    # Idempotence asks the broker for a producer id (InitProducerId), which Tansu refuses.
    production = ServiceHost(probe_spec(), settings.model_copy(update={"kafka_embedded": False}))
    try:
        with pytest.raises(KafkaError):
            await production.broker.start()
    finally:
        with contextlib.suppress(Exception):
            await production.broker.stop()
