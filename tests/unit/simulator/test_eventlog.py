"""Event logs round-trip every message byte for byte, and name the file and line of a bad record."""

from __future__ import annotations

import json

import pytest

from simulator import eventlog
from simulator.generator import generate
from simulator.knobs import Knobs
from simulator.model import Message
from tests.messages import ORDERS, PAYMENTS

ODD_MESSAGES = [
    Message(ORDERS, "o-1", b'{"event_id":"e-1"}'),
    Message(ORDERS, "o-1", b""),
    Message(PAYMENTS, "o-1", None),
    Message(PAYMENTS, None, b"\xff\xfe not UTF-8 \x80"),
    Message(ORDERS, "o-2", b'{"event_id": "\xed\xa0\x80"}'),  # a surrogate encoded as UTF-8: invalid too
    Message(ORDERS, "o-2", b'{"escaped": "\\ud800 \\udcff"}'),  # the escapes as text, valid UTF-8
    Message(ORDERS, "ключ 🛒", "Zoë 🛒 line\nbreak \u2028 tab\t".encode()),
    Message(ORDERS, "o-3", b"x" * 850_000),
    Message(ORDERS, "o-3", b"\x00\r\n"),
]


def test_odd_messages_round_trip_byte_for_byte(tmp_path):
    log = tmp_path / "odd.jsonl"
    assert eventlog.write(log, ODD_MESSAGES) == len(ODD_MESSAGES)
    assert eventlog.read(log) == ODD_MESSAGES


def test_a_log_is_ascii_json_lines_with_the_value_as_text(tmp_path):
    log = tmp_path / "odd.jsonl"
    eventlog.write(log, ODD_MESSAGES[:4])
    lines = log.read_bytes().decode("ascii").splitlines()
    assert [json.loads(line) for line in lines] == [
        {"topic": ORDERS, "key": "o-1", "value": '{"event_id":"e-1"}'},
        {"topic": ORDERS, "key": "o-1", "value": ""},
        {"topic": PAYMENTS, "key": "o-1", "value": None},
        {"topic": PAYMENTS, "key": None, "value": "\udcff\udcfe not UTF-8 \udc80"},
    ]
    assert "\\udcff\\udcfe not UTF-8 \\udc80" in lines[3]


def test_a_generated_run_with_bad_input_round_trips(tmp_path):
    messages = generate(100, 3, ORDERS, PAYMENTS, knobs=Knobs(malformed_share=0.5, huge_share=0.01))
    log = tmp_path / "run.jsonl"
    eventlog.write(log, messages)
    assert eventlog.read(log) == messages


def test_the_writer_appends_as_messages_come(tmp_path):
    log = tmp_path / "nested" / "live.jsonl"
    with eventlog.LogWriter(log) as writer:
        writer.append(ODD_MESSAGES[0])
        writer.append(ODD_MESSAGES[2])
    assert writer.written == 2 and eventlog.read(log) == [ODD_MESSAGES[0], ODD_MESSAGES[2]]


def test_blank_lines_are_skipped(tmp_path):
    log = tmp_path / "blank.jsonl"
    log.write_text('\n{"topic": "t", "key": null, "value": "v"}\n\n')
    assert eventlog.read(log) == [Message("t", None, b"v")]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", "not JSON"),
        ("[1, 2]", "expected an object with exactly topic, key, value"),
        ('{"topic": "t", "key": null}', "expected an object with exactly topic, key, value"),
        ('{"topic": "t", "key": null, "value": "v", "partition": 0}', "expected an object with exactly"),
        ('{"topic": "", "key": null, "value": "v"}', "topic must be a non-empty string"),
        ('{"topic": "t", "key": 7, "value": "v"}', "key must be a string or null, not int"),
        ('{"topic": "t", "key": null, "value": {"a": 1}}', "value must be a string or null, not dict"),
        ('{"topic": "t", "key": null, "value": "\\ud800"}', r"value holds the lone surrogate \\ud800"),
        ('{"topic": "t", "key": "\\udcff", "value": ""}', r"key holds the lone surrogate \\udcff \(keys are UTF-8\)"),
    ],
)
def test_a_bad_line_is_named_by_file_and_number(tmp_path, line, message):
    log = tmp_path / "bad.jsonl"
    log.write_text('{"topic": "t", "key": null, "value": "ok"}\n' + line + "\n")
    with pytest.raises(ValueError, match=f"{log}:2: {message}"):
        eventlog.read(log)
