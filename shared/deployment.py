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

from shared.local_stack import LocalStack, StackState, free_port, stop_pid
from shared.settings import Settings

SERVICES = ("matcher", "network", "notifier")
ROOT = Path(__file__).resolve().parent.parent


@dataclass
class ServiceProcess:
    name: str
    http_port: int
    process: subprocess.Popen[bytes]

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
    stack: LocalStack | None = None
    state: StackState | None = None
    services: dict[str, ServiceProcess] = field(default_factory=dict)

    async def start(
        self, extra_env: dict[str, str] | None = None, ready_timeout: float = 90
    ) -> None:
        if self.settings.kafka_bootstrap is None or self.settings.mongo_uri is None:
            self.stack = LocalStack(
                self.settings.state_dir, self.settings.kafka_port, self.settings.mongo_port
            )
            self.state = await self.stack.up()
            self.settings = self.settings.model_copy(
                update={
                    "kafka_bootstrap": self.state.kafka_bootstrap,
                    "mongo_uri": self.state.mongo_uri,
                }
            )
        logs = self.settings.state_dir / "logs"
        logs.mkdir(parents=True, exist_ok=True)
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
                    "MENTORMESH_HTTP_PORT": str(port),
                    **(extra_env or {}),
                }
            )
            proc = subprocess.Popen(
                [sys.executable, "-m", f"services.{name}"],
                cwd=ROOT,
                env=env,
                stdout=(logs / f"{name}.log").open("ab"),
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
            self.services[name] = ServiceProcess(name, port, proc)
        await self.wait_ready(ready_timeout)

    async def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        pending = set(self.services)
        while pending:
            for name in list(pending):
                service = self.services[name]
                if service.process.poll() is not None:
                    log = self.settings.state_dir / "logs" / f"{name}.log"
                    raise RuntimeError(
                        f"{name} exited with {service.process.returncode}; see {log}"
                    )
                status, _ = await asyncio.to_thread(service.get, "/readyz")
                if status == 200:
                    pending.discard(name)
            if pending and time.monotonic() > deadline:
                raise RuntimeError(f"not ready after {timeout:.0f} s: {', '.join(sorted(pending))}")
            await asyncio.sleep(0.3)

    def stop(self) -> None:
        for service in self.services.values():
            stop_pid(service.process.pid, timeout=20)
            service.process.wait()
        self.services.clear()
        if self.stack is not None:
            self.stack.down()
            self.stack = None
