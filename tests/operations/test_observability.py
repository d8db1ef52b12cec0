"""What an operator sees of a running service: Prometheus metrics on `/metrics`
(FastStream's, the process's, and MentorMesh's gauges), JSON log lines naming the
event being handled, and one OpenTelemetry trace from a signup to the proposal it
causes."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Awaitable, Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import Decision, Sampler, SamplingResult
from opentelemetry.trace import SpanKind
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from opentelemetry.util.types import Attributes
from prometheus_client.parser import text_string_to_metric_families

from services.matcher.main import build_spec
from shared.events import CloudEvent, MatchProposed, make_event, parse_event
from shared.local_stack import free_port
from shared.runtime import PROCESSED
from shared.settings import Settings
from tests.foundation.test_operations import get
from tests.matcher.builders import profile
from tests.support import (
    ROOT,
    publish,
    read_records,
    running_service,
    service_process,
    topic_name,
    wait_for,
)

pytestmark = pytest.mark.infra

SIGNUPS = [
    make_event(profile("max", "mentor", goals=[], skills=["SQL"]), source="/platform"),
    make_event(profile("pat", "mentee", goals=["SQL"]), source="/platform"),
]
# What only one service measures.
OWN_GAUGES = {
    "matcher": set[str](),
    "network": {"mentormesh_graph_nodes", "mentormesh_graph_edges"},
    "notifier": {"mentormesh_pending_timers"},
}

Metrics = dict[str, list[tuple[dict[str, str], float]]]


def samples(text: str) -> Metrics:
    """{sample name: [(labels, value)]} of a Prometheus text exposition."""
    found: Metrics = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found.setdefault(sample.name, []).append((sample.labels, sample.value))
    return found


def value(metrics: Metrics, name: str) -> float:
    [(_, number)] = metrics[name]
    return number


def applied_every_signup(metrics: Metrics) -> bool:
    return value(metrics, "mentormesh_processed_events") >= len(SIGNUPS)


async def metrics_once(port: int, done: Callable[[Metrics], bool]) -> Metrics:
    """Scrape a service's `/metrics` until `done(metrics)`; the last scrape."""
    found: Metrics = {}

    async def check() -> bool:
        nonlocal found
        try:
            status, text = await asyncio.to_thread(get, f"http://127.0.0.1:{port}/metrics")
        except OSError:
            return False
        found = samples(text) if status == 200 else {}
        return bool(found) and done(found)

    await wait_for(check, timeout=120, interval=0.5)
    return found


@pytest.mark.parametrize("service", sorted(OWN_GAUGES))
async def test_a_service_process_exports_broker_process_lag_backlog_and_own_gauges(
    fresh: Callable[..., Awaitable[Settings]], tmp_path: Path, service: str
) -> None:
    settings = await fresh(partitions=2)
    await publish(settings, SIGNUPS)
    port = free_port()
    env = {"MENTORMESH_HTTP_PORT": str(port)}

    def ready(metrics: Metrics) -> bool:
        # The network's graph follows the database's changes: a moment after the commit.
        nodes = metrics.get("mentormesh_graph_nodes", [({}, 0.0)])[0][1]
        return applied_every_signup(metrics) and (service != "network" or nodes >= 2)

    with service_process(service, settings, env, tmp_path / f"{service}.log"):
        metrics = await metrics_once(port, ready)
    received = metrics["faststream_received_messages_total"]
    assert {labels["app_name"] for labels, _ in received} == {service}
    assert sum(count for _, count in received) >= len(SIGNUPS)
    assert "faststream_received_processed_messages_duration_seconds_count" in metrics
    assert value(metrics, "process_resident_memory_bytes") > 0
    assert "python_gc_collections_total" in metrics
    lag = {
        (labels["topic"], labels["partition"]) for labels, _ in metrics["mentormesh_consumer_lag"]
    }
    profiles = f"{settings.topic_prefix}.profiles"
    assert {(profiles, "0"), (profiles, "1")} <= lag
    assert all(behind == 0 for _, behind in metrics["mentormesh_consumer_lag"]), "all fetched"
    assert value(metrics, "mentormesh_outbox_backlog") >= 0
    for name in OWN_GAUGES[service]:
        assert name in metrics, name
    if service == "network":
        assert value(metrics, "mentormesh_graph_nodes") == len(SIGNUPS)


async def test_a_service_process_logs_json_lines_and_names_the_event_it_handles(
    fresh: Callable[..., Awaitable[Settings]], tmp_path: Path
) -> None:
    settings = await fresh(partitions=1)
    await publish(settings, SIGNUPS)
    port = free_port()
    env = {"MENTORMESH_HTTP_PORT": str(port), "MENTORMESH_LOG_LEVEL": "DEBUG"}
    log = tmp_path / "matcher.log"

    with service_process("matcher", settings, env, log):
        await metrics_once(port, applied_every_signup)
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    assert lines and all(line["service"] == "matcher" for line in lines)
    about = [line for line in lines if line.get("event_id") == SIGNUPS[1].id]
    assert about, "no line names the mentee's signup"
    assert about[0]["event_type"] == SIGNUPS[1].type
    assert about[0]["topic"] == f"{settings.topic_prefix}.profiles"
    assert (about[0]["partition"], about[0]["offset"]) == (0, 1)


