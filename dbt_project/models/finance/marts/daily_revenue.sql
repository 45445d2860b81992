with orders as (
    select * from {{ source('port_sales', 'orders_v1') }}
),

order_lines as (
    select * from {{ source('port_sales', 'order_lines_v1') }}
),

order_values as (
    select
        order_id,
        sum(line_amount) as order_value
    from order_lines
    group by order_id
),

revenue_orders as (
    select
        cast(o.order_ts as date) as revenue_date,
        o.region,
        o.currency,
        o.status,
        coalesce(v.order_value, 0) as order_value
    from orders as o
    left join order_values as v on v.order_id = o.order_id
    where o.status in ('completed', 'refunded')
)

select
    revenue_date,
    region,
    currency,
    count(*) as orders,
    cast(sum(order_value) as decimal(18, 2)) as gross_revenue,
    cast(sum(case when status = 'refunded' then order_value else 0 end) as decimal(18, 2)) as refunded_revenue,
    cast(sum(case when status = 'completed' then order_value else 0 end) as decimal(18, 2)) as net_revenue
from revenue_orders
group by revenue_date, region, currency
