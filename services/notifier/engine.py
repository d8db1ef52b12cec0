"""The rule engine, shared by the service and the simulator: which timers the facts
call for, whether a timer still has a reason at an instant, and what happens to a
person's timers that fall due at the same instant (quiet hours, the weekly limit,
merging).

Everything is decided in event time and "as of" the instant in question, from facts
no later than it. So an event only ever changes timers due at or after its own time,
and the same history gives the same nudges whatever order its topics arrive in.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict

from shared.events import NudgeEmitted, derived_id

from .facts import Instant, MentorshipFacts, PersonFacts, ProposalFacts, instant
from .quiet_hours import QuietHours
from .rate_limit import RateLimit
from .rules import Audience, Rule, RuleBook, Trigger

TimerState = Literal["pending", "sent", "merged", "dropped"]
DIGEST = "digest"

BookFor = Callable[[str | None], RuleBook]


class Timer(BaseModel):
    """One possible nudge: rule `rule_id` about `subject` (a typed key, `facts.subject_key`)
    for `recipient`, due at `due`.

    `at` is when it is next looked at: `due` at first, later the end of quiet hours or
    the next free slot of the weekly limit. Its id is derived from what it is about,
    never from when it was created, so every process and the simulator agree on it.
    """

    model_config = ConfigDict(frozen=True)

    id: str
    rule_id: str
    trigger: Trigger
    subject: str
    recipient: str
    audience: Audience
    programme_id: str | None = None
    mentorship_id: str | None = None
    session_id: str | None = None
    window: int = 0
    since: Instant
    due: Instant
    at: Instant
    state: TimerState = "pending"
    nudge_id: str | None = None
    # Everyone the timer is about, so erasing any of them removes it.
    people: tuple[str, ...] = ()

    @property
    def escalation(self) -> bool:
        return self.audience == "admins"


@lru_cache(maxsize=65536)
def timer_id(rule_id: str, subject: str, anchor: str, recipient: str) -> str:
    return derived_id("notifier-timer", rule_id, subject, anchor, recipient)


def nudge_id(timer_ids: Iterable[str]) -> str:
    return derived_id("notifier-nudge", *sorted(timer_ids))


def _recipients(rule: Rule, mentee: str, mentor: str, book: RuleBook) -> list[tuple[str, Audience]]:
    found: list[tuple[str, Audience]] = []
    for audience in rule.recipients:
        if audience == "mentee":
            found.append((mentee, audience))
        elif audience == "mentor":
            found.append((mentor, audience))
        else:
            found.extend((admin, audience) for admin in book.admins)
    return found


# --- engagement: when did the pair last meet or have a meeting planned? -----------


def last_engaged(facts: MentorshipFacts, at: datetime) -> datetime | None:
    """The latest moment up to `at` the pair was engaged (`at` itself while a planned
    session is still ahead); None before the mentorship started."""
    if facts.started_at is None or facts.started_at > at:
        return None
    latest = facts.started_at
    for start, end in facts.engagement:
        if start > at:
            break
        latest = max(latest, min(end, at))
    return latest


def _silence_starts(facts: MentorshipFacts) -> list[datetime]:
    """Every moment from which a silence could be counted: the start and each end of
    engagement. Only the ones that really begin a silence survive `holds`."""
    assert facts.started_at is not None
    ends = {end for _, end in facts.engagement if end >= facts.started_at}
    return sorted({facts.started_at, *ends})


def _first_completions(facts: MentorshipFacts) -> dict[str, datetime]:
    first: dict[str, datetime] = {}
    for mark in facts.completions:
        if mark.session_id not in first or mark.at < first[mark.session_id]:
            first[mark.session_id] = mark.at
    return first


# --- candidate timers ------------------------------------------------------------


def mentorship_timers(facts: MentorshipFacts, book: RuleBook) -> list[Timer]:
    """Every timer the facts of a mentorship may call for (the ones whose reason is
    already gone are filtered by the caller with `possible`)."""
    if facts.purged or facts.started_at is None:
        return []
    assert facts.mentee_id is not None and facts.mentor_id is not None
    started = facts.started_at
    people = facts.people
    found: list[Timer] = []

    def add(rule: Rule, anchor: str, since: datetime, due: datetime, **extra: Any) -> None:
        due = instant(due)
        for recipient, audience in _recipients(rule, people[0], people[1], book):
            # Built without validation: candidates are many, and every value here is
            # already of the right type (instants come from facts or `instant`).
            found.append(
                Timer.model_construct(
                    id=timer_id(rule.id, facts.key, anchor, recipient),
                    rule_id=rule.id,
                    trigger=rule.trigger,
                    subject=facts.key,
                    recipient=recipient,
                    audience=audience,
                    programme_id=facts.programme_id,
                    mentorship_id=facts.id,
                    session_id=extra.get("session_id"),
                    window=extra.get("window", 0),
                    since=since,
                    due=due,
                    # A timer is never looked at before the facts it rests on exist.
                    at=max(due, started),
                    state="pending",
                    nudge_id=None,
                    people=tuple(dict.fromkeys((*people, recipient))),
                )
            )

    silence_rules = book.active("no_session")
    if silence_rules:
        starts = [start for start, _ in facts.engagement]
        for since in _silence_starts(facts):
            # A rung due after the next engagement began can never hold: skip it here
            # rather than build it for `possible` to throw away.
            following = bisect.bisect_right(starts, since)
            cut = starts[following] if following < len(starts) else None
            for rule in silence_rules:
                if cut is None or since + rule.after < cut:
                    add(rule, since.isoformat(), since, since + rule.after)
    for session_id, completed in sorted(_first_completions(facts).items()):
        for rule in book.active("feedback_missing"):
            add(rule, session_id, completed, completed + rule.after, session_id=session_id)
    for rule in book.active("goal_check_in"):
        add(rule, "window-1", started, started + rule.after, window=1)
    return found


def next_goal_window(
    timer: Timer, facts: MentorshipFacts, rule: Rule, now: datetime
) -> Timer | None:
    """Goal check-ins repeat every period for as long as the mentorship lasts: each
    window's timer, once looked at, brings the next one into being."""
    window = timer.window + 1
    due = instant(timer.due + rule.after)
    if facts.ended_at is not None and facts.ended_at <= due:
        return None
    return timer.model_copy(
        update={
            "id": timer_id(rule.id, timer.subject, f"window-{window}", timer.recipient),
            "window": window,
            "since": timer.due,
            "due": due,
            "at": max(due, instant(now)),
            "state": "pending",
            "nudge_id": None,
        }
    )


