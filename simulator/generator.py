"""Deterministic order and payment messages for one seed: order stories, spelled and delivered as Kafka would see them.

`generate` plays a fixed number of orders within one window of event time; `generate_endless` plays
window after window, lazily, for runs bounded by a duration. Either way the messages come in arrival
order: late, redelivered, replayed and out-of-order messages sit where Kafka would receive them.
"""

from __future__ import annotations

import bisect
import itertools
import random
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from simulator.draws import Weighted, chance, duration_between
from simulator.jsontext import to_json
from simulator.knobs import DEFAULT_KNOBS, Knobs
from simulator.malformed import HUGE_PAYLOAD_BYTES, ORDER_SHAPE, PAYMENT_SHAPE, EventShape, applies, malformed, padded
from simulator.model import LineItem, Message, Product, order_total
from simulator.stories import Play, ShopOrder, write_story

DEFAULT_START = datetime(2026, 11, 26, 10, 0, tzinfo=timezone.utc)
CATALOGUE_SIZE = 50
# How an event_ts is written. seconds_z and micros_z move the instant by under a second, and one order's
# events are seconds apart, so their order and their minute never change.
TIMESTAMP_STYLES = Weighted({"millis_z": 75, "offset": 12, "seconds_z": 8, "micros_z": 5})
OFFSETS = (timedelta(hours=1), timedelta(hours=-5))
NUMBER_MONEY_SHARE = 0.15
ON_TIME_DELAY_MS = 800
TWIN_DISTANCE_MS = 2000  # a malformed twin reaches Kafka within two seconds after its event
REORDER_GAP_MS = (1, 5000)  # an overtaken event arrives this long after the one that overtook it
# Valid ids that look like SQL injection: they must be stored and counted like any other.
SQL_LOOKALIKES = (
    "'; DROP TABLE orders; --",
    "' OR '1'='1",
    '" OR ""="',
    "1; DELETE FROM payments_clean",
    "') UNION SELECT * FROM quarantine --",
)

Entry = tuple[datetime, int, Message]  # (arrival, sequence number, message): sorts into arrival order


def generate(
    orders: int,
    seed: int,
    order_topic: str,
    payment_topic: str,
    start: datetime = DEFAULT_START,
    knobs: Knobs = DEFAULT_KNOBS,
) -> list[Message]:
    """`orders` orders created within `knobs.window` after `start`, with their payments, in arrival order."""
    stream = EventStream(seed, order_topic, payment_topic, knobs, orders)
    return list(_deliver(stream, _check_zone(start), windows=1))


def generate_endless(
    orders_per_window: int,
    seed: int,
    order_topic: str,
    payment_topic: str,
    start: datetime = DEFAULT_START,
    knobs: Knobs = DEFAULT_KNOBS,
) -> Iterator[Message]:
    """Window after window of `orders_per_window` orders each, generated only as the messages are taken."""
    stream = EventStream(seed, order_topic, payment_topic, knobs, orders_per_window)
    return _deliver(stream, _check_zone(start), windows=None)


@dataclass
class Arrival:
    """A message and when Kafka receives it; `seq` orders the messages that arrive at the same instant."""

    at: datetime
    seq: int
    message: Message

    @property
    def entry(self) -> Entry:
        return (self.at, self.seq, self.message)


