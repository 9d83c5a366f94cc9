"""The oracle's figures worked out a second way: counts tallied message by message."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from simulator.model import Message
from simulator.oracle import TopicCounts
from simulator.validation import Invalid, Valid, validate_order, validate_payment


def validated(message: Message, order_topic: str) -> str | Invalid:
    """A message's reading by simulator/validation.py (the rule the Spark pipeline shares): its event_id, or the
    reason CONTRACT.md rule 6 quarantines it."""
    outcome = validate_order(message.value) if message.topic == order_topic else validate_payment(message.value)
    return outcome.event.event_id if isinstance(outcome, Valid) else outcome


def topic_counts(messages: Sequence[Message], readings: Sequence[str | Invalid], topic: str) -> TopicCounts:
    """One topic's counts, each measured on its own (CONTRACT.md rule 6): produced = its messages, clean = their
    distinct event_ids, duplicates = later copies of one, quarantined = those read as Invalid. (The oracle
    tallies produced, duplicates and reasons as it folds, and takes clean as what is left.)"""
    on_topic = [reading for message, reading in zip(messages, readings, strict=True) if message.topic == topic]
    copies = Counter(reading for reading in on_topic if not isinstance(reading, Invalid))
    return TopicCounts(
        topic=topic,
        produced=sum(message.topic == topic for message in messages),
        clean=len(copies),
        duplicates=sum(n - 1 for n in copies.values()),
        quarantined=sum(isinstance(reading, Invalid) for reading in on_topic),
        quarantine_reasons=Counter(reading.reason for reading in on_topic if isinstance(reading, Invalid)),
    )
