"""Deterministic order and payment events for one seed: a realistic mix of the contract's cases, all valid."""

from __future__ import annotations

import json
import random
import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from simulator.model import LineItem, Message, Product, order_total

DEFAULT_START = datetime(2026, 11, 26, 10, 0, tzinfo=timezone.utc)
DEFAULT_WINDOW = timedelta(minutes=60)
CATALOGUE_SIZE = 50
CURRENCIES = {"USD": 60, "EUR": 25, "GBP": 15}
# What happens to an order after it is created; weights are relative.
SCENARIOS = {
    "paid": 44,
    "split_paid": 8,
    "one_cent_short": 5,
    "failed_then_paid": 6,
    "unpaid": 8,
    "cancelled_unpaid": 4,
    "cancelled_after_paid": 4,
    "updated_then_paid": 10,
    "refunded": 3,
    "other_currency_paid": 2,
}
# How an event_ts is written. seconds_z and micros_z move the instant by under a second, and one order's
# events are seconds apart, so their order and their minute never change.
TIMESTAMP_STYLES = {"millis_z": 75, "offset": 12, "seconds_z": 8, "micros_z": 5}
OFFSETS = (timedelta(hours=1), timedelta(hours=-5))
NUMBER_MONEY_SHARE = 0.15
DIRECT_CAPTURE_SHARE = 0.15  # captured without a prior authorization; half of those carry no payment_id
LATE_ARRIVAL_SHARE = 0.01
REDELIVERED_SHARE = 0.02


