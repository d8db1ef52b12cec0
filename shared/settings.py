"""Configuration shared by every service, read from `MENTORMESH_*` environment variables."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Literal, Self
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.erasure import DEVELOPMENT_SECRET, Pseudonyms

# Query options of a MongoDB URI whose values are secrets.
_SECRET_URI_OPTIONS = {"tlscertificatekeyfilepassword", "authmechanismproperties"}


def redacted_uri(uri: str) -> str:
    """`uri` fit to print: the password and secret options replaced by `***`."""
    parts = urlsplit(uri)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, hosts = netloc.rsplit("@", 1)
        user, has_password, _ = userinfo.partition(":")
        netloc = f"{user}:***@{hosts}" if has_password else f"{user}@{hosts}"
    options = parse_qsl(parts.query, keep_blank_values=True)
    query = "&".join(
        f"{key}={'***' if key.lower() in _SECRET_URI_OPTIONS else value}" for key, value in options
    )
    return urlunsplit(parts._replace(netloc=netloc, query=query))


class Settings(BaseSettings):
    """Where Kafka and MongoDB are, and how topics are named.

    When `kafka_bootstrap` or `mongo_uri` is unset, the addresses written by
    `mentormesh infra up` into `state_dir` are used, so a developer never has to
    copy ports around.
    """

    model_config = SettingsConfigDict(env_prefix="MENTORMESH_", extra="ignore")

    kafka_bootstrap: str | None = None
    mongo_uri: str | None = None
    topic_prefix: str = "mentormesh"
    partitions: int = Field(default=4, ge=1)
    state_dir: Path = Path(".mentormesh")
    # Ports of the embedded stack; 0 picks a free port.
    kafka_port: int = 0
    mongo_port: int = 0
    # Database names get this prefix, so test runs and the demo never share state.
    database_prefix: str = "mentormesh"
    http_host: str = "127.0.0.1"
    http_port: int = 0
    programmes_dir: Path | None = None
    # The key of erasure tombstones (`shared.erasure`): the same in every service and
    # every process, and kept secret. The default is for development only.
    erasure_secret: SecretStr = SecretStr(DEVELOPMENT_SECRET)
    # Consuming in batches (`shared.delivery`): a batch is what the consumer has
    # fetched, up to this many records, applied in one transaction...
    batch_max_records: int = Field(default=100, ge=1, le=10_000)
    # ...and an idle poll waits this long for the first record.
    batch_max_wait_ms: int = Field(default=100, ge=1, le=60_000)
    # A record that fails for a reason that is not transient (its handler raises, the
    # commit of its batch is refused) is tried this many times, then dead-lettered.
    max_attempts: int = Field(default=3, ge=1)
    # Retries wait between half and all of min(cap, base * 2^(n-1)) seconds; transient
    # failures (database or broker unreachable) are retried this way without limit.
    retry_base_s: float = Field(default=0.2, gt=0.0)
    retry_cap_s: float = Field(default=10.0, gt=0.0)
    # How long the processed-events ledger remembers an applied CloudEvent id (a TTL
    # index): a redelivery older than this would be applied again, so keep it well
    # above the input topics' retention (see README, "Delivery guarantees").
    ledger_ttl_days: float = Field(default=30.0, gt=0.0)
    # On SIGTERM, how long the batch in flight may take to finish before it is cut
    # (and redelivered to whoever takes the partitions).
    shutdown_grace_s: float = Field(default=20.0, gt=0.0)
    # Gauges read from the database (outbox backlog, ledger size, pending timers) and
    # the consumer lag are refreshed at most this often, whoever scrapes `/metrics`
    # (Prometheus scrapes every 15 s or more; counting is not free on any database).
    metrics_refresh_s: float = Field(default=5.0, ge=0.0)

    # How the services reach Kafka (`shared.kafka_client`). SSL and SASL_SSL verify the
    # broker against `kafka_ssl_cafile` (or the system's CAs); a client certificate
    # (`kafka_ssl_certfile`, `kafka_ssl_keyfile`) is for brokers that ask for one.
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = "PLAIN"
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_ssl_cafile: Path | None = None
    kafka_ssl_certfile: Path | None = None
    kafka_ssl_keyfile: Path | None = None
    kafka_ssl_key_password: SecretStr | None = None
    # The broker is the embedded one (Tansu, `mentormesh infra up`): it rejects the
    # idempotent producer's InitProducerId and has one node, so the producer is not
    # idempotent and topics get one replica and the broker's own configs. The local
    # stack, `mentormesh up`, the demo and the tests set it; nothing else should.
    kafka_embedded: bool = False

    # Topics that `ensure_topics` creates (existing topics are left as they are).
    topic_replication_factor: int = Field(default=3, ge=1)
    topic_min_insync_replicas: int = Field(default=2, ge=1)
    # Platforms' topics (profiles, activity, responses): the services apply an event
    # within seconds, so a week covers any outage worth riding out.
    input_topic_retention: timedelta = timedelta(days=7)
    # MentorMesh's answers (matches, introductions, nudges): platforms may be away
    # longer than the services, and the network and notifier read `matches` too.
    output_topic_retention: timedelta = timedelta(days=14)
    # Dead letters wait for a person to read and replay them.
    dead_letter_topic_retention: timedelta = timedelta(days=30)

    @model_validator(mode="after")
    def _consistent_kafka_settings(self) -> Self:
        if self.kafka_security_protocol.startswith("SASL_") and not (
            self.kafka_sasl_username and self.kafka_sasl_password
        ):
            raise ValueError(
                f"kafka_security_protocol {self.kafka_security_protocol} needs "
                "MENTORMESH_KAFKA_SASL_USERNAME and MENTORMESH_KAFKA_SASL_PASSWORD"
            )
        if (self.kafka_ssl_certfile is None) != (self.kafka_ssl_keyfile is None):
            raise ValueError("MENTORMESH_KAFKA_SSL_CERTFILE and _KEYFILE go together")
        if self.topic_min_insync_replicas > self.topic_replication_factor:
            raise ValueError(
                f"topic_min_insync_replicas ({self.topic_min_insync_replicas}) exceeds "
                f"topic_replication_factor ({self.topic_replication_factor}): "
                "no write could ever succeed"
            )
        return self

    def on_embedded_broker(self) -> bool:
        """The embedded broker is in use: set so, or the address is the one
        `mentormesh infra up` recorded (only the local stack writes it)."""
        return self.kafka_embedded or self.kafka_bootstrap is None

    def pseudonyms(self) -> Pseudonyms:
        return Pseudonyms(self.erasure_secret)

    def infra_file(self) -> Path:
        return self.state_dir / "infra.json"

    def resolved_kafka(self) -> str:
        if self.kafka_bootstrap:
            return self.kafka_bootstrap
        return str(self._recorded("kafka_bootstrap"))

    def resolved_mongo(self) -> str:
        if self.mongo_uri:
            return self.mongo_uri
        return str(self._recorded("mongo_uri"))

    def database_name(self, service: str) -> str:
        return f"{self.database_prefix}_{service}"

    def _recorded(self, key: str) -> object:
        path = self.infra_file()
        if not path.exists():
            raise RuntimeError(
                f"no {key} configured: set MENTORMESH_{key.upper()} "
                f"or start the local stack with `mentormesh infra up` ({path} is missing)"
            )
        return json.loads(path.read_text())[key]
