"""`mentormesh`: the command line of the project.

infra up|down|status   the embedded Kafka broker and MongoDB server
up                     infra and the three services, in the foreground
demo                   the main job behind `make run`
docs [--check]         AsyncAPI documents and JSON Schemas into docs/
events validate|publish|tail, dlq list|replay   what the services see (see docs/)
serve NAME / probe     one service in the foreground / ask its ops endpoint (the image's)
match ... / introductions ... / nudges ...   each service's offline tools
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import json
import signal
import sys
from importlib.metadata import version
from pathlib import Path
from typing import Any

from shared import container
from shared.local_stack import BrokerStorage, LocalStack, StackError
from shared.settings import Settings, redacted_uri

SERVICE_COMMANDS = ("services.matcher.cli", "services.network.cli", "services.notifier.cli")
CONTRACT_COMMANDS = "shared.contract_cli"


def _stack(settings: Settings, storage: BrokerStorage) -> LocalStack:
    return LocalStack(settings.state_dir, settings.kafka_port, settings.mongo_port, storage)


def cmd_infra(args: argparse.Namespace) -> int:
    settings = Settings()
    stack = _stack(settings, BrokerStorage(args.broker))
    if args.action == "up":
        try:
            state = asyncio.run(stack.up())
        except StackError as exc:
            print(f"infra up failed: {exc}", file=sys.stderr)
            return 1
        print(f"kafka bootstrap: {state.kafka_bootstrap}  (pid {state.kafka_pid}, "
              f"{state.broker_storage} storage)")  # fmt: skip
        print(f"mongo uri:       {state.mongo_uri}  (pid {state.mongo_pid})")
        if state.object_store_pid is not None:
            print(f"object store:    {state.object_store_url}  (pid {state.object_store_pid})")
        print(f"recorded in {stack.state_file}")
        return 0
    if args.action == "down":
        print("stopped" if stack.down() else "nothing was running")
        return 0
    status = asyncio.run(stack.status())
    print(json.dumps(status, indent=2))
    return 0 if status.get("running") else 3


def _fresh_start(stack: LocalStack) -> str:
    stack.down()
    removed = stack.forget()
    if not removed:
        return f"fresh start: nothing to delete in {stack.state_dir}"
    what = " and ".join(f"the {kind}'s storage" for kind in removed)
    return (
        f"fresh start: deleted {what} in {stack.state_dir} ({sum(removed.values()) / 1e6:.1f} MB)"
    )


BROKER_STORAGE_SAYS = {
    BrokerStorage.DURABLE: "durable (topics, messages and committed offsets kept in {dir})",
    BrokerStorage.MEMORY: "in memory (topics, messages and committed offsets are lost when "
    "the broker stops)",
}


def cmd_up(args: argparse.Namespace) -> int:
    from shared.deployment import Deployment
    from shared.remembered import remembered

    storage = BrokerStorage(args.broker)
    deployment = Deployment(Settings(), storage)
    if args.fresh and not deployment.embedded:
        print("--fresh starts the embedded stack clean; with MENTORMESH_KAFKA_BOOTSTRAP and "
              "MENTORMESH_MONGO_URI set there is no embedded stack", file=sys.stderr)  # fmt: skip
        return 2

    async def serve() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        if args.fresh:
            print(_fresh_start(deployment.local_stack()), flush=True)
        await deployment.start_stack()
        if deployment.stack is not None:
            where = deployment.stack.kept["broker"]
            print("broker storage:  " + BROKER_STORAGE_SAYS[storage].format(dir=where))
        hint = (
            "Start clean with `mentormesh up --fresh` (deletes the database and broker "
            f"storage in {deployment.settings.state_dir})."
        )
        for line in (await remembered(deployment.settings)).describe(hint):
            print(line, flush=True)
        await deployment.start_services()
        print(f"kafka bootstrap: {deployment.settings.resolved_kafka()}")
        print(f"mongo uri:       {redacted_uri(deployment.settings.resolved_mongo())}")
        print(f"topics:          {deployment.settings.topic_prefix}.* (see docs/)")
        for name, svc in deployment.services.items():
            print(f"{name:9s}        {svc.base_url}  (/healthz /readyz /metrics)  "
                  f"pid {svc.process.pid}  log {svc.log}")  # fmt: skip
        if deployment.state is not None:
            print(f"infra pids:      {' '.join(map(str, deployment.state.pids().values()))}  "
                  f"logs in {deployment.logs}")  # fmt: skip
        print("running; Ctrl-C or SIGTERM stops everything", flush=True)
        while not stop.is_set():
            for name, svc in deployment.services.items():
                if svc.process.poll() is not None:
                    print(f"{name} exited with {svc.process.returncode}; see {svc.log}",
                          file=sys.stderr)  # fmt: skip
                    stop.set()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 1.0)

    try:
        asyncio.run(serve())
    finally:
        killed = deployment.stop()
        if killed:
            print(f"killed {', '.join(killed)} after the grace period")
        print("stopped")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from shared.demo import run_demo

    settings = Settings(state_dir=Path(args.state_dir))
    try:
        return asyncio.run(
            run_demo(settings, mentees=args.mentees, mentors=args.mentors, weeks=args.weeks,
                     out=Path(args.out), mentor_capacity=args.mentor_capacity)
        )  # fmt: skip
    except KeyboardInterrupt:
        return 130
    except RuntimeError as exc:  # the stack or a service did not start
        print(f"demo failed: {exc}", file=sys.stderr)
        return 1


def cmd_docs(args: argparse.Namespace) -> int:
    from shared.contract_docs import check_docs, write_docs

    if args.check:
        stale = check_docs(Path(args.dir))
        for path in stale:
            print(f"out of date: {path}", file=sys.stderr)
        return 1 if stale else 0
    for path in write_docs(Path(args.dir)):
        print(path)
    return 0


BROKER_OPTION: dict[str, Any] = {
    "choices": [s.value for s in BrokerStorage],
    "default": BrokerStorage.DURABLE.value,
    "help": "where the embedded broker keeps its log: durable (on disk, kept across "
    "restarts; the default) or memory (faster, lost when it stops)",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mentormesh",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {version('mentormesh')}")
    sub = parser.add_subparsers(dest="command", required=True)

    infra = sub.add_parser("infra", help="the embedded Kafka broker and MongoDB server")
    infra.add_argument(
        "action", choices=["up", "down", "status"], help="start, stop, or show what runs"
    )
    infra.add_argument("--broker", **BROKER_OPTION)
    infra.set_defaults(func=cmd_infra)

    up = sub.add_parser("up", help="infra and the three services in the foreground")
    up.add_argument("--broker", **BROKER_OPTION)
    up.add_argument(
        "--fresh",
        action="store_true",
        help="delete the database and broker storage of earlier runs before starting",
    )
    up.set_defaults(func=cmd_up)

    demo = sub.add_parser("demo", help="the whole system fed with a sample platform")
    demo.add_argument("--mentees", type=int, default=220, help="mentees to sign up (220)")
    demo.add_argument("--mentors", type=int, default=90, help="mentors to sign up (90)")
    demo.add_argument("--weeks", type=int, default=10, help="simulated weeks of mentoring (10)")
    demo.add_argument("--out", default="out", help="where the network picture goes")
    demo.add_argument(
        "--state-dir",
        default=".mentormesh/demo",
        help="the demo's own stack: each run deletes what the previous one left there",
    )
    demo.add_argument(
        "--mentor-capacity",
        type=int,
        default=None,
        help="give every mentor this many seats (default: 1 to 3 each, as drawn)",
    )
    demo.set_defaults(func=cmd_demo)

    docs = sub.add_parser("docs", help="write (or --check) the AsyncAPI and JSON Schema docs")
    docs.add_argument("--dir", default="docs", help="where the documents go (docs)")
    docs.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 if a document is stale"
    )
    docs.set_defaults(func=cmd_docs)

    importlib.import_module(CONTRACT_COMMANDS).register(sub)
    container.register(sub)

    for module_name in SERVICE_COMMANDS:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name and module_name.startswith(exc.name):
                continue  # that service has no offline tools
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
