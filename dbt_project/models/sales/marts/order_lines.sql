-- Lines are checked against their orders (contract foreign key), so orders build first.
-- depends_on: {{ ref('orders') }}
with staged as (
    select * from {{ ref('stg_shop__order_lines') }}
)

select
    order_id,
    line_no,
    sku,
    quantity,
    unit_price,
    cast(quantity * unit_price as decimal(14, 2)) as line_amount
from staged