class EventStream:
    """Plays order stories into messages: their spelling, their arrival times, redeliveries and bad input."""

    def __init__(self, seed: int, order_topic: str, payment_topic: str, knobs: Knobs, orders_per_window: int) -> None:
        self.rng = random.Random(seed)
        self.knobs = knobs
        self.order_topic, self.payment_topic = order_topic, payment_topic
        # Shop prices, mostly ending in .99, from 1.00 to 149.99.
        self.catalogue = [
            Product(
                f"sku-{n:02d}",
                Decimal(self.rng.randint(1, 149)) + Decimal(self.rng.choice(["0.99", "0.99", "0.49", "0.00"])),
            )
            for n in range(1, CATALOGUE_SIZE + 1)
        ]
        self.users = [f"u-{n:05d}" for n in range(1, max(10, orders_per_window // 4) + 1)]
        self.orders_per_window = orders_per_window
        self.stories, self.currencies = Weighted(knobs.stories), Weighted(knobs.currencies)
        self.malformed_kinds = _malformed_kinds_by_shape(knobs.malformed_kinds)
        self._orders_made = self._payments_made = self._seq = 0
        self._malformed_made: Counter[tuple[EventShape, str]] = Counter()
        self._window: list[Arrival] = []

    # -- what the stories call ---------------------------------------------------------------------------

    def order_event(self, order: ShopOrder, status: str, at: datetime) -> Arrival:
        as_number = self.rng.random() < NUMBER_MONEY_SHARE
        fields = {
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
        return self._emit(self.order_topic, order.order_id, fields, at, ORDER_SHAPE)

    def payment_event(
        self, order: ShopOrder, payment_id: str | None, status: str, cents: int, currency: str, at: datetime
    ) -> Arrival:
        fields: dict[str, Any] = {"event_id": self._event_id(), "payment_id": payment_id}
        if payment_id is None and self.rng.random() < 0.5:
            del fields["payment_id"]
        fields |= {
            "order_id": order.order_id,
            "status": status,
            "amount_cents": cents,
            "currency": currency,
            "event_ts": self._timestamp(at),
        }
        return self._emit(self.payment_topic, order.order_id, fields, at, PAYMENT_SHAPE)

    def next_payment_id(self) -> str:
        self._payments_made += 1
        return f"p-{self._payments_made:06d}"

    def arrive_after(self, late: Arrival, early: Arrival) -> None:
        """Make `late` reach Kafka after `early`, whatever their event times."""
        late.at = max(late.at, early.at + timedelta(milliseconds=self.rng.randint(*REORDER_GAP_MS)))

    # -- windows -----------------------------------------------------------------------------------------

    def play_window(self, start: datetime) -> list[Arrival]:
        """Every message of the orders created in the window from `start`, redeliveries included, unsorted."""
        window_ms = self.knobs.window // timedelta(milliseconds=1)
        created = sorted(
            start + timedelta(milliseconds=self.rng.randrange(window_ms)) for _ in range(self.orders_per_window)
        )
        for created_at in created:
            order = self._new_order()
            story = self.stories.draw(self.rng)
            if chance(self.rng, self.knobs.sql_like_share):
                _look_like_sql(order, self.rng.choice(SQL_LOOKALIKES))
            self._rearrange(write_story(story, self, order, created_at))
        arrivals, self._window = self._window, []
        return arrivals + self._redeliveries(arrivals)

    def replays(self, released: list[Entry]) -> list[Entry]:
        """Contiguous batches of the messages just released, each sent again, the same bytes, at one later instant."""
        entries: list[Entry] = []
        for _ in range(self.knobs.replayed_batches if released else 0):
            size = min(self.knobs.replayed_batch_size, len(released))
            first = self.rng.randrange(len(released) - size + 1)
            batch = released[first : first + size]
            resend_at = batch[-1][0] + duration_between(self.rng, *self.knobs.replay_delay)
            # Consecutive sequence numbers at one instant keep the batch together.
            entries.extend((resend_at, self._next_seq(), message) for _, _, message in batch)
        return entries

    # -- inside ------------------------------------------------------------------------------------------

    def _new_order(self) -> ShopOrder:
        self._orders_made += 1
        return ShopOrder(
            order_id=f"o-{self._orders_made:06d}",
            user_id=self.rng.choice(self.users),
            currency=self.currencies.draw(self.rng),
            items=_pick_items(self.rng, self.catalogue),
        )

    def _rearrange(self, play: Play) -> None:
        """Let a later event of the order overtake its create, as the knobs ask."""
        (created,) = play.order_events["created"]
        overtakers = (
            (play.order_events.get("updated"), self.knobs.update_before_create_share),
            (play.order_events.get("cancelled"), self.knobs.cancel_before_create_share),
            (play.payments, self.knobs.payment_before_order_share),
        )
        for events, share in overtakers:
            if events and chance(self.rng, share):
                self.arrive_after(created, events[0])

    def _redeliveries(self, arrivals: list[Arrival]) -> list[Arrival]:
        if not self.knobs.redelivered_share:
            return []
        chosen = self.rng.sample(arrivals, round(len(arrivals) * self.knobs.redelivered_share))
        delays = self.knobs.redelivery_delay
        return [
            Arrival(arrival.at + duration_between(self.rng, *delays), self._next_seq(), arrival.message)
            for arrival in chosen
        ]

    def _emit(self, topic: str, key: str, fields: dict[str, Any], at: datetime, shape: EventShape) -> Arrival:
        knobs, rng = self.knobs, self.rng
        if chance(rng, knobs.late_share):
            delay = duration_between(rng, *knobs.late_delay)
        else:
            delay = timedelta(milliseconds=rng.randint(0, ON_TIME_DELAY_MS))
        if chance(rng, knobs.huge_share):
            fields = padded(fields, rng.randint(*HUGE_PAYLOAD_BYTES))
        arrival = Arrival(at + delay, self._next_seq(), Message(topic, key, to_json(fields).encode("utf-8")))
        if not knobs.malformed_only:
            self._window.append(arrival)
        if chance(rng, knobs.malformed_share) and shape in self.malformed_kinds:
            self._window.append(self._malformed_twin(arrival, fields, shape))
        return arrival

    def _malformed_twin(self, arrival: Arrival, fields: dict[str, Any], shape: EventShape) -> Arrival:
        kind = self.malformed_kinds[shape].draw(self.rng)
        variant = self._malformed_made[shape, kind]
        self._malformed_made[shape, kind] += 1
        value = malformed(kind, fields, shape, variant)
        at = arrival.at + timedelta(milliseconds=self.rng.randint(0, TWIN_DISTANCE_MS))
        twin = Message(arrival.message.topic, arrival.message.key, value)
        return Arrival(at, self._next_seq(), twin)

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq - 1

    def _event_id(self) -> str:
        # A version-4 UUID, formatted by hand: uuid.UUID costs more than the rest of an event.
        hex_digits = f"{self.rng.getrandbits(128) & _UUID_CLEAR | _UUID_SET:032x}"
        return f"{hex_digits[:8]}-{hex_digits[8:12]}-{hex_digits[12:16]}-{hex_digits[16:20]}-{hex_digits[20:]}"

    def _timestamp(self, at: datetime) -> str:
        style = TIMESTAMP_STYLES.draw(self.rng)
        if style == "offset":
            return at.astimezone(timezone(self.rng.choice(OFFSETS))).isoformat(timespec="milliseconds")
        utc = at.astimezone(timezone.utc).replace(tzinfo=None)
        if style == "seconds_z":
            return utc.isoformat(timespec="seconds") + "Z"
        if style == "micros_z":
            return utc.isoformat(timespec="milliseconds") + f"{self.rng.randrange(1000):03d}Z"
        return utc.isoformat(timespec="milliseconds") + "Z"


# RFC 4122 version 4: version nibble 4, variant bits 10.
_UUID_CLEAR = ~((0xF000 << 64) | (0xC000 << 48))
_UUID_SET = (4 << 76) | (0x8000 << 48)


def _deliver(stream: EventStream, start: datetime, windows: int | None) -> Iterator[Message]:
    """The stream's messages in arrival order, released window by window.

    After a window is played, nothing played later can arrive before the window's end (every message
    arrives at or after its event_ts, and later windows' events happen later), so everything before it
    is final. Batch replays are taken from what was released and join the messages still pending.
    """
    pending: list[Entry] = []
    for index in itertools.count() if windows is None else range(windows):
        window_start = start + index * stream.knobs.window
        pending.extend(arrival.entry for arrival in stream.play_window(window_start))
        pending.sort()
        is_last = windows is not None and index == windows - 1
        cut = len(pending) if is_last else bisect.bisect_left(pending, (window_start + stream.knobs.window,))
        released, pending = pending[:cut], pending[cut:]
        pending.extend(stream.replays(released))
        yield from (message for _, _, message in released)
    yield from (message for _, _, message in sorted(pending))


def _check_zone(start: datetime) -> datetime:
    if start.tzinfo is None:
        raise ValueError("start must carry a time zone, e.g. 2026-11-26T10:00:00Z")
    return start


def _malformed_kinds_by_shape(kinds: dict[str, int]) -> dict[EventShape, Weighted]:
    """The kinds each topic can be given, by weight; a topic none applies to is left out."""
    by_shape = {
        shape: {kind: weight for kind, weight in kinds.items() if weight and applies(kind, shape)}
        for shape in (ORDER_SHAPE, PAYMENT_SHAPE)
    }
    return {shape: Weighted(weights) for shape, weights in by_shape.items() if weights}


def _look_like_sql(order: ShopOrder, lookalike: str) -> None:
    order.order_id += lookalike
    order.user_id += lookalike


def _pick_items(rng: random.Random, catalogue: list[Product]) -> tuple[LineItem, ...]:
    products = rng.sample(catalogue, rng.randint(1, 4))
    return tuple(LineItem(product.sku, rng.randint(1, 3), product.unit_price) for product in products)


def _money(amount: Decimal | None, as_number: bool) -> Decimal | str | None:
    # A Decimal is written as a JSON number (see to_json), a str as a decimal string.
    if amount is None:
        return None
    return amount if as_number else f"{amount:.2f}"
