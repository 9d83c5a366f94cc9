"""Knobs refuse what the generator could not play, and say what would do."""

from __future__ import annotations

from datetime import timedelta

import pytest

from simulator.knobs import HAPPY_PATH_STORIES, Knobs


def test_defaults_are_the_happy_path():
    knobs = Knobs()
    assert knobs.stories == HAPPY_PATH_STORIES and knobs.currencies == {"USD": 60, "EUR": 25, "GBP": 15}
    assert (knobs.malformed_share, knobs.replayed_batches, knobs.huge_share, knobs.sql_like_share) == (0, 0, 0, 0)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"stories": {"paid": 1, "gifted": 2}}, r"stories: unknown \['gifted'\]; known: paid, split_paid"),
        ({"stories": {"paid": 0}}, "at least one above 0"),
        ({"stories": {"paid": -1, "unpaid": 3}}, "whole numbers from 0 up"),
        ({"stories": {"paid": 0.5}}, "whole numbers"),
        ({"malformed_kinds": {"rude": 1}}, r"malformed_kinds: unknown \['rude'\]; known: invalid_json"),
        ({"currencies": {"usd": 1}}, r"\['usd'\] are not three capital letters"),
        ({"currencies": {"USD": 1}}, r"stories \['other_currency_paid'\] pay in another currency"),
        ({"late_share": 1.5}, "late_share = 1.5: a share is from 0 to 1"),
        ({"malformed_share": -0.1}, "malformed_share"),
        ({"late_delay": (timedelta(hours=2), timedelta(hours=1))}, "late_delay .* the range's low end first"),
        ({"window": timedelta(0)}, "window"),
        ({"replayed_batch_size": 0}, "replayed_batch_size at least 1"),
    ],
)
def test_impossible_knobs_are_refused(changes, message):
    with pytest.raises(ValueError, match=message):
        Knobs(**changes)


def test_one_currency_is_enough_without_the_other_currency_story():
    assert Knobs(currencies={"CHF": 1}, stories={"paid": 1}).currencies == {"CHF": 1}
