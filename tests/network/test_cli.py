"""`mentormesh introductions suggest|evaluate` on files."""

from __future__ import annotations

import json
from pathlib import Path

import networkx as nx
import pytest

from shared.cli import main


@pytest.fixture
def karate(tmp_path: Path) -> Path:
    path = tmp_path / "edges.csv"
    lines = ["source,target"] + [f"k{u},k{v}" for u, v in nx.karate_club_graph().edges()]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_suggest_prints_one_json_line_per_person_asked_for(
    karate: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["introductions", "suggest", "--edges", str(karate), "--person", "k0",
                 "--person", "k9", "--k", "2"]) == 0  # fmt: skip
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["person"] for line in lines] == ["k0", "k9"]
    for line in lines:
        assert len(line["suggestions"]) == 2
        first = line["suggestions"][0]
        assert {"candidate", "introducer", "score", "reasons"} <= first.keys()


def test_suggest_without_person_covers_every_node(
    karate: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["introductions", "suggest", "--edges", str(karate)]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 34


def test_suggest_uses_people_attributes_and_respects_pauses(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    edges = tmp_path / "e.csv"
    edges.write_text("source,target,weight\nx,m,1\nm,y,1\nm,z,1\nm,p,2\n")
    people = tmp_path / "p.jsonl"
    people.write_text(
        json.dumps({"person_id": "x", "goals": ["Embedded Rust"]}) + "\n"
        + json.dumps({"person_id": "z", "skills": ["embedded rust"]}) + "\n"
        + json.dumps({"person_id": "p", "paused": True}) + "\n"
    )  # fmt: skip
    assert main(["introductions", "suggest", "--edges", str(edges), "--people", str(people),
                 "--person", "x", "--k", "5"]) == 0  # fmt: skip
    [line] = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [s["candidate"] for s in line["suggestions"]] == ["z", "y"]
    assert any("embedded rust" in r for r in line["suggestions"][0]["reasons"])


def test_evaluate_prints_every_method_on_the_same_split(
    karate: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["introductions", "evaluate", "--edges", str(karate), "--holdout", "0.1",
                 "--seed", "2", "--json"]) == 0  # fmt: skip
    rows = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [r["method"] for r in rows] == [
        "mentormesh", "common neighbours", "jaccard", "adamic-adar", "resource allocation",
        "preferential attachment",
    ]  # fmt: skip
    assert {r["k"] for r in rows} == {8}


def test_evaluate_against_a_later_snapshot(
    tmp_path: Path, karate: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    later = tmp_path / "later.csv"
    later.write_text(karate.read_text() + "k0,k33\nk9,k8\n")
    assert main(["introductions", "evaluate", "--edges", str(karate), "--future", str(later)]) == 0
    assert "2 hidden ties, k = 2" in capsys.readouterr().out


def test_a_malformed_edges_file_is_an_error_not_a_crash(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("from,to\na,b\n")
    assert main(["introductions", "suggest", "--edges", str(bad)]) == 2
    assert "source,target" in capsys.readouterr().err
