"""Event simulator for the lakehouse: generates order and payment events, produces them to Kafka, and predicts Gold."""

from simulator.play import run_expected, run_produce, run_replay

__all__ = ["run_expected", "run_produce", "run_replay"]
