"""`mentormesh match solve`: a programme admin's cohort run, offline (no Kafka, no Mongo)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .cohort import MODES, OBJECTIVES, InvalidCohort, Mode, Objective, solve
from .cohort_scoring import Reasons, cohort_from_people
from .solve_io import (
    SolveInputError,
    cohort_from_csv,
    dump_document,
    read_people,
    result_document,
)

BAD_INPUT = 2

SOLVE_HELP = """\
Assign mentees to mentors for a whole cohort and print the result as JSON.

  --scores SCORES.csv --capacities CAPS.csv   allowed pairs (mentee,mentor,score[,mentor_score])
                                              and capacities (mentor,capacity); every mentor
                                              of SCORES must be in CAPS (capacity 0 to exclude)
  --profiles PEOPLE.jsonl                     people, scored by the matcher's own model; a
                                              mentee is matched once per programme, a mentor's
                                              capacity is shared by all their programmes

modes: optimal (maximum total score, exact), stable (mentee-optimal stable matching),
greedy (highest score first). --objective participation (optimal only) first matches as
many mentees as possible, then maximises the score. Exit code 2 on bad input.
"""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    match = subparsers.add_parser("match", help="the matcher's offline tools")
    tools = match.add_subparsers(dest="match_command", required=True)
    solve_parser = tools.add_parser(
        "solve",
        help="solve a whole cohort (optimal, stable or greedy) and print JSON",
        description=SOLVE_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    source = solve_parser.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--scores", type=Path, metavar="SCORES.csv", help="allowed pairs: mentee,mentor,score"
    )
    source.add_argument(
        "--profiles",
        type=Path,
        metavar="PEOPLE.jsonl",
        help="profiles (or profile CloudEvents), scored by the matcher's model",
    )
    solve_parser.add_argument(
        "--capacities", type=Path, metavar="CAPS.csv", help="with --scores: mentor,capacity"
    )
    solve_parser.add_argument(
        "--mode", choices=MODES, required=True, help="optimal, stable or greedy (see above)"
    )
    solve_parser.add_argument(
        "--objective",
        choices=OBJECTIVES,
        default=None,
        help="for --mode optimal (default: score)",
    )
    solve_parser.add_argument(
        "--programmes-dir",
        type=Path,
        default=None,
        help="with --profiles: where programmes/<id>.toml policies are read",
    )
    solve_parser.add_argument(
        "--max-per-mentee",
        type=int,
        default=200,
        help="with --profiles: how many best mentors of each mentee are allowed pairs",
    )
    solve_parser.set_defaults(func=run_solve)


def run_solve(args: argparse.Namespace) -> int:
    try:
        document = _solve(args)
    except (SolveInputError, InvalidCohort) as exc:
        print(f"mentormesh match solve: error: {exc}", file=sys.stderr)
        return BAD_INPUT
    sys.stdout.write(dump_document(document))
    return 0


def _solve(args: argparse.Namespace) -> dict[str, object]:
    mode: Mode = args.mode
    objective: Objective | None = args.objective
    if mode != "optimal" and objective is not None:
        raise SolveInputError(f"--objective applies to --mode optimal only, not {mode}")
    if mode == "optimal" and objective is None:
        objective = "score"
    reasons: Reasons | None = None
    if args.scores is not None:
        if args.capacities is None:
            raise SolveInputError("--scores needs --capacities CAPS.csv")
        cohort = cohort_from_csv(args.scores, args.capacities)
    else:
        if args.capacities is not None:
            raise SolveInputError(
                "--capacities goes with --scores; with --profiles capacities come from profiles"
            )
        if args.max_per_mentee < 1:
            raise SolveInputError("--max-per-mentee must be at least 1")
        scored = cohort_from_people(
            read_people(args.profiles), args.programmes_dir, args.max_per_mentee
        )
        cohort, reasons = scored.cohort, scored.reasons
    matching = solve(cohort, mode, objective or "score")
    return result_document(matching, mode, objective, reasons)
