with source as (
    select * from {{ source('shop', 'order_lines') }}
),

renamed as (
    select
        cast(order_id as bigint) as order_id,
        cast(line_no as integer) as line_no,
        upper(sku) as sku,
        cast(quantity as integer) as quantity,
        cast(unit_price as decimal(12, 2)) as unit_price
    from source
)

select * from renamed
