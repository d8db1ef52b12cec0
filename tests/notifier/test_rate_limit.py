"""At most N nudges per person per period."""

from __future__ import annotations

from datetime import timedelta

from services.notifier.rate_limit import RateLimit
from tests.notifier.builders import day

THREE_A_WEEK = RateLimit(3, timedelta(days=7))


def test_room_counts_the_sends_of_the_last_period_only() -> None:
    sent = [day(0), day(2), day(5)]
    assert THREE_A_WEEK.room(sent, day(6)) == 0
    assert THREE_A_WEEK.room(sent, day(7)) == 1  # the send of day 0 has left the week
    assert THREE_A_WEEK.room([], day(7)) == 3


def test_the_next_slot_opens_when_the_oldest_send_leaves_the_period() -> None:
    sent = [day(0), day(2), day(5)]
    assert THREE_A_WEEK.next_slot(sent, day(6)) == day(7)


def test_with_more_sends_than_the_limit_the_slot_waits_for_enough_of_them_to_leave() -> None:
    sent = [day(0), day(1), day(2), day(3)]  # e.g. a stricter programme's limit took over
    assert THREE_A_WEEK.next_slot(sent, day(4)) == day(8)


def test_sends_older_than_the_period_are_forgotten() -> None:
    assert THREE_A_WEEK.kept([day(0), day(5)], day(9)) == [day(5)]
