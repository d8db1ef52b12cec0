"""Cohort solver benchmark: each mode against an independent exact solver, same process.

Random cohorts (seeded): N mentees, N/2 mentors of capacity 1-3, each mentee allowed
min(200, mentors) random mentors, scores and mentor scores uniform in [0, 1). For every size
the reference is the b-matching linear program (integral for bipartite graphs) solved by
HiGHS dual simplex on the sparse, non-expanded constraint matrix. Printed per mode: solve
time, total score, and the ratios time/reference time and total/reference total (for
`stable` and `greedy` the latter is the share of the optimum they reach).

    .venv/bin/python bench/matcher_solve.py [--sizes 500 2000 10000] [--seed 7]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linprog

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from services.matcher.cohort import MODES, Cohort, Enrolment, solve  # noqa: E402

SIZES = (500, 2_000, 10_000)
MAX_MENTORS_PER_MENTEE = 200


def random_cohort(n_mentees: int, seed: int) -> Cohort:
    rng = np.random.default_rng(seed)
    n_mentors = max(1, n_mentees // 2)
    per_mentee = min(MAX_MENTORS_PER_MENTEE, n_mentors)
    rows = np.repeat(np.arange(n_mentees, dtype=np.int64), per_mentee)
    cols = np.concatenate(
        [rng.choice(n_mentors, per_mentee, replace=False) for _ in range(n_mentees)]
    ).astype(np.int64)
    return Cohort.from_arrays(
        enrolments=[Enrolment("", f"mentee-{i:05d}") for i in range(n_mentees)],
        mentors=[f"mentor-{j:05d}" for j in range(n_mentors)],
        capacity=rng.integers(1, 4, n_mentors).astype(np.int64),
        pair_enrolment=rows,
        pair_mentor=cols,
        score=rng.random(len(rows)),
        mentor_score=rng.random(len(rows)),
    )


def lp_optimum(cohort: Cohort) -> float:
    """Maximum total score of the b-matching LP: x_pair in [0, 1], at most one pair per
    mentee, at most `capacity` per mentor. The bipartite constraint matrix is totally
    unimodular, so the LP optimum is the integer optimum."""
    n_pairs = cohort.pair_count
    ones = np.ones(n_pairs)
    pair = np.arange(n_pairs)
    a = sp.vstack(
        [
            sp.csr_array(
                (ones, (cohort.pair_enrolment, pair)), shape=(len(cohort.enrolments), n_pairs)
            ),
            sp.csr_array((ones, (cohort.pair_mentor, pair)), shape=(len(cohort.mentors), n_pairs)),
        ]
    ).tocsr()
    b = np.concatenate([np.ones(len(cohort.enrolments)), cohort.capacity.astype(np.float64)])
    result = linprog(-cohort.score, A_ub=a, b_ub=b, bounds=(0.0, 1.0), method="highs-ds")
    if result.status != 0:
        raise RuntimeError(f"reference LP failed: {result.message}")
    return float(-result.fun)


def bench_size(n_mentees: int, seed: int) -> None:
    started = time.perf_counter()
    cohort = random_cohort(n_mentees, seed)
    built = time.perf_counter() - started
    print(
        f"\n{n_mentees} mentees, {len(cohort.mentors)} mentors, "
        f"{int(cohort.capacity.sum())} seats, {cohort.pair_count} allowed pairs "
        f"(built in {built:.2f} s)"
    )
    started = time.perf_counter()
    reference = lp_optimum(cohort)
    reference_s = time.perf_counter() - started
    print(f"  {'reference LP (HiGHS)':22s} {reference_s:8.2f} s  total {reference:12.4f}")
    for mode in MODES:
        started = time.perf_counter()
        matching = solve(cohort, mode)
        seconds = time.perf_counter() - started
        total = matching.total_score
        print(
            f"  {mode:22s} {seconds:8.2f} s  total {total:12.4f}  "
            f"time x{seconds / reference_s:6.3f}  total x{total / reference:.6f} "
            f"({total - reference:+.1e})  "
            f"matched {len(matching.chosen)}  blocking pairs {matching.blocking_pairs()}"
        )


def main(argv: Sequence[str] = ()) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(list(argv))
    print("matcher cohort solve (ratios against the exact LP reference, same process)")
    for n in args.sizes:
        bench_size(n, args.seed)


if __name__ == "__main__":
    main(sys.argv[1:])
