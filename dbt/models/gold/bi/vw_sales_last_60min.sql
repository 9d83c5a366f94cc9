-- Grain: one row per minute of fct_sales_minute in the dashboard's window (a minute without
-- fully paid orders has no row, as in the fact).
-- The window is the sales_window_minutes (default 60) minute buckets that end with the minute
-- of sales_window_end: that minute, still filling, and the ones before it. Left null, the end
-- is the time of each query; set, it pins the window (tests, a look back at a past hour).
-- window_last_minute carries that end on every row, so a chart can show a part of the window
-- (the dashboard's table: its last 15 minutes) and follow the pin too.
{%- set minutes = var('sales_window_minutes') | int %}
{%- if minutes < 1 %}
    {{ exceptions.raise_compiler_error("var sales_window_minutes must be a whole number >= 1, not " ~ var('sales_window_minutes')) }}
{%- endif %}
{%- if var('sales_window_end') is none %}
    {%- set window_end = 'current_timestamp' %}
{%- else %}
    {%- set window_end = 'cast(' ~ dbt.string_literal(var('sales_window_end')) ~ ' as timestamp(3) with time zone)' %}
{%- endif %}

with sales as (

    select * from {{ ref('fct_sales_minute') }}

),

window_end as (

    select date_trunc('minute', {{ window_end }}) as last_minute

),

sales_window as (

    select
        date_add('minute', {{ 1 - minutes }}, last_minute) as first_minute,
        last_minute
    from window_end

),

final as (

    select
        sales.minute_bucket,
        sales.gmv,
        sales.paid_orders,
        sales_window.last_minute as window_last_minute
    from sales
    inner join sales_window
        on sales.minute_bucket between sales_window.first_minute and sales_window.last_minute

)

select * from final