class Switch(Sampler):
    """Records spans while on: the provider is global and outlives this test."""

    on = True

    def should_sample(
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        *args: Any,
        **kwargs: Any,
    ) -> SamplingResult:
        if not self.on:
            return SamplingResult(Decision.DROP)
        return SamplingResult(Decision.RECORD_AND_SAMPLE, attributes)

    def get_description(self) -> str:
        return "on while a tracing test runs"


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    switch = Switch()
    provider = TracerProvider(sampler=switch)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    assert trace.get_tracer_provider() is provider, "another test installed a provider"
    try:
        yield exporter
    finally:
        switch.on = False
        exporter.clear()


async def send(settings: Settings, event: CloudEvent[Any], headers: dict[str, str]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=settings.resolved_kafka(), acks="all")
    await producer.start()
    try:
        topic = topic_name(settings, event.data.TOPIC)
        encoded = [(k, v.encode()) for k, v in headers.items()]
        await producer.send_and_wait(topic, event.to_json(), key=event.key, headers=encoded)
    finally:
        await producer.stop()


async def test_a_signup_and_the_proposal_it_causes_share_one_trace_through_mongo_and_kafka(
    fresh: Callable[..., Awaitable[Settings]], spans: InMemorySpanExporter
) -> None:
    settings = await fresh(partitions=1)
    mentor, mentee = SIGNUPS
    async with running_service(build_spec(settings), settings) as runtime:
        await publish(settings, [mentor])

        async def applied() -> bool:
            return await runtime.db[PROCESSED].find_one({"_id": mentor.id}) is not None

        await wait_for(applied, timeout=60)
        with trace.get_tracer("platform").start_as_current_span("sign up") as signup:
            carrier: dict[str, str] = {}
            TraceContextTextMapPropagator().inject(carrier)
            await send(settings, mentee, carrier)
        records = await read_records(settings, "matches", lambda found: bool(found), timeout=60)
    trace_id = signup.get_span_context().trace_id
    proposal = records[0]
    header = dict(proposal.headers)["traceparent"].decode()
    assert int(header.split("-")[1], 16) == trace_id
    assert parse_event(proposal.value, "matches").type == MatchProposed.TYPE
    in_trace = [s for s in spans.get_finished_spans() if s.context.trace_id == trace_id]
    applying = [s for s in in_trace if s.name.endswith(" apply")]
    assert [(s.attributes or {})["cloudevents.event_id"] for s in applying] == [mentee.id]
    assert applying[0].parent is not None
    assert applying[0].parent.span_id == signup.get_span_context().span_id
    mongo = [s for s in in_trace if (s.attributes or {}).get("db.system") == "mongodb"]
    assert mongo, "no database command in the trace"
    topic = topic_name(settings, "matches")
    assert any(s.name == f"{topic} publish" for s in in_trace)


class Collector(ThreadingHTTPServer):
    """An OTLP/HTTP endpoint that keeps the spans it is sent."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _CollectorHandler)
        self.spans: list[tuple[str, str]] = []  # (service.name, span name)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _CollectorHandler(BaseHTTPRequestHandler):
    server: Collector

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        request = ExportTraceServiceRequest.FromString(body)
        for resource in request.resource_spans:
            names = [a.value.string_value for a in resource.resource.attributes]
            keys = [a.key for a in resource.resource.attributes]
            service = dict(zip(keys, names, strict=True)).get("service.name", "")
            for scope in resource.scope_spans:
                self.server.spans += [(service, span.name) for span in scope.spans]
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@contextlib.contextmanager
def collector() -> Iterator[Collector]:
    server = Collector()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


async def test_a_service_process_exports_its_spans_over_otlp_when_an_endpoint_is_set(
    fresh: Callable[..., Awaitable[Settings]], tmp_path: Path
) -> None:
    settings = await fresh(partitions=1)
    await publish(settings, SIGNUPS)
    port = free_port()
    with collector() as otlp:
        env = {"MENTORMESH_HTTP_PORT": str(port), "OTEL_EXPORTER_OTLP_ENDPOINT": otlp.url}

        with service_process("network", settings, env, tmp_path / "network.log") as process:
            await metrics_once(port, applied_every_signup)
            process.send_signal(signal.SIGTERM)  # spans still batched are sent at exit
            assert await asyncio.to_thread(process.wait, 60) == 0
    applied = [name for service, name in otlp.spans if service == "mentormesh-network"]
    assert applied.count(f"{settings.topic_prefix}.profiles apply") == len(SIGNUPS)


def test_without_an_endpoint_no_tracer_provider_is_installed() -> None:
    script = (
        "from opentelemetry import trace; from shared.tracing import setup_tracing; "
        "setup_tracing('matcher'); print(type(trace.get_tracer_provider()).__name__)"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    shown = subprocess.run(
        [sys.executable, "-c", script], env=env, cwd=ROOT, capture_output=True, text=True
    )
    assert shown.stdout.strip() == "ProxyTracerProvider", shown.stderr
