"""Each order story, played alone, gives every order the outcome its name promises."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest

from simulator.generator import generate
from simulator.knobs import Knobs
from simulator.model import Message, PaymentEvent
from simulator.oracle import OrderState, silver_state
from simulator.stories import STORIES
from tests.messages import ORDERS, PAYMENTS
from tests.unit.simulator.reading import event_of, payments_by_order

CENT = Decimal("0.01")
# Nothing but the story: no redelivery, no late arrival.
ALONE = {"redelivered_share": 0.0, "late_share": 0.0}


def captured(payments: dict[str, PaymentEvent]) -> list[PaymentEvent]:
    return [payment for payment in payments.values() if payment.status == "captured"]


def statuses(payments: dict[str, PaymentEvent]) -> list[str]:
    return sorted(payment.status for payment in payments.values())


def created_totals(messages: list[Message]) -> dict[str, Decimal]:
    events = [event_of(message) for message in messages if message.topic == ORDERS]
    return {event.order_id: event.total_amount for event in events if event.status == "created"}


# (state, its payments, its total when created) -> the story's outcome holds
Check = Callable[[OrderState, dict[str, PaymentEvent], Decimal], bool]
OUTCOMES: dict[str, Check] = {
    "paid": lambda s, p, _: s.fully_paid and s.paid_amount == s.latest.total_amount and len(p) == 1,
    "split_paid": lambda s, p, _: s.fully_paid and len(captured(p)) == 2 and s.paid_amount == s.latest.total_amount,
    "one_cent_short": lambda s, p, _: not s.fully_paid and s.paid_amount == s.latest.total_amount - CENT,
    "split_one_cent_short": lambda s, p, _: (
        not s.fully_paid and len(captured(p)) == 2 and s.paid_amount == s.latest.total_amount - CENT
    ),
    "overpaid": lambda s, p, _: s.fully_paid and s.paid_amount > s.latest.total_amount,
    "failed_then_paid": lambda s, p, _: s.fully_paid and statuses(p) == ["captured", "failed"],
    "unpaid": lambda s, p, _: (
        s.latest.status == "created" and s.paid_amount == 0 and statuses(p) in ([], ["authorized"])
    ),
    "cancelled_unpaid": lambda s, p, _: s.latest.status == "cancelled" and not p,
    "cancelled_after_paid": lambda s, p, _: (
        s.latest.status == "cancelled" and s.paid_amount == s.latest.total_amount and not s.fully_paid
    ),
    "updated_then_paid": lambda s, p, created: (
        s.latest.status == "updated" and s.fully_paid and s.latest.total_amount != created
    ),
    "updated_after_paid": lambda s, p, created: (
        s.latest.status == "updated"
        and s.paid_amount == created != s.latest.total_amount
        and s.fully_paid == (s.paid_amount > s.latest.total_amount)
    ),
    "refunded": lambda s, p, _: not s.fully_paid and statuses(p) == ["refunded"],
    "other_currency_paid": lambda s, p, _: (
        not s.fully_paid and [payment.currency != s.latest.currency for payment in captured(p)] == [True]
    ),
    "stale_authorized": lambda s, p, _: s.fully_paid and statuses(p) == ["captured"],
}


def test_every_story_has_an_outcome_check():
    assert set(OUTCOMES) == set(STORIES)


@pytest.mark.parametrize("story", sorted(STORIES))
def test_a_story_played_alone_gives_its_outcome_to_every_order(story):
    messages = generate(60, 5, ORDERS, PAYMENTS, knobs=Knobs(stories={story: 1}, **ALONE))
    silver = silver_state(messages, ORDERS, PAYMENTS)
    payments, created = payments_by_order(messages), created_totals(messages)
    assert len(silver.orders) == 60
    failing = [
        order_id
        for order_id, state in silver.orders.items()
        if not OUTCOMES[story](state, payments[order_id], created[order_id])
    ]
    assert failing == []


def test_a_stale_authorization_arrives_after_its_capture_with_an_earlier_event_ts():
    messages = generate(40, 5, ORDERS, PAYMENTS, knobs=Knobs(stories={"stale_authorized": 1}, **ALONE))
    arrivals: dict[str, dict[str, tuple[int, object]]] = {}
    for position, message in enumerate(messages):
        if message.topic == PAYMENTS:
            event = event_of(message)
            arrivals.setdefault(event.payment_id, {})[event.status] = (position, event.event_ts)
    assert len(arrivals) == 40
    for by_status in arrivals.values():
        (authorized_at, authorized_ts), (captured_at, captured_ts) = by_status["authorized"], by_status["captured"]
        assert authorized_at > captured_at and authorized_ts < captured_ts
