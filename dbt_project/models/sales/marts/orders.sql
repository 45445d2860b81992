with staged as (
    select * from {{ ref('stg_shop__orders') }}
),

-- The export can repeat an order after a retry; keep one row per order.
deduplicated as (
    select *
    from staged
    qualify row_number() over (partition by order_id order by order_ts desc) = 1
)

select
    order_id,
    customer_id,
    order_ts,
    status,
    region,
    currency,
    channel
from deduplicated
