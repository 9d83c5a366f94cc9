-- Grain: one row per UTC minute that has at least one fully paid order (CONTRACT.md rule 5).
--
-- Incremental: a run recounts every minute a Silver change since the last run can have touched.
-- How it writes depends on the storage (LAKEHOUSE_STORAGE, set by pipeline.gold):
--   * local file system: copy-on-write (macros/copy_on_write.sql): the rows nobody touched are
--     carried over and the whole result swapped in (Trino cannot MERGE into local tables);
--   * S3: one MERGE (macros/merge_with_deletes.sql) of the recounted minutes only; a touched minute
--     left with no paid order comes out with paid_orders = 0, which deletes it.
-- A changed order can have
--   * joined a minute: the minute of its current order_ts (late payment, new order), or
--   * left a minute: one whose paid_order_ids holds it (cancelled or refunded after payment,
--     total changed, or a late earlier event moved its order_ts to an earlier minute).
-- paid_order_ids is this table's memory of which orders each minute counts. Keeping it here
-- rather than in a separate model means one query reads Silver and the previous state, so a
-- Silver commit during a Gold run cannot make the two disagree.

{% if env_var('LAKEHOUSE_STORAGE', 'local') == 's3' %}
{{ config(materialized='incremental', incremental_strategy='merge_with_deletes', unique_key='minute_bucket',
          delete_when='s.paid_orders = 0', on_table_exists='replace') }}
{% endif %}

with orders as (

    select * from {{ source('silver', 'order_payments_enriched') }}

),

paid_orders as (

    select
        date_trunc('minute', order_ts) as minute_bucket,
        order_id,
        total_amount,
        updated_ts
    from orders
    where fully_paid

),

{% if carries_over() %}
previous as (

    select * from {{ this }}

),

changed_orders as (

    -- Silver stamps every row it changes with its run's watermark, which never decreases, so
    -- everything changed since this table's newest input has updated_ts at or after it. That
    -- newest input lags Silver when its latest changes left no order fully paid (or removed
    -- the minute that held it): a lag only widens the recount.
    -- >= rather than >: a Silver run may keep the previous run's watermark, and Trino reads
    -- the timestamps at millisecond precision; recounting a minute twice is harmless.
    select
        order_id,
        date_trunc('minute', order_ts) as minute_bucket
    from orders
    where updated_ts >= (
        select coalesce(max(source_updated_ts), timestamp '1970-01-01 00:00:00 UTC') from previous
    )

),

minutes_counting_a_changed_order as (

    select previous.minute_bucket
    from previous
    cross join unnest(previous.paid_order_ids) as counted (order_id)
    where counted.order_id in (select order_id from changed_orders)

),

touched_minutes as (

    select minute_bucket from changed_orders
    union
    select minute_bucket from minutes_counting_a_changed_order

),

carried_over as (

    select
        previous.minute_bucket,
        previous.gmv,
        previous.paid_orders,
        previous.paid_order_ids,
        previous.source_updated_ts
    from previous
    left join touched_minutes on touched_minutes.minute_bucket = previous.minute_bucket
    where touched_minutes.minute_bucket is null

),

orders_to_count as (

    select paid_orders.*
    from paid_orders
    inner join touched_minutes on touched_minutes.minute_bucket = paid_orders.minute_bucket

),
{% else %}
orders_to_count as (

    select * from paid_orders

),
{% endif %}

counted as (

    select
        minute_bucket,
        -- decimal(38, 2): a minute's orders can add up to more than one order's decimal(18, 2) holds.
        cast(sum(total_amount) as decimal(38, 2)) as gmv,
        count(*) as paid_orders,
        -- Sorted, so that a full refresh and any sequence of incremental runs write equal rows.
        array_agg(order_id order by order_id) as paid_order_ids,
        max(updated_ts) as source_updated_ts
    from orders_to_count
    group by minute_bucket

),

{% if merges() %}
emptied as (

    -- A touched minute that still has a row but no paid order left: its deletion, for the MERGE.
    select
        previous.minute_bucket,
        cast(0 as decimal(38, 2)) as gmv,
        cast(0 as bigint) as paid_orders,
        cast(array[] as array(varchar)) as paid_order_ids,
        previous.source_updated_ts
    from previous
    inner join touched_minutes on touched_minutes.minute_bucket = previous.minute_bucket
    where previous.minute_bucket not in (select minute_bucket from counted)

),
{% endif %}

final as (

    {% if merges() %}
    select * from emptied
    union all
    {% elif carries_over() %}
    select * from carried_over
    union all
    {% endif %}
    select * from counted

)

select * from final
