"""Sends messages to Kafka byte for byte, in order, acknowledged by all in-sync replicas."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sized

from simulator.model import Message

PROGRESS_EVERY = 10_000


class ProducerError(RuntimeError):
    """Kafka could not take the messages; the message says what to do."""


def produce(messages: Iterable[Message], bootstrap: str, progress: bool = True) -> int:
    """Send every message in the given order and wait until all are acknowledged; returns how many were sent."""
    # Imported on use: the generator and the oracle serve tests and jobs that never talk to Kafka.
    from kafka import KafkaProducer
    from kafka.errors import KafkaConnectionError, KafkaTimeoutError

    # kafka-python 3 reports an unreachable bootstrap as KafkaTimeoutError (2.x raised NoBrokersAvailable).
    unreachable = (KafkaTimeoutError, KafkaConnectionError)
    hint = f"cannot reach Kafka at {bootstrap}: start it with `python -m pipeline stack up` or set KAFKA_BOOTSTRAP"
    try:
        producer = KafkaProducer(
            bootstrap_servers=bootstrap,
            acks="all",
            # Idempotence keeps each partition in send order even when a batch is retried.
            enable_idempotence=True,
            linger_ms=20,
            batch_size=1024 * 1024,
            compression_type=None,
            bootstrap_timeout_ms=15_000,
            max_block_ms=30_000,
        )
    except unreachable as error:
        raise ProducerError(f"{hint} ({error})") from error

    failures: list[BaseException] = []
    total = f"/{len(messages)}" if isinstance(messages, Sized) else ""
    sent = 0
    try:
        for message in messages:
            key = None if message.key is None else message.key.encode("utf-8")
            producer.send(message.topic, key=key, value=message.value).add_errback(failures.append)
            sent += 1
            if progress and sent % PROGRESS_EVERY == 0:
                print(f"produced {sent}{total} messages", file=sys.stderr, flush=True)
        producer.flush()
    except unreachable as error:
        raise ProducerError(f"{hint} ({error})") from error
    finally:
        producer.close(timeout=10)
    if failures:
        raise ProducerError(f"{len(failures)} of {sent} messages were not acknowledged by Kafka: {failures[0]!r}")
    return sent
