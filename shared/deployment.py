"""The whole system on one machine: the local stack plus the three services, each
its own process, as `mentormesh up` and the demo run them."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from shared.local_stack import BrokerStorage, LocalStack, StackState, free_port, stop_pids
from shared.settings import Settings

SERVICES = ("matcher", "network", "notifier")
ROOT = Path(__file__).resolve().parent.parent
# A service given SIGTERM finishes the batch in flight within its own shutdown grace
# (`Settings.shutdown_grace_s` where the runtime has it, 20 s by default), then stops
# its background loops and closes its clients: SIGKILL only well after that.
SERVICE_GRACE_S = 20.0
SERVICE_KILL_MARGIN_S = 15.0
# Seconds between refreshes of the gauges that count documents (`metrics_refresh_s`)
# for services on the embedded database.
EMBEDDED_METRICS_REFRESH_S = 30.0


def kill_after_s(settings: Settings) -> float:
    """How long `stop` waits after SIGTERM before it SIGKILLs a service."""
    grace = float(getattr(settings, "shutdown_grace_s", SERVICE_GRACE_S))
    return grace + SERVICE_KILL_MARGIN_S


@dataclass
class ServiceProcess:
    name: str
    http_port: int
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def get(self, path: str, timeout: float = 2.0) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(self.base_url + path, timeout=timeout) as resp:
                return int(resp.status), resp.read().decode()
        except OSError as exc:
            code = getattr(exc, "code", 0)
            return int(code or 0), str(exc)


@dataclass
class Deployment:
    settings: Settings
    broker_storage: BrokerStorage = BrokerStorage.MEMORY
    stack: LocalStack | None = None
    state: StackState | None = None
    services: dict[str, ServiceProcess] = field(default_factory=dict)

    @property
    def embedded(self) -> bool:
        """Whether this deployment runs its own broker and database (no Kafka or
        MongoDB configured)."""
        return self.settings.kafka_bootstrap is None or self.settings.mongo_uri is None

    @property
    def logs(self) -> Path:
        return self.settings.state_dir / "logs"

    def local_stack(self) -> LocalStack:
        return LocalStack(
            self.settings.state_dir,
            self.settings.kafka_port,
            self.settings.mongo_port,
            self.broker_storage,
        )

    async def start(
        self, extra_env: dict[str, str] | None = None, ready_timeout: float = 90
    ) -> None:
        await self.start_stack()
        await self.start_services(extra_env, ready_timeout)

    async def start_stack(self) -> None:
        """The embedded broker and database, unless Kafka and MongoDB are configured."""
        if not self.embedded:
            return
        self.stack = self.local_stack()
        self.state = await self.stack.up()
        self.settings = self.settings.model_copy(
            update={
                "kafka_bootstrap": self.state.kafka_bootstrap,
                "mongo_uri": self.state.mongo_uri,
                "kafka_embedded": True,
            }
        )

    async def start_services(
        self, extra_env: dict[str, str] | None = None, ready_timeout: float = 90
    ) -> None:
        self.logs.mkdir(parents=True, exist_ok=True)
        for name in SERVICES:
            port = free_port()
            env = dict(os.environ)
            env.update(
                {
                    "MENTORMESH_KAFKA_BOOTSTRAP": self.settings.resolved_kafka(),
                    "MENTORMESH_MONGO_URI": self.settings.resolved_mongo(),
                    "MENTORMESH_TOPIC_PREFIX": self.settings.topic_prefix,
                    "MENTORMESH_DATABASE_PREFIX": self.settings.database_prefix,
                    "MENTORMESH_PARTITIONS": str(self.settings.partitions),
                    "MENTORMESH_KAFKA_EMBEDDED": str(self.settings.on_embedded_broker()).lower(),
                    "MENTORMESH_HTTP_PORT": str(port),
                    **(extra_env or {}),
                }
            )
            if self.stack is not None:
                # The embedded database counts a collection by reading all of it,
                # holding a lock every transaction waits on: gauges that count are
                # refreshed seldom there.
                env.setdefault("MENTORMESH_METRICS_REFRESH_S", str(EMBEDDED_METRICS_REFRESH_S))
            log = self.logs / f"{name}.log"
            proc = subprocess.Popen(
                [sys.executable, "-m", f"services.{name}"],
                cwd=ROOT,
                env=env,
                stdout=log.open("ab"),
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
            self.services[name] = ServiceProcess(name, port, proc, log)
        await self.wait_ready(ready_timeout)

    async def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        pending = set(self.services)
        while pending:
            for name in list(pending):
                service = self.services[name]
                if service.process.poll() is not None:
                    raise RuntimeError(
                        f"{name} exited with {service.process.returncode}; see {service.log}"
                    )
                status, _ = await asyncio.to_thread(service.get, "/readyz")
                if status == 200:
                    pending.discard(name)
            if pending and time.monotonic() > deadline:
                raise RuntimeError(f"not ready after {timeout:.0f} s: {', '.join(sorted(pending))}")
            await asyncio.sleep(0.3)

    def stop(self) -> list[str]:
        """Stop the services together (SIGTERM, then SIGKILL after their own grace and
        a margin), then the stack. Returns the services that had to be killed."""
        by_pid = {svc.process.pid: name for name, svc in self.services.items()}
        killed = stop_pids(by_pid, kill_after_s(self.settings))
        for service in self.services.values():
            service.process.wait()
        self.services.clear()
        if self.stack is not None:
            self.stack.down()
            self.stack = None
        return [by_pid[pid] for pid in killed]
