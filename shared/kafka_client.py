"""How MentorMesh talks to Kafka: the security settings as FastStream's security
object, the options of the `KafkaBroker` and the admin client, and how the topics
MentorMesh creates are configured.

One mapping for every client, so the broker, the admin client and the topics never
disagree about TLS, SASL or the embedded broker's limits.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError, for_code
from aiokafka.helpers import create_ssl_context
from faststream.kafka.security import parse_security
from faststream.security import BaseSecurity, SASLPlaintext, SASLScram256, SASLScram512

from shared.settings import Settings
from shared.topics import DLQ_SUFFIX, Topics

_SASL = {"PLAIN": SASLPlaintext, "SCRAM-SHA-256": SASLScram256, "SCRAM-SHA-512": SASLScram512}


def tls_context(settings: Settings) -> ssl.SSLContext | None:
    """The TLS context of SSL and SASL_SSL: the broker is verified against the CA file
    (or the system's CAs), and a client certificate is presented when configured."""
    if not settings.kafka_security_protocol.endswith("SSL"):
        return None
    key_password = settings.kafka_ssl_key_password
    context: ssl.SSLContext = create_ssl_context(
        cafile=str(settings.kafka_ssl_cafile) if settings.kafka_ssl_cafile else None,
        certfile=str(settings.kafka_ssl_certfile) if settings.kafka_ssl_certfile else None,
        keyfile=str(settings.kafka_ssl_keyfile) if settings.kafka_ssl_keyfile else None,
        password=key_password.get_secret_value() if key_password else None,
    )
    return context


def kafka_security(settings: Settings) -> BaseSecurity | None:
    """FastStream's security object for the configured protocol, or None for PLAINTEXT."""
    protocol = settings.kafka_security_protocol
    if protocol == "PLAINTEXT":
        return None
    context = tls_context(settings)
    if protocol == "SSL":
        return BaseSecurity(ssl_context=context, use_ssl=True)
    # The settings' validator guarantees both for SASL_*.
    assert settings.kafka_sasl_username is not None
    assert settings.kafka_sasl_password is not None
    return _SASL[settings.kafka_sasl_mechanism](
        username=settings.kafka_sasl_username,
        password=settings.kafka_sasl_password.get_secret_value(),
        ssl_context=context,
        use_ssl=protocol == "SASL_SSL",
    )


def broker_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments of `KafkaBroker` that depend on where Kafka is."""
    return {
        "bootstrap_servers": settings.resolved_kafka(),
        "security": kafka_security(settings),
        # Idempotence keeps a retried send from writing a record twice; the embedded
        # broker (Tansu) rejects the InitProducerId it needs.
        "enable_idempotence": not settings.on_embedded_broker(),
    }


def client_options(settings: Settings) -> dict[str, Any]:
    """Connection keyword arguments of any aiokafka client (admin, producer, consumer)."""
    return {
        "bootstrap_servers": settings.resolved_kafka(),
        **parse_security(kafka_security(settings)),
    }


def admin_client(settings: Settings, **options: Any) -> AIOKafkaAdminClient:
    return AIOKafkaAdminClient(**client_options(settings), **options)


def _ms(duration: timedelta) -> str:
    return str(int(duration.total_seconds() * 1000))


def topic_configs(settings: Settings, topic: str) -> dict[str, str]:
    """Kafka configs of a topic MentorMesh creates; none on the embedded broker."""
    if settings.on_embedded_broker():
        return {}
    topics = Topics(settings.topic_prefix)
    if topic.endswith(DLQ_SUFFIX):
        retention = settings.dead_letter_topic_retention
    elif topic in topics.outputs:
        retention = settings.output_topic_retention
    else:
        retention = settings.input_topic_retention
    return {
        "min.insync.replicas": str(settings.topic_min_insync_replicas),
        "retention.ms": _ms(retention),
    }


def new_topic(settings: Settings, topic: str) -> NewTopic:
    replicas = 1 if settings.on_embedded_broker() else settings.topic_replication_factor
    return NewTopic(
        topic, settings.partitions, replicas, topic_configs=topic_configs(settings, topic)
    )


async def create_missing_topics(settings: Settings, topics: Iterable[str]) -> list[str]:
    """Create those of `topics` that do not exist yet; return the ones created.

    A topic another process created meanwhile is fine; any other refusal (too few
    brokers for the replication factor, a config the cluster rejects, no ACL) stops
    the service with the broker's reason rather than leaving it without its topics.
    """
    admin = admin_client(settings)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in topics if t not in existing]
        if not missing:
            return []
        response = await admin.create_topics(
            [new_topic(settings, t) for t in missing], timeout_ms=10_000
        )
    finally:
        await admin.close()
    refused = []
    for topic, code, *message in response.topic_errors:
        error = for_code(code)
        if code and error is not TopicAlreadyExistsError:
            refused.append(f"{topic}: {error.__name__} {message[0] if message else ''}".strip())
    if refused:
        raise KafkaError("could not create topics: " + "; ".join(refused))
    return missing
