"""`mentormesh`: the command line of the project.

infra up|down|status   the embedded Kafka broker and MongoDB server
up                     infra and the three services, in the foreground
demo                   the main job behind `make run`
docs [--check]         AsyncAPI documents and JSON Schemas into docs/
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
from pathlib import Path

from shared.local_stack import LocalStack, StackError
from shared.settings import Settings

SERVICE_COMMANDS = ("services.matcher.cli", "services.network.cli", "services.notifier.cli")


def _stack(settings: Settings) -> LocalStack:
    return LocalStack(settings.state_dir, settings.kafka_port, settings.mongo_port)


def cmd_infra(args: argparse.Namespace) -> int:
    settings = Settings()
    stack = _stack(settings)
    if args.action == "up":
        try:
            state = asyncio.run(stack.up())
        except StackError as exc:
            print(f"infra up failed: {exc}", file=sys.stderr)
            return 1
        print(f"kafka bootstrap: {state.kafka_bootstrap}  (pid {state.kafka_pid})")
        print(f"mongo uri:       {state.mongo_uri}  (pid {state.mongo_pid})")
        print(f"recorded in {stack.state_file}")
        return 0
    if args.action == "down":
        print("stopped" if stack.down() else "nothing was running")
        return 0
    status = asyncio.run(stack.status())
    print(json.dumps(status, indent=2))
    return 0 if status.get("running") else 3


def cmd_up(args: argparse.Namespace) -> int:
    from shared.deployment import Deployment

    deployment = Deployment(Settings())

    async def serve() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await deployment.start()
        print(f"kafka bootstrap: {deployment.settings.resolved_kafka()}")
        print(f"mongo uri:       {deployment.settings.resolved_mongo()}")
        print(f"topics:          {deployment.settings.topic_prefix}.* (see docs/)")
        for name, svc in deployment.services.items():
            pid = svc.process.pid
            print(f"{name:9s}        {svc.base_url}  (/healthz /readyz /metrics, pid {pid})")
        print("running; Ctrl-C or SIGTERM stops everything", flush=True)
        while not stop.is_set():
            for name, svc in deployment.services.items():
                if svc.process.poll() is not None:
                    print(f"{name} exited with {svc.process.returncode}", file=sys.stderr)
                    stop.set()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 1.0)

    try:
        asyncio.run(serve())
    finally:
        deployment.stop()
        print("stopped")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from shared.demo import run_demo

    settings = Settings(state_dir=Path(args.state_dir))
    return asyncio.run(
        run_demo(settings, mentees=args.mentees, mentors=args.mentors, weeks=args.weeks,
                 out=Path(args.out))
    )  # fmt: skip


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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mentormesh",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)

    infra = sub.add_parser("infra", help="the embedded Kafka broker and MongoDB server")
    infra.add_argument("action", choices=["up", "down", "status"])
    infra.set_defaults(func=cmd_infra)

    up = sub.add_parser("up", help="infra and the three services in the foreground")
    up.set_defaults(func=cmd_up)

    demo = sub.add_parser("demo", help="the whole system fed with a sample platform")
    demo.add_argument("--mentees", type=int, default=220)
    demo.add_argument("--mentors", type=int, default=90)
    demo.add_argument("--weeks", type=int, default=10)
    demo.add_argument("--out", default="out", help="where the network picture goes")
    demo.add_argument("--state-dir", default=".mentormesh/demo")
    demo.set_defaults(func=cmd_demo)

    docs = sub.add_parser("docs", help="write (or --check) the AsyncAPI and JSON Schema docs")
    docs.add_argument("--dir", default="docs")
    docs.add_argument("--check", action="store_true")
    docs.set_defaults(func=cmd_docs)

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