def proposal_timers(facts: ProposalFacts, book: RuleBook) -> list[Timer]:
    if facts.purged or facts.proposed_at is None:
        return []
    assert facts.mentee_id is not None and facts.mentor_id is not None
    found = []
    for rule in book.active("proposal_unanswered"):
        due = facts.proposed_at + rule.after
        for recipient, audience in _recipients(rule, facts.mentee_id, facts.mentor_id, book):
            found.append(
                Timer(
                    id=timer_id(rule.id, facts.key, "", recipient),
                    rule_id=rule.id,
                    trigger=rule.trigger,
                    subject=facts.key,
                    recipient=recipient,
                    audience=audience,
                    programme_id=facts.programme_id,
                    since=facts.proposed_at,
                    due=due,
                    at=due,
                    people=tuple(dict.fromkeys((*facts.people, recipient))),
                )
            )
    return found


# --- does a timer still have its reason at an instant? ----------------------------

Subject = MentorshipFacts | ProposalFacts


def holds(timer: Timer, subject: Subject | None, at: datetime) -> bool:
    """Whether the reason for `timer` is still true at `at`, judged from the facts
    known at `at` only."""
    if subject is None or subject.purged:
        return False
    if isinstance(subject, ProposalFacts):
        if not subject.open_at(at):
            return False
        owing = [timer.recipient] if timer.audience != "admins" else list(subject.people)
        return any(not subject.answered_by(person, at) for person in owing)
    if not subject.active_at(at):
        return False
    if timer.trigger == "no_session":
        return last_engaged(subject, at) == timer.since
    if timer.trigger == "feedback_missing":
        owing = [timer.recipient] if timer.audience != "admins" else list(subject.people)
        return any(
            not any(
                f.session_id == timer.session_id and f.person_id == person and f.at <= at
                for f in subject.feedback
            )
            for person in owing
        )
    if timer.trigger == "goal_check_in":
        return not any(timer.since <= c <= at for c in subject.checkins)
    return False


