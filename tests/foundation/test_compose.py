"""docker-compose.yml cannot run here (no Docker engine, no compose plugin): these
checks keep it correct by reading, and against the Compose Specification's JSON
Schema (the copy check-jsonschema ships, `vendor/compose-spec.json`)."""

from __future__ import annotations

import importlib.resources
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from shared.settings import Settings

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
        assert service["command"] == [name], "the image's entry point is `mentormesh serve`"


def test_services_find_kafka_and_mongo_by_their_compose_names() -> None:
    for name in SERVICES:
        env = compose()["services"][name]["environment"]
        assert env["MENTORMESH_KAFKA_BOOTSTRAP"] == "kafka:9092"
        assert env["MENTORMESH_MONGO_URI"].startswith("mongodb://mongo:27017/")
        assert set(compose()["services"][name]["depends_on"]) == {"kafka", "mongo"}


# How long a stopping service may finish its in-flight batch (FastStream's graceful
# timeout is set from it): the orchestrator's SIGKILL must come later.
GRACEFUL_TIMEOUT_S = Settings().shutdown_grace_s


def seconds(duration: str) -> float:
    units = {"h": 3600, "m": 60, "s": 1, "ms": 0.001}
    return sum(float(n) * units[u] for n, u in re.findall(r"(\d+(?:\.\d+)?)(ms|h|m|s)", duration))


def compose_schema() -> dict[str, Any]:
    vendor = importlib.resources.files("check_jsonschema.builtin_schemas.vendor")
    schema: dict[str, Any] = json.loads((vendor / "compose-spec.json").read_text())
    return schema


def test_the_file_follows_the_compose_specification() -> None:
    schema = compose_schema()
    jsonschema.validators.validator_for(schema)(schema).validate(compose())


def test_the_schema_check_would_catch_a_misspelt_key() -> None:
    broken = compose()
    broken["services"]["matcher"]["stop_grace_periods"] = "45s"
    with pytest.raises(jsonschema.ValidationError, match="stop_grace_periods"):
        jsonschema.validate(broken, compose_schema())


def test_one_image_is_built_once_and_runs_all_three_services() -> None:
    services = compose()["services"]
    builders = [name for name, s in services.items() if "build" in s]
    assert builders == ["matcher"]
    assert services["matcher"]["build"]["dockerfile"] == "Dockerfile"
    images = {services[name]["image"] for name in SERVICES}
    assert len(images) == 1
    assert all(services[n]["pull_policy"] == "never" for n in SERVICES), "never pulled"


def test_kafka_and_mongo_keep_their_data_in_volumes() -> None:
    document = compose()
    kafka = document["services"]["kafka"]
    assert f"kafka-data:{kafka['environment']['KAFKA_LOG_DIRS']}" in kafka["volumes"]
    assert "mongo-data:/data/db" in document["services"]["mongo"]["volumes"]
    assert {"kafka-data", "mongo-data"} <= set(document["volumes"])


def test_services_get_time_to_finish_in_flight_events_before_being_killed() -> None:
    for name in SERVICES:
        grace = seconds(compose()["services"][name]["stop_grace_period"])
        assert grace > GRACEFUL_TIMEOUT_S


def test_services_run_unprivileged_on_a_read_only_root_filesystem() -> None:
    for name in SERVICES:
        service = compose()["services"][name]
        assert service["read_only"] is True and "/tmp" in service["tmpfs"]
        assert not service["user"].startswith(("0", "root"))
        assert service["cap_drop"] == ["ALL"]


def test_topics_get_one_replica_on_the_single_broker() -> None:
    for name in SERVICES:
        env = compose()["services"][name]["environment"]
        assert env["MENTORMESH_TOPIC_REPLICATION_FACTOR"] == "1"
        assert env["MENTORMESH_TOPIC_MIN_INSYNC_REPLICAS"] == "1"
