with staged as (
    select * from {{ ref('stg_shop__orders') }}
),

-- The export can repeat an order after a retry, or after a status change that kept its timestamp:
-- keep one row per order, the latest, and on a tie the later status of the order's life
-- (completed, then cancelled or refunded), so the result never depends on the export's file order.
deduplicated as (
    select *
    from staged
    qualify row_number() over (
        partition by order_id
        order by
            order_ts desc,
            case status when 'refunded' then 3 when 'cancelled' then 2 when 'completed' then 1 else 0 end desc,
            status, customer_id, region, currency, channel
    ) = 1
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
