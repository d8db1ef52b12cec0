"""Kafka TLS and SASL settings reach the clients: what the services' broker and the
admin client that creates topics send to a (stub) secured broker."""

from __future__ import annotations

import contextlib
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import trustme
from cryptography.hazmat.primitives import serialization
from pydantic import ValidationError

from shared.kafka_client import client_options, kafka_security
from shared.service import ServiceHost, ensure_topics
from shared.settings import Settings
from tests.foundation.test_delivery import probe_spec
from tests.operations.kafka_stub import kafka_stub

PASSWORD = "correct-horse-battery-staple"


@dataclass(frozen=True)
class Certificates:
    ca: trustme.CA
    ca_file: Path
    broker: trustme.LeafCert
    client_cert: Path
    client_key: Path  # encrypted with KEY_PASSWORD
    key_password: str = "key-secret-42"

    def broker_tls(self, require_client_cert: bool = False) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.broker.configure_cert(context)
        if require_client_cert:
            self.ca.configure_trust(context)
            context.verify_mode = ssl.CERT_REQUIRED
        return context


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    folder = tmp_path_factory.mktemp("tls")
    ca = trustme.CA()
    ca.cert_pem.write_to_path(str(folder / "ca.pem"))
    client = ca.issue_cert("mentormesh-client@example.org", common_name="mentormesh-client")
    client.cert_chain_pems[0].write_to_path(str(folder / "client.pem"))
    key = serialization.load_pem_private_key(client.private_key_pem.bytes(), password=None)
    (folder / "client.key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"key-secret-42"),
        )
    )
    return Certificates(
        ca, folder / "ca.pem", ca.issue_cert("127.0.0.1"), folder / "client.pem",
        folder / "client.key",
    )  # fmt: skip


def secured(bootstrap: str, **settings: Any) -> Settings:
    return Settings(kafka_bootstrap=bootstrap, mongo_uri="mongodb://unused", **settings)


async def connect_both_clients(settings: Settings) -> None:
    """The admin client (topics) and the service's FastStream broker each connect once;
    the stub refuses them, so each attempt ends in an error."""
    with pytest.raises(Exception):  # noqa: B017 - the stub's refusal, whatever its type
        await ensure_topics(settings)
    host = ServiceHost(probe_spec(), settings)
    try:
        with pytest.raises(Exception):  # noqa: B017
            await host.broker.start()
    finally:
        with contextlib.suppress(Exception):
            await host.broker.stop()


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"])
async def test_sasl_ssl_authenticates_with_the_configured_mechanism_over_verified_tls(
    certificates: Certificates, mechanism: str
) -> None:
    async with kafka_stub(certificates.broker_tls()) as (bootstrap, seen):
        settings = secured(
            bootstrap,
            kafka_security_protocol="SASL_SSL",
            kafka_sasl_mechanism=mechanism,
            kafka_sasl_username="mentormesh",
            kafka_sasl_password=PASSWORD,
            kafka_ssl_cafile=certificates.ca_file,
        )
        await connect_both_clients(settings)
    assert seen.mechanisms == [mechanism, mechanism], "admin client, then the broker"
    for payload in seen.sasl_payloads:
        if mechanism == "PLAIN":
            # authorisation id, user, password (RFC 4616)
            assert payload.split(b"\0")[1:] == [b"mentormesh", PASSWORD.encode()]
        else:  # SCRAM's first message names the user; the password never travels
            assert payload.startswith(b"n,,n=mentormesh,r=")
            assert PASSWORD.encode() not in payload


async def test_sasl_plaintext_authenticates_without_tls(certificates: Certificates) -> None:
    async with kafka_stub() as (bootstrap, seen):
        settings = secured(
            bootstrap,
            kafka_security_protocol="SASL_PLAINTEXT",
            kafka_sasl_mechanism="SCRAM-SHA-512",
            kafka_sasl_username="mentormesh",
            kafka_sasl_password=PASSWORD,
        )
        await connect_both_clients(settings)
    assert seen.mechanisms == ["SCRAM-SHA-512", "SCRAM-SHA-512"]


async def test_ssl_presents_the_client_certificate_unlocked_by_the_key_password(
    certificates: Certificates,
) -> None:
    async with kafka_stub(certificates.broker_tls(require_client_cert=True)) as (bootstrap, seen):
        settings = secured(
            bootstrap,
            kafka_security_protocol="SSL",
            kafka_ssl_cafile=certificates.ca_file,
            kafka_ssl_certfile=certificates.client_cert,
            kafka_ssl_keyfile=certificates.client_key,
            kafka_ssl_key_password=certificates.key_password,
        )
        await connect_both_clients(settings)
    subjects = [dict(item[0] for item in cert["subject"]) for cert in seen.client_certificates]
    assert subjects and all(s["commonName"] == "mentormesh-client" for s in subjects)
    assert seen.api_keys and not seen.mechanisms, "Kafka requests over TLS, no SASL"


async def test_a_broker_whose_certificate_the_ca_file_does_not_vouch_for_is_refused(
    certificates: Certificates, tmp_path: Path
) -> None:
    stranger = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(stranger))
    async with kafka_stub(certificates.broker_tls()) as (bootstrap, seen):
        settings = secured(
            bootstrap,
            kafka_security_protocol="SASL_SSL",
            kafka_sasl_mechanism="PLAIN",
            kafka_sasl_username="mentormesh",
            kafka_sasl_password=PASSWORD,
            kafka_ssl_cafile=stranger,
        )
        await connect_both_clients(settings)
    assert seen.api_keys == [] and seen.sasl_payloads == [], "nothing sent, password least"


@pytest.mark.parametrize(
    ("protocol", "expected"),
    [
        ("PLAINTEXT", None),
        ("SSL", "BaseSecurity"),
        ("SASL_PLAINTEXT", "SASLScram512"),
        ("SASL_SSL", "SASLScram512"),
    ],
)
def test_each_protocol_maps_onto_faststreams_security_object(
    protocol: str, expected: str | None
) -> None:
    settings = secured(
        "kafka:9093",
        kafka_security_protocol=protocol,
        kafka_sasl_mechanism="SCRAM-SHA-512",
        kafka_sasl_username="mentormesh",
        kafka_sasl_password=PASSWORD,
    )
    security = kafka_security(settings)
    assert (type(security).__name__ if security else None) == expected
    assert client_options(settings).get("security_protocol", "PLAINTEXT") == protocol


def test_sasl_without_credentials_is_refused_at_startup_naming_the_settings() -> None:
    with pytest.raises(ValidationError, match="MENTORMESH_KAFKA_SASL_PASSWORD"):
        secured("kafka:9093", kafka_security_protocol="SASL_SSL", kafka_sasl_username="u")


def test_secrets_are_masked_wherever_settings_are_printed() -> None:
    settings = secured(
        "kafka:9093",
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_username="mentormesh",
        kafka_sasl_password=PASSWORD,
        kafka_ssl_key_password="key-secret-42",
        erasure_secret="erasure-secret-42",
    )
    printed = repr(settings) + str(settings) + settings.model_dump_json()
    for secret in (PASSWORD, "key-secret-42", "erasure-secret-42"):
        assert secret not in printed