def possible(timer: Timer, subject: Subject | None) -> bool:
    """Whether a pending timer can still lead anywhere; the ones that cannot are
    removed as soon as the facts say so. A goal window's timer stays until it is looked
    at even after a check-in, because looking at it schedules the next window."""
    if timer.trigger == "goal_check_in":
        return isinstance(subject, MentorshipFacts) and subject.active_at(timer.due)
    return holds(timer, subject, timer.due)


@dataclass(frozen=True)
class TimerPlan:
    add: list[Timer]
    replace: list[Timer]
    remove: list[str]


def _definition(timer: Timer) -> Timer:
    """What a timer is about and when it is due, as opposed to how far it has got."""
    return timer.model_copy(update={"at": timer.due, "state": "pending", "nudge_id": None})


def plan_timers(
    candidates: Sequence[Timer], existing: Mapping[str, Timer], subject: Subject | None
) -> TimerPlan:
    """How the stored timers of one subject must change for the facts as they stand.

    A pending timer whose definition changed (an earlier duplicate of the event it rests
    on arrived late, e.g. a second `session.completed`) is replaced: it cannot have been
    looked at yet, since the late event is older than it. Timers already looked at
    (sent, merged, dropped) are never touched again."""
    add, replace = [], []
    for candidate in candidates:
        stored = existing.get(candidate.id)
        if stored is not None and stored.state != "pending":
            continue
        if not possible(candidate, subject):
            continue
        if stored is None:
            add.append(candidate)
        elif _definition(stored) != _definition(candidate):
            replace.append(candidate)
    kept = {c.id for c in replace}
    remove = [
        t.id
        for t in existing.values()
        if t.state == "pending" and t.id not in kept and not possible(t, subject)
    ]
    return TimerPlan(add=add, replace=replace, remove=sorted(remove))


# --- settling one person's timers due at one instant ------------------------------


@dataclass(frozen=True)
class Nudge:
    """A nudge decided by the engine: what is published, when, and on which timers."""

    data: NudgeEmitted
    at: datetime
    timer_ids: tuple[str, ...]
    rule_ids: tuple[str, ...]
    people: tuple[str, ...]


@dataclass
class Settlement:
    nudges: list[Nudge] = field(default_factory=list)
    changed: list[Timer] = field(default_factory=list)
    follow_ups: list[Timer] = field(default_factory=list)
    sent_log: list[datetime] = field(default_factory=list)


def _day(moment: datetime, zone: ZoneInfo, today: datetime) -> str:
    local = moment.astimezone(zone)
    text = f"{local.day} {local:%B}"
    return text if local.year == today.astimezone(zone).year else f"{text} {local.year}"


def _reason(timer: Timer, subject: Subject, since: str) -> str:
    if isinstance(subject, ProposalFacts):
        return f"proposal {subject.id} unanswered since {since}"
    if timer.trigger == "no_session":
        return f"no session since {since}"
    if timer.trigger == "feedback_missing":
        return f"no feedback yet on the session of {since}"
    return f"no goal check-in since {since}"


