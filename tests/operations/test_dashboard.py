"""The Grafana dashboard and the Prometheus that feeds it, checked without running
either: the dashboard parses, every panel queries metrics the services export, and
Prometheus scrapes each service that compose runs."""

from __future__ import annotations

import json
import re
from typing import Any

import yaml
from faststream.kafka.prometheus import KafkaPrometheusMiddleware

from shared.metrics import ServiceMetrics
from tests.operations.test_observability import OWN_GAUGES
from tests.support import ROOT

GRAFANA = ROOT / "deploy" / "grafana"
METRIC = re.compile(r"\b((?:mentormesh|faststream|process|python)_[a-z_]+)\b")
SUFFIXES = ("_total", "_bucket", "_count", "_sum", "_created")


def dashboard() -> dict[str, Any]:
    document: dict[str, Any] = json.loads((GRAFANA / "dashboards" / "mentormesh.json").read_text())
    return document


def exported() -> set[str]:
    """The metric names a service's registry exposes, with their sample suffixes;
    the gauges only one service registers are those its real-stack test finds."""
    metrics = ServiceMetrics()
    KafkaPrometheusMiddleware(registry=metrics.registry, app_name="any")
    names = {family.name for family in metrics.registry.collect()}
    names |= {n for gauges in OWN_GAUGES.values() for n in gauges}
    return names | {name + suffix for name in names for suffix in SUFFIXES}


def queries() -> list[tuple[str, str]]:
    return [
        (panel["title"], target["expr"])
        for panel in dashboard()["panels"]
        for target in panel.get("targets", ())
    ]


def test_every_panel_queries_only_metrics_the_services_export() -> None:
    known = exported()
    assert len(queries()) >= 10
    for title, expr in queries():
        used = set(METRIC.findall(expr))
        assert used, (title, expr)
        assert used <= known, (title, used - known)


def test_the_dashboard_shows_throughput_lag_latency_dead_letters_and_nudges() -> None:
    everything = " ".join(expr for _, expr in queries())
    for metric in (
        "mentormesh_events_consumed_total",
        "faststream_received_messages_total",
        "mentormesh_consumer_lag",
        "mentormesh_handle_seconds_bucket",
        "mentormesh_events_dead_lettered_total",
        "mentormesh_nudges_emitted_total",
    ):
        assert metric in everything, metric
    dead_letters = [e for _, e in queries() if "dead_lettered" in e]
    assert all("reason" in e for e in dead_letters)
    assert all("kind" in e for _, e in queries() if "nudges" in e)


def test_panels_read_the_provisioned_prometheus_data_source() -> None:
    provisioned = yaml.safe_load(
        (GRAFANA / "provisioning" / "datasources" / "prometheus.yml").read_text()
    )
    (source,) = provisioned["datasources"]
    assert source["type"] == "prometheus" and source["url"] == "http://prometheus:9090"
    for panel in dashboard()["panels"]:
        if panel["type"] != "row":
            assert panel["datasource"]["uid"] == source["uid"], panel["title"]
    provider = yaml.safe_load(
        (GRAFANA / "provisioning" / "dashboards" / "mentormesh.yml").read_text()
    )
    (dashboards,) = provider["providers"]
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    mounts = compose["grafana"]["volumes"]
    assert f"./deploy/grafana/dashboards:{dashboards['options']['path']}:ro" in mounts


def test_prometheus_scrapes_every_replica_of_each_service_compose_runs() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    config = yaml.safe_load((ROOT / "deploy" / "prometheus" / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert set(jobs) == set(OWN_GAUGES)
    for name, job in jobs.items():
        assert name in compose
        # DNS finds each container of a scaled service; a static target finds one.
        (lookup,) = job["dns_sd_configs"]
        assert lookup["names"] == [name] and lookup["port"] == 8080
    assert "MENTORMESH_HTTP_PORT=8080" in (ROOT / "Dockerfile").read_text()
    assert (
        "./deploy/prometheus/prometheus.yml:/etc/prometheus/prometheus.yml:ro"
        in (compose["prometheus"]["volumes"])
    )
