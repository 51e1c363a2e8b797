"""Prometheus figures of a running service, read with prometheus_client's own parser (tests
and benchmarks)."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families

from scoreboard_devstack.servers import ServiceProcess


def metric(text: str, name: str, **labels: str) -> float:
    """The sum of the samples named ``name`` (a counter's ``_total`` included) whose labels
    include ``labels``, in a Prometheus text exposition."""
    total = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                total += sample.value
    return total


def metric_value(service: ServiceProcess, name: str, **labels: str) -> float:
    """:func:`metric` of the service's ``/metrics`` right now."""
    return metric(httpx.get(f"{service.url}/metrics", timeout=5).text, name, **labels)
