-- Turning Shopify order and customer payloads (REST resource shape, as webhooks deliver them)
-- into rows of customers and customer_orders. Deliveries arrive out of order and more than once:
-- a payload whose updated_at is older than the stored row's changes nothing. Customer totals
-- are computed from the orders we hold, because customer webhooks no longer carry them.
--
-- The writers are set-based (upsert_shopify_customers, upsert_shopify_orders: arrays of rows in
-- our shape), so a webhook's one row and the initial import's thousands (47_shopify_import.sql)
-- go through the same statement and the same rule: a row never goes back to an older
-- updated_at, and a row that would not change is not written (a second import changes nothing,
-- and no trigger fires for it). The per-payload functions turn a webhook's REST payload into
-- one such row.

create function public.shopify_channel_from_landing(p_landing_site text, p_source_name text)
returns text
language sql
immutable
parallel safe
set search_path = ''
as $$
  -- The marketing channel: utm_source of the landing page when there is one, else Shopify's source.
  select coalesce(
    pg_catalog.lower(pg_catalog.substring(p_landing_site, '[?&]utm_source=([^&#]+)')),
    nullif(p_source_name, '')
  )
$$;

comment on function public.shopify_channel_from_landing(text, text) is
'The attribution channel from a landing page (its utm_source) and Shopify''s source name.';

revoke all on function public.shopify_channel_from_landing(text, text) from public, anon, authenticated;
grant execute on function public.shopify_channel_from_landing(text, text) to service_role;

create function public.shopify_attribution_channel(p_order jsonb)
returns text
language sql
immutable
parallel safe
set search_path = ''
as $$
  select public.shopify_channel_from_landing(p_order ->> 'landing_site', p_order ->> 'source_name')
$$;

comment on function public.shopify_attribution_channel(jsonb) is
'An order''s attribution channel from its REST payload: the landing page''s utm_source, else Shopify''s source_name.';

revoke all on function public.shopify_attribution_channel(jsonb) from public, anon, authenticated;
grant execute on function public.shopify_attribution_channel(jsonb) to service_role;

create type public.shopify_customer_input as (
  shopify_customer_id text,
  email text,
  shopify_updated_at timestamptz,
  created_at timestamptz
);

comment on type public.shopify_customer_input is
'One Shopify customer in our shape, the input of upsert_shopify_customers (webhook or import).';

create type public.shopify_order_input as (
  shopify_order_id text,
  shopify_customer_id text,
  shopify_customer_email text,
  customer_email text,
  total numeric,
  subtotal numeric,
  discount_total numeric,
  item_count integer,
  status text,
  attribution_channel text,
  coupon_code text,
  shopify_updated_at timestamptz,
  created_at timestamptz,
  refunded_total numeric
);

comment on type public.shopify_order_input is
'One Shopify order in our shape (its customer by Shopify id), the input of upsert_shopify_orders.';

create function public.upsert_shopify_customers(
  p_user_id uuid, p_shop_domain text, p_customers public.shopify_customer_input[]
)
returns bigint
language plpgsql
set search_path = ''
as $$
declare
  written bigint;
begin
  if p_user_id is null then
    raise exception 'upsert_shopify_customers: a user is required' using errcode = '22023';
  end if;
  if exists (select from pg_catalog.unnest(p_customers) as i where coalesce(pg_catalog.btrim(i.shopify_customer_id), '') = '') then
    raise exception 'upsert_shopify_customers: every customer needs an id' using errcode = '22023';
  end if;
  with input as (
    -- One row per customer (ON CONFLICT may touch a row once per statement): the newest.
    select distinct on (i.shopify_customer_id) i.*
    from pg_catalog.unnest(p_customers) as i
    order by i.shopify_customer_id asc, i.shopify_updated_at desc nulls last
  ),

  written_rows as (
    insert into public.customers as c (
      user_id, shopify_customer_id, email, shopify_updated_at, created_at, shop_domain
    )
    select
      p_user_id, i.shopify_customer_id, i.email, i.shopify_updated_at,
      coalesce(i.created_at, pg_catalog.now()), p_shop_domain
    from input as i
    on conflict on constraint customers_user_id_shopify_customer_id_key do update
    set
      email = excluded.email,
      shopify_updated_at = excluded.shopify_updated_at,
      shop_domain = coalesce(excluded.shop_domain, c.shop_domain)
    where
      (
        c.shopify_updated_at is null
        or excluded.shopify_updated_at is null
        or excluded.shopify_updated_at >= c.shopify_updated_at
      )
      and (c.email, c.shopify_updated_at, c.shop_domain)
      is distinct from (excluded.email, excluded.shopify_updated_at, coalesce(excluded.shop_domain, c.shop_domain))
    returning 1
  )

  select pg_catalog.count(*) into written from written_rows;
  return written;
