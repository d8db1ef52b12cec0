"""The database-time benchmark reads the server's `top` totals as they come and ranks
what it found (the demo run itself is the benchmark's, not the tests')."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

BENCH = Path(__file__).resolve().parents[2] / "bench" / "database_time.py"

TOP_TOTALS: dict[str, Any] = {
    "note": "all times in microseconds",
    "mentormesh_notifier.timers": {
        "total": {"time": 3_000_000, "count": 30},
        "queries": {"time": 1_000_000, "count": 20},
        "insert": {"time": 2_000_000, "count": 10},
        "update": {"time": 0, "count": 0},
    },
    "mentormesh_matcher.proposals": {
        "total": {"time": 1_000_000, "count": 4},
        "update": {"time": 1_000_000, "count": 4},
    },
    "admin.system.version": {"total": {"time": 9_000_000, "count": 1}},
}


def load_bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("database_time_bench", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass looks its module up there
    spec.loader.exec_module(module)
    return module


def test_only_the_services_collections_are_counted_in_seconds_by_kind() -> None:
    usage = load_bench().usage_by_collection(TOP_TOTALS, "mentormesh_")
    assert set(usage) == {"mentormesh_notifier.timers", "mentormesh_matcher.proposals"}
    timers = usage["mentormesh_notifier.timers"]
    assert (timers.seconds, timers.count) == (3.0, 30)
    assert timers.by_kind == {"query": (1.0, 20), "insert": (2.0, 10)}


def test_the_table_ranks_databases_and_collections_by_their_share() -> None:
    bench = load_bench()
    lines = bench.table(bench.usage_by_collection(TOP_TOTALS, "mentormesh_"), 8.0, rows=5)
    assert "server time 4.0 s (0.50 of the wall time" in lines[0]
    ranked = [line.split()[0] for line in lines if line.startswith("mentormesh_")]
    assert ranked == [
        "mentormesh_notifier",
        "mentormesh_matcher",
        "mentormesh_notifier.timers",
        "mentormesh_matcher.proposals",
    ]
    timers = next(line for line in lines if line.startswith("mentormesh_notifier.timers"))
    assert timers.split()[2] == "0.75"
    assert "query 50.0 x20, insert 200.0 x10" in timers


def test_the_table_lists_no_more_collections_than_asked() -> None:
    bench = load_bench()
    lines = bench.table(bench.usage_by_collection(TOP_TOTALS, "mentormesh_"), 8.0, rows=1)
    assert sum("." in line.split()[0] for line in lines if line.startswith("mentormesh_")) == 1
