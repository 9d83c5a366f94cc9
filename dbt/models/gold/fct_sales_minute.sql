-- Grain: one row per UTC minute that has at least one fully paid order (CONTRACT.md rule 5).
-- Incremental: a run recomputes the minutes of orders that changed since the last run and
-- carries every other minute over unchanged (see macros/incremental_copy_on_write.sql).
{{ config(unique_key='minute_bucket') }}

with orders as (

    select * from {{ source('silver', 'order_payments_enriched') }}

),

paid_orders as (

    select
        date_trunc('minute', order_ts) as minute_bucket,
        total_amount,
        updated_ts
    from orders
    where fully_paid

),

{% if is_incremental() %}
previous as (

    select * from {{ this }}

),

changed_minutes as (

    -- >= rather than >: Trino reads Silver's timestamps at millisecond precision, so an
    -- update in the watermark's millisecond is recomputed rather than missed.
    select distinct date_trunc('minute', order_ts) as minute_bucket
    from orders
    where updated_ts >= (
        select coalesce(max(source_updated_ts), timestamp '1970-01-01 00:00:00 UTC') from previous
    )

),

carried_over as (

    select * from previous
    where minute_bucket not in (select minute_bucket from changed_minutes)

),

recomputed as (

    select
        paid_orders.minute_bucket,
        cast(sum(paid_orders.total_amount) as decimal(18, 2)) as gmv,
        count(*) as paid_orders,
        max(paid_orders.updated_ts) as source_updated_ts,
        current_timestamp as processed_ts
    from paid_orders
    inner join changed_minutes on changed_minutes.minute_bucket = paid_orders.minute_bucket
    group by paid_orders.minute_bucket

),

final as (

    select * from carried_over
    union all
    select * from recomputed

)
{% else %}
final as (

    select
        minute_bucket,
        cast(sum(total_amount) as decimal(18, 2)) as gmv,
        count(*) as paid_orders,
        max(updated_ts) as source_updated_ts,
        current_timestamp as processed_ts
    from paid_orders
    group by minute_bucket

)
{% endif %}

select * from final
