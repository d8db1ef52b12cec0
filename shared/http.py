"""A tiny HTTP endpoint for `/healthz`, `/readyz` and `/metrics`.

Written on asyncio streams so a service needs no web framework for three routes.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

ReadinessCheck = Callable[[], Awaitable[dict[str, bool]]]
BeforeScrape = Callable[[], Awaitable[None]]


class OpsServer:
    def __init__(
        self,
        host: str,
        port: int,
        registry: CollectorRegistry,
        readiness: ReadinessCheck,
        before_scrape: BeforeScrape | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self._registry = registry
        self._readiness = readiness
        # Sets the gauges that are read at scrape time (`ServiceMetrics.refresh`).
        self._before_scrape = before_scrape
        self._server: asyncio.Server | None = None

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self.port

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await asyncio.wait_for(reader.readline(), 5)
            while (await asyncio.wait_for(reader.readline(), 5)) not in (b"\r\n", b"\n", b""):
                pass
            parts = request.decode("latin-1").split()
            path = parts[1] if len(parts) > 1 else "/"
            status, content_type, body = await self._route(path)
            writer.write(
                f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
                + body
            )
            await writer.drain()
        except (TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()

    async def _route(self, path: str) -> tuple[str, str, bytes]:
        if path == "/healthz":
            return "200 OK", "text/plain", b"ok\n"
        if path == "/readyz":
            checks = await self._readiness()
            body = "".join(f"{k}: {'ok' if v else 'down'}\n" for k, v in checks.items()).encode()
            status = "200 OK" if all(checks.values()) else "503 Service Unavailable"
            return status, "text/plain", body
        if path == "/metrics":
            if self._before_scrape is not None:
                await self._before_scrape()
            return "200 OK", CONTENT_TYPE_LATEST, generate_latest(self._registry)
        return "404 Not Found", "text/plain", b"not found\n"
