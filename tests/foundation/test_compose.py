"""docker-compose.yml cannot run here (no Docker engine, no compose plugin): these
checks keep it correct by reading."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("matcher", "network", "notifier")


def compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return document


def test_kafka_runs_in_kraft_mode_without_zookeeper() -> None:
    kafka = compose()["services"]["kafka"]
    assert "controller" in kafka["environment"]["KAFKA_PROCESS_ROLES"]
    assert "zookeeper" not in compose()["services"]


def test_mongo_is_a_single_node_replica_set_so_transactions_work() -> None:
    mongo = compose()["services"]["mongo"]
    assert "--replSet" in mongo["command"]
    assert "rs.initiate" in " ".join(mongo["healthcheck"]["test"])


def test_each_service_can_be_scaled() -> None:
    for name in SERVICES:
        service = compose()["services"][name]
        assert "container_name" not in service
        assert "ports" not in service, "fixed host ports would clash under --scale"
        assert service["command"] == ["python", "-m", f"services.{name}"]


def test_services_find_kafka_and_mongo_by_their_compose_names() -> None:
    for name in SERVICES:
        env = compose()["services"][name]["environment"]
        assert env["MENTORMESH_KAFKA_BOOTSTRAP"] == "kafka:9092"
        assert env["MENTORMESH_MONGO_URI"].startswith("mongodb://mongo:27017/")
        assert set(compose()["services"][name]["depends_on"]) == {"kafka", "mongo"}
