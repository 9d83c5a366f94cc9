"""Event logs: the messages of a run as JSON Lines, to replay into Kafka byte for byte.

One line per Kafka record, in production order: {"topic": "...", "key": "...", "value": "..."}.
`key` is a string or null. `value` is the message exactly as produced, as text; a null Kafka value
is JSON null and an empty one "". A value that is not valid UTF-8 (bad input is meant to be sent as
it is) is decoded with Python's surrogateescape error handler: each byte that is not part of valid
UTF-8, 0xXY, becomes the lone surrogate U+DCXY, which json.dumps writes as the escape \\udcXY.
Reading the line back and encoding the value with surrogateescape turns each U+DCXY into the byte
0xXY again, so every message, however malformed, replays byte for byte. The file itself is ASCII.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

from simulator.model import Message

FIELDS = ("topic", "key", "value")


class LogWriter:
    """Appends messages to a new log as they are produced (a context manager; the file is replaced)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = path.open("w", encoding="ascii", newline="\n")
        self.written = 0

    def append(self, message: Message) -> None:
        self._file.write(to_line(message) + "\n")
        self.written += 1

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> LogWriter:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()


def write(path: Path, messages: Iterable[Message]) -> int:
    """Write `messages` to a new log at `path`; returns how many were written."""
    with LogWriter(path) as log:
        for message in messages:
            log.append(message)
    return log.written


def read(path: Path) -> list[Message]:
    """Every message of the log at `path`, in order; a line that is not a message raises ValueError (file:line)."""
    return list(records(path))


def records(path: Path) -> Iterator[Message]:
    """The messages of the log at `path`, read one line at a time; blank lines are skipped."""
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if line.strip():
                try:
                    yield from_line(line)
                except ValueError as error:
                    raise ValueError(f"{path}:{number}: {error}") from None


def to_line(message: Message) -> str:
    value = None if message.value is None else message.value.decode("utf-8", errors="surrogateescape")
    return json.dumps({"topic": message.topic, "key": message.key, "value": value})


def from_line(line: str) -> Message:
    try:
        record = json.loads(line)
    except ValueError as error:
        raise ValueError(f"not JSON ({error})") from None
    if not isinstance(record, dict) or set(record) != set(FIELDS):
        raise ValueError(f"expected an object with exactly {', '.join(FIELDS)}")
    topic, key, value = (record[name] for name in FIELDS)
    if not isinstance(topic, str) or not topic:
        raise ValueError("topic must be a non-empty string")
    _check_text("key", key)
    _check_text("value", value)
    if key is not None:
        _to_bytes("key", key, errors="strict")  # a Kafka key is sent as UTF-8
    return Message(topic, key, None if value is None else _to_bytes("value", value, errors="surrogateescape"))


def _check_text(name: str, text: Any) -> None:
    if text is not None and not isinstance(text, str):
        raise ValueError(f"{name} must be a string or null, not {type(text).__name__}")


def _to_bytes(name: str, text: str, errors: str) -> bytes:
    try:
        return text.encode("utf-8", errors=errors)
    except UnicodeEncodeError as error:
        where = "only \\udc80 to \\udcff stand for raw bytes, in a value" if name == "value" else "keys are UTF-8"
        raise ValueError(f"{name} holds the lone surrogate \\u{ord(text[error.start]):04x} ({where})") from None
