"""A stand-in for a secured Kafka broker, to see what a client puts on the wire.

Neither the embedded broker (Tansu) nor anything else installable here can run TLS
or SASL (Tansu 0.6's TLS flags do not take effect, and its SCRAM users can only be
created by an authenticated client). This listener speaks just enough of the Kafka
protocol to see the client's side: it answers ApiVersions and SaslHandshake as a
broker would, records each request and the SASL bytes, then refuses authentication.
With a TLS context it records the client certificate a mutual-TLS broker would see.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import struct
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from aiokafka.protocol.admin import (
    ApiVersionResponse_v0,
    SaslAuthenticateResponse_v0,
    SaslHandShakeResponse_v1,
)

API_VERSIONS, SASL_HANDSHAKE, SASL_AUTHENTICATE = 18, 17, 36
SASL_AUTHENTICATION_FAILED = 58


@dataclass
class Seen:
    """What clients sent, in order."""

    api_keys: list[int] = field(default_factory=list)
    mechanisms: list[str] = field(default_factory=list)
    sasl_payloads: list[bytes] = field(default_factory=list)
    client_certificates: list[dict[str, Any]] = field(default_factory=list)


def _string(data: bytes, at: int) -> tuple[str, int]:
    (length,) = struct.unpack_from(">h", data, at)
    at += 2
    return data[at : at + length].decode(), at + length


async def _serve(seen: Seen, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    peer = writer.get_extra_info("ssl_object")
    if peer is not None and peer.getpeercert():
        seen.client_certificates.append(peer.getpeercert())
    try:
        while True:
            (size,) = struct.unpack(">i", await reader.readexactly(4))
            frame = await reader.readexactly(size)
            api_key, _version, correlation = struct.unpack_from(">hhi", frame)
            _client_id, at = _string(frame, 8)
            seen.api_keys.append(api_key)
            if api_key == API_VERSIONS:
                versions = [(API_VERSIONS, 0, 0), (SASL_HANDSHAKE, 1, 1), (SASL_AUTHENTICATE, 0, 0)]
                body = ApiVersionResponse_v0(0, versions).encode()
            elif api_key == SASL_HANDSHAKE:
                mechanism, _ = _string(frame, at)
                seen.mechanisms.append(mechanism)
                body = SaslHandShakeResponse_v1(0, [mechanism]).encode()
            elif api_key == SASL_AUTHENTICATE:
                (length,) = struct.unpack_from(">i", frame, at)
                seen.sasl_payloads.append(frame[at + 4 : at + 4 + length])
                refusal = (SASL_AUTHENTICATION_FAILED, "refused by the stub", b"")
                body = SaslAuthenticateResponse_v0(*refusal).encode()
            else:
                return
            writer.write(struct.pack(">ii", len(body) + 4, correlation) + body)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
        return
    finally:
        writer.close()


@contextlib.asynccontextmanager
async def kafka_stub(tls: ssl.SSLContext | None = None) -> AsyncIterator[tuple[str, Seen]]:
    """(bootstrap address, what was seen) of a stub listening on 127.0.0.1."""
    seen = Seen()
    server = await asyncio.start_server(lambda r, w: _serve(seen, r, w), "127.0.0.1", 0, ssl=tls)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"127.0.0.1:{port}", seen
    finally:
        server.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(server.wait_closed(), 2)
