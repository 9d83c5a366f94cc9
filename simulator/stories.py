"""Order stories: what happens to an order after it is created, written as its events in event time.

A story only decides what happens and when; how each event is spelled and when it reaches Kafka is
the generator's business (`EventStream`).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING

from simulator.draws import seconds_between
from simulator.model import LineItem, Product, order_total

if TYPE_CHECKING:
    from simulator.generator import Arrival, EventStream

AUTHORIZE_AND_CAPTURE = ("authorized", "captured")
DIRECT_CAPTURE_SHARE = 0.15  # captured without a prior authorization; half of those carry no payment_id
MAX_OVERPAYMENT_CENTS = 500


@dataclass
class ShopOrder:
    """An order's current state while its story is written; an update changes its items."""

    order_id: str
    user_id: str
    currency: str
    items: tuple[LineItem, ...]

    @property
    def total_cents(self) -> int:
        return int(order_total(self.items) * 100)


@dataclass
class Play:
    """One order's story being written: a cursor in event time and the arrivals of the events so far."""

    stream: EventStream
    order: ShopOrder
    at: datetime
    order_events: dict[str, list[Arrival]] = field(default_factory=dict)
    payments: list[Arrival] = field(default_factory=list)

    @property
    def rng(self) -> random.Random:
        return self.stream.rng

    @property
    def total(self) -> int:
        return self.order.total_cents

    def wait(self, low_seconds: int, high_seconds: int) -> None:
        self.at += seconds_between(self.rng, low_seconds, high_seconds)

    def order_event(self, status: str) -> Arrival:
        arrival = self.stream.order_event(self.order, status, self.at)
        self.order_events.setdefault(status, []).append(arrival)
        return arrival

    def update(self) -> Arrival:
        self.order.items = _change_items(self.rng, self.order.items, self.stream.catalogue)
        return self.order_event("updated")

    def capture(self, cents: int, currency: str | None = None) -> list[Arrival]:
        """Authorized then captured; now and then captured directly, half of those without a payment_id."""
        payment_id: str | None = self.stream.next_payment_id()
        statuses = AUTHORIZE_AND_CAPTURE
        if self.rng.random() < DIRECT_CAPTURE_SHARE:
            statuses = ("captured",)
            # Only a single-event payment may lack its id: each event would otherwise get its own synthetic id.
            if self.rng.random() < 0.5:
                payment_id = None
        return self._payment(payment_id, cents, statuses, currency)

    def pay(self, cents: int, statuses: tuple[str, ...], currency: str | None = None) -> list[Arrival]:
        """One payment going through `statuses`, always with its payment_id."""
        return self._payment(self.stream.next_payment_id(), cents, statuses, currency)

    def _payment(
        self, payment_id: str | None, cents: int, statuses: tuple[str, ...], currency: str | None
    ) -> list[Arrival]:
        arrivals = []
        at = self.at
        for status in statuses:
            arrivals.append(
                self.stream.payment_event(self.order, payment_id, status, cents, currency or self.order.currency, at)
            )
            self.at = at
            # A capture follows its authorization within seconds; a refund comes minutes after the capture.
            at += seconds_between(self.rng, 60, 900) if status == "captured" else seconds_between(self.rng, 2, 20)
        self.payments.extend(arrivals)
        return arrivals


@dataclass(frozen=True)
class Story:
    payments: Callable[[Play], object]
    updated: bool = False  # the items change once, before any payment
    cancelled: bool = False  # cancelled after the payments


def write_story(story_name: str, stream: EventStream, order: ShopOrder, created_at: datetime) -> Play:
    """The events of one order following the story named `story_name`."""
    story = STORIES[story_name]
    play = Play(stream, order, created_at)
    play.order_event("created")
    if story.updated:
        play.wait(10, 180)
        play.update()
    play.wait(5, 120)
    story.payments(play)
    if story.cancelled:
        play.wait(30, 900)
        play.order_event("cancelled")
    return play


def _no_payment(play: Play) -> None:
    pass


def _pay_in_full(play: Play) -> None:
    play.capture(play.total)


def _pay_in_two_parts(play: Play, short_by: int = 0) -> None:
    first = play.rng.randint(1, play.total - short_by - 1)
    play.capture(first)
    play.wait(5, 60)
    play.capture(play.total - short_by - first)


def _pay_in_two_parts_one_cent_short(play: Play) -> None:
    _pay_in_two_parts(play, short_by=1)


def _pay_one_cent_short(play: Play) -> None:
    play.capture(play.total - 1)


def _overpay(play: Play) -> None:
    play.capture(play.total + play.rng.randint(1, MAX_OVERPAYMENT_CENTS))


def _fail_then_retry(play: Play) -> None:
    play.pay(play.total, ("failed",))
    play.wait(5, 60)
    play.capture(play.total)


def _maybe_authorize_only(play: Play) -> None:
    if play.rng.random() < 0.5:
        play.pay(play.total, ("authorized",))


def _capture_then_refund(play: Play) -> None:
    play.pay(play.total, ("authorized", "captured", "refunded"))


def _pay_in_another_currency(play: Play) -> None:
    others = [currency for currency in play.stream.knobs.currencies if currency != play.order.currency]
    play.capture(play.total, currency=play.rng.choice(others))


def _pay_then_change_items(play: Play) -> None:
    # The edit comes after the money: a larger total is no longer fully paid, a smaller one is overpaid.
    play.capture(play.total)
    play.wait(30, 600)
    play.update()


def _capture_with_stale_authorization(play: Play) -> None:
    # The authorization reaches Kafka after the capture: later arrival, earlier event_ts.
    authorized, captured = play.pay(play.total, AUTHORIZE_AND_CAPTURE)
    play.stream.arrive_after(authorized, captured)


STORIES: dict[str, Story] = {
    "paid": Story(_pay_in_full),
    "split_paid": Story(_pay_in_two_parts),
    "one_cent_short": Story(_pay_one_cent_short),
    "failed_then_paid": Story(_fail_then_retry),
    "unpaid": Story(_maybe_authorize_only),
    "cancelled_unpaid": Story(_no_payment, cancelled=True),
    "cancelled_after_paid": Story(_pay_in_full, cancelled=True),
    "updated_then_paid": Story(_pay_in_full, updated=True),
    "refunded": Story(_capture_then_refund),
    "other_currency_paid": Story(_pay_in_another_currency),
    "overpaid": Story(_overpay),
    "split_one_cent_short": Story(_pay_in_two_parts_one_cent_short),
    "stale_authorized": Story(_capture_with_stale_authorization),
    "updated_after_paid": Story(_pay_then_change_items),
}
NEEDS_TWO_CURRENCIES = frozenset({"other_currency_paid"})


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
