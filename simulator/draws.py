"""The random draws the generator and the stories share; each call consumes the seeded stream in a fixed way."""

from __future__ import annotations

import random
from bisect import bisect_right
from collections.abc import Mapping
from datetime import timedelta
from itertools import accumulate

MILLISECOND = timedelta(milliseconds=1)


class Weighted:
    """Names drawn by relative weight, summed once: a draw is rng.choices(names, weights)[0], the same one random()."""

    def __init__(self, weights: Mapping[str, int]) -> None:
        self.names = list(weights)
        self._cumulative = list(accumulate(weights.values()))
        self._total = self._cumulative[-1] + 0.0

    def draw(self, rng: random.Random) -> str:
        return self.names[bisect_right(self._cumulative, rng.random() * self._total, 0, len(self.names) - 1)]


def chance(rng: random.Random, share: float) -> bool:
    # A share of 0 draws nothing, so a knob left at 0 leaves every other draw, and the bytes, as they were.
    return share > 0 and rng.random() < share


def duration_between(rng: random.Random, low: timedelta, high: timedelta) -> timedelta:
    """A duration from low to high, to the millisecond."""
    return timedelta(milliseconds=rng.randint(low // MILLISECOND, high // MILLISECOND))


def seconds_between(rng: random.Random, low: int, high: int) -> timedelta:
    return duration_between(rng, timedelta(seconds=low), timedelta(seconds=high))
