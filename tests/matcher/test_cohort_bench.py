"""The cohort benchmark stays runnable and its exact reference agrees with `optimal`."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

from services.matcher.cohort import optimal_matching

BENCH = Path(__file__).resolve().parents[2] / "bench" / "matcher_solve.py"


def load_bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("matcher_solve_bench", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_optimal_equals_the_sparse_lp_on_a_benchmark_cohort(seed: int) -> None:
    bench = load_bench()
    cohort = bench.random_cohort(300, seed)
    assert optimal_matching(cohort).total_score == pytest.approx(bench.lp_optimum(cohort), abs=1e-7)


def test_the_benchmark_prints_every_mode_with_ratios(capsys: pytest.CaptureFixture[str]) -> None:
    load_bench().main(["--sizes", "60"])
    out = capsys.readouterr().out
    for mode in ("optimal", "stable", "greedy"):
        line = next(row for row in out.splitlines() if row.strip().startswith(mode))
        assert "time x" in line
        assert "total x" in line
