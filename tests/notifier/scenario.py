"""A programme's weeks for the multi-process test and the benchmark: mentorships
that meet steadily, that fade out, that never get going; feedback given or not;
people across time zones. Deterministic for a seed."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

from shared.events import CloudEvent
from tests.notifier import builders as b

ZONES = ["Europe/London", "Europe/Berlin", "America/New_York", "America/Los_Angeles",
         "Asia/Kolkata", "Asia/Tokyo", "Australia/Sydney", "UTC"]  # fmt: skip


def programme_weeks(
    mentorships: int, weeks: int, seed: int = 7, *, proposals: bool = False
) -> list[CloudEvent[Any]]:
    """With `proposals`, each mentorship begins as the matcher's would: a proposal with
    the same id, the mentor's accept, then the mentee's at the start instant, and now
    and then an accept repeated after the start."""
    rng = random.Random(seed)
    mentors = [f"mentor-{i}" for i in range(max(1, mentorships // 3))]
    events: list[CloudEvent[Any]] = []

    def add(event: CloudEvent[Any]) -> None:
        events.append(event.model_copy(update={"id": f"s{seed}-{len(events)}"}))

    horizon = b.T0 + timedelta(weeks=weeks)
    for person in mentors:
        add(b.profile(person, rng.choice(ZONES), at=b.T0 - timedelta(days=1)))
    for index in range(mentorships):
        mentee, mentorship = f"mentee-{index}", f"ms-{index}"
        mentor = mentors[index % len(mentors)]
        if rng.random() < 0.5:
            add(b.profile(mentee, rng.choice(ZONES), at=b.T0 - timedelta(days=1)))
        start = b.T0 + timedelta(hours=rng.randint(0, 24 * 14))
        if proposals:
            proposed = start - timedelta(hours=rng.randint(2, 60))
            add(b.proposed(proposed, match=mentorship, mentee=mentee, mentor=mentor))
            add(b.accepted(proposed + (start - proposed) / 2, mentor, match=mentorship))
            add(b.accepted(start, mentee, match=mentorship))
            if rng.random() < 0.3:
                again = start + timedelta(hours=rng.randint(1, 24 * 10))
                add(b.accepted(again, rng.choice([mentee, mentor]), match=mentorship))
        add(b.started(start, mentorship=mentorship, mentee=mentee, mentor=mentor))
        style = rng.choices(["steady", "fading", "silent"], [0.45, 0.3, 0.25])[0]
        meet = start
        for number in range({"steady": 99, "fading": rng.randint(1, 2), "silent": 0}[style]):
            meet += timedelta(days=rng.randint(6, 18), hours=rng.randint(-6, 6))
            if meet >= horizon:
                break
            session = f"{mentorship}-{number}"
            if rng.random() < 0.4:
                add(b.scheduled(meet - timedelta(days=2), meet, session, mentorship))
            add(b.completed(meet + timedelta(hours=1), session, mentorship))
            for person, chance in ((mentee, 0.6), (mentor, 0.4)):
                if rng.random() < chance:
                    when = meet + timedelta(hours=rng.randint(2, 40))
                    add(b.feedback(when, person, session, mentorship, note=b.NOTE))
            if rng.random() < 0.3:
                add(b.checked_in(meet + timedelta(days=1), mentee, mentorship))
        if style == "fading" and rng.random() < 0.4:
            add(b.ended(meet + timedelta(days=rng.randint(10, 30)), mentorship))
    return sorted((e for e in events if e.time < horizon), key=lambda e: e.time)
