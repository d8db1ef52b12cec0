"""A MongoDB-protocol server that wants TLS and a password, as a managed MongoDB does:
SecantusDB with `--auth` and a certificate, its user created beforehand."""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import trustme
from pymongo import AsyncMongoClient

from shared.local_stack import free_port, mongo_answers, secantus_command, stop_pid

USER, PASSWORD = "mentormesh", "mongo-pass-5f3a91"


def _start(storage: Path, port: int, log: Path, *flags: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [*secantus_command(), "--host", "127.0.0.1", "--port", str(port),
         "--storage-path", str(storage), "--log-level", "WARNING", *flags],
        stdout=log.open("ab"), stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
    )  # fmt: skip


def _wait(uri: str, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    # A TLS handshake and SCRAM's key stretching are slow on a busy machine: give each
    # attempt time, not only the whole wait.
    while not asyncio.run(mongo_answers(uri, timeout=15)):
        if time.monotonic() > deadline:
            raise TimeoutError(f"no answer from {uri}")
        time.sleep(0.2)


async def _create_user(uri: str) -> None:
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(uri)
    try:
        await client.admin.command("createUser", USER, pwd=PASSWORD, roles=["root"])
    finally:
        await client.close()


def secured_mongo(folder: Path) -> Iterator[str]:
    """Yields the URI (credentials and TLS options in it) of a server that refuses
    anything else; stops the server by its PID afterwards."""
    ca = trustme.CA()
    ca.cert_pem.write_to_path(str(folder / "mongo-ca.pem"))
    leaf = ca.issue_cert("127.0.0.1")
    leaf.cert_chain_pems[0].write_to_path(str(folder / "mongo.pem"))
    leaf.private_key_pem.write_to_path(str(folder / "mongo.key"))
    storage, log, port = folder / "mongo-data", folder / "mongo.log", free_port()
    storage.mkdir()
    plain = f"mongodb://127.0.0.1:{port}/?directConnection=true"
    setup = _start(storage, port, log)
    try:
        _wait(plain)
        asyncio.run(_create_user(plain))
    finally:
        stop_pid(setup.pid)
        setup.wait()
    server = _start(
        storage, port, log, "--auth",
        "--tls-cert-file", str(folder / "mongo.pem"), "--tls-key-file", str(folder / "mongo.key"),
    )  # fmt: skip
    uri = (
        f"mongodb://{USER}:{PASSWORD}@127.0.0.1:{port}/?directConnection=true"
        f"&tls=true&tlsCAFile={folder / 'mongo-ca.pem'}"
    )
    try:
        _wait(uri)
        yield uri
    finally:
        stop_pid(server.pid)
        server.wait()
