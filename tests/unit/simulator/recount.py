"""The oracle's figures worked out a second way: counts tallied message by message, Gold in SQL over the event log."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import timezone

import duckdb

from simulator.model import Message
from simulator.oracle import GoldRow, TopicCounts
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


# The fields of each message of the log (position, topic, value); null where a field is missing or unreadable.
EVENTS = """
events as (
    select
        position,
        topic,
        value ->> 'event_id' as event_id,
        value ->> 'order_id' as order_id,
        value ->> 'payment_id' as payment_id,
        value ->> 'status' as status,
        value ->> 'currency' as currency,
        try_cast(value ->> 'total_amount' as decimal(18, 2)) as total_amount,
        try_cast(value ->> 'amount_cents' as bigint) as amount_cents,
        try_cast(value ->> 'event_ts' as timestamptz) as event_ts
    from log
)"""

# CONTRACT.md rules 1 to 5 over well-formed events, a message's position standing in for its Kafka offset
# (one order's messages share a key, hence a partition). Payments are compared in cents: exact, like decimal(18,2).
GOLD_SQL = f"""
with {EVENTS},

first_copies as (
    select * from events
    qualify row_number() over (partition by topic, event_id order by position) = 1
),

orders as (
    select *, min(event_ts) over (partition by order_id) as order_ts
    from first_copies
    where topic = $order_topic
    qualify row_number() over (partition by order_id order by event_ts desc, position desc) = 1
),

payment_events as (
    select
        * exclude (payment_id),
        coalesce(payment_id, concat_ws('|', 'no payment_id', order_id, amount_cents, currency, epoch_us(event_ts)))
            as payment_id
    from first_copies
    where topic = $payment_topic
),

payments as (
    select * from payment_events
    qualify row_number() over (partition by payment_id order by event_ts desc, position desc) = 1
),

paid as (
    select orders.order_id, sum(payments.amount_cents) as paid_cents
    from orders
    join payments
        on payments.order_id = orders.order_id and payments.currency = orders.currency and payments.status = 'captured'
    group by orders.order_id
)

select date_trunc('minute', order_ts) as minute_bucket, sum(total_amount) as gmv, count(*) as paid_orders
from orders
left join paid using (order_id)
where status <> 'cancelled' and coalesce(paid_cents, 0) >= total_amount * 100
group by minute_bucket
order by minute_bucket
"""

# The query reads no bad input: a message whose fields it cannot read fails the test, not drops out of Gold.
UNREADABLE_SQL = f"""
with {EVENTS}
select position from events
where event_id is null or order_id is null or status is null or currency is null or event_ts is null
   or topic not in ($order_topic, $payment_topic)
   or (topic = $order_topic and total_amount is null) or (topic = $payment_topic and amount_cents is null)
"""


def gold_by_sql(messages: Sequence[Message], order_topic: str, payment_topic: str) -> list[GoldRow]:
    """Gold of well-formed `messages`, given in production order, computed by DuckDB from CONTRACT.md."""
    connection = duckdb.connect()
    try:
        connection.execute("SET TimeZone = 'UTC'")
        connection.execute("create table log (position bigint, topic varchar, value varchar)")
        connection.execute(
            "insert into log select unnest(range(1, len($topics) + 1)), unnest($topics), unnest($values)",
            {"topics": [m.topic for m in messages], "values": [(m.value or b"").decode() for m in messages]},
        )
        topics = {"order_topic": order_topic, "payment_topic": payment_topic}
        unreadable = connection.execute(UNREADABLE_SQL, topics).fetchall()
        if unreadable:
            raise ValueError(f"not a well-formed event at positions {[p for (p,) in unreadable][:10]}")
        rows = connection.execute(GOLD_SQL, topics).fetchall()
    finally:
        connection.close()
    return [GoldRow(minute.astimezone(timezone.utc), gmv, paid) for minute, gmv, paid in rows]
