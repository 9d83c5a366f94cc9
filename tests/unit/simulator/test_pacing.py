"""The rate limit, the time bound and the progress lines, on a fake clock that only sleeping moves."""

from __future__ import annotations

import io
from itertools import count

import pytest

from simulator.pacing import for_seconds, paced, reporting
from tests.unit.simulator.fakes import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def test_the_rate_limit_lets_the_nth_item_through_no_earlier_than_n_over_rate(clock):
    times = [clock.now - 1000 for _ in paced(range(50), rate=20, clock=clock, sleep=clock.sleep)]
    assert times == pytest.approx([n / 20 for n in range(50)])


def test_a_slow_consumer_catches_up_without_exceeding_the_rate(clock):
    times = []
    for n in paced(range(40), rate=10, clock=clock, sleep=clock.sleep):
        times.append(clock.now - 1000)
        if n == 5:
            clock.now += 2.0  # the consumer stalls for two seconds
    # After the stall the items due meanwhile go at once, then the pace resumes: never ahead of n / rate.
    assert all(time >= n / 10 - 1e-9 for n, time in enumerate(times))
    assert times[6:26] == pytest.approx([2.5] * 20) and times[26:] == pytest.approx([n / 10 for n in range(26, 40)])


def test_no_rate_means_no_sleep(clock):
    assert list(paced(range(5), rate=None, clock=clock, sleep=clock.sleep)) == [0, 1, 2, 3, 4]
    assert clock.sleeps == []


def test_a_rate_must_be_positive(clock):
    with pytest.raises(ValueError, match="rate must be above 0"):
        list(paced(range(5), rate=0, clock=clock, sleep=clock.sleep))


def test_a_time_bound_stops_an_endless_stream(clock):
    sent = list(for_seconds(paced(count(), rate=100, clock=clock, sleep=clock.sleep), seconds=3, clock=clock))
    assert sent == list(range(300))


def test_no_time_bound_takes_everything(clock):
    assert list(for_seconds(range(7), seconds=None, clock=clock)) == list(range(7))


def test_progress_is_reported_every_few_seconds_on_long_runs_only(clock):
    out = io.StringIO()
    for _ in reporting(paced(range(100), rate=4, clock=clock, sleep=clock.sleep), "sent", clock, every=10, out=out):
        pass
    assert out.getvalue().splitlines() == [
        "simulator: 41 messages sent in 10s (4/s)",
        "simulator: 81 messages sent in 20s (4/s)",
    ]
    short = io.StringIO()
    list(reporting(range(100), "sent", clock, every=10, out=short))
    assert short.getvalue() == ""
