"""Fault injection for crash tests: make a process die at a chosen point.

A test starts a service with `MENTORMESH_FAULT=<point>` (or `<point>@<n>` to die the
n-th time the point is reached, so the process can first show through `/metrics` that
it consumed) and the process ends itself with `os._exit(FAULT_EXIT_CODE)` there: no
`finally`, no shutdown hook, no flush, as a kill would leave it. Unset, as in every
deployment, each point costs one dictionary lookup.

Points: `AFTER_COMMIT_BEFORE_PUBLISH` (the runtime, after a batch's transaction
committed and before its outputs are published or offsets committed), `MID_BATCH`
(the runtime, inside a batch's transaction after half its events were handled) and
`HOLDING_LEASE` (for code that holds leases, e.g. the notifier's timers). Other code
may name its own points: `fault_point("any-name")`.
"""

from __future__ import annotations

import os
import sys
from collections import Counter

FAULT_ENV = "MENTORMESH_FAULT"
FAULT_EXIT_CODE = 86

AFTER_COMMIT_BEFORE_PUBLISH = "after-commit-before-publish"
MID_BATCH = "mid-batch"
HOLDING_LEASE = "while-holding-lease"

_reached: Counter[str] = Counter()


def fault_point(name: str) -> None:
    """Die here if this process was started to die at `name` (see the module docstring)."""
    wanted = os.environ.get(FAULT_ENV)
    if not wanted:
        return
    point, _, nth = wanted.partition("@")
    if point != name:
        return
    _reached[name] += 1
    if _reached[name] >= int(nth or 1):
        sys.stderr.write(f"mentormesh: injected fault at {name} (pid {os.getpid()})\n")
        sys.stderr.flush()
        os._exit(FAULT_EXIT_CODE)
