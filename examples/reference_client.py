"""A reference client for a platform integrating with MentorMesh: copy and adapt.

It signs up a mentee and a mentor, waits for MentorMesh's proposal, shows its reasons,
accepts it on behalf of both people, waits for the mentorship to start, reports a
completed session on it, and prints any nudge addressed to the two people (delivering
a nudge, by e-mail, chat or in the app, is the platform's job).

It needs only `aiokafka` and the standard library:

    python examples/reference_client.py --bootstrap localhost:9092

What it shows, in the order a platform meets it:
- every event is a CloudEvents 1.0 document (structured mode) with a stable `id`,
  your platform's `source`, and `time` = when the thing happened;
- each event goes to its topic with the Kafka key its type names (docs/events.md);
- a producer waits for each acknowledgement, so events about one thing stay in order;
- the consumer has its own group, starts from the earliest offset, de-duplicates by
  event id, and commits only after handling a record;
- both the mentee and the mentor accept a proposal; activity uses the
  `mentorship_id` of `mentorship.started`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import uuid
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

SOURCE = "https://platform.example.org/mentoring"
CONTENT_TYPE = b"application/cloudevents+json; charset=utf-8"
KEYS = {  # the data field each type is keyed by (docs/events.md)
    "profile.upserted": "person_id",
    "match.accepted": "match_id",
    "session.completed": "mentorship_id",
}
TOPICS = {
    "profile.upserted": "profiles",
    "match.accepted": "responses",
    "session.completed": "activity",
}


def cloudevent(kind: str, data: dict[str, Any], event_id: str, at: datetime) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": event_id,  # stable: a retry sends the same id, and is applied once
        "source": SOURCE,
        "type": f"mentormesh.{kind}.v1",
        "time": at.isoformat().replace("+00:00", "Z"),  # when it happened
        "datacontenttype": "application/json",
        "data": data,
    }


class Platform:
    def __init__(self, bootstrap: str, prefix: str, run: str) -> None:
        self.bootstrap = bootstrap
        self.prefix = prefix
        self.run = run  # keeps ids of separate runs apart
        self.producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
        self.consumer = AIOKafkaConsumer(
            f"{prefix}.matches",
            f"{prefix}.nudges",
            bootstrap_servers=bootstrap,
            group_id=f"reference-platform-{run}",
            auto_offset_reset="earliest",
            enable_auto_commit=False,
        )
        self.seen: set[str] = set()

    async def publish(self, kind: str, data: dict[str, Any], event_id: str) -> None:
        event = cloudevent(kind, data, event_id, datetime.now(UTC))
        await self.producer.send_and_wait(
            f"{self.prefix}.{TOPICS[kind]}",
            json.dumps(event).encode(),
            key=str(data[KEYS[kind]]).encode(),
            headers=[("content-type", CONTENT_TYPE)],
        )

    async def sign_up(self, person_id: str, role: str) -> None:
        profile = {
            "person_id": person_id,
            "roles": [role],
            "programmes": ["default"],
            "goals": ["system design"] if role == "mentee" else [],
            "passions": ["climbing"],
            "skills": ["System Design"] if role == "mentor" else [],
            "languages": ["en-GB"] if role == "mentee" else ["en"],
            "timezone": "Europe/London",
            "capacity": 2 if role == "mentor" else 0,
            "open_to_introductions": True,
            "paused": False,
            "revision": 1,
        }
        await self.publish("profile.upserted", profile, f"{person_id}-rev-1")

    async def events(self) -> Any:
        """Each answer once, committed after it was handled."""
        while True:
            batch = await self.consumer.getmany(timeout_ms=500)
            for records in batch.values():
                for record in records:
                    try:
                        event = json.loads(record.value)
                    except ValueError:
                        continue  # not ours to fix: MentorMesh only publishes valid events
                    if event["id"] in self.seen:
                        continue  # delivery is at least once
                    self.seen.add(event["id"])
                    yield event
            if batch:
                await self.consumer.commit()


async def scenario(bootstrap: str, prefix: str, timeout: float) -> int:
    run = uuid.uuid4().hex[:8]
    mentee, mentor = f"mentee-{run}", f"mentor-{run}"
    platform = Platform(bootstrap, prefix, run)
    await platform.producer.start()
    await platform.consumer.start()
    try:
        await platform.sign_up(mentor, "mentor")
        await platform.sign_up(mentee, "mentee")
        print(f"signed up {mentee} and {mentor}", flush=True)
        async with asyncio.timeout(timeout):
            async for event in platform.events():
                data = event["data"]
                if event["type"] == "mentormesh.match.proposed.v1" and data["mentee_id"] == mentee:
                    print(f"proposal {data['match_id']} (score {data['score']:.2f}):", flush=True)
                    for reason in data["reasons"]:
                        print(f"  - {reason}", flush=True)
                    for person in (mentee, data["mentor_id"]):  # both people answer
                        answer = {"match_id": data["match_id"], "person_id": person}
                        await platform.publish(
                            "match.accepted", answer, f"{data['match_id']}-accepted-by-{person}"
                        )
                elif event["type"] == "mentormesh.mentorship.started.v1" and (
                    data["mentee_id"] == mentee
                ):
                    mentorship = data["mentorship_id"]
                    print(f"mentorship started: {mentorship}", flush=True)
                    session = {
                        "mentorship_id": mentorship,  # not the match id
                        "session_id": f"{mentorship}-session-1",
                        "occurred_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
                        "duration_minutes": 45,
                    }
                    await platform.publish(
                        "session.completed", session, f"{mentorship}-session-1-completed"
                    )
                    print("session reported", flush=True)
                    return 0
                elif event["type"] == "mentormesh.nudge.emitted.v1" and (
                    data["person_id"] in (mentee, mentor)
                ):
                    print(f"deliver to {data['person_id']}: {data['message']}", flush=True)
    except TimeoutError:
        print(f"no mentorship after {timeout:g} s", file=sys.stderr)
        return 1
    finally:
        await platform.consumer.stop()
        await platform.producer.stop()
    return 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bootstrap", default="localhost:9092", help="Kafka bootstrap servers")
    parser.add_argument("--prefix", default="mentormesh", help="MentorMesh's topic prefix")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds to wait in all")
    args = parser.parse_args()
    return asyncio.run(scenario(args.bootstrap, args.prefix, args.timeout))


if __name__ == "__main__":
    raise SystemExit(main())
