-- Turning Shopify order and customer payloads (REST resource shape, as webhooks deliver them)
-- into rows of customers and customer_orders. Deliveries arrive out of order and more than once:
-- a payload whose updated_at is older than the stored row's changes nothing. Customer totals
-- are computed from the orders we hold, because customer webhooks no longer carry them.

create function public.shopify_attribution_channel(p_order jsonb)
returns text
language sql
immutable
parallel safe
set search_path = ''
as $$
  -- The marketing channel: utm_source of the landing page when there is one, else Shopify's source.
  select coalesce(
    pg_catalog.lower(pg_catalog.substring(p_order ->> 'landing_site', '[?&]utm_source=([^&#]+)')),
    nullif(p_order ->> 'source_name', '')
  )
$$;

comment on function public.shopify_attribution_channel(jsonb) is
'An order''s attribution channel: the landing page''s utm_source, else Shopify''s source_name.';

revoke all on function public.shopify_attribution_channel(jsonb) from public, anon, authenticated;
grant execute on function public.shopify_attribution_channel(jsonb) to service_role;

create function public.refresh_customer_order_stats(p_user_id uuid, p_customer_id uuid)
returns void
language sql
set search_path = ''
as $$
  update public.customers as c
  set
    order_count = s.order_count,
    total_spent = s.total_spent,
    first_order_at = s.first_order_at,
    last_order_at = s.last_order_at
  from (
    select
      pg_catalog.count(*)::integer as order_count,
      coalesce(pg_catalog.sum(o.total), 0) as total_spent,
      pg_catalog.min(o.created_at) as first_order_at,
      pg_catalog.max(o.created_at) as last_order_at
    from public.customer_orders as o
    where
      o.user_id = p_user_id
      and o.customer_id = p_customer_id
      and o.status not in ('cancelled', 'voided', 'refunded')
  ) as s
  where c.user_id = p_user_id and c.id = p_customer_id
$$;

comment on function public.refresh_customer_order_stats(uuid, uuid) is
'Recomputes a customer''s order count, spend and first/last order from held orders (not cancelled/voided/refunded).';

revoke all on function public.refresh_customer_order_stats(uuid, uuid) from public, anon, authenticated;
grant execute on function public.refresh_customer_order_stats(uuid, uuid) to service_role;

create function public.upsert_shopify_customer(p_user_id uuid, p_customer jsonb)
returns text
language plpgsql
set search_path = ''
as $$
declare
  inserted boolean;
begin
  if p_user_id is null or pg_catalog.jsonb_typeof(p_customer) is distinct from 'object'
    or coalesce(p_customer ->> 'id', '') = '' then
    raise exception 'upsert_shopify_customer: a user and a customer object with an id are required'
      using errcode = '22023';
  end if;
  insert into public.customers as c (user_id, shopify_customer_id, email, shopify_updated_at, created_at)
  values (
    p_user_id,
    p_customer ->> 'id',
    nullif(p_customer ->> 'email', ''),
    (p_customer ->> 'updated_at')::timestamptz,
    coalesce((p_customer ->> 'created_at')::timestamptz, pg_catalog.now())
  )
  on conflict on constraint customers_user_id_shopify_customer_id_key do update
  set email = excluded.email, shopify_updated_at = excluded.shopify_updated_at
  where
    c.shopify_updated_at is null
    or excluded.shopify_updated_at is null
    or excluded.shopify_updated_at >= c.shopify_updated_at
  returning (c.xmax = 0) into inserted;
  return case when inserted is null then 'stale' when inserted then 'inserted' else 'updated' end;
end
$$;

comment on function public.upsert_shopify_customer(uuid, jsonb) is
'Upserts a customer from a Shopify customer payload; returns inserted, updated or stale (older than stored).';

revoke all on function public.upsert_shopify_customer(uuid, jsonb) from public, anon, authenticated;
grant execute on function public.upsert_shopify_customer(uuid, jsonb) to service_role;

create function public.upsert_shopify_order(p_user_id uuid, p_order jsonb)
returns text
language plpgsql
set search_path = ''
as $$
declare
  customer_row_id uuid;
  previous_customer_id uuid;
  inserted boolean;
