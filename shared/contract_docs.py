"""`docs/`: what a platform team needs to integrate, generated from the code.

- `docs/asyncapi/<service>.json`: FastStream's AsyncAPI 3.0 document of each
  service, with every channel's payload set to the CloudEvents it carries.
- `docs/schemas/<type>.json`: the JSON Schema of each event (envelope and data),
  with the type's example.
- `docs/events.md`: topics, keys, types and limits at a glance.
- `docs/integration.md`: the integration guide (`shared/templates/integration.md`)
  with one complete example per type.
"""

from __future__ import annotations

import importlib
import importlib.resources
import json
from pathlib import Path
from typing import Any

from shared import limits
from shared.events import DATA_MODELS, EventData, envelope_model, example_event
from shared.runtime import ServiceSpec
from shared.service import build_app
from shared.settings import Settings
from shared.topics import DLQ_SUFFIX, Topics

SERVICES = ("matcher", "network", "notifier")
DOC_SETTINGS = Settings(kafka_bootstrap="localhost:9092", mongo_uri="mongodb://localhost:27017")


JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
# Formats the JSON Schema standard does not define: validators that do not know them
# ignore them; MentorMesh checks them (and so do the conformance tests).
CUSTOM_FORMATS = {
    "x-iana-time-zone": "a name in the IANA time zone database, e.g. Europe/Berlin",
    "x-language": "a BCP 47 language tag (en-GB, pt-BR, zh-Hant) or a language name "
    "(English, Deutsch)",
}


def schema_id(model: type[EventData]) -> str:
    return f"urn:mentormesh:schema:{_schema_name(model)}"


def example_document(model: type[EventData]) -> dict[str, Any]:
    """The example CloudEvent of a type as a JSON document."""
    document: dict[str, Any] = json.loads(example_event(model).to_json())
    return document


def event_schema(model: type[EventData]) -> dict[str, Any]:
    """The JSON Schema of one event type: what MentorMesh accepts, envelope and data."""
    schema = envelope_model(model).model_json_schema(mode="validation")
    schema = {"$schema": JSON_SCHEMA_DIALECT, "$id": schema_id(model), **schema}
    schema["title"] = model.TYPE
    schema["description"] = (
        f"{(model.__doc__ or '').strip()}\n\nTopic: {Topics().prefix}.{model.TOPIC}; "
        f"Kafka key: data.{model.KEY}. Unknown fields of `data` are ignored (see "
        "docs/compatibility.md)."
    ).strip()
    schema["examples"] = [example_document(model)]
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
                schema = _inline_defs(event_schema(model))
                # A component is part of the document, not a schema resource of its own.
                schema.pop("$schema", None)
                schema.pop("$id", None)
                schemas[name] = schema
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
        "Every message is a CloudEvents 1.0 event (`specversion`, `id`, `source`, `type`,",
        "`time`, `subject`, `data`), in structured mode (the event as JSON, `content-type:",
        "application/cloudevents+json`) or binary mode (`ce_*` headers, `data` as the value).",
        "Each is keyed by the `data` field below. Consumers de-duplicate by `id`. Topic names",
        "take the prefix `mentormesh` (configurable). A message that cannot be applied goes",
        "unchanged to `<topic>.dlq` with the headers `x-mentormesh-error` (the reason),",
        "`x-mentormesh-error-detail` and `x-mentormesh-service`. How to integrate:",
        "[integration.md](integration.md); what may change inside a version:",
        "[compatibility.md](compatibility.md).",
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
    lines += limits_markdown()
    return "\n".join(lines)


LIMIT_NAMES = {
    "MAX_MESSAGE_BYTES": "bytes of one Kafka record value",
    "MAX_JSON_DEPTH": "JSON nesting depth (the envelope is 1)",
    "MAX_ID_LENGTH": "characters of an id (event, person, match, mentorship, session, ...)",
    "MAX_TAG_LENGTH": "characters of a goal, passion or skill",
    "MAX_LANGUAGE_LENGTH": "characters of a language tag or name",
    "MAX_TIMEZONE_LENGTH": "characters of a time zone name",
    "MAX_ATTRIBUTE_LENGTH": "characters of `source`, `subject` or an extension attribute",
    "MAX_TYPE_LENGTH": "characters of `type`",
    "MAX_TEXT_LENGTH": "characters of free text (a reason, a nudge's message)",
    "MAX_NOTE_LENGTH": "characters of a feedback's private note",
    "MAX_TAGS": "goals, passions or skills of one profile (each list)",
    "MAX_LANGUAGES": "languages of one profile",
    "MAX_PROGRAMMES": "programmes of one profile",
    "MAX_REASONS": "reasons of one proposal or suggestion",
    "MAX_COMPONENTS": "score components of one proposal",
    "MAX_OFFERED": "introductions asked for or offered in one request",
    "MAX_MATCH_IDS": "match ids listed in one cohort summary (the first ones; every "
    "proposal is also published as `match.proposed.v1`)",
}


def limits_markdown() -> list[str]:
    lines = [
        "## Limits",
        "",
        "A message over a limit is dead-lettered (`too-large`, `too-deep`, or",
        "`invalid-data` naming the field). The JSON Schemas carry the same limits",
        "(`maxLength`, `maxItems`, `maxProperties`).",
        "",
        "| limit | value | of |",
        "|---|---|---|",
    ]
    for name, what in LIMIT_NAMES.items():
        lines.append(f"| `{name}` | {getattr(limits, name)} | {what} |")
    lines += [
        "",
        "Formats beyond JSON Schema's own, checked by MentorMesh:",
        "",
        *[f"- `{name}`: {what}" for name, what in CUSTOM_FORMATS.items()],
        "",
    ]
    return lines


EXAMPLES_MARKER = "<!-- generated: examples -->"


def integration_markdown() -> str:
    """The integration guide with the generated example of every event type."""
    template = (importlib.resources.files("shared") / "templates" / "integration.md").read_text(
        encoding="utf-8"
    )
    sections: list[str] = []
    for model in DATA_MODELS:
        sections += [
            f"### `{model.TYPE}`",
            "",
            f"Topic `{Topics().prefix}.{model.TOPIC}`, Kafka key `data.{model.KEY}`.",
            f"{' '.join((model.__doc__ or '').split())}",
            "",
            "```json",
            json.dumps(example_document(model), indent=2),
            "```",
            "",
        ]
    return template.replace(EXAMPLES_MARKER, "\n".join(sections).rstrip())


def rendered_docs() -> dict[Path, str]:
    files: dict[Path, str] = {}
    for model in DATA_MODELS:
        files[Path("schemas") / f"{_schema_name(model)}.json"] = _dump(event_schema(model))
    for name in SERVICES:
        spec = service_spec(name)
        if spec is not None:
            files[Path("asyncapi") / f"{name}.json"] = _dump(asyncapi_document(spec))
    files[Path("events.md")] = events_markdown()
    files[Path("integration.md")] = integration_markdown()
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
