"""`mentormesh introductions suggest|evaluate`: the service's ranking on files,
for admins and for evaluation. Offline: no Kafka, no MongoDB."""

from __future__ import annotations

import argparse
import json
import random
import sys
import tomllib
from datetime import UTC, datetime
from pathlib import Path

from services.network.evaluation import (
    Result,
    Split,
    Spread,
    evaluate,
    future_split,
    holdout_split,
    method_scores,
    precision_recall_auc,
    precision_spread,
)
from services.network.inputs import InputError, build_graph, read_edges, read_people
from services.network.policy import NetworkPolicy
from services.network.ranking import suggest_introductions

# Seeds of the random order that breaks equal scores, for the time-split spread.
TIE_SEEDS = 20


def _policy(path: str | None) -> NetworkPolicy:
    if path is None:
        return NetworkPolicy()
    with Path(path).open("rb") as fh:
        return NetworkPolicy.model_validate(tomllib.load(fh).get("network", {}))


def cmd_suggest(args: argparse.Namespace) -> int:
    try:
        edges = read_edges(Path(args.edges))
        people = read_people(Path(args.people)) if args.people else None
        policy = _policy(args.policy)
    except (OSError, InputError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    graph = build_graph(edges, people)
    targets = args.person or sorted(p.id for p in graph.people())
    at = datetime.now(UTC)
    for person_id in targets:
        suggestions = suggest_introductions(graph, person_id, at=at, policy=policy, count=args.k)
        line = {
            "person": person_id,
            "suggestions": [
                {
                    "candidate": s.candidate,
                    "introducer": s.introducer,
                    "score": round(s.score, 6),
                    "reasons": list(s.reasons),
                }
                for s in suggestions
            ],
        }
        print(json.dumps(line))
    return 0


def _table(results: list[Result], k: int, hidden: int) -> str:
    lines = [
        f"{hidden} hidden ties, k = {k}",
        f"{'method':<24} {'precision@k':>12} {'recall@k':>10} {'AUC':>7}",
    ]
    for r in results:
        lines.append(f"{r.method:<24} {r.precision:>12.4f} {r.recall:>10.4f} {r.auc:>7.4f}")
    return "\n".join(lines)


def _time_split_table(rows: list[tuple[str, float, Spread]], k: int, split: Split) -> str:
    lines = [
        f"{len(split.nodes)} people, {split.train_pairs} ties before, "
        f"{len(split.test)} new ties after between them; every other pair ranked; k = {k}",
        f"{'method':<24} {'precision@k':>12} {'hits':>7}   "
        f"over {TIE_SEEDS} tie-break seeds: mean ± sd [min, max] hits",
    ]
    for method, precision, spread in rows:
        lines.append(
            f"{method:<24} {precision:>12.4f} {precision * k:>7.2f}   "
            f"{spread.mean * k:6.2f} ± {spread.stdev * k:4.2f} "
            f"[{spread.low * k:.0f}, {spread.high * k:.0f}]"
        )
    return "\n".join(lines)


def cmd_time_split(args: argparse.Namespace, split: Split, policy: NetworkPolicy) -> int:
    """Rank every pair not tied before; score against the ties new after."""
    k = args.k or len(split.test)
    seeds = range(TIE_SEEDS)
    rows = []
    for method, scores in method_scores(split, policy, with_random=True):
        precision, _, _ = precision_recall_auc(scores, split.test, split.candidate_pairs, k)
        spread = precision_spread(scores, split.test, split.candidate_pairs, k, seeds)
        rows.append((method, precision, spread))
    if args.json:
        for method, precision, spread in rows:
            line = {"method": method, "precision_at_k": precision, "k": k,
                    "tie_break_mean": spread.mean, "tie_break_stdev": spread.stdev,
                    "tie_break_min": spread.low, "tie_break_max": spread.high}  # fmt: skip
            print(json.dumps(line))
    else:
        print(_time_split_table(rows, k, split))
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    try:
        edges = read_edges(Path(args.edges))
        people = read_people(Path(args.people)) if args.people else None
        policy = _policy(args.policy)
        if args.after:
            split = future_split(edges, read_edges(Path(args.after)))
        else:
            split = holdout_split(edges, args.holdout, random.Random(args.seed))
    except (OSError, InputError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not split.test:
        print("error: nothing to predict (no hidden or new ties)", file=sys.stderr)
        return 2
    if args.after and people is None:
        return cmd_time_split(args, split, policy)
    k = args.k or len(split.test)
    results = evaluate(split, policy, people, k)
    if args.json:
        for r in results:
            print(json.dumps({"method": r.method, "precision_at_k": r.precision,
                              "recall_at_k": r.recall, "auc": r.auc, "k": k}))  # fmt: skip
    else:
        print(_table(results, k, len(split.test)))
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    intro = subparsers.add_parser(
        "introductions", help="suggest and evaluate introductions offline (no broker needed)"
    )
    sub = intro.add_subparsers(dest="introductions_command", required=True)

    suggest = sub.add_parser("suggest", help="one JSON line of suggestions per person")
    suggest.add_argument("--edges", required=True, help="CSV with source,target[,weight]")
    suggest.add_argument("--people", help="JSON lines: person_id, goals, passions, skills, ...")
    suggest.add_argument("--k", type=int, default=3, help="suggestions per person")
    suggest.add_argument("--person", action="append", help="only these people (repeatable)")
    suggest.add_argument("--policy", help="a programme TOML file whose [network] section applies")
    suggest.set_defaults(func=cmd_suggest)

    ev = sub.add_parser(
        "evaluate",
        help="hide ties, or split in time, and score the ranking against networkx and random",
    )
    ev.add_argument("--before", "--edges", dest="edges", required=True, help="EDGES.csv")
    how = ev.add_mutually_exclusive_group(required=True)
    how.add_argument("--holdout", type=float, help="fraction of ties to hide, e.g. 0.1")
    how.add_argument(
        "--after",
        "--future",
        dest="after",
        help="a later EDGES.csv: rank every pair not tied before, score against the new ties",
    )
    ev.add_argument("--seed", type=int, default=0, help="random seed of --holdout (default 0)")
    ev.add_argument("--people", help="JSON lines: person_id, goals, passions, skills, ...")
    ev.add_argument("--k", type=int, help="default: the number of hidden ties (precision@L)")
    ev.add_argument("--policy", help="a programme TOML file whose [network] section applies")
    ev.add_argument("--json", action="store_true", help="JSON lines instead of a table")
    ev.set_defaults(func=cmd_evaluate)
