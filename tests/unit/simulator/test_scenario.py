"""Scenario files load into the knobs the simulator runs with."""

import pytest

from simulator.scenario import available, load


def test_every_scenario_file_loads():
    assert "happy_path" in available()
    for name in available():
        scenario = load(name)
        assert scenario.name == name and scenario.orders > 0 and scenario.invariants


def test_happy_path_knobs():
    scenario = load("happy_path")
    assert (scenario.orders, scenario.seed) == (2000, 7)


def test_an_unknown_scenario_names_the_available_ones():
    with pytest.raises(ValueError, match="no scenario 'nope'; available: .*happy_path"):
        load("nope")
