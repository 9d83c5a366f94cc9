"""The single-process baseline: DuckDB computes Gold from a JSONL event log in one SQL query (CONTRACT.md rules 1-5).

A log has no Kafka offsets; its line order stands in for them (one order's messages share a key, hence a
partition, so line order is offset order wherever the rules compare positions). The query reads well-formed
events only: it drops what is not a JSON object with the required fields in readable types, which is
enough for the logs the benchmarks write (happy_path, no bad input), not a copy of rule 6.
"""

from __future__ import annotations

import time
from datetime import timezone
from decimal import Decimal
from pathlib import Path

from simulator.oracle import GoldRow

GOLD_SQL = """
with lines as (
    select ordinality as position, topic, value
    from read_json($log, format = 'newline_delimited',
                   columns = {topic: 'VARCHAR', key: 'VARCHAR', value: 'VARCHAR'}) with ordinality
    where json_valid(value) and json_type(value) = 'OBJECT'
),

order_events as (
    select
        position,
        value ->> '$.event_id' as event_id,
        value ->> '$.order_id' as order_id,
        value ->> '$.status' as status,
        value ->> '$.currency' as currency,
        try_cast(value ->> '$.total_amount' as decimal(18, 2)) as total_amount,
        try_cast(value ->> '$.event_ts' as timestamptz) as event_ts
    from lines
    where topic = $order_topic
),

payment_events as (
    select
        position,
        value ->> '$.event_id' as event_id,
        value ->> '$.payment_id' as given_payment_id,
        value ->> '$.order_id' as order_id,
        value ->> '$.status' as status,
        value ->> '$.currency' as currency,
        try_cast(try_cast(value ->> '$.amount_cents' as decimal(38, 2)) as bigint) as amount_cents,
        try_cast(value ->> '$.event_ts' as timestamptz) as event_ts
    from lines
    where topic = $payment_topic
),

-- Rule 1: of the copies of an event, the earliest is kept.
orders_clean as (
    select * from order_events
    where event_id is not null and order_id is not null and status is not null and currency is not null
      and total_amount is not null and event_ts is not null
    qualify row_number() over (partition by event_id order by position) = 1
),

payments_clean as (
    select
        * exclude (given_payment_id),
        -- A payment without payment_id gets a deterministic one from its content (CONTRACT.md).
        coalesce(given_payment_id, concat_ws('|', 'synthetic', order_id, amount_cents, currency,
                                             epoch_us(event_ts))) as payment_id
    from payment_events
    where event_id is not null and order_id is not null and status is not null and currency is not null
      and amount_cents is not null and event_ts is not null
    qualify row_number() over (partition by event_id order by position) = 1
),

-- Rule 2: an order is its latest event by event_ts, ties to the later position; order_ts its earliest event_ts.
order_state as (
    select *, min(event_ts) over (partition by order_id) as order_ts
    from orders_clean
    qualify row_number() over (partition by order_id order by event_ts desc, position desc) = 1
),

-- Rule 3: a payment is its latest event; captured payments in the order's currency count.
payment_state as (
    select * from payments_clean
    qualify row_number() over (partition by payment_id order by event_ts desc, position desc) = 1
),

paid as (
    select payment_state.order_id, sum(payment_state.amount_cents) as paid_cents
    from payment_state
    join order_state on order_state.order_id = payment_state.order_id
    where payment_state.status = 'captured' and payment_state.currency = order_state.currency
    group by payment_state.order_id
),

-- Rule 4: fully paid = not cancelled and paid at least the total.
fully_paid as (
    select order_state.order_ts, order_state.total_amount
    from order_state
    left join paid on paid.order_id = order_state.order_id
    where order_state.status <> 'cancelled' and coalesce(paid.paid_cents, 0) >= order_state.total_amount * 100
)

-- Rule 5: per UTC minute of order_ts.
select date_trunc('minute', order_ts) as minute_bucket, sum(total_amount) as gmv, count(*) as paid_orders
from fully_paid
group by 1
order by 1
"""


def gold(log: Path, order_topic: str, payment_topic: str) -> tuple[list[GoldRow], float]:
    """Gold from the event log at `log`, and the seconds the query took (connecting is not timed)."""
    import duckdb

    connection = duckdb.connect()
    try:
        connection.execute("SET TimeZone = 'UTC'")
        started = time.perf_counter()
        rows = connection.execute(GOLD_SQL, {"log": str(log), "order_topic": order_topic,
                                             "payment_topic": payment_topic}).fetchall()
        seconds = time.perf_counter() - started
    finally:
        connection.close()
    return [GoldRow(minute.astimezone(timezone.utc), Decimal(gmv).quantize(Decimal("0.01")), int(paid))
            for minute, gmv, paid in rows], seconds
