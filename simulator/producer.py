"""Sends messages to Kafka byte for byte, in order, acknowledged by all in-sync replicas."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from simulator.model import Message
from simulator.pacing import Clock, reporting

# Idempotence keeps each partition in send order even when a batch is retried.
PRODUCER_CONFIG: dict[str, Any] = {
    "acks": "all",
    "enable_idempotence": True,
    "linger_ms": 20,
    "batch_size": 1024 * 1024,
    "compression_type": None,
    "bootstrap_timeout_ms": 15_000,
    "max_block_ms": 30_000,
}


class ProducerError(RuntimeError):
    """Kafka could not take the messages; the message says what to do."""


def produce(messages: Iterable[Message], bootstrap: str, progress: bool = True, clock: Clock = time.monotonic) -> int:
    """Send every message in the given order and wait until all are acknowledged; returns how many were sent.

    With `progress`, a long run prints how far it got on stderr every few seconds.
    """
    # Imported on use: the generator and the oracle serve tests and jobs that never talk to Kafka.
    from kafka import KafkaProducer
    from kafka.errors import KafkaConnectionError, KafkaTimeoutError

    # kafka-python 3 reports an unreachable bootstrap as KafkaTimeoutError (2.x raised NoBrokersAvailable).
    unreachable = (KafkaTimeoutError, KafkaConnectionError)
    hint = f"cannot reach Kafka at {bootstrap}: start it with `python -m pipeline stack up` or set KAFKA_BOOTSTRAP"
    try:
        producer = KafkaProducer(bootstrap_servers=bootstrap, **PRODUCER_CONFIG)
    except unreachable as error:
        raise ProducerError(f"{hint} ({error})") from error

    failures: list[BaseException] = []
    sent = 0
    try:
        for message in reporting(messages, "sent", clock) if progress else messages:
            key = None if message.key is None else message.key.encode("utf-8")
            producer.send(message.topic, key=key, value=message.value).add_errback(failures.append)
            sent += 1
        producer.flush()
    except unreachable as error:
        raise ProducerError(f"{hint} ({error})") from error
    finally:
        producer.close(timeout=10)
    if failures:
        raise ProducerError(f"{len(failures)} of {sent} messages were not acknowledged by Kafka: {failures[0]!r}")
    return sent
