"""`mentormesh events ...` and `mentormesh dlq ...`: look at what the services see.

events validate FILE.jsonl   each line that would be rejected, and why
events publish FILE.jsonl    each event to its topic, keyed by its type's key field
events tail TOPIC            one line per event as it arrives
dlq list                     dead letters with their reasons
dlq replay --topic T         the original messages, back to their topic
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, get_args

from shared.dead_letter import DeadLetter
from shared.events import (
    CloudEvent,
    Decoded,
    InvalidEvent,
    TopicKey,
    load_json,
    read_document,
)
from shared.kafka_binding import decode_record, structured_headers
from shared.settings import Settings
from shared.topic_log import Outgoing, follow, publish, read_to_end
from shared.topics import Topics, dead_letter_topic

TOPIC_KEYS: tuple[TopicKey, ...] = get_args(TopicKey)


@dataclass(frozen=True)
class Line:
    number: int
    text: bytes
    decoded: Decoded | None
    problem: InvalidEvent | None


def read_lines(path: Path) -> Iterator[Line]:
    """Each non-blank line of a JSONL file of CloudEvents (structured mode), read
    the way the services read a record body."""
    with path.open("rb") as fh:
        for number, raw in enumerate(fh, start=1):
            text = raw.strip()
            if not text:
                continue
            try:
                decoded = read_document(load_json(text))
            except InvalidEvent as exc:
                yield Line(number, text, None, exc)
                continue
            yield Line(number, text, decoded, None)


def _topic_key(text: str) -> TopicKey:
    """`profiles` or `mentormesh.profiles` (any prefix): the topic's short name."""
    short = text.rsplit(".", 1)[-1] if text not in TOPIC_KEYS else text
    if short not in TOPIC_KEYS:
        raise argparse.ArgumentTypeError(f"not a topic: {text!r} (one of {', '.join(TOPIC_KEYS)})")
    return short


def _instant(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an RFC 3339 time: {text!r}") from None
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"give a time zone (Z or +hh:mm): {text!r}")
    return moment


# --- events -------------------------------------------------------------------------


def cmd_validate(args: argparse.Namespace) -> int:
    invalid = valid = 0
    try:
        for line in read_lines(Path(args.file)):
            if line.problem is not None:
                invalid += 1
                print(f"line {line.number}: {line.problem.reason}: {line.problem.detail}")
                continue
            assert line.decoded is not None
            valid += 1
            if line.decoded.ignored_fields:
                print(
                    f"line {line.number}: note: data fields this version does not know "
                    f"(ignored): {', '.join(f[:60] for f in line.decoded.ignored_fields)}"
                )
    except OSError as exc:
        print(f"events validate: {exc}", file=sys.stderr)
        return 2
    print(f"{valid} valid, {invalid} invalid", file=sys.stderr)
    return 1 if invalid else 0


def cmd_publish(args: argparse.Namespace) -> int:
    settings = Settings()
    topics = Topics(settings.topic_prefix)
    try:
        lines = list(read_lines(Path(args.file)))
    except OSError as exc:
        print(f"events publish: {exc}", file=sys.stderr)
        return 2
    bad = [line for line in lines if line.problem is not None]
    for line in bad:
        assert line.problem is not None
        print(f"line {line.number}: {line.problem.reason}: {line.problem.detail}", file=sys.stderr)
    if bad:
        print(f"events publish: nothing sent, {len(bad)} invalid line(s)", file=sys.stderr)
        return 1
    outgoing = []
    for line in lines:
        assert line.decoded is not None
        event = line.decoded.event
        topic = getattr(topics, event.data.TOPIC)
        outgoing.append(Outgoing(topic, event.key, line.text, structured_headers()))
    asyncio.run(publish(settings, outgoing))
    for topic, count in sorted(Counter(o.topic for o in outgoing).items()):
        print(f"{topic}: {count} event(s)")
    return 0


