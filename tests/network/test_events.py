"""The network's part of the contract: connections keyed by the pair, requests and
answers."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from shared.events import InvalidEvent, parse_event
from tests.network.factories import connected, disconnected, event, requested


def test_every_event_about_a_pair_has_the_same_kafka_key_whatever_the_order() -> None:
    assert event(connected("c1", "ann", "bo")).key == event(disconnected("c1", "bo", "ann")).key
    assert event(connected("c1", "ann", "bo")).key == b"ann|bo"


def test_a_connection_weight_is_between_zero_and_one() -> None:
    with pytest.raises(ValidationError):
        connected("c1", "ann", "bo", weight=1.5)


def test_connections_travel_on_their_own_topic_and_requests_on_responses() -> None:
    body = event(connected("c1", "ann", "bo", "follows")).to_json()
    assert parse_event(body, "connections").data.kind == "follows"
    with pytest.raises(InvalidEvent) as wrong:
        parse_event(body, "responses")
    assert wrong.value.reason == "wrong-topic"
    assert parse_event(event(requested("ann")).to_json(), "responses").data.k == 3
