"""`mentormesh nudges simulate`: try nudge rules on a history before switching them on."""

from __future__ import annotations

import argparse
import asyncio
import io
import sys
from datetime import datetime
from pathlib import Path

from shared.settings import Settings

from .config import NotifierSettings
from .rulebooks import RuleBooks, rule_books
from .rules import RulesError, load_rules
from .simulator import nudge_line, read_events, simulate


def _rfc3339(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an RFC 3339 time: {text!r}") from None
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"give a time zone (Z or +hh:mm): {text!r}")
    return moment


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    nudges = subparsers.add_parser("nudges", help="the notifier's offline tools")
    commands = nudges.add_subparsers(dest="nudges_command", required=True)
    simulate_cmd = commands.add_parser(
        "simulate",
        help="replay CloudEvents through the nudge rules on a simulated clock",
        description=(
            "Replays CloudEvents (one JSON document a line, as on the topics) through the "
            "notifier's rules in event time and prints one JSON line per nudge: the "
            "nudge.emitted data plus 'at', when it would be sent. Without --rules the "
            "rules are the service's own (MENTORMESH_NOTIFIER_RULES_FILE, each programme's "
            "[nudges] section and MENTORMESH_NOTIFIER_ADMINS); with --rules, that file "
            "alone applies to every programme."
        ),
    )
    simulate_cmd.add_argument("--events", required=True, help="a JSONL file, or - for stdin")
    simulate_cmd.add_argument("--rules", type=Path, help="a rules file (see default_rules.toml)")
    simulate_cmd.add_argument(
        "--until", type=_rfc3339, help="simulate up to this time (default: the last event's)"
    )
    simulate_cmd.add_argument(
        "--programmes", type=Path, help="the programmes directory (default: the service's)"
    )
    simulate_cmd.add_argument(
        "--strict",
        action="store_true",
        help="exit 2 without simulating if any line is not a valid CloudEvent",
    )
    simulate_cmd.set_defaults(func=cmd_simulate)


def _books(args: argparse.Namespace) -> RuleBooks:
    if args.rules is not None:
        return rule_books(load_rules(args.rules), use_programme_files=False)
    settings = Settings()
    if args.programmes is not None:
        settings = settings.model_copy(update={"programmes_dir": args.programmes})
    return NotifierSettings().rulebooks(settings)


def cmd_simulate(args: argparse.Namespace) -> int:
    try:
        books = _books(args)
        books.for_programme("default")
    except RulesError as exc:
        print(f"nudges simulate: {exc}", file=sys.stderr)
        return 2
    try:
        # Bytes that are not UTF-8 reach the parser (which reports their line) instead
        # of stopping the read.
        if args.events == "-":
            stdin = io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8", errors="surrogateescape")
            events, problems = read_events(stdin)
        else:
            with open(args.events, encoding="utf-8", errors="surrogateescape") as fh:
                events, problems = read_events(fh)
    except OSError as exc:
        print(f"nudges simulate: {exc}", file=sys.stderr)
        return 2
    for problem in problems:
        print(f"nudges simulate: skipped {problem}", file=sys.stderr)
    if problems and args.strict:
        print(f"nudges simulate: {len(problems)} line(s) skipped (--strict)", file=sys.stderr)
        return 2
    try:
        nudges = asyncio.run(simulate(events, books, args.until))
    except RulesError as exc:
        print(f"nudges simulate: {exc}", file=sys.stderr)
        return 2
    for nudge in nudges:
        print(nudge_line(nudge))
    return 0