end
$$;

comment on function public.upsert_shopify_customers(uuid, text, public.shopify_customer_input[]) is
'Upserts customers (webhook or import) under the webhook rule: never back to an older updated_at, '
'an identical row is not rewritten; stamps the shop when given. Returns the rows written.';

revoke all on function public.upsert_shopify_customers(uuid, text, public.shopify_customer_input[])
from public, anon, authenticated;
grant execute on function public.upsert_shopify_customers(uuid, text, public.shopify_customer_input[])
to service_role;

create function public.refresh_shopify_customer_totals(p_user_id uuid, p_customer_ids uuid[])
returns bigint
language plpgsql
set search_path = ''
as $$
declare
  written bigint;
begin
  -- Totals from the orders held (not cancelled, voided or refunded); unchanged ones are not rewritten.
  if p_customer_ids is null then
    -- Every customer of the user (the import, once at its end): one pass over their orders,
    -- aggregated by hash, instead of an index probe per customer.
    update public.customers as c
    set
      order_count = s.order_count,
      total_spent = s.total_spent,
      first_order_at = s.first_order_at,
      last_order_at = s.last_order_at
    from (
      select
        x.id,
        coalesce(a.order_count, 0) as order_count,
        coalesce(a.total_spent, 0) as total_spent,
        a.first_order_at,
        a.last_order_at
      from public.customers as x
      left join (
        select
          o.customer_id,
          pg_catalog.count(*)::integer as order_count,
          pg_catalog.sum(o.total - o.refunded_total) as total_spent,
          pg_catalog.min(o.created_at) as first_order_at,
          pg_catalog.max(o.created_at) as last_order_at
        from public.customer_orders as o
        where o.user_id = p_user_id and o.status not in ('cancelled', 'voided', 'refunded')
        group by o.customer_id
      ) as a on x.id = a.customer_id
      where x.user_id = p_user_id
    ) as s
    where
      c.user_id = p_user_id
      and c.id = s.id
      and (c.order_count, c.total_spent, c.first_order_at, c.last_order_at)
      is distinct from (s.order_count, s.total_spent, s.first_order_at, s.last_order_at);
    get diagnostics written = row_count;
    return written;
  end if;
  update public.customers as c
  set
    order_count = s.order_count,
    total_spent = s.total_spent,
    first_order_at = s.first_order_at,
    last_order_at = s.last_order_at
  from (
    -- Per customer, its orders through the (user_id, customer_id) index (LATERAL): during an import
    -- the statistics are stale, and a plan that scans the user's orders per customer is quadratic.
    select
      t.id,
      a.order_count,
      a.total_spent,
      a.first_order_at,
      a.last_order_at
    from (select distinct u.id from pg_catalog.unnest(p_customer_ids) as u (id)) as t
    cross join lateral (
      select
        pg_catalog.count(*)::integer as order_count,
        coalesce(pg_catalog.sum(o.total - o.refunded_total), 0) as total_spent,
        pg_catalog.min(o.created_at) as first_order_at,
        pg_catalog.max(o.created_at) as last_order_at
      from public.customer_orders as o
      where
        o.user_id = p_user_id
        and o.customer_id = t.id
        and o.status not in ('cancelled', 'voided', 'refunded')
    ) as a
  ) as s
  where
    c.user_id = p_user_id
    and c.id = s.id
    and (c.order_count, c.total_spent, c.first_order_at, c.last_order_at)
    is distinct from (s.order_count, s.total_spent, s.first_order_at, s.last_order_at);
  get diagnostics written = row_count;
  return written;
end
$$;

comment on function public.refresh_shopify_customer_totals(uuid, uuid[]) is
'Recomputes the order count, spend and first/last order of the given customers (null: every customer '
'of the user) from the orders held (not cancelled/voided/refunded), in one statement; rows whose totals '
'are unchanged are not written.';

revoke all on function public.refresh_shopify_customer_totals(uuid, uuid[]) from public, anon, authenticated;
grant execute on function public.refresh_shopify_customer_totals(uuid, uuid[]) to service_role;

create function public.upsert_shopify_orders(
  p_user_id uuid, p_shop_domain text, p_orders public.shopify_order_input[], p_import boolean default false
)
returns bigint
language plpgsql
set search_path = ''
as $$
declare
  written bigint;
  touched uuid [];
