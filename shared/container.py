"""What the container image runs: `mentormesh serve NAME` starts one service, exactly
as `python -m services.NAME` does; `mentormesh probe PATH` asks the service running
beside it (its ops endpoint on `MENTORMESH_HTTP_PORT`) and exits 0 on HTTP 200, which
is the image's HEALTHCHECK."""

from __future__ import annotations

import argparse
import runpy
import sys
import urllib.error
import urllib.request

from shared.deployment import SERVICES
from shared.settings import Settings


def cmd_serve(args: argparse.Namespace) -> int:
    runpy.run_module(f"services.{args.name}", run_name="__main__", alter_sys=True)
    return 0


def cmd_probe(args: argparse.Namespace) -> int:
    settings = Settings()
    if not settings.http_port:
        print("probe: MENTORMESH_HTTP_PORT is not set", file=sys.stderr)
        return 2
    url = f"http://127.0.0.1:{settings.http_port}{args.path}"
    try:
        with urllib.request.urlopen(url, timeout=args.timeout) as resp:
            return 0 if resp.status == 200 else 1
    except (urllib.error.URLError, OSError) as exc:
        print(f"probe: {url}: {exc}", file=sys.stderr)
        return 1


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    serve = sub.add_parser("serve", help="run one service in the foreground (the image's entry)")
    serve.add_argument("name", choices=SERVICES, help="the service this process runs")
    serve.set_defaults(func=cmd_serve)

    probe = sub.add_parser("probe", help="exit 0 if this host's service answers PATH with 200")
    probe.add_argument("path", nargs="?", default="/healthz", help="/healthz (default) or /readyz")
    probe.add_argument(
        "--timeout", type=float, default=3.0, help="seconds to wait for an answer (3)"
    )
    probe.set_defaults(func=cmd_probe)


def main(argv: list[str] | None = None) -> int:
    """`python -m shared.container probe|serve ...`: the same commands without the
    rest of the command line's imports, so a health check every few seconds is cheap."""
    parser = argparse.ArgumentParser(prog="python -m shared.container")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
