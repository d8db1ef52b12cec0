"""Documents a JSON Schema accepts, as a Hypothesis strategy.

For the subset of JSON Schema 2020-12 the contract's schemas use (`$ref` to `$defs`,
`anyOf`, `const`, `enum`, the five value types with their length, range, item and
property keywords, `pattern`, `format`, `propertyNames`, `additionalProperties`).
`hypothesis-jsonschema` would be the library for this, but its object generation
relies on Hypothesis internals that current Hypothesis no longer has.

Where a schema allows any additional property, a few shallow ones are added: the
message-level limits (size, nesting depth) are outside what JSON Schema can say,
and `docs/events.md` states them apart.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import strategies as st

Schema = Mapping[str, Any]
JSON_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**40), 2**40), st.text(max_size=10)
)
ANY_JSON: st.SearchStrategy[Any] = st.recursive(
    JSON_SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)


def from_schema(
    schema: Schema, custom_formats: Mapping[str, st.SearchStrategy[str]] | None = None
) -> st.SearchStrategy[Any]:
    return _Generator(schema, dict(custom_formats or {})).of(schema)


def _rfc3339(moment: datetime) -> str:
    text = moment.isoformat()
    return text.replace("+00:00", "Z") if moment.utcoffset() == timedelta(0) else text


DATE_TIMES = st.builds(
    lambda naive, minutes: naive.replace(tzinfo=timezone(timedelta(minutes=minutes))),
    st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(9999, 12, 30)),
    st.integers(-23 * 60 - 59, 23 * 60 + 59),
).map(_rfc3339) | st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
).map(_rfc3339)


class _Generator:
    def __init__(self, root: Schema, formats: dict[str, st.SearchStrategy[str]]) -> None:
        self.root = root
        self.formats = {"date-time": DATE_TIMES, **formats}

    def of(self, schema: Schema) -> st.SearchStrategy[Any]:
        if "$ref" in schema:
            name = schema["$ref"].removeprefix("#/$defs/")
            return self.of(self.root["$defs"][name])
        if "anyOf" in schema:
            return st.one_of([self.of(branch) for branch in schema["anyOf"]])
        if "const" in schema:
            return st.just(schema["const"])
        if "enum" in schema:
            return st.sampled_from(schema["enum"])
        kind = schema.get("type")
        if kind == "string":
            return self.string(schema)
        if kind == "integer":
            return st.integers(schema.get("minimum"), schema.get("maximum")).filter(
                lambda n: _within_exclusive(n, schema)
            )
        if kind == "number":
            return st.floats(
                schema.get("minimum"),
                schema.get("maximum"),
                allow_nan=False,
                allow_infinity=False,
            ).filter(lambda n: _within_exclusive(n, schema))
        if kind == "boolean":
            return st.booleans()
        if kind == "null":
            return st.none()
        if kind == "array":
            return self.array(schema)
        if kind == "object" or "properties" in schema:
            return self.object(schema)
        return ANY_JSON

    def string(self, schema: Schema) -> st.SearchStrategy[str]:
        low, high = schema.get("minLength", 0), schema.get("maxLength", 50)
        if "format" in schema:
            base = self.formats[schema["format"]]
        elif "pattern" in schema:
            base = st.from_regex(str(schema["pattern"]), fullmatch=True)
        else:
            # Mostly short strings; now and then one at the maximum length, built
            # cheaply (drawing hundreds of characters one by one is slow).
            base = st.text(min_size=low, max_size=min(high, 12)) | st.builds(
                lambda text, n: ((text or "x") * n)[:n],
                st.text(min_size=1, max_size=3),
                st.integers(max(low, 1), high),
            )
        return base.filter(lambda s: low <= len(s) <= high)

    def array(self, schema: Schema) -> st.SearchStrategy[list[Any]]:
        items = self.of(schema.get("items", {}))
        low, high = schema.get("minItems", 0), min(schema.get("maxItems", 5), 5)
        if schema.get("uniqueItems"):
            return st.lists(items, min_size=low, max_size=high, unique_by=_json_identity)
        return st.lists(items, min_size=low, max_size=high)

    def object(self, schema: Schema) -> st.SearchStrategy[dict[str, Any]]:
        properties: Mapping[str, Schema] = schema.get("properties", {})
        required = set(schema.get("required", ()))
        extra = schema.get("additionalProperties", True)
        name_pattern = schema.get("propertyNames", {}).get("pattern")
        limit = schema.get("maxProperties")
        # Built once: building strategies while drawing is what makes generation slow.
        subs = {name: self.of(sub) for name, sub in properties.items()}
        names = (
            st.from_regex(name_pattern, fullmatch=True)
            if name_pattern
            else st.text(min_size=1, max_size=12)
        )
        values = ANY_JSON if extra is True or extra is False else self.of(extra)

        @st.composite
        def build(draw: st.DrawFn) -> dict[str, Any]:
            document: dict[str, Any] = {}
            for name, sub in subs.items():
                if name in required or draw(st.booleans()):
                    document[name] = draw(sub)
            if extra is not False:
                room = 2 if limit is None else max(0, min(2, limit - len(document)))
                for _ in range(draw(st.integers(0, room))):
                    name = draw(names)
                    if name not in properties:
                        document[name] = draw(values)
            return document

        return build()


def _within_exclusive(value: float, schema: Schema) -> bool:
    if "exclusiveMinimum" in schema and not value > schema["exclusiveMinimum"]:
        return False
    return not ("exclusiveMaximum" in schema and not value < schema["exclusiveMaximum"])


def _json_identity(value: Any) -> Any:
    return repr(value)