begin
  if p_user_id is null then
    raise exception 'upsert_shopify_orders: a user is required' using errcode = '22023';
  end if;
  if exists (select from pg_catalog.unnest(p_orders) as i where coalesce(pg_catalog.btrim(i.shopify_order_id), '') = '') then
    raise exception 'upsert_shopify_orders: every order needs an id' using errcode = '22023';
  end if;

  -- Each order's customer must exist to be linked; its own webhook or import row fills in the rest.
  -- The import has created every customer of its orders before it writes them.
  if not p_import then
    insert into public.customers (user_id, shopify_customer_id, email, shop_domain)
    select distinct on (i.shopify_customer_id)
      p_user_id, i.shopify_customer_id, i.shopify_customer_email, p_shop_domain
    from pg_catalog.unnest(p_orders) as i
    where coalesce(pg_catalog.btrim(i.shopify_customer_id), '') <> ''
    order by i.shopify_customer_id asc, i.shopify_updated_at desc nulls last
    on conflict on constraint customers_user_id_shopify_customer_id_key do nothing;
  end if;

  -- The lookups are LATERAL with LIMIT, one index probe per input row: during an import the tables
  -- grow faster than their statistics, and a hash join would read every row the user has, per batch.
  with input as (
    select distinct on (i.shopify_order_id)
      i.*,
      c.id as customer_row_id,
      o.customer_id as previous_customer_id
    from pg_catalog.unnest(p_orders) as i
    left join lateral (
      select x.id from public.customers as x
      where x.user_id = p_user_id and x.shopify_customer_id = i.shopify_customer_id
      limit 1  -- keeps the subquery a subquery (the planner would turn it into a hash join)
    ) as c on true
    left join lateral (
      -- The customer an order had, whose totals change when it moves: not looked up for the import,
      -- which recomputes every customer's totals at its end.
      select y.customer_id from public.customer_orders as y
      where not p_import and y.user_id = p_user_id and y.shopify_order_id = i.shopify_order_id
      limit 1
    ) as o on true
    order by i.shopify_order_id asc, i.shopify_updated_at desc nulls last
  ),

  written_rows as (
    insert into public.customer_orders as o (
      user_id, customer_id, shopify_order_id, customer_email, total, subtotal, discount_total,
      item_count, status, attribution_channel, coupon_code, shopify_updated_at, created_at, shop_domain,
      refunded_total
    )
    select
      p_user_id, i.customer_row_id, i.shopify_order_id, i.customer_email, coalesce(i.total, 0),
      coalesce(i.subtotal, 0), coalesce(i.discount_total, 0), coalesce(i.item_count, 0),
      coalesce(nullif(i.status, ''), 'pending'), i.attribution_channel, i.coupon_code,
      i.shopify_updated_at, coalesce(i.created_at, pg_catalog.now()), p_shop_domain,
      coalesce(i.refunded_total, 0)
    from input as i
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
      shopify_updated_at = excluded.shopify_updated_at,
      shop_domain = coalesce(excluded.shop_domain, o.shop_domain),
      refunded_total = excluded.refunded_total
    where
      (
        o.shopify_updated_at is null
        or excluded.shopify_updated_at is null
        or excluded.shopify_updated_at >= o.shopify_updated_at
      )
      and (
        o.customer_id, o.customer_email, o.total, o.subtotal, o.discount_total, o.item_count, o.status,
        o.attribution_channel, o.coupon_code, o.shopify_updated_at, o.shop_domain, o.refunded_total
      ) is distinct from (
        excluded.customer_id, excluded.customer_email, excluded.total, excluded.subtotal,
        excluded.discount_total, excluded.item_count, excluded.status, excluded.attribution_channel,
        excluded.coupon_code, excluded.shopify_updated_at, coalesce(excluded.shop_domain, o.shop_domain),
        excluded.refunded_total
      )
    returning o.shopify_order_id, o.customer_id
  ),

  customers_touched as (
    -- Who gained, changed or lost an order (none for the import, which recomputes them all at its end).
    select w.customer_id from written_rows as w where not p_import and w.customer_id is not null
    union
    select i.previous_customer_id
    from input as i
    inner join written_rows as w on i.shopify_order_id = w.shopify_order_id
    where i.previous_customer_id is not null
  )

  select
    (select pg_catalog.count(*) from written_rows),
    (select pg_catalog.array_agg(t.customer_id) from customers_touched as t)
  into written, touched;

  -- Their totals, from the orders now held (a second statement: it must see this one's writes).
  -- The import (p_import) recomputes every customer's totals once at its end instead.
  if touched is not null then
    perform public.refresh_shopify_customer_totals(p_user_id, touched);
  end if;
  return written;
end
$$;

comment on function public.upsert_shopify_orders(uuid, text, public.shopify_order_input[], boolean) is
'Upserts orders (webhook or import) under the webhook rule: never back to an older updated_at, an '
'identical row is not rewritten; links (creating if needed) each order''s customer and recomputes '
'the totals of customers whose orders changed. p_import: the caller (the import) has created every '
'order''s customer and recomputes all the user''s customers'' totals at its end, so neither is done '
'here. Stamps the shop when given. Returns the orders written.';

revoke all on function public.upsert_shopify_orders(uuid, text, public.shopify_order_input[], boolean)
from public, anon, authenticated;
grant execute on function public.upsert_shopify_orders(uuid, text, public.shopify_order_input[], boolean)
to service_role;

create function public.upsert_shopify_customer(p_user_id uuid, p_customer jsonb)
returns text
language plpgsql
set search_path = ''
as $$
declare
  existed boolean;
begin
  if p_user_id is null or pg_catalog.jsonb_typeof(p_customer) is distinct from 'object'
    or coalesce(p_customer ->> 'id', '') = '' then
    raise exception 'upsert_shopify_customer: a user and a customer object with an id are required'
      using errcode = '22023';
  end if;
  select exists (
    select from public.customers as c where c.user_id = p_user_id and c.shopify_customer_id = p_customer ->> 'id'
  ) into existed;
  if public.upsert_shopify_customers(p_user_id, null, array[(
    p_customer ->> 'id',
    nullif(p_customer ->> 'email', ''),
    (p_customer ->> 'updated_at')::timestamptz,
    (p_customer ->> 'created_at')::timestamptz
  )::public.shopify_customer_input]) = 0 then
    return 'stale';
  end if;
  return case when existed then 'updated' else 'inserted' end;
end
$$;

comment on function public.upsert_shopify_customer(uuid, jsonb) is
'Upserts a customer from a Shopify customer payload (through upsert_shopify_customers); returns '
'inserted, updated or stale (older than, or the same as, the stored row).';

revoke all on function public.upsert_shopify_customer(uuid, jsonb) from public, anon, authenticated;
grant execute on function public.upsert_shopify_customer(uuid, jsonb) to service_role;

create function public.upsert_shopify_order(p_user_id uuid, p_order jsonb)
returns text
language plpgsql
set search_path = ''
as $$
declare
  existed boolean;
begin
  if p_user_id is null or pg_catalog.jsonb_typeof(p_order) is distinct from 'object'
    or coalesce(p_order ->> 'id', '') = '' then
    raise exception 'upsert_shopify_order: a user and an order object with an id are required'
      using errcode = '22023';
  end if;
  select exists (
    select from public.customer_orders as o where o.user_id = p_user_id and o.shopify_order_id = p_order ->> 'id'
  ) into existed;
  if public.upsert_shopify_orders(p_user_id, null, array[(
    p_order ->> 'id',
    case when pg_catalog.jsonb_typeof(p_order -> 'customer') = 'object' then nullif(p_order -> 'customer' ->> 'id', '') end,
    nullif(p_order -> 'customer' ->> 'email', ''),
    coalesce(nullif(p_order ->> 'email', ''), nullif(p_order -> 'customer' ->> 'email', '')),
    (p_order ->> 'total_price')::numeric,
    (p_order ->> 'subtotal_price')::numeric,
    (p_order ->> 'total_discounts')::numeric,
    (
      select pg_catalog.sum((li ->> 'quantity')::integer)
      from pg_catalog.jsonb_array_elements(coalesce(p_order -> 'line_items', '[]')) as li
    ),
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
    (p_order ->> 'created_at')::timestamptz,
    -- The refunds' successful refund transactions (REST carries no refunded total), in the shop's
    -- currency like total_price: a refund in the customer's currency is converted at the order's
    -- own rate (its total in both); without that rate it is left out rather than mixed in.
    (
      select
        pg_catalog.sum(
          case
            when coalesce(t ->> 'currency', p_order ->> 'currency') is not distinct from p_order ->> 'currency'
              then (t ->> 'amount')::numeric
            else pg_catalog.round((t ->> 'amount')::numeric * r.shop_per_presentment, 2)
          end
        )
      from pg_catalog.jsonb_path_query(p_order, '$.refunds[*].transactions[*]') as t
      cross join (
        select
          (p_order #>> '{total_price_set,shop_money,amount}')::numeric
          / nullif((p_order #>> '{total_price_set,presentment_money,amount}')::numeric, 0) as shop_per_presentment
      ) as r
      where t ->> 'kind' = 'refund' and t ->> 'status' = 'success'
    )
  )::public.shopify_order_input]) = 0 then
    return 'stale';
  end if;
  return case when existed then 'updated' else 'inserted' end;
end
$$;

comment on function public.upsert_shopify_order(uuid, jsonb) is
'Upserts an order from a Shopify order payload (through upsert_shopify_orders, which refreshes its '
'customer''s totals); inserted, updated or stale (older than, or the same as, the stored row).';

revoke all on function public.upsert_shopify_order(uuid, jsonb) from public, anon, authenticated;
grant execute on function public.upsert_shopify_order(uuid, jsonb) to service_role;
