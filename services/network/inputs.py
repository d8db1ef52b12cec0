"""Reading the offline tools' files: `EDGES.csv` (`source,target[,weight]`) and
`PEOPLE.jsonl` (one person a line, with the profile fields ranking uses)."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from services.network.graph import SocialGraph
from services.network.people import Person, canonical_tags
from services.network.policy import NetworkPolicy
from services.network.ties import TieKind, make_tie
from shared.events import InvalidEvent, load_json

CONTACT = frozenset({TieKind.CONTACT})


@dataclass(frozen=True, slots=True)
class Edge:
    source: str
    target: str
    weight: float | None = None


class InputError(ValueError):
    """A file the offline tools cannot read; the message says where and why."""


def read_edges(path: Path) -> list[Edge]:
    with path.open(newline="") as fh:
        reader = csv.DictReader(fh)
        header = set(reader.fieldnames or ())
        if not {"source", "target"} <= header:
            raise InputError(f"{path}: the header must have source,target (got {sorted(header)})")
        edges = []
        for line, row in enumerate(reader, start=2):
            source, target = (row["source"] or "").strip(), (row["target"] or "").strip()
            if not source or not target:
                raise InputError(f"{path}:{line}: empty source or target")
            if source == target:
                continue
            raw = (row.get("weight") or "").strip()
            try:
                weight = float(raw) if raw else None
            except ValueError:
                raise InputError(f"{path}:{line}: weight {raw!r} is not a number") from None
            if weight is not None and weight <= 0:
                raise InputError(f"{path}:{line}: weight must be positive")
            edges.append(Edge(source, target, weight))
    return edges


def _strings(record: dict[str, Any], name: str) -> list[str]:
    value = record.get(name, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InputError(f"{name} must be a list of strings")
    return value


def person_from_json(record: dict[str, Any]) -> Person:
    person_id = record.get("person_id", record.get("id"))
    if not isinstance(person_id, str) or not person_id:
        raise InputError(f"a person needs a person_id: {str(record)[:200]}")
    programmes = _strings(record, "programmes") or ["default"]
    return Person(
        id=person_id,
        goals=canonical_tags(_strings(record, "goals")),
        passions=canonical_tags(_strings(record, "passions")),
        skills=canonical_tags(_strings(record, "skills")),
        open_to_introductions=bool(record.get("open_to_introductions", True)),
        paused=bool(record.get("paused", False)),
        programme=str(programmes[0]),
    )


def read_people(path: Path) -> dict[str, Person]:
    people = {}
    with path.open(encoding="utf-8", errors="surrogateescape") as fh:
        for line, text in enumerate(fh, start=1):
            if not text.strip():
                continue
            try:
                record = load_json(text)
            except InvalidEvent as exc:
                raise InputError(f"{path}:{line}: {exc}") from None
            if not isinstance(record, dict):
                raise InputError(f"{path}:{line}: expected a JSON object")
            try:
                person = person_from_json(record)
            except InputError as exc:
                raise InputError(f"{path}:{line}: {exc}") from None
            people[person.id] = person
    return people


def build_graph(edges: Iterable[Edge], people: dict[str, Person] | None = None) -> SocialGraph:
    """The graph of these ties. Offline, a person without a record is open to
    introductions (the file is all we know); a record can say otherwise."""
    people = people or {}
    graph = SocialGraph(strengths=(NetworkPolicy().strengths,))
    for person in people.values():
        graph.put_person(person)
    for edge in edges:
        for end in (edge.source, edge.target):
            if end not in graph:
                graph.put_person(Person(id=end))
        # A file's own weight replaces the contact kind's.
        kinds = () if edge.weight is not None else CONTACT
        graph.set_tie(edge.source, edge.target, make_tie(kinds, weight=edge.weight))
    return graph
