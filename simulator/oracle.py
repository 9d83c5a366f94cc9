"""The expected outcome of a message set under CONTRACT.md, computed in plain Python as the pipeline's ground truth."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, TypeVar

from simulator.model import Message, OrderEvent, PaymentEvent
from simulator.validation import Invalid, Valid, validate_order, validate_payment

JSON_FORMAT_VERSION = 1
Event = TypeVar("Event", OrderEvent, PaymentEvent)


@dataclass(frozen=True)
class GoldRow:
    minute_bucket: datetime
    gmv: Decimal
    paid_orders: int


@dataclass(frozen=True)
class TopicCounts:
    """Every message of a topic lands in exactly one of clean, duplicates, quarantined."""

    topic: str
    produced: int = 0
    clean: int = 0
    duplicates: int = 0
    quarantined: int = 0
    quarantine_reasons: Counter[str] = field(default_factory=Counter)


@dataclass(frozen=True)
class OrderState:
    latest: OrderEvent
    order_ts: datetime
    paid_amount: Decimal

    @property
    def fully_paid(self) -> bool:
        return self.latest.status != "cancelled" and self.paid_amount >= self.latest.total_amount


@dataclass(frozen=True)
class Silver:
    """Current state per order_id and per payment_id, after dedupe and latest-event-wins."""

    orders: dict[str, OrderState]
    payments: dict[str, PaymentEvent]
    order_counts: TopicCounts
    payment_counts: TopicCounts


@dataclass(frozen=True)
class Expected:
    gold: list[GoldRow]
    orders: TopicCounts
    payments: TopicCounts
    # Row counts of Silver's current-state tables: distinct order_id and payment_id among clean events.
    silver_orders: int = 0
    silver_payments: int = 0

    @property
    def total_gmv(self) -> Decimal:
        return sum((row.gmv for row in self.gold), Decimal("0.00"))

    @property
    def total_paid_orders(self) -> int:
        return sum(row.paid_orders for row in self.gold)

    def to_json(self) -> str:
        document = {
            "format": JSON_FORMAT_VERSION,
            "gold": [
                {"minute_bucket": _iso_utc(row.minute_bucket), "gmv": str(row.gmv), "paid_orders": row.paid_orders}
                for row in self.gold
            ],
            "totals": {"gmv": str(self.total_gmv), "paid_orders": self.total_paid_orders},
            "silver": {"orders": self.silver_orders, "payments": self.silver_payments},
            "topics": {"orders": _counts_to_json(self.orders), "payments": _counts_to_json(self.payments)},
        }
        return json.dumps(document, indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str) -> "Expected":
        document = json.loads(text)
        if document.get("format") != JSON_FORMAT_VERSION:
            raise ValueError(f"expected-file format {document.get('format')!r}, this code reads {JSON_FORMAT_VERSION}")
        gold = [
            GoldRow(
                minute_bucket=datetime.fromisoformat(row["minute_bucket"]).astimezone(timezone.utc),
                gmv=Decimal(row["gmv"]),
                paid_orders=int(row["paid_orders"]),
            )
            for row in document["gold"]
        ]
        topics, silver = document["topics"], document["silver"]
        return cls(
            gold=gold,
            orders=_counts_from_json(topics["orders"]),
            payments=_counts_from_json(topics["payments"]),
            silver_orders=int(silver["orders"]),
            silver_payments=int(silver["payments"]),
        )


def reconcile(messages: Iterable[Message], order_topic: str, payment_topic: str) -> Expected:
    """Gold and per-topic counts that any correct pipeline must produce from `messages`, given in production order."""
    silver = silver_state(messages, order_topic, payment_topic)
    buckets: dict[datetime, list[Decimal]] = {}
    for state in silver.orders.values():
        if state.fully_paid:
            minute = state.order_ts.replace(second=0, microsecond=0)
            buckets.setdefault(minute, []).append(state.latest.total_amount)
    gold = [
        GoldRow(minute_bucket=minute, gmv=sum(totals, Decimal("0.00")), paid_orders=len(totals))
        for minute, totals in sorted(buckets.items())
    ]
    return Expected(
        gold=gold,
        orders=silver.order_counts,
        payments=silver.payment_counts,
        silver_orders=len(silver.orders),
        silver_payments=len(silver.payments),
    )


def silver_state(messages: Iterable[Message], order_topic: str, payment_topic: str) -> Silver:
    """Validate, dedupe and fold `messages` (in production order) into the current state of each order and payment."""
    if order_topic == payment_topic:
        raise ValueError(f"orders and payments need separate topics, both are {order_topic!r}")
    order_events: list[tuple[OrderEvent, int]] = []
    payment_events: list[tuple[PaymentEvent, int]] = []
    tallies = {order_topic: _Tally(order_topic), payment_topic: _Tally(payment_topic)}
    for position, message in enumerate(messages):
        if message.topic not in tallies:
            raise ValueError(f"message on topic {message.topic!r}; expected {order_topic!r} or {payment_topic!r}")
        is_order = message.topic == order_topic
        outcome = validate_order(message.value) if is_order else validate_payment(message.value)
        event = tallies[message.topic].admit(outcome)
        if event is not None:
            (order_events if is_order else payment_events).append((event, position))

    # Production position stands in for Kafka (partition, offset): one order's messages share a key, so a partition.
    latest_orders = _latest_by(order_events, key=lambda event: event.order_id)
    order_ts: dict[str, datetime] = {}
    for event, _ in order_events:
        order_ts[event.order_id] = min(order_ts.get(event.order_id, event.event_ts), event.event_ts)
    payments = _latest_by(payment_events, key=lambda event: event.payment_id)

    paid: dict[str, Decimal] = {}
    for payment in payments.values():
        order = latest_orders.get(payment.order_id)
        if order is not None and payment.status == "captured" and payment.currency == order.currency:
            paid[payment.order_id] = paid.get(payment.order_id, Decimal("0.00")) + payment.amount
    orders = {
        order_id: OrderState(latest, order_ts[order_id], paid.get(order_id, Decimal("0.00")))
        for order_id, latest in latest_orders.items()
    }
    return Silver(
        orders=orders,
        payments=payments,
        order_counts=tallies[order_topic].counts(),
        payment_counts=tallies[payment_topic].counts(),
    )


class _Tally:
    """Sorts each message of one topic into clean, duplicate or quarantined, first occurrence of an event_id winning."""

    def __init__(self, topic: str) -> None:
        self.topic = topic
        self.seen: set[str] = set()
        self.produced = self.duplicates = 0
        self.reasons: Counter[str] = Counter()

    def admit(self, outcome: Valid[OrderEvent] | Valid[PaymentEvent] | Invalid) -> OrderEvent | PaymentEvent | None:
        self.produced += 1
        if isinstance(outcome, Invalid):
            self.reasons[outcome.reason] += 1
            return None
        if outcome.event.event_id in self.seen:
            self.duplicates += 1
            return None
        self.seen.add(outcome.event.event_id)
        return outcome.event

    def counts(self) -> TopicCounts:
        quarantined = sum(self.reasons.values())
        return TopicCounts(
            topic=self.topic,
            produced=self.produced,
            clean=self.produced - self.duplicates - quarantined,
            duplicates=self.duplicates,
            quarantined=quarantined,
            quarantine_reasons=Counter(self.reasons),
        )


def _latest_by(events: list[tuple[Event, int]], key: Callable[[Event], str]) -> dict[str, Event]:
    latest: dict[str, tuple[Event, int]] = {}
    for event, position in events:
        current = latest.get(key(event))
        if current is None or (event.event_ts, position) > (current[0].event_ts, current[1]):
            latest[key(event)] = (event, position)
    return {identity: event for identity, (event, _) in latest.items()}


def _iso_utc(instant: datetime) -> str:
    return instant.astimezone(timezone.utc).replace(tzinfo=None).isoformat(timespec="seconds") + "Z"


def _counts_to_json(counts: TopicCounts) -> dict[str, Any]:
    return {
        "topic": counts.topic,
        "produced": counts.produced,
        "clean": counts.clean,
        "duplicates": counts.duplicates,
        "quarantined": counts.quarantined,
        "quarantine_reasons": dict(sorted(counts.quarantine_reasons.items())),
    }


def _counts_from_json(document: dict[str, Any]) -> TopicCounts:
    return TopicCounts(
        topic=document["topic"],
        produced=int(document["produced"]),
        clean=int(document["clean"]),
        duplicates=int(document["duplicates"]),
        quarantined=int(document["quarantined"]),
        quarantine_reasons=Counter({reason: int(n) for reason, n in document["quarantine_reasons"].items()}),
    )
