"""A reading taken every few seconds in a thread while a figure runs the pipeline continuously (P4, the soak)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class PeriodicSampler:
    """Calls `read` every `every` seconds between start() and stop(); each sample is its dict with `t`, the
    seconds since start(). A reading that raises is kept as an `error` sample, not a failed run; mark() adds
    an event (such as "load stopped") at its time."""

    def __init__(self, read: Callable[[], dict], every: float, name: str) -> None:
        self._read, self._every = read, every
        self.samples: list[dict] = []
        self._started = time.monotonic()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._started = time.monotonic()
        self._thread.start()

    def mark(self, event: str) -> None:
        self.samples.append({"t": self._now(), "event": event})

    def stop(self) -> None:
        self._done.set()
        if self._thread.is_alive():
            self._thread.join(timeout=60)

    def _now(self) -> float:
        return time.monotonic() - self._started

    def _run(self) -> None:
        while not self._done.is_set():
            at = self._now()
            try:
                self.samples.append({"t": at, **self._read()})
            except Exception as error:  # noqa: BLE001 -- a missed reading is shown as such, not a failed run
                self.samples.append({"t": at, "error": f"{type(error).__name__}: {error}"})
            self._done.wait(self._every)
