"""Stand-ins for the simulator tests: a clock that only sleeping moves."""

from __future__ import annotations


class FakeClock:
    """Call it for the time; `sleep` moves it on instead of waiting."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
