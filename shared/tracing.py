"""OpenTelemetry tracing across services: one trace from an input event to the
events it causes, through the database and the broker.

- FastStream's `KafkaTelemetryMiddleware` (on every service's broker) traces each
  fetched batch and each publish; pymongo's instrumentation traces each database
  command.
- A batch span only links its records' traces, so `event_span` opens one span per
  event as a child of the W3C `traceparent` the record came with (or of the batch
  span when it came without). The handler, its Mongo commands and what it emits
  happen inside it.
- What a handler emits carries that span's context into its outbox entry
  (`trace_context()`, stored by `shared.runtime`), and the entry is published inside
  it again (`continued`), whenever and by whichever process it is relayed: the
  consumer downstream finds the `traceparent` header and continues the same trace.

Spans are exported over OTLP (HTTP) only when `OTEL_EXPORTER_OTLP_ENDPOINT` is set
(the standard `OTEL_*` variables configure the exporter); otherwise no provider is
installed and every span is a no-op. A test installs its own provider first.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping, Sequence

from opentelemetry import context, trace
from opentelemetry.instrumentation.pymongo import PymongoInstrumentor
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

OTLP_ENDPOINT = "OTEL_EXPORTER_OTLP_ENDPOINT"

_propagator = TraceContextTextMapPropagator()
_tracer = trace.get_tracer("mentormesh")


def setup_tracing(service: str) -> None:
    """Instrument pymongo (before any client is made) and, when an OTLP endpoint is
    configured and no provider is installed yet, export this process's spans there."""
    instrumentor = PymongoInstrumentor()
    if not instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.instrument()
    if not os.environ.get(OTLP_ENDPOINT) or _provider_installed():
        return
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    name = os.environ.get("OTEL_SERVICE_NAME") or f"mentormesh-{service}"
    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: name}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)


def _provider_installed() -> bool:
    return not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)


def _carrier(headers: Sequence[tuple[str, bytes]] | None) -> dict[str, str]:
    return {k: (v or b"").decode(errors="replace") for k, v in headers or ()}


@contextlib.contextmanager
def event_span(
    *,
    event_id: str,
    event_type: str,
    topic: str,
    partition: int,
    offset: int,
    headers: Sequence[tuple[str, bytes]] | None,
) -> Iterator[None]:
    """The span of applying one event, in the trace its record's headers name."""
    parent = _propagator.extract(_carrier(headers), context=context.get_current())
    with _tracer.start_as_current_span(
        f"{topic} apply",
        context=parent,
        kind=trace.SpanKind.CONSUMER,
        attributes={
            "messaging.system": "kafka",
            "messaging.destination.name": topic,
            "messaging.message.id": event_id,
            "messaging.kafka.destination.partition": partition,
            "messaging.kafka.message.offset": offset,
            "cloudevents.event_id": event_id,
            "cloudevents.event_type": event_type,
        },
    ):
        yield


def trace_context() -> dict[str, str]:
    """The current span's W3C trace context (empty when nothing is traced)."""
    carrier: dict[str, str] = {}
    _propagator.inject(carrier)
    return carrier


@contextlib.contextmanager
def continued(stored: Mapping[str, str] | None) -> Iterator[dict[str, str]]:
    """Inside the trace `stored` names; yields the headers that carry it on."""
    if not stored:
        yield {}
        return
    token = context.attach(_propagator.extract(dict(stored)))
    try:
        yield trace_context()
    finally:
        context.detach(token)
