"""`docs/`: what a platform team needs to integrate, generated from the code.

- `docs/asyncapi/<service>.json`: FastStream's AsyncAPI 3.0 document of each
  service, with every channel's payload set to the CloudEvents it carries.
- `docs/schemas/<type>.json`: the JSON Schema of each event (envelope and data).
- `docs/events.md`: topics, keys and types at a glance.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

from shared.events import DATA_MODELS, EventData, envelope_model
from shared.runtime import ServiceSpec
from shared.service import build_app
from shared.settings import Settings
from shared.topics import DLQ_SUFFIX, Topics

SERVICES = ("matcher", "network", "notifier")
DOC_SETTINGS = Settings(kafka_bootstrap="localhost:9092", mongo_uri="mongodb://localhost:27017")


def event_schema(model: type[EventData]) -> dict[str, Any]:
    schema = envelope_model(model).model_json_schema(mode="serialization")
    schema["title"] = model.TYPE
    schema["description"] = (
        f"{(model.__doc__ or '').strip()}\n\nTopic: {Topics().prefix}.{model.TOPIC}; "
        f"Kafka key: data.{model.KEY}."
    ).strip()
    return schema


def _schema_name(model: type[EventData]) -> str:
    return model.TYPE.removeprefix("mentormesh.")


def service_spec(name: str) -> ServiceSpec | None:
    try:
        module = importlib.import_module(f"services.{name}.main")
    except ModuleNotFoundError as exc:
        if exc.name in (f"services.{name}", f"services.{name}.main"):
            return None
        raise
    spec: ServiceSpec = module.build_spec(DOC_SETTINGS)
    return spec


def asyncapi_document(spec: ServiceSpec) -> dict[str, Any]:
    app = build_app(spec, DOC_SETTINGS)
    document: dict[str, Any] = json.loads(app.schema.to_specification().to_json())
    topics = Topics(DOC_SETTINGS.topic_prefix)
    by_topic: dict[str, list[type[EventData]]] = {}
    for model in DATA_MODELS:
        by_topic.setdefault(getattr(topics, model.TOPIC), []).append(model)
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    channels = document.get("channels", {})
    messages = document["components"].get("messages", {})
    for channel in channels.values():
        address = channel["address"]
        carried = by_topic.get(address.removesuffix(DLQ_SUFFIX), [])
        for ref in channel.get("messages", {}).values():
            message = messages[ref["$ref"].rsplit("/", 1)[1]]
            if address.endswith(DLQ_SUFFIX):
                message["payload"] = {"description": "the rejected message, byte for byte"}
                continue
            refs = []
            for model in carried:
                name = _schema_name(model)
                schemas[name] = _inline_defs(event_schema(model))
                refs.append({"$ref": f"#/components/schemas/{name}"})
            message["payload"] = {"oneOf": refs}
            message["contentType"] = "application/cloudevents+json"
            message.pop("correlationId", None)
    for name in [n for n in schemas if n.endswith(":Payload") or n == "EmptyPayload"]:
        del schemas[name]
    return document


def _inline_defs(schema: dict[str, Any]) -> dict[str, Any]:
    """AsyncAPI components cannot hold `$defs` refs to the root: inline them."""
    defs = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return resolve(defs[ref.removeprefix("#/$defs/")])
            return {k: resolve(v) for k, v in node.items()}
        if isinstance(node, list):
            return [resolve(v) for v in node]
        return node

    resolved: dict[str, Any] = resolve(schema)
    return resolved


def events_markdown() -> str:
    lines = [
        "# MentorMesh events",
        "",
        "Every message is a CloudEvents 1.0 JSON document in structured mode",
        "(`specversion`, `id`, `source`, `type`, `time`, `subject`, `data`). Consumers",
        "de-duplicate by `id`. Topic names take the prefix `mentormesh` (configurable).",
        "A message that cannot be applied goes unchanged to `<topic>.dlq` with the headers",
        "`x-mentormesh-error`, `x-mentormesh-error-detail` and `x-mentormesh-service`.",
        "",
        "| topic | type | Kafka key | schema |",
        "|---|---|---|---|",
    ]
    for model in DATA_MODELS:
        name = _schema_name(model)
        lines.append(
            f"| `mentormesh.{model.TOPIC}` | `{model.TYPE}` | `data.{model.KEY}` | "
            f"[{name}.json](schemas/{name}.json) |"
        )
    lines += ["", "AsyncAPI documents of each service: [asyncapi/](asyncapi/).", ""]
    return "\n".join(lines)


def rendered_docs() -> dict[Path, str]:
    files: dict[Path, str] = {}
    for model in DATA_MODELS:
        files[Path("schemas") / f"{_schema_name(model)}.json"] = _dump(event_schema(model))
    for name in SERVICES:
        spec = service_spec(name)
        if spec is not None:
            files[Path("asyncapi") / f"{name}.json"] = _dump(asyncapi_document(spec))
    files[Path("events.md")] = events_markdown()
    return files


def _dump(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def write_docs(root: Path) -> list[Path]:
    written = []
    for relative, text in rendered_docs().items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        written.append(path)
    return written


def check_docs(root: Path) -> list[Path]:
    """Files in `root` that differ from what the code generates now."""
    stale = []
    for relative, text in rendered_docs().items():
        path = root / relative
        if not path.exists() or path.read_text() != text:
            stale.append(path)
    return stale
