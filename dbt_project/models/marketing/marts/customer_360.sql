with profiles as (
    select * from {{ source('port_customers', 'customer_profiles_v1') }}
),

orders as (
    select * from {{ source('port_sales', 'orders_v1') }}
),

order_lines as (
    select * from {{ source('port_sales', 'order_lines_v1') }}
),

tickets as (
    select * from {{ source('port_support', 'tickets_v1') }}
),

order_values as (
    select order_id, sum(line_amount) as order_value
    from order_lines
    group by order_id
),

purchases as (
    select
        o.customer_id,
        count(*) as orders,
        sum(coalesce(v.order_value, 0)) as lifetime_value,
        min(o.order_ts) as first_order_at,
        max(o.order_ts) as last_order_at
    from orders as o
    left join order_values as v on v.order_id = o.order_id
    where o.status = 'completed'
    group by o.customer_id
),

support as (
    select
        customer_id,
        count(*) as tickets,
        count(*) filter (where closed_at is null) as open_tickets,
        avg(satisfaction) as avg_satisfaction
    from tickets
    group by customer_id
)

select
    p.customer_id,
    p.email,
    p.country,
    cast(year(p.created_at) as integer) as signup_year,
    coalesce(b.orders, 0) as orders,
    cast(coalesce(b.lifetime_value, 0) as decimal(18, 2)) as lifetime_value,
    b.first_order_at,
    b.last_order_at,
    coalesce(s.tickets, 0) as tickets,
    coalesce(s.open_tickets, 0) as open_tickets,
    s.avg_satisfaction
from profiles as p
left join purchases as b on b.customer_id = p.customer_id
left join support as s on s.customer_id = p.customer_id
