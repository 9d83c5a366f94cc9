"""Unit tests of the entry points: the expected file's place and content, the CLI summary, and the producer's calls."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from kafka.errors import KafkaTimeoutError

from pipeline.settings import Settings
from simulator import run_expected, run_produce
from simulator.__main__ import main
from simulator.generator import generate
from simulator.model import Message
from simulator.oracle import Expected, reconcile
from simulator.producer import ProducerError, produce


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings.from_env({"LAKEHOUSE_HOME": str(tmp_path), "TOPIC_ORDER_EVENTS": "o", "TOPIC_PAYMENT_EVENTS": "p"})


class FakeFuture:
    def __init__(self, error: Exception | None) -> None:
        self.error = error

    def add_errback(self, callback) -> "FakeFuture":
        if self.error is not None:
            callback(self.error)
        return self


class FakeProducer:
    instances: list["FakeProducer"] = []
    fail_sends = False

    def __init__(self, **config) -> None:
        self.config, self.sent, self.calls = config, [], []
        FakeProducer.instances.append(self)

    def send(self, topic, key=None, value=None):
        self.sent.append((topic, key, value))
        return FakeFuture(RuntimeError("not leader") if FakeProducer.fail_sends else None)

    def flush(self) -> None:
        self.calls.append("flush")

    def close(self, timeout=None) -> None:
        self.calls.append("close")


@pytest.fixture
def fake_kafka(monkeypatch) -> type[FakeProducer]:
    FakeProducer.instances, FakeProducer.fail_sends = [], False
    monkeypatch.setattr("kafka.KafkaProducer", FakeProducer)
    return FakeProducer


def test_run_expected_writes_the_oracle_of_the_generated_events(settings):
    expected, path = run_expected(settings, 40, 3)
    assert path == settings.home / "expected" / "orders40-seed3.json"
    assert Expected.from_json(path.read_text()) == expected
    assert expected == reconcile(generate(40, 3, "o", "p"), "o", "p")


def test_another_start_gets_its_own_file(settings):
    start = datetime(2026, 11, 26, 9, 0, tzinfo=timezone.utc)
    expected, path = run_expected(settings, 40, 3, start)
    assert path.name == "orders40-seed3-start20261126T090000Z.json"
    assert expected.gold[0].minute_bucket.hour == 9


def test_run_produce_sends_every_generated_message_in_order(settings, fake_kafka, monkeypatch):
    monkeypatch.setattr(Settings, "kafka_bootstrap", property(lambda self: "broker:9092"))
    expected, path = run_produce(settings, 30, 5)
    (producer,) = fake_kafka.instances
    messages = generate(30, 5, "o", "p")
    assert producer.sent == [(m.topic, m.key.encode(), m.value) for m in messages]
    assert producer.config["bootstrap_servers"] == "broker:9092" and producer.config["acks"] == "all"
    assert producer.calls == ["flush", "close"]
    assert Expected.from_json(path.read_text()) == expected


def test_produce_keeps_none_keys_and_values(fake_kafka):
    messages = [Message("t", None, None), Message("t", "ключ", b"\xff raw")]
    assert produce(messages, "broker:9092", progress=False) == 2
    assert fake_kafka.instances[0].sent == [("t", None, None), ("t", "ключ".encode(), b"\xff raw")]


def test_unacknowledged_messages_raise(fake_kafka):
    fake_kafka.fail_sends = True
    with pytest.raises(ProducerError, match="2 of 2 messages were not acknowledged"):
        produce([Message("t", "k", b"1"), Message("t", "k", b"2")], "broker:9092", progress=False)


def test_unreachable_broker_says_how_to_start_one(monkeypatch):
    def unreachable(**config):
        raise KafkaTimeoutError("Unable to bootstrap")

    monkeypatch.setattr("kafka.KafkaProducer", unreachable)
    with pytest.raises(ProducerError, match="python -m pipeline stack up.*KAFKA_BOOTSTRAP"):
        produce([], "127.0.0.1:1")


def test_cli_dry_run_writes_the_file_and_summarises(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LAKEHOUSE_HOME", str(tmp_path))
    monkeypatch.delenv("KAFKA_BOOTSTRAP", raising=False)
    target = tmp_path / "nested" / "out.json"
    assert main(["produce", "--orders", "25", "--seed", "9", "--dry-run", "--expected", str(target)]) == 0
    expected = Expected.from_json(target.read_text())
    summary = capsys.readouterr().out
    assert f"total GMV {expected.total_gmv}" in summary
    assert f"{expected.orders.produced} messages on orders.events" in summary
    assert str(target) in summary


def test_cli_reports_a_stopped_stack_without_a_traceback(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LAKEHOUSE_HOME", str(tmp_path))
    monkeypatch.delenv("KAFKA_BOOTSTRAP", raising=False)
    assert main(["produce", "--orders", "5", "--seed", "1"]) == 1
    assert "python -m pipeline stack up" in capsys.readouterr().err
    assert not (tmp_path / "expected").exists()
