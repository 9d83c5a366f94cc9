"""The expected outcome of a message set under CONTRACT.md, computed in plain Python as the pipeline's ground truth."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, Generic, TypeVar

from contract import MAX_MONEY
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


def expect(messages: Iterable[Message], order_topic: str, payment_topic: str) -> Expected:
    """Gold and per-topic counts that any correct pipeline must produce from `messages`, given in production order."""
    return _fold(messages, order_topic, payment_topic).expected()


def silver_state(messages: Iterable[Message], order_topic: str, payment_topic: str) -> Silver:
    """Validate, dedupe and fold `messages` (in production order) into the current state of each order and payment."""
    return _fold(messages, order_topic, payment_topic).silver()


class Oracle:
    """The expected outcome, folded one message at a time in production order: for runs too long to hold in memory.

    Production position stands in for Kafka (partition, offset): one order's messages share a key, so a partition.
    """

    def __init__(self, order_topic: str, payment_topic: str) -> None:
        if order_topic == payment_topic:
            raise ValueError(f"orders and payments need separate topics, both are {order_topic!r}")
        self.order_topic, self.payment_topic = order_topic, payment_topic
        self._tallies = {order_topic: _Tally(order_topic), payment_topic: _Tally(payment_topic)}
        self._orders: _Latest[OrderEvent] = _Latest()
        self._order_ts: dict[str, datetime] = {}
        self._payments: _Latest[PaymentEvent] = _Latest()
        self._position = 0

    def add(self, message: Message) -> None:
        tally = self._tallies.get(message.topic)
        if tally is None:
            raise ValueError(
                f"message on topic {message.topic!r}; expected {self.order_topic!r} or {self.payment_topic!r}"
            )
        self._position += 1
        if message.topic == self.order_topic:
            order = tally.admit(validate_order(message.value))
            if order is not None:
                self._orders.offer(order.order_id, order, self._position)
                earliest = self._order_ts.get(order.order_id, order.event_ts)
                self._order_ts[order.order_id] = min(earliest, order.event_ts)
        else:
            payment = tally.admit(validate_payment(message.value))
            if payment is not None:
                self._payments.offer(payment.payment_id, payment, self._position)

    def silver(self) -> Silver:
        latest_orders, payments = self._orders.events(), self._payments.events()
        paid: dict[str, Decimal] = {}
        for payment in payments.values():
            order = latest_orders.get(payment.order_id)
            if order is not None and payment.status == "captured" and payment.currency == order.currency:
                paid[payment.order_id] = paid.get(payment.order_id, Decimal("0.00")) + payment.amount
        orders = {
            order_id: OrderState(latest, self._order_ts[order_id], min(paid.get(order_id, Decimal("0.00")), MAX_MONEY))
            for order_id, latest in latest_orders.items()
        }
        return Silver(
            orders=orders,
            payments=payments,
            order_counts=self._tallies[self.order_topic].counts(),
            payment_counts=self._tallies[self.payment_topic].counts(),
        )

    def expected(self) -> Expected:
        silver = self.silver()
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


def _fold(messages: Iterable[Message], order_topic: str, payment_topic: str) -> Oracle:
    oracle = Oracle(order_topic, payment_topic)
    for message in messages:
        oracle.add(message)
    return oracle


class _Tally:
    """Sorts each message of one topic into clean, duplicate or quarantined, first occurrence of an event_id winning."""

    def __init__(self, topic: str) -> None:
        self.topic = topic
        self.seen: set[str] = set()
        self.produced = self.duplicates = 0
        self.reasons: Counter[str] = Counter()

    def admit(self, outcome: Valid[Event] | Invalid) -> Event | None:
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


class _Latest(Generic[Event]):
    """The latest event per key by event_ts, ties going to the later position (CONTRACT.md rules 2 and 3)."""

    def __init__(self) -> None:
        self._latest: dict[str, tuple[Event, int]] = {}

    def offer(self, key: str, event: Event, position: int) -> None:
        current = self._latest.get(key)
        if current is None or (event.event_ts, position) > (current[0].event_ts, current[1]):
            self._latest[key] = (event, position)

    def events(self) -> dict[str, Event]:
        return {key: event for key, (event, _) in self._latest.items()}


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
