"""The periodic sampler P4 and the soak read `pipeline lag`, RSS and file counts with."""

from __future__ import annotations

import time

from benchmarks.sampling import PeriodicSampler


def test_samples_are_taken_until_stopped_and_a_failed_reading_is_kept_as_such():
    readings = iter([{"behind": 3}, ValueError("no stack"), {"behind": 0}])

    def read() -> dict:
        reading = next(readings, {"behind": 0})
        if isinstance(reading, Exception):
            raise reading
        return reading

    sampler = PeriodicSampler(read, every=0.01, name="test-sampler")
    sampler.start()
    while len(sampler.samples) < 3:
        time.sleep(0.01)
    sampler.mark("load stopped")
    sampler.stop()
    count = len(sampler.samples)
    time.sleep(0.05)

    assert len(sampler.samples) == count  # nothing after stop()
    first, failed, third = sampler.samples[:3]
    assert (first["behind"], failed["error"], third["behind"]) == (3, "ValueError: no stack", 0)
    assert [s["t"] for s in sampler.samples[:3]] == sorted(s["t"] for s in sampler.samples[:3])
    assert {"event": "load stopped"}.items() <= sampler.samples[-1].items()
