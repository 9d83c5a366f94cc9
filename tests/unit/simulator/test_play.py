"""Unit tests of the entry points: the expected file's place and content, the CLI summary, and the producer's calls."""

from __future__ import annotations

from datetime import datetime, timezone
from itertools import islice

import pytest
from kafka.errors import KafkaTimeoutError

from pipeline.settings import Settings
from simulator import eventlog, run_expected, run_produce, run_replay
from simulator.__main__ import main
from simulator.generator import generate
from simulator.model import Message
from simulator.oracle import Expected, expect
from simulator.producer import ProducerError, produce
from simulator.scenario import load
from tests.unit.simulator.fakes import FakeClock


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
    monkeypatch.setattr(Settings, "kafka_bootstrap", property(lambda self: "broker:9092"))
    return FakeProducer


def sent_messages(producer: FakeProducer) -> list[Message]:
    return [Message(topic, None if key is None else key.decode(), value) for topic, key, value in producer.sent]


def test_run_expected_writes_the_oracle_of_the_generated_events(settings):
    expected, path = run_expected(settings, 40, 3)
    assert path == settings.home / "expected" / "orders40-seed3.json"
    assert Expected.from_json(path.read_text()) == expected
    assert expected == expect(generate(40, 3, "o", "p"), "o", "p")


def test_another_start_gets_its_own_file(settings):
    start = datetime(2026, 11, 26, 9, 0, tzinfo=timezone.utc)
    expected, path = run_expected(settings, 40, 3, start)
    assert path.name == "orders40-seed3-start20261126T090000Z.json"
    assert expected.gold[0].minute_bucket.hour == 9


def test_run_produce_sends_every_generated_message_in_order(settings, fake_kafka):
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


# -- scenarios, recording, pacing, replay ------------------------------------------------------------------


def test_run_produce_plays_the_named_scenario_and_records_what_it_sent(settings, fake_kafka, tmp_path):
    log = tmp_path / "logs" / "bad.jsonl"
    expected, path = run_produce(settings, 40, scenario="bad_input", record=log)
    messages = load("bad_input").messages("o", "p", orders=40)
    assert sent_messages(fake_kafka.instances[0]) == messages == eventlog.read(log)
    assert path == settings.home / "expected" / "bad_input-orders40-seed19.json"
    assert Expected.from_json(path.read_text()) == expected == expect(messages, "o", "p")
    assert expected.orders.quarantined > 0


def test_a_run_bounded_by_time_sends_at_the_rate_and_expects_what_it_sent(settings, fake_kafka, tmp_path):
    clock = FakeClock()
    expected, path = run_produce(settings, scenario="duplicates", duration=4, rate=250, clock=clock, sleep=clock.sleep,
                                 record=tmp_path / "timed.jsonl")
    sent = sent_messages(fake_kafka.instances[0])
    # The 1001st message, due at 4 s, is the first not sent.
    assert len(sent) == 1000 and clock.now - 1000 == pytest.approx(4)
    assert sent == eventlog.read(tmp_path / "timed.jsonl") == list(islice(load("duplicates").endless("o", "p"), 1000))
    assert expected == expect(sent, "o", "p") and expected.orders.produced + expected.payments.produced == 1000
    assert path.name == "duplicates-4s-seed11.json"


def test_orders_and_a_duration_do_not_go_together(settings):
    with pytest.raises(ValueError, match="bounded by orders or by a duration, not both"):
        run_produce(settings, 10, duration=5, dry_run=True)


def test_run_replay_sends_the_log_byte_for_byte_and_expects_the_logs_outcome(settings, fake_kafka, tmp_path):
    messages = load("malformed_only").messages("o", "p", orders=30) + generate(20, 3, "o", "p")
    log = tmp_path / "recorded.jsonl"
    eventlog.write(log, messages)
    clock = FakeClock()
    expected, path = run_replay(settings, log, rate=100, clock=clock, sleep=clock.sleep)
    assert sent_messages(fake_kafka.instances[0]) == messages
    assert clock.now - 1000 == pytest.approx((len(messages) - 1) / 100)
    assert path == settings.home / "expected" / "replay-recorded.json"
    assert Expected.from_json(path.read_text()) == expected == expect(messages, "o", "p")


def test_a_log_for_other_topics_is_refused_before_anything_is_sent(settings, fake_kafka, tmp_path):
    log = tmp_path / "elsewhere.jsonl"
    eventlog.write(log, generate(5, 1, "orders.events", "payments.events"))
    with pytest.raises(ValueError, match=r"holds messages for topics \['orders.events', 'payments.events'\]"):
        run_replay(settings, log)
    assert fake_kafka.instances == []


def test_run_expected_of_a_log(settings, tmp_path):
    log = tmp_path / "some.jsonl"
    eventlog.write(log, generate(25, 4, "o", "p"))
    expected, path = run_expected(settings, log=log)
    assert expected == expect(generate(25, 4, "o", "p"), "o", "p")
    assert Expected.from_json(path.read_text()) == expected and path.name == "replay-some.json"


def test_cli_records_a_scenario_and_replays_it(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LAKEHOUSE_HOME", str(tmp_path))
    log, first, again = tmp_path / "run.jsonl", tmp_path / "first.json", tmp_path / "again.json"
    argv = ["produce", "--scenario", "late_events", "--orders", "20", "--dry-run", "--record", str(log)]
    assert main([*argv, "--expected", str(first)]) == 0
    assert main(["replay", str(log), "--dry-run", "--expected", str(again)]) == 0
    assert main(["expected", "--log", str(log)]) == 0
    out = capsys.readouterr().out
    assert first.read_text() == again.read_text() == (tmp_path / "expected" / "replay-run.json").read_text()
    assert "Generated (not sent to Kafka)" in out and str(again) in out


def test_cli_refuses_a_scenario_with_a_log(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LAKEHOUSE_HOME", str(tmp_path))
    with pytest.raises(SystemExit) as exit_info:
        main(["expected", "--log", "x.jsonl", "--seed", "3"])
    assert exit_info.value.code == 2 and "leave out --scenario, --orders" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["produce", "--orders", "5", "--duration", "3", "--dry-run"], "bounded by orders or by a duration"),
        (["produce", "--scenario", "nope", "--dry-run"], "no scenario 'nope'; available: bad_input"),
        (["replay", "missing.jsonl"], "missing.jsonl"),
    ],
)
def test_cli_says_what_is_wrong_without_a_traceback(tmp_path, monkeypatch, capsys, argv, message):
    monkeypatch.setenv("LAKEHOUSE_HOME", str(tmp_path))
    monkeypatch.setenv("KAFKA_BOOTSTRAP", "broker:9092")
    assert main(argv) == 1
    assert message in capsys.readouterr().err
