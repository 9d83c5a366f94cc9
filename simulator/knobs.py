"""The knobs of a simulator run: which stories orders follow, and how their messages reach Kafka.

The defaults are the happy path: `generate(...)` with `Knobs()` gives the bytes it gave before knobs existed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from simulator.malformed import KINDS
from simulator.stories import NEEDS_TWO_CURRENCIES, STORIES

DurationRange = tuple[timedelta, timedelta]

# Relative weights of the stories in simulator/stories.py; the order matters to the draws.
HAPPY_PATH_STORIES = {
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
HAPPY_PATH_CURRENCIES = {"USD": 60, "EUR": 25, "GBP": 15}
_CURRENCY = re.compile(r"[A-Z]{3}")


@dataclass(frozen=True)
class Knobs:
    # What happens to each order after it is created (simulator/stories.py), and in which currency.
    stories: dict[str, int] = field(default_factory=lambda: dict(HAPPY_PATH_STORIES))
    currencies: dict[str, int] = field(default_factory=lambda: dict(HAPPY_PATH_CURRENCIES))
    # Orders are created within this much event time (per window, when a run is bounded by a duration).
    window: timedelta = timedelta(minutes=60)
    # At-least-once delivery: this share of messages is sent again, the same bytes, a little later.
    redelivered_share: float = 0.02
    redelivery_delay: DurationRange = (timedelta(seconds=1), timedelta(minutes=10))
    # A producer re-sending a contiguous batch of messages it had already sent, byte for byte, much later.
    replayed_batches: int = 0
    replayed_batch_size: int = 200
    replay_delay: DurationRange = (timedelta(hours=1), timedelta(hours=6))
    # Messages that reach Kafka long after their event_ts.
    late_share: float = 0.01
    late_delay: DurationRange = (timedelta(minutes=1), timedelta(minutes=30))
    # One order's events out of order, as a share of the orders that have such events.
    payment_before_order_share: float = 0.0
    cancel_before_create_share: float = 0.0
    update_before_create_share: float = 0.0
    # Bad input (CONTRACT.md rule 6): this share of events gets a malformed twin of a kind drawn from
    # malformed_kinds (simulator/malformed.py); with malformed_only, only the twins are sent.
    malformed_share: float = 0.0
    malformed_kinds: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 1))
    malformed_only: bool = False
    # Odd but valid input, which must count: events padded to hundreds of KB, orders whose ids look like SQL.
    huge_share: float = 0.0
    sql_like_share: float = 0.0

    def __post_init__(self) -> None:
        _check_weights("stories", self.stories, known=STORIES)
        _check_weights("malformed_kinds", self.malformed_kinds, known=KINDS)
        _check_weights("currencies", self.currencies, known=None)
        bad_codes = [code for code in self.currencies if not _CURRENCY.fullmatch(code)]
        if bad_codes:
            raise ValueError(f"currencies: {bad_codes} are not three capital letters, e.g. USD")
        uses_two = [name for name in NEEDS_TWO_CURRENCIES if self.stories.get(name)]
        if uses_two and len(self.currencies) < 2:
            raise ValueError(f"stories {uses_two} pay in another currency: give at least two currencies")
        for name, value in vars(self).items():
            if name.endswith("_share") and not 0 <= value <= 1:
                raise ValueError(f"{name} = {value}: a share is from 0 to 1")
            if name.endswith(("_delay", "window")):
                _check_durations(name, value)
        if self.replayed_batches < 0 or self.replayed_batch_size < 1:
            raise ValueError("replayed_batches must be at least 0 and replayed_batch_size at least 1")



def _check_weights(name: str, weights: Mapping[str, int], known: Mapping[str, object] | None) -> None:
    unknown = sorted(set(weights) - set(known or weights))
    if unknown:
        raise ValueError(f"{name}: unknown {unknown}; known: {', '.join(known or ())}")
    if any(not isinstance(weight, int) or weight < 0 for weight in weights.values()) or not sum(weights.values()):
        raise ValueError(f"{name}: weights are whole numbers from 0 up, at least one above 0; got {dict(weights)}")


def _check_durations(name: str, value: timedelta | DurationRange) -> None:
    low, high = value if isinstance(value, tuple) else (value, value)
    if not timedelta(0) <= low <= high or (name == "window" and not high):
        raise ValueError(f"{name} = {value}: durations from 0 up, the range's low end first")


DEFAULT_KNOBS = Knobs()