def event_line(event: CloudEvent[Any]) -> str:
    """One line for an event: time, type, key, id, data."""
    data = json.dumps(event.data.model_dump(mode="json", exclude_none=True), ensure_ascii=False)
    return (
        f"{event.time.isoformat().replace('+00:00', 'Z')}  {event.type.removeprefix('mentormesh.')}"
        f"  key={event.key.decode(errors='replace')}  id={event.id}  {data}"
    )


async def _tail(args: argparse.Namespace) -> int:
    settings = Settings()
    topic = getattr(Topics(settings.topic_prefix), args.topic)
    shown = 0
    async for record in follow(
        settings, topic, from_beginning=args.from_beginning, idle_timeout=args.idle_timeout
    ):
        try:
            decoded = decode_record(record.value, record.headers or (), args.topic, key=record.key)
        except InvalidEvent as exc:
            if args.type:
                continue
            line = f"[{record.partition}@{record.offset}] rejected {exc.reason}: {exc.detail}"
        else:
            if args.type and decoded.event.type.removeprefix("mentormesh.") != args.type:
                continue
            line = event_line(decoded.event)
        print(line, flush=True)
        shown += 1
        if args.max is not None and shown >= args.max:
            break
    return 0


def cmd_tail(args: argparse.Namespace) -> int:
    if args.type:
        args.type = args.type.removeprefix("mentormesh.")
    try:
        return asyncio.run(_tail(args))
    except KeyboardInterrupt:
        return 0


# --- dlq ------------------------------------------------------------------------------


async def dead_letters(settings: Settings, topic_keys: tuple[TopicKey, ...]) -> list[DeadLetter]:
    topics = Topics(settings.topic_prefix)
    letters = []
    for key in topic_keys:
        for record in await read_to_end(settings, dead_letter_topic(getattr(topics, key))):
            letters.append(
                DeadLetter.from_record(
                    record.partition,
                    record.offset,
                    record.timestamp,
                    record.key,
                    record.value,
                    record.headers or (),
                )
            )
    return letters


def _selected(letters: list[DeadLetter], args: argparse.Namespace) -> list[DeadLetter]:
    since: datetime | None = getattr(args, "since", None)
    return [
        letter
        for letter in letters
        if (args.reason is None or letter.reason == args.reason)
        and (since is None or letter.dead_lettered_at >= since)
    ]


def _letter_line(letter: DeadLetter) -> dict[str, Any]:
    return {
        "dlq_partition": letter.dlq_partition,
        "dlq_offset": letter.dlq_offset,
        "at": letter.dead_lettered_at.isoformat().replace("+00:00", "Z"),
        "reason": letter.reason,
        "detail": letter.detail,
        "service": letter.service,
        "source": f"{letter.source_topic}[{letter.source_partition}]@{letter.source_offset}",
        "key": None if letter.key is None else letter.key.decode(errors="replace"),
        "bytes": len(letter.value),
    }


def cmd_dlq_list(args: argparse.Namespace) -> int:
    settings = Settings()
    keys = (args.topic,) if args.topic else TOPIC_KEYS
    letters = _selected(asyncio.run(dead_letters(settings, keys)), args)
    for letter in letters:
        line = _letter_line(letter)
        if args.json:
            print(json.dumps(line, ensure_ascii=False))
        else:
            print(
                f"{line['source']}  dlq[{line['dlq_partition']}]@{line['dlq_offset']}  "
                f"{line['at']}  {line['service']}  {line['reason']}: {line['detail']}"
            )
    print(f"{len(letters)} dead letter(s)", file=sys.stderr)
    return 0


def replay_plan(letters: list[DeadLetter], fallback_topic: str) -> list[Outgoing]:
    """One record per original message (several services may have dead-lettered the
    same one), with its original key, headers and bytes, in source order."""
    firsts: dict[tuple[str, int, int], DeadLetter] = {}
    for letter in letters:
        firsts.setdefault(letter.origin, letter)
    ordered = sorted(firsts.values(), key=lambda d: (d.source_partition, d.source_offset))
    return [
        Outgoing(
            letter.source_topic or fallback_topic,
            letter.key,
            letter.value,
            letter.original_headers,
        )
        for letter in ordered
    ]


