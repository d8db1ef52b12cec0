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


def test_evaluate_before_after_ranks_every_pair_not_tied_before_against_the_new_ties(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = tmp_path / "before.csv"
    before.write_text("source,target\na,m\nm,b\nc,d\n")
    after = tmp_path / "after.csv"
    after.write_text("source,target\na,m\nm,b\nc,d\na,b\nd,newcomer\n")
    assert main(["introductions", "evaluate", "--before", str(before), "--after", str(after),
                 "--json"]) == 0  # fmt: skip
    rows = {r["method"]: r for r in map(json.loads, capsys.readouterr().out.splitlines())}
    assert {"mentormesh", "resource allocation", "adamic-adar", "random"} <= rows.keys()
    # One new tie between people known before (the newcomer is not), k = 1; a-b is the
    # only pair two hops apart, so the service finds it on every tie-break seed.
    ours = rows["mentormesh"]
    assert (ours["k"], ours["precision_at_k"]) == (1, 1.0)
    assert ours["tie_break_min"] == ours["tie_break_max"] == 1.0
    # Random ranks the 7 pairs not tied before (5 people) in any order.
    assert rows["random"]["precision_at_k"] == pytest.approx(1 / 7)


def test_evaluate_before_after_prints_a_table_with_the_spread_over_tie_break_seeds(
    tmp_path: Path, karate: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    later = tmp_path / "later.csv"
    later.write_text(karate.read_text() + "k0,k33\nk9,k8\n")
    assert main(["introductions", "evaluate", "--before", str(karate), "--after", str(later)]) == 0
    out = capsys.readouterr().out
    assert "34 people, 78 ties before, 2 new ties after between them" in out
    assert "tie-break seeds" in out and "random" in out


def test_a_malformed_edges_file_is_an_error_not_a_crash(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("from,to\na,b\n")
    assert main(["introductions", "suggest", "--edges", str(bad)]) == 2
    assert "source,target" in capsys.readouterr().err
