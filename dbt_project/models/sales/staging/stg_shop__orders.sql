with source as (
    select * from {{ source('shop', 'orders') }}
),

renamed as (
    select
        cast(order_id as bigint) as order_id,
        cast(customer_id as bigint) as customer_id,
        cast(order_ts as timestamp) as order_ts,
        lower(status) as status,
        upper(region) as region,
        upper(currency) as currency,
        lower(channel) as channel
    from source
)

select * from renamed