def cmd_dlq_replay(args: argparse.Namespace) -> int:
    settings = Settings()
    letters = _selected(asyncio.run(dead_letters(settings, (args.topic,))), args)
    plan = replay_plan(letters, getattr(Topics(settings.topic_prefix), args.topic))
    if not args.dry_run:
        asyncio.run(publish(settings, plan))
    verb = "would replay" if args.dry_run else "replayed"
    print(f"{verb} {len(plan)} message(s) from {len(letters)} dead letter(s)")
    return 0


# --- the parser -------------------------------------------------------------------------


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    topic_help = f"a topic: {', '.join(TOPIC_KEYS)} (the configured prefix is added)"
    events = subparsers.add_parser("events", help="validate, publish and tail CloudEvents")
    commands = events.add_subparsers(dest="events_command", required=True)

    validate = commands.add_parser(
        "validate",
        help="check a file of events the way the services would",
        description="Reads one CloudEvent (structured JSON) per line and prints each line "
        "that would be dead-lettered, with the reason; exits 1 if any.",
    )
    validate.add_argument("file", help="a JSONL file: one CloudEvent per line")
    validate.set_defaults(func=cmd_validate)

    publish_cmd = commands.add_parser(
        "publish",
        help="send a file of events to the configured Kafka",
        description="Validates every line first and sends nothing if one is invalid; then "
        "sends each event to its type's topic, keyed by its type's key field "
        "(MENTORMESH_KAFKA_BOOTSTRAP, MENTORMESH_TOPIC_PREFIX).",
    )
    publish_cmd.add_argument("file", help="a JSONL file: one CloudEvent per line")
    publish_cmd.set_defaults(func=cmd_publish)

    tail = commands.add_parser(
        "tail",
        help="print a topic's events, one per line",
        description="Reads a topic without a consumer group (the services' offsets are "
        "not touched) and prints time, type, key, id and data of each event; a record "
        "that would be rejected is printed with its reason. Ctrl-C stops.",
    )
    tail.add_argument("topic", type=_topic_key, help=topic_help)
    tail.add_argument(
        "--type", help="only events of this type (e.g. match.proposed.v1, prefix optional)"
    )
    tail.add_argument(
        "--from-beginning",
        action="store_true",
        help="start with the oldest record the topic holds (default: only new ones)",
    )
    tail.add_argument("--max", type=int, help="stop after printing this many events")
    tail.add_argument(
        "--idle-timeout",
        type=float,
        help="stop after this many seconds without a new record (default: never)",
    )
    tail.set_defaults(func=cmd_tail)

    dlq = subparsers.add_parser("dlq", help="list and replay dead-lettered messages")
    dlq_commands = dlq.add_subparsers(dest="dlq_command", required=True)
    listing = dlq_commands.add_parser(
        "list",
        help="the dead letters, with where they came from and why",
        description="Prints each record of the dead-letter topics: the source topic, "
        "partition and offset, its own partition and offset, when, which service "
        "rejected it, the reason and the detail.",
    )
    listing.add_argument("--topic", type=_topic_key, help=f"only the dead letters of {topic_help}")
    listing.add_argument("--reason", help="only this reason (e.g. invalid-data)")
    listing.add_argument("--since", type=_instant, help="only those dead-lettered since (RFC 3339)")
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    listing.set_defaults(func=cmd_dlq_list)

    replay = dlq_commands.add_parser(
        "replay",
        help="republish dead-lettered messages to their source topic",
        description="Republishes the original bytes, key and headers of each dead-lettered "
        "message to the topic it came from, once per original message even if several "
        "services dead-lettered it. Event ids are unchanged, so an event is applied once "
        "however often it is replayed.",
    )
    replay.add_argument(
        "--topic", required=True, type=_topic_key, help=f"replay the dead letters of {topic_help}"
    )
    replay.add_argument("--reason", help="only dead letters with this reason")
    replay.add_argument(
        "--since", type=_instant, help="only those dead-lettered since this time (RFC 3339)"
    )
    replay.add_argument(
        "--dry-run", action="store_true", help="count what would be replayed, send nothing"
    )
    replay.set_defaults(func=cmd_dlq_replay)
