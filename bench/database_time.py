"""Where the demo's database time goes: one `mentormesh demo` run on the embedded stack,
with the database's own per-collection accounting read while it runs.

The demo is bound by one shared resource, the embedded MongoDB-protocol server (one
Python process): the services mostly wait on it. This runs the demo in this process on
a state directory of its own, reads the server's `top` command (time and count per
collection and operation, since the server started) every few seconds, and prints
the last reading before the demo stopped the stack:
  per collection   server time, its share of the run's server time, operations, and
                   the time per operation of each kind (query, insert, update, remove);
  per service      the same summed over its database.
The baseline in the same run is the whole: every figure is shown as its share of the
server time of this run, next to the demo's wall time.

SecantusDB's `top` times include waits for its locks, so under contention they add up
to more than its CPU time: they compare collections within one run, not CPU seconds.
The run is always on a stack of its own (a configured Kafka or MongoDB is not used),
which is deleted afterwards; the demo's output is kept and its path printed.

Run: .venv/bin/python bench/database_time.py [--mentees 220] [--mentors 90] [--weeks 10]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import shutil
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pymongo import AsyncMongoClient

from shared.demo import run_demo
from shared.local_stack import free_port
from shared.settings import Settings

OPERATIONS = (("queries", "query"), ("insert", "insert"), ("update", "update"),
              ("remove", "remove"), ("getmore", "getmore"))  # fmt: skip
# Often enough that the last reading before the demo stops the stack misses little.
READ_EVERY_S = 2.0
# The services' databases are named `<prefix>_<service>`.
PREFIX = "mentormesh"


@dataclass(frozen=True)
class Usage:
    """Server time (s) and operations of one collection, in all and by kind."""

    seconds: float
    count: int
    by_kind: Mapping[str, tuple[float, int]]


def usage_by_collection(totals: Mapping[str, Any], prefix: str) -> dict[str, Usage]:
    """The `top` command's totals for the collections of databases named `prefix*`."""
    found: dict[str, Usage] = {}
    for name, entry in totals.items():
        if not isinstance(entry, dict) or not name.startswith(prefix):
            continue
        total = entry.get("total", {})
        found[name] = Usage(
            seconds=total.get("time", 0) / 1e6,
            count=int(total.get("count", 0)),
            by_kind={
                label: (entry[key]["time"] / 1e6, int(entry[key]["count"]))
                for key, label in OPERATIONS
                if entry.get(key, {}).get("count")
            },
        )
    return found


def by_database(usage: Mapping[str, Usage]) -> dict[str, tuple[float, int]]:
    summed: dict[str, tuple[float, int]] = {}
    for name, used in usage.items():
        database = name.split(".", 1)[0]
        seconds, count = summed.get(database, (0.0, 0))
        summed[database] = (seconds + used.seconds, count + used.count)
    return summed


def table(usage: Mapping[str, Usage], wall_s: float, rows: int) -> list[str]:
    whole = sum(u.seconds for u in usage.values()) or 1.0
    lines = [
        f"demo wall time {wall_s:.0f} s; database server time {whole:.1f} s "
        f"({whole / wall_s:.2f} of the wall time; with lock waits, see the docstring)",
        "",
        f"{'service database':34s} {'time':>8s} {'share':>6s} {'ops':>7s}",
    ]
    for database, (seconds, count) in sorted(by_database(usage).items(), key=lambda x: -x[1][0]):
        lines.append(f"{database:34s} {seconds:7.1f}s {seconds / whole:6.2f} {count:7d}")
    lines += ["", f"{'collection':44s} {'time':>8s} {'share':>6s} {'ops':>6s}  ms per operation"]
    ranked = sorted(usage.items(), key=lambda item: -item[1].seconds)
    for name, used in ranked[:rows]:
        kinds = ", ".join(
            f"{kind} {1000 * seconds / count:.1f} x{count}"
            for kind, (seconds, count) in used.by_kind.items()
        )
        lines.append(f"{name:44s} {used.seconds:7.1f}s {used.seconds / whole:6.2f} "
                     f"{used.count:6d}  {kinds}")  # fmt: skip
    return lines


async def _read_top(port: int, until: asyncio.Event) -> dict[str, Any]:
    """The server's `top` totals, read every `READ_EVERY_S` until `until` is set or the
    server is gone: the last reading it gave."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        f"mongodb://127.0.0.1:{port}/?directConnection=true", serverSelectionTimeoutMS=2000
    )
    last: dict[str, Any] = {}
    try:
        while not until.is_set():
            with contextlib.suppress(Exception):  # not up yet, or stopped at the end
                last = (await client.admin.command("top"))["totals"]
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(until.wait(), READ_EVERY_S)
    finally:
        await client.close()
    return last


async def measure(
    mentees: int, mentors: int, weeks: int, log: Path
) -> tuple[dict[str, Any], float, int]:
    state = Path(tempfile.mkdtemp(prefix="mentormesh-database-time-"))
    port = free_port()
    # Whatever the environment configures, the demo runs embedded, on the port read.
    settings = Settings(
        state_dir=state, mongo_port=port, mongo_uri=None, kafka_bootstrap=None,
        database_prefix=PREFIX,
    )  # fmt: skip
    done = asyncio.Event()
    reader = asyncio.create_task(_read_top(port, done))
    started = time.monotonic()
    try:
        with log.open("w") as out, contextlib.redirect_stdout(out):
            status = await run_demo(settings, mentees=mentees, mentors=mentors, weeks=weeks,
                                    out=state / "out")  # fmt: skip
    finally:
        wall = time.monotonic() - started
        done.set()
        totals = await reader
        shutil.rmtree(state, ignore_errors=True)  # the run's database: about 70 MB
    return totals, wall, status


def main(argv: Sequence[str] = ()) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mentees", type=int, default=220)
    parser.add_argument("--mentors", type=int, default=90)
    parser.add_argument("--weeks", type=int, default=10)
    parser.add_argument("--rows", type=int, default=20, help="collections to list")
    args = parser.parse_args(list(argv))
    log = Path(tempfile.mkdtemp(prefix="mentormesh-database-time-log-")) / "demo.log"
    totals, wall, status = asyncio.run(measure(args.mentees, args.mentors, args.weeks, log))
    print(f"== database time of one demo run ({args.mentees} mentees, {args.mentors} mentors, "
          f"{args.weeks} weeks; demo output in {log})")  # fmt: skip
    if status != 0:
        print(f"the demo failed (exit {status}): see {log}")
        return status
    for line in table(usage_by_collection(totals, f"{PREFIX}_"), wall, args.rows):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