def _single(timer: Timer, rule: Rule, subject: Subject, zone: ZoneInfo, at: datetime) -> Nudge:
    since = _day(timer.since, zone, at)
    reason = _reason(timer, subject, since)
    values = {
        "reason": reason,
        "since": since,
        "days": str((at - timer.since) // timedelta(days=1)),
        "rule_id": rule.id,
        "mentorship_id": timer.mentorship_id or "",
        "match_id": subject.id if isinstance(subject, ProposalFacts) else "",
        "session_id": timer.session_id or "",
        "programme_id": timer.programme_id or "",
        "mentee_id": subject.mentee_id or "",
        "mentor_id": subject.mentor_id or "",
    }
    data = NudgeEmitted(
        nudge_id=nudge_id([timer.id]),
        person_id=timer.recipient,
        kind=rule.id,
        mentorship_id=timer.mentorship_id,
        reason=reason,
        message=rule.render(values),
        programme_id=timer.programme_id,
        escalation=timer.escalation,
    )
    return Nudge(data, at, (timer.id,), (rule.id,), timer.people)


def _digest(parts: Sequence[Nudge], recipient: str, at: datetime) -> Nudge:
    """Several nudges for one person merged into one, each still named with its rule."""

    def common(values: Iterable[str | None]) -> str | None:
        distinct = set(values)
        return distinct.pop() if len(distinct) == 1 else None

    timer_ids = tuple(t for p in parts for t in p.timer_ids)
    rule_ids = tuple(r for p in parts for r in p.rule_ids)
    data = NudgeEmitted(
        nudge_id=nudge_id(timer_ids),
        person_id=recipient,
        kind=DIGEST,
        mentorship_id=common(p.data.mentorship_id for p in parts),
        reason="; ".join(f"{p.data.kind}: {p.data.reason}" for p in parts),
        message="\n".join(f"- {p.data.message}" for p in parts),
        programme_id=common(p.data.programme_id for p in parts),
        escalation=False,
    )
    people = tuple(dict.fromkeys(person for p in parts for person in p.people))
    return Nudge(data, at, timer_ids, rule_ids, people)


def settle(
    at: datetime,
    timers: Sequence[Timer],
    sent_log: Sequence[datetime],
    recipient: PersonFacts | None,
    subjects: Mapping[str, Subject],
    book_for: BookFor,
) -> Settlement:
    """Decide every pending timer of one recipient looked at `at`.

    In order: timers whose reason is gone are dropped; in the recipient's quiet hours
    the rest wait for the morning; escalations go out; other nudges go out while the
    weekly limit has room, the overflow merged into one digest, or all of them wait
    for the next free slot when there is none. Each nudge goes out at most once."""
    at = instant(at)
    result = Settlement(sent_log=list(sent_log))
    zone = recipient.zone_at(at) if recipient is not None else ZoneInfo("UTC")
    ready: list[tuple[Timer, Rule, Subject]] = []
    for timer in sorted(timers, key=lambda t: (t.due, t.id)):
        subject = subjects.get(timer.subject)
        rule = book_for(timer.programme_id).rule(timer.rule_id)
        chained = timer.trigger == "goal_check_in" and subject is not None
        if rule is not None and rule.enabled and chained:
            assert isinstance(subject, MentorshipFacts)
            follow = next_goal_window(timer, subject, rule, at)
            if follow is not None:
                result.follow_ups.append(follow)
        if rule is None or not rule.enabled or subject is None or not holds(timer, subject, at):
            result.changed.append(timer.model_copy(update={"state": "dropped"}))
            continue
        book = book_for(timer.programme_id)
        quiet = QuietHours(book.quiet_hours.start, book.quiet_hours.end)
        opens = quiet.next_open(at, zone)
        if opens != at:
            result.changed.append(timer.model_copy(update={"at": instant(opens)}))
            continue
        ready.append((timer, rule, subject))

    for timer, rule, subject in ready:
        if timer.escalation:
            nudge = _single(timer, rule, subject, zone, at)
            result.nudges.append(nudge)
            sent = {"state": "sent", "nudge_id": nudge.data.nudge_id}
            result.changed.append(timer.model_copy(update=sent))

    regular = [(t, r, s) for t, r, s in ready if not t.escalation]
    if not regular:
        return result
    books = [book_for(t.programme_id).rate_limit for t, _, _ in regular]
    limit = RateLimit(min(b.max_nudges for b in books), max(b.per for b in books))
    room = limit.room(result.sent_log, at)
    if room == 0:
        later = instant(limit.next_slot(result.sent_log, at))
        result.changed.extend(t.model_copy(update={"at": later}) for t, _, _ in regular)
        return result
    singles = [_single(t, r, s, zone, at) for t, r, s in regular]
    alone = singles if len(singles) <= room else singles[: room - 1]
    going = [(nudge, "sent") for nudge in alone]
    if len(alone) < len(singles):
        recipient_id = regular[0][0].recipient
        going.append((_digest(singles[len(alone) :], recipient_id, at), "merged"))
    by_id = {t.id: t for t, _, _ in regular}
    for nudge, state in going:
        result.nudges.append(nudge)
        result.sent_log.append(at)
        result.changed.extend(
            by_id[tid].model_copy(update={"state": state, "nudge_id": nudge.data.nudge_id})
            for tid in nudge.timer_ids
        )
    result.sent_log = limit.kept(result.sent_log, at)
    return result