begin
  if p_user_id is null or pg_catalog.jsonb_typeof(p_order) is distinct from 'object'
    or coalesce(p_order ->> 'id', '') = '' then
    raise exception 'upsert_shopify_order: a user and an order object with an id are required'
      using errcode = '22023';
  end if;

  -- The order's customer must exist to be linked; its own webhook fills in the rest.
  if pg_catalog.jsonb_typeof(p_order -> 'customer') = 'object' and coalesce(p_order -> 'customer' ->> 'id', '') <> '' then
    insert into public.customers (user_id, shopify_customer_id, email)
    values (p_user_id, p_order -> 'customer' ->> 'id', nullif(p_order -> 'customer' ->> 'email', ''))
    on conflict on constraint customers_user_id_shopify_customer_id_key do nothing;
    select c.id into customer_row_id
    from public.customers as c
    where c.user_id = p_user_id and c.shopify_customer_id = p_order -> 'customer' ->> 'id';
  end if;

  select o.customer_id into previous_customer_id
  from public.customer_orders as o
  where o.user_id = p_user_id and o.shopify_order_id = p_order ->> 'id';

  insert into public.customer_orders as o (
    user_id, customer_id, shopify_order_id, customer_email, total, subtotal, discount_total,
    item_count, status, attribution_channel, coupon_code, shopify_updated_at, created_at
  )
  values (
    p_user_id,
    customer_row_id,
    p_order ->> 'id',
    coalesce(nullif(p_order ->> 'email', ''), nullif(p_order -> 'customer' ->> 'email', '')),
    coalesce((p_order ->> 'total_price')::numeric, 0),
    coalesce((p_order ->> 'subtotal_price')::numeric, 0),
    coalesce((p_order ->> 'total_discounts')::numeric, 0),
    coalesce((
      select pg_catalog.sum((li ->> 'quantity')::integer)
      from pg_catalog.jsonb_array_elements(coalesce(p_order -> 'line_items', '[]')) as li
    ), 0),
    case
      when p_order ->> 'cancelled_at' is not null then 'cancelled'
      else coalesce(nullif(p_order ->> 'financial_status', ''), 'pending')
    end,
    public.shopify_attribution_channel(p_order),
    (
      select pg_catalog.string_agg(d ->> 'code', ',')
      from pg_catalog.jsonb_array_elements(coalesce(p_order -> 'discount_codes', '[]')) as d
    ),
    (p_order ->> 'updated_at')::timestamptz,
    coalesce((p_order ->> 'created_at')::timestamptz, pg_catalog.now())
  )
  on conflict on constraint customer_orders_user_id_shopify_order_id_key do update
  set
    customer_id = excluded.customer_id,
    customer_email = excluded.customer_email,
    total = excluded.total,
    subtotal = excluded.subtotal,
    discount_total = excluded.discount_total,
    item_count = excluded.item_count,
    status = excluded.status,
    attribution_channel = excluded.attribution_channel,
    coupon_code = excluded.coupon_code,
    shopify_updated_at = excluded.shopify_updated_at
  where
    o.shopify_updated_at is null
    or excluded.shopify_updated_at is null
    or excluded.shopify_updated_at >= o.shopify_updated_at
  returning (o.xmax = 0) into inserted;

  if inserted is null then
    return 'stale';
  end if;
  if customer_row_id is not null then
    perform public.refresh_customer_order_stats(p_user_id, customer_row_id);
  end if;
  if previous_customer_id is not null and previous_customer_id is distinct from customer_row_id then
    perform public.refresh_customer_order_stats(p_user_id, previous_customer_id);
  end if;
  return case when inserted then 'inserted' else 'updated' end;
end
$$;

comment on function public.upsert_shopify_order(uuid, jsonb) is
'Upserts an order from a Shopify order payload, refreshes its customer''s totals; inserted, updated or stale.';

revoke all on function public.upsert_shopify_order(uuid, jsonb) from public, anon, authenticated;
grant execute on function public.upsert_shopify_order(uuid, jsonb) to service_role;
