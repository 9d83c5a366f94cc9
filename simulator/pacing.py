"""Pacing a stream of messages: a rate limit, a time bound and progress lines, on an injectable clock."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TextIO, TypeVar

Item = TypeVar("Item")
Clock = Callable[[], float]
Sleep = Callable[[float], None]
PROGRESS_EVERY_SECONDS = 10.0


def paced(
    items: Iterable[Item], rate: float | None, clock: Clock = time.monotonic, sleep: Sleep = time.sleep
) -> Iterator[Item]:
    """At most `rate` items per second: the n-th item (from 0) is let through no earlier than n / rate seconds in.

    A consumer that falls behind catches up at full speed, so the average rate stays the one asked for.
    """
    if rate is None:
        yield from items
        return
    if rate <= 0:
        raise ValueError(f"rate must be above 0, not {rate}")
    started = clock()
    for sent, item in enumerate(items):
        wait = started + sent / rate - clock()
        if wait > 0:
            sleep(wait)
        yield item


def for_seconds(items: Iterable[Item], seconds: float | None, clock: Clock = time.monotonic) -> Iterator[Item]:
    """The items that come before `seconds` have passed since the first was asked for; all of them without a bound."""
    if seconds is None:
        yield from items
        return
    deadline = clock() + seconds
    for item in items:
        if clock() >= deadline:
            return
        yield item


def reporting(
    items: Iterable[Item],
    what: str,
    clock: Clock = time.monotonic,
    every: float = PROGRESS_EVERY_SECONDS,
    out: TextIO | None = None,
) -> Iterator[Item]:
    """The items unchanged, with a line on stderr every `every` seconds saying how many went by and how fast."""
    started = last = clock()
    count = 0
    for item in items:
        yield item
        count += 1
        now = clock()
        if now - last >= every:
            last = now
            rate = count / (now - started)
            print(f"simulator: {count:,} messages {what} in {now - started:,.0f}s ({rate:,.0f}/s)",
                  file=out or sys.stderr, flush=True)
