"""OpenTelemetry tracing, configured by the standard ``OTEL_*`` variables.

Tracing is off unless ``OTEL_TRACES_EXPORTER`` or ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set. The
W3C ``traceparent`` travels inside Pub/Sub events so one score update is one trace from the api
request to the realtime broadcast.
"""

from __future__ import annotations

import os

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.propagate import extract, inject
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor


def tracing_enabled() -> bool:
    exporter = os.environ.get("OTEL_TRACES_EXPORTER", "")
    return exporter not in ("", "none") or bool(os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"))


def configure_tracing(service: str) -> bool:
    """Install a tracer provider with an OTLP/HTTP (or console) exporter; False when disabled."""
    if not tracing_enabled():
        return False
    resource = Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME", service)})
    provider = TracerProvider(resource=resource)
    if os.environ.get("OTEL_TRACES_EXPORTER") == "console":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter()))
    else:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    return True


def current_traceparent() -> str | None:
    if not trace.get_current_span().get_span_context().is_valid:
        return None  # no trace to carry on (tracing off): skip the propagators (~3 µs a write)
    carrier: dict[str, str] = {}
    inject(carrier)
    return carrier.get("traceparent")


def context_from_traceparent(traceparent: str | None) -> Context | None:
    if not traceparent:
        return None
    return extract({"traceparent": traceparent})