def generate(
    orders: int,
    seed: int,
    order_topic: str,
    payment_topic: str,
    start: datetime = DEFAULT_START,
    window: timedelta = DEFAULT_WINDOW,
) -> list[Message]:
    """`orders` orders created within `window` after `start`, with their payments, in arrival order."""
    if start.tzinfo is None:
        raise ValueError("start must carry a time zone, e.g. 2026-11-26T10:00:00Z")
    rng = random.Random(seed)
    stream = _Stream(rng, order_topic, payment_topic)
    # Shop prices, mostly ending in .99, from 1.00 to 149.99.
    catalogue = [
        Product(f"sku-{n:02d}", Decimal(rng.randint(1, 149)) + Decimal(rng.choice(["0.99", "0.99", "0.49", "0.00"])))
        for n in range(1, CATALOGUE_SIZE + 1)
    ]
    users = [f"u-{n:05d}" for n in range(1, max(10, orders // 4) + 1)]
    window_ms = int(window.total_seconds() * 1000)
    created = sorted(start + timedelta(milliseconds=rng.randrange(window_ms)) for _ in range(orders))
    for number, created_at in enumerate(created, start=1):
        order = _Order(
            order_id=f"o-{number:06d}",
            user_id=rng.choice(users),
            currency=_weighted(rng, CURRENCIES),
            items=_pick_items(rng, catalogue),
        )
        _play(stream, order, _weighted(rng, SCENARIOS), created_at, catalogue)
    return stream.in_arrival_order()


@dataclass
class _Order:
    order_id: str
    user_id: str
    currency: str
    items: tuple[LineItem, ...]

    @property
    def total_cents(self) -> int:
        return int(order_total(self.items) * 100)


@dataclass
class _Stream:
    rng: random.Random
    order_topic: str
    payment_topic: str
    arrivals: list[tuple[datetime, int, Message]] = field(default_factory=list)
    payments_made: int = 0

    def order_event(self, order: _Order, status: str, at: datetime) -> None:
        as_number = self.rng.random() < NUMBER_MONEY_SHARE
        value = {
            "event_id": self._event_id(),
            "order_id": order.order_id,
            "user_id": order.user_id,
            "status": status,
            "items": [
                {"sku": item.sku, "quantity": item.quantity, "unit_price": _money(item.unit_price, as_number)}
                for item in order.items
            ],
            "currency": order.currency,
            "total_amount": _money(order_total(order.items), as_number),
            "event_ts": self._timestamp(at),
        }
        self._emit(self.order_topic, order.order_id, value, at)

    def payment(
        self, order: _Order, cents: int, statuses: tuple[str, ...], at: datetime, currency: str = ""
    ) -> datetime:
        """One payment going through `statuses` a few seconds apart; returns when its last event happened."""
        self.payments_made += 1
        payment_id: str | None = f"p-{self.payments_made:06d}"
        if statuses == ("authorized", "captured") and self.rng.random() < DIRECT_CAPTURE_SHARE:
            statuses = ("captured",)
            # Only a single-event payment may lack its id: each event would otherwise get its own synthetic id.
            if self.rng.random() < 0.5:
                payment_id = None
        for status in statuses:
            value: dict[str, Any] = {"event_id": self._event_id(), "payment_id": payment_id}
            if payment_id is None and self.rng.random() < 0.5:
                del value["payment_id"]
            value |= {
                "order_id": order.order_id,
                "status": status,
                "amount_cents": cents,
                "currency": currency or order.currency,
                "event_ts": self._timestamp(at),
            }
            self._emit(self.payment_topic, order.order_id, value, at)
            last = at
            # A capture follows its authorization within seconds; a refund comes minutes after the capture.
            at += _seconds(self.rng, 60, 900) if status == "captured" else _seconds(self.rng, 2, 20)
        return last

    def in_arrival_order(self) -> list[Message]:
        arrivals = list(self.arrivals)
        for arrival, _, message in self.rng.sample(self.arrivals, round(len(self.arrivals) * REDELIVERED_SHARE)):
            arrivals.append((arrival + _seconds(self.rng, 1, 600), len(arrivals), message))
        return [message for _, _, message in sorted(arrivals, key=lambda entry: entry[:2])]

    def _emit(self, topic: str, key: str, value: dict[str, Any], at: datetime) -> None:
        if self.rng.random() < LATE_ARRIVAL_SHARE:
            delay = _seconds(self.rng, 60, 1800)
        else:
            delay = timedelta(milliseconds=self.rng.randint(0, 800))
        message = Message(topic, key, _to_json(value).encode("utf-8"))
        self.arrivals.append((at + delay, len(self.arrivals), message))

    def _event_id(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def _timestamp(self, at: datetime) -> str:
        style = _weighted(self.rng, TIMESTAMP_STYLES)
        if style == "offset":
            return at.astimezone(timezone(self.rng.choice(OFFSETS))).isoformat(timespec="milliseconds")
        utc = at.astimezone(timezone.utc).replace(tzinfo=None)
        if style == "seconds_z":
            return utc.isoformat(timespec="seconds") + "Z"
        if style == "micros_z":
            return utc.isoformat(timespec="milliseconds") + f"{self.rng.randrange(1000):03d}Z"
        return utc.isoformat(timespec="milliseconds") + "Z"

def _play(stream: _Stream, order: _Order, scenario: str, created_at: datetime, catalogue: list[Product]) -> None:
    rng = stream.rng
    stream.order_event(order, "created", created_at)
    at = created_at
    if scenario == "updated_then_paid":
        at += _seconds(rng, 10, 180)
        order.items = _change_items(rng, order.items, catalogue)
        stream.order_event(order, "updated", at)
    at += _seconds(rng, 5, 120)
    paid_in_full = ("authorized", "captured")
    total = order.total_cents
    if scenario in ("paid", "updated_then_paid", "cancelled_after_paid"):
        at = stream.payment(order, total, paid_in_full, at)
    elif scenario == "split_paid":
        first = rng.randint(1, total - 1)
        at = stream.payment(order, first, paid_in_full, at)
        at = stream.payment(order, total - first, paid_in_full, at + _seconds(rng, 5, 60))
    elif scenario == "one_cent_short":
        at = stream.payment(order, total - 1, paid_in_full, at)
    elif scenario == "failed_then_paid":
        at = stream.payment(order, total, ("failed",), at)
        at = stream.payment(order, total, paid_in_full, at + _seconds(rng, 5, 60))
    elif scenario == "unpaid" and rng.random() < 0.5:
        at = stream.payment(order, total, ("authorized",), at)
    elif scenario == "refunded":
        at = stream.payment(order, total, ("authorized", "captured", "refunded"), at)
    elif scenario == "other_currency_paid":
        other = rng.choice([currency for currency in CURRENCIES if currency != order.currency])
        at = stream.payment(order, total, paid_in_full, at, currency=other)
    if scenario.startswith("cancelled"):
        stream.order_event(order, "cancelled", at + _seconds(rng, 30, 900))


def _pick_items(rng: random.Random, catalogue: list[Product]) -> tuple[LineItem, ...]:
    products = rng.sample(catalogue, rng.randint(1, 4))
    return tuple(LineItem(product.sku, rng.randint(1, 3), product.unit_price) for product in products)


def _change_items(rng: random.Random, items: tuple[LineItem, ...], catalogue: list[Product]) -> tuple[LineItem, ...]:
    """An edit that always changes the total: add a product, drop a line, or change a quantity."""
    choice = rng.choice(["add", "drop", "quantity"])
    if choice == "add" and len(items) < 4:
        product = rng.choice([p for p in catalogue if p.sku not in {item.sku for item in items}])
        return items + (LineItem(product.sku, rng.randint(1, 3), product.unit_price),)
    if choice == "drop" and len(items) > 1:
        dropped = rng.randrange(len(items))
        return items[:dropped] + items[dropped + 1 :]
    changed = rng.randrange(len(items))
    quantity = items[changed].quantity or 1
    new_item = replace(items[changed], quantity=quantity + 1 if quantity == 1 or rng.random() < 0.5 else quantity - 1)
    return items[:changed] + (new_item,) + items[changed + 1 :]


def _weighted(rng: random.Random, weights: dict[str, int]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _seconds(rng: random.Random, low: int, high: int) -> timedelta:
    return timedelta(milliseconds=rng.randint(low * 1000, high * 1000))


def _money(amount: Decimal | None, as_number: bool) -> Decimal | str | None:
    # A Decimal is written as a JSON number (see _to_json), a str as a decimal string.
    if amount is None:
        return None
    return amount if as_number else f"{amount:.2f}"


def _to_json(value: Any) -> str:
    """Compact JSON that writes a Decimal as a number literal with its exact digits; json.dumps cannot."""
    if isinstance(value, Decimal):
        return f"{value:f}"
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(key)}:{_to_json(item)}" for key, item in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_to_json(item) for item in value) + "]"
    return json.dumps(value)
