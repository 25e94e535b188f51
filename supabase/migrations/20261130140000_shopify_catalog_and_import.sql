-- Issue 14 (shop data): the shop's catalog (products with variants and images, custom and smart
-- collections and their products) kept in sync by the products/* and collections/* webhooks; the
-- initial import through Shopify Bulk Operations with its progress; set-based upserts of orders
-- and customers that the webhooks and the import share; the products export type; shop/redact
-- reaching the catalog and the imports; the wizard's import step completed by an import only.

-- 42_shopify_order_sync.sql: set-based writers; the per-payload functions now call them.
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
  created_at timestamptz
);

comment on type public.shopify_order_input is
'One Shopify order in our shape (its customer by Shopify id), the input of upsert_shopify_orders.';

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

-- The REST payload's channel follows the same rule, stated once.
create or replace function public.shopify_attribution_channel(p_order jsonb)
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
        coalesce(pg_catalog.sum(o.total), 0) as total_spent,
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
'Recomputes the order count, spend and first/last order of the given customers from the orders held '
'(not cancelled/voided/refunded), in one statement; rows whose totals are unchanged are not written.';

revoke all on function public.refresh_shopify_customer_totals(uuid, uuid[]) from public, anon, authenticated;
grant execute on function public.refresh_shopify_customer_totals(uuid, uuid[]) to service_role;

create function public.upsert_shopify_orders(
  p_user_id uuid, p_shop_domain text, p_orders public.shopify_order_input[], p_refresh_totals boolean default true
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
  insert into public.customers (user_id, shopify_customer_id, email, shop_domain)
  select distinct on (i.shopify_customer_id)
    p_user_id, i.shopify_customer_id, i.shopify_customer_email, p_shop_domain
  from pg_catalog.unnest(p_orders) as i
  where coalesce(pg_catalog.btrim(i.shopify_customer_id), '') <> ''
  order by i.shopify_customer_id asc, i.shopify_updated_at desc nulls last
  on conflict on constraint customers_user_id_shopify_customer_id_key do nothing;

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
      select y.customer_id from public.customer_orders as y
      where y.user_id = p_user_id and y.shopify_order_id = i.shopify_order_id
      limit 1
    ) as o on true
    order by i.shopify_order_id asc, i.shopify_updated_at desc nulls last
  ),

  written_rows as (
    insert into public.customer_orders as o (
      user_id, customer_id, shopify_order_id, customer_email, total, subtotal, discount_total,
      item_count, status, attribution_channel, coupon_code, shopify_updated_at, created_at, shop_domain
    )
    select
      p_user_id, i.customer_row_id, i.shopify_order_id, i.customer_email, coalesce(i.total, 0),
      coalesce(i.subtotal, 0), coalesce(i.discount_total, 0), coalesce(i.item_count, 0),
      coalesce(nullif(i.status, ''), 'pending'), i.attribution_channel, i.coupon_code,
      i.shopify_updated_at, coalesce(i.created_at, pg_catalog.now()), p_shop_domain
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
      shop_domain = coalesce(excluded.shop_domain, o.shop_domain)
    where
      (
        o.shopify_updated_at is null
        or excluded.shopify_updated_at is null
        or excluded.shopify_updated_at >= o.shopify_updated_at
      )
      and (
        o.customer_id, o.customer_email, o.total, o.subtotal, o.discount_total, o.item_count, o.status,
        o.attribution_channel, o.coupon_code, o.shopify_updated_at, o.shop_domain
      ) is distinct from (
        excluded.customer_id, excluded.customer_email, excluded.total, excluded.subtotal,
        excluded.discount_total, excluded.item_count, excluded.status, excluded.attribution_channel,
        excluded.coupon_code, excluded.shopify_updated_at, coalesce(excluded.shop_domain, o.shop_domain)
      )
    returning o.shopify_order_id, o.customer_id
  ),

  customers_touched as (
    -- Who gained or changed an order (skipped when the caller refreshes them itself), and who lost one.
    select w.customer_id from written_rows as w where p_refresh_totals and w.customer_id is not null
    union
    select i.previous_customer_id
    from input as i
    inner join written_rows as w on i.shopify_order_id = w.shopify_order_id
    where
      i.previous_customer_id is not null
      and (i.previous_customer_id is distinct from w.customer_id or p_refresh_totals)
  )

  select
    (select pg_catalog.count(*) from written_rows),
    (select pg_catalog.array_agg(t.customer_id) from customers_touched as t)
  into written, touched;

  -- Their totals, from the orders now held (a second statement: it must see this one's writes).
  -- The import refreshes the customers of its orders once at its end instead (p_refresh_totals).
  if touched is not null then
    perform public.refresh_shopify_customer_totals(p_user_id, touched);
  end if;
  return written;
end
$$;

comment on function public.upsert_shopify_orders(uuid, text, public.shopify_order_input[], boolean) is
'Upserts orders (webhook or import) under the webhook rule: never back to an older updated_at, an '
'identical row is not rewritten; links (creating if needed) each order''s customer and recomputes '
'the totals of customers whose orders changed (unless p_refresh_totals is false: the import refreshes '
'once at its end). Stamps the shop when given. Returns the orders written.';

revoke all on function public.upsert_shopify_orders(uuid, text, public.shopify_order_input[], boolean)
from public, anon, authenticated;
grant execute on function public.upsert_shopify_orders(uuid, text, public.shopify_order_input[], boolean)
to service_role;

create or replace function public.upsert_shopify_customer(p_user_id uuid, p_customer jsonb)
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

create or replace function public.upsert_shopify_order(p_user_id uuid, p_order jsonb)
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
    (p_order ->> 'created_at')::timestamptz
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

-- 30_export_views.sql: the products export type.
create or replace function public.export_types()
returns text[]
language sql
immutable
parallel safe
set search_path = ''
as $$
  select array['leads', 'customers', 'orders', 'pins', 'quotes', 'assets', 'analytics', 'products']::text[]
$$;


-- 46_shopify_catalog.sql
-- The shop's catalog: products with their variants and images, custom and smart collections and
-- which products each holds. Written by the service from the initial import
-- (47_shopify_import.sql) and kept in sync by the products/* and collections/* webhooks
-- (43_shopify_webhook_inbox.sql); users read their own rows. Both paths call the same set-based
-- functions under the rule the order webhooks follow (42_shopify_order_sync.sql): a row never goes
-- back to an older updated_at, and a row that would not change is not written. Rows carry the shop
-- they came from, so shop/redact (44_shopify_compliance.sql) deletes exactly that shop's catalog.

create table public.shopify_products (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references auth.users (id) on delete cascade,
  shop_domain text,
  shopify_product_id text not null
  constraint shopify_products_shopify_product_id_not_blank check (btrim(shopify_product_id) <> ''),
  title text not null default '',
  handle text,
  status text,
  vendor text,
  product_type text,
  tags text[] not null default '{}',
  -- [{"url": …, "alt": …}, …] in the shop's order.
  images jsonb not null default '[]'::jsonb
  constraint shopify_products_images_is_array check (jsonb_typeof(images) = 'array'),
  shopify_updated_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint shopify_products_user_id_shopify_product_id_key unique (user_id, shopify_product_id),
  -- Target of the variants' (user_id, product_id) foreign key, which keeps them in their owner's shop.
  constraint shopify_products_user_id_id_key unique (user_id, id)
);

comment on table public.shopify_products is
'A shop''s Shopify products (title, handle, status, vendor, type, tags, images). Written by the service '
'from the import and the products webhooks.';

comment on column public.shopify_products.shop_domain is
'The Shopify shop the product came from; shop/redact deletes by it.';

create index shopify_products_user_id_created_at_idx
on public.shopify_products (user_id, created_at, id);

create trigger shopify_products_set_updated_at
before update on public.shopify_products
for each row execute function public.update_updated_at_column();

alter table public.shopify_products enable row level security;

create policy shopify_products_select_own on public.shopify_products
for select to authenticated
using (user_id = (select auth.uid()));

revoke all on table public.shopify_products from anon, authenticated, service_role;
grant select on table public.shopify_products to authenticated;
grant select, insert, update, delete on table public.shopify_products to service_role;

create table public.shopify_product_variants (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references auth.users (id) on delete cascade,
  product_id uuid not null,
  shopify_variant_id text not null
  constraint shopify_product_variants_shopify_variant_id_not_blank check (btrim(shopify_variant_id) <> ''),
  title text,
  sku text,
  price numeric(12, 2),
  inventory_quantity integer,
  position integer, -- noqa: RF04
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint shopify_product_variants_user_id_shopify_variant_id_key unique (user_id, shopify_variant_id),
  constraint shopify_product_variants_product_fkey foreign key (user_id, product_id)
  references public.shopify_products (user_id, id) on delete cascade
);

comment on table public.shopify_product_variants is
'The variants of a shop''s products (title, SKU, price, inventory). Replaced with their product''s.';

create index shopify_product_variants_user_id_product_id_idx
on public.shopify_product_variants (user_id, product_id);

create trigger shopify_product_variants_set_updated_at
before update on public.shopify_product_variants
for each row execute function public.update_updated_at_column();

alter table public.shopify_product_variants enable row level security;

create policy shopify_product_variants_select_own on public.shopify_product_variants
for select to authenticated
using (user_id = (select auth.uid()));

revoke all on table public.shopify_product_variants from anon, authenticated, service_role;
grant select on table public.shopify_product_variants to authenticated;
grant select, insert, update, delete on table public.shopify_product_variants to service_role;

create table public.shopify_collections (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references auth.users (id) on delete cascade,
  shop_domain text,
  shopify_collection_id text not null
  constraint shopify_collections_shopify_collection_id_not_blank check (btrim(shopify_collection_id) <> ''),
  title text not null default '',
  handle text,
  collection_type text not null default 'custom'
  constraint shopify_collections_collection_type_valid check (collection_type in ('custom', 'smart')),
  shopify_updated_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint shopify_collections_user_id_shopify_collection_id_key unique (user_id, shopify_collection_id)
);

comment on table public.shopify_collections is
'A shop''s custom and smart collections. Written by the service from the import and the collections webhooks.';

create trigger shopify_collections_set_updated_at
before update on public.shopify_collections
for each row execute function public.update_updated_at_column();

alter table public.shopify_collections enable row level security;

create policy shopify_collections_select_own on public.shopify_collections
for select to authenticated
using (user_id = (select auth.uid()));

revoke all on table public.shopify_collections from anon, authenticated, service_role;
grant select on table public.shopify_collections to authenticated;
grant select, insert, update, delete on table public.shopify_collections to service_role;

create table public.shopify_collection_products (
  user_id uuid not null references auth.users (id) on delete cascade,
  shopify_collection_id text not null,
  -- By Shopify id: a collection may name a product the import has not written yet.
  shopify_product_id text not null,
  created_at timestamptz not null default now(),
  primary key (user_id, shopify_collection_id, shopify_product_id),
  constraint shopify_collection_products_collection_fkey foreign key (user_id, shopify_collection_id)
  references public.shopify_collections (user_id, shopify_collection_id) on delete cascade
);

comment on table public.shopify_collection_products is
'Which products each collection holds (by Shopify ids), as the last import read it.';

create index shopify_collection_products_user_id_product_idx
on public.shopify_collection_products (user_id, shopify_product_id);

alter table public.shopify_collection_products enable row level security;

create policy shopify_collection_products_select_own on public.shopify_collection_products
for select to authenticated
using (user_id = (select auth.uid()));

revoke all on table public.shopify_collection_products from anon, authenticated, service_role;
grant select on table public.shopify_collection_products to authenticated;
grant select, insert, delete on table public.shopify_collection_products to service_role;

create type public.shopify_product_input as (
  shopify_product_id text,
  title text,
  handle text,
  status text,
  vendor text,
  product_type text,
  tags text [],
  images jsonb,
  shopify_updated_at timestamptz,
  created_at timestamptz
);

comment on type public.shopify_product_input is
'One Shopify product in our shape, the input of upsert_shopify_products (webhook or import).';

create type public.shopify_variant_input as (
  shopify_product_id text,
  shopify_variant_id text,
  title text,
  sku text,
  price numeric,
  inventory_quantity integer,
  position integer
);

comment on type public.shopify_variant_input is
'One variant of a Shopify product (by the product''s Shopify id), an input of upsert_shopify_products.';

create type public.shopify_collection_input as (
  shopify_collection_id text,
  title text,
  handle text,
  collection_type text,
  shopify_updated_at timestamptz
);

comment on type public.shopify_collection_input is
'One Shopify collection in our shape, the input of upsert_shopify_collections.';

create type public.shopify_collection_member_input as (
  shopify_collection_id text,
  shopify_product_id text
);

comment on type public.shopify_collection_member_input is
'One product of a collection (Shopify ids), an input of upsert_shopify_collections.';

create function public.upsert_shopify_products(
  p_user_id uuid,
  p_shop_domain text,
  p_products public.shopify_product_input[],
  p_variants public.shopify_variant_input[]
)
returns bigint
language plpgsql
set search_path = ''
as $$
declare
  products_written bigint;
  variants_written bigint;
begin
  if p_user_id is null then
    raise exception 'upsert_shopify_products: a user is required' using errcode = '22023';
  end if;
  if exists (select from pg_catalog.unnest(p_products) as i where coalesce(pg_catalog.btrim(i.shopify_product_id), '') = '')
    or exists (select from pg_catalog.unnest(p_variants) as v where coalesce(pg_catalog.btrim(v.shopify_variant_id), '') = '') then
    raise exception 'upsert_shopify_products: every product and variant needs an id' using errcode = '22023';
  end if;

  with input as (
    select distinct on (i.shopify_product_id) i.*
    from pg_catalog.unnest(p_products) as i
    order by i.shopify_product_id asc, i.shopify_updated_at desc nulls last
  ),

  written_rows as (
    insert into public.shopify_products as p (
      user_id, shop_domain, shopify_product_id, title, handle, status, vendor, product_type, tags, images,
      shopify_updated_at, created_at
    )
    select
      p_user_id, p_shop_domain, i.shopify_product_id, coalesce(i.title, ''), i.handle, i.status, i.vendor,
      i.product_type, coalesce(i.tags, '{}'), coalesce(i.images, '[]'), i.shopify_updated_at,
      coalesce(i.created_at, pg_catalog.now())
    from input as i
    on conflict on constraint shopify_products_user_id_shopify_product_id_key do update
    set
      shop_domain = coalesce(excluded.shop_domain, p.shop_domain),
      title = excluded.title,
      handle = excluded.handle,
      status = excluded.status,
      vendor = excluded.vendor,
      product_type = excluded.product_type,
      tags = excluded.tags,
      images = excluded.images,
      shopify_updated_at = excluded.shopify_updated_at
    where
      (
        p.shopify_updated_at is null
        or excluded.shopify_updated_at is null
        or excluded.shopify_updated_at >= p.shopify_updated_at
      )
      and (
        p.shop_domain, p.title, p.handle, p.status, p.vendor, p.product_type, p.tags, p.images,
        p.shopify_updated_at
      ) is distinct from (
        coalesce(excluded.shop_domain, p.shop_domain), excluded.title, excluded.handle, excluded.status,
        excluded.vendor, excluded.product_type, excluded.tags, excluded.images, excluded.shopify_updated_at
      )
    returning 1
  )

  select pg_catalog.count(*) into products_written from written_rows;

  -- The variants of every product the input did not find older than the stored row: written where
  -- they differ, and those the product no longer has deleted.
  with fresh as (
    -- One index probe per input product (LATERAL): the table may have outgrown its statistics.
    select distinct
      p.id,
      p.shopify_product_id
    from pg_catalog.unnest(p_products) as i
    inner join lateral (
      select x.id, x.shopify_product_id, x.shopify_updated_at
      from public.shopify_products as x
      where x.user_id = p_user_id and x.shopify_product_id = i.shopify_product_id
      limit 1  -- keeps the subquery a subquery (the planner would turn it into a hash join)
    ) as p on true
    where
      p.shopify_updated_at is null
      or i.shopify_updated_at is null
      or i.shopify_updated_at >= p.shopify_updated_at
  ),

  variant_input as (
    select distinct on (v.shopify_variant_id)
      v.*,
      f.id as product_row_id
    from pg_catalog.unnest(p_variants) as v
    inner join fresh as f on v.shopify_product_id = f.shopify_product_id
    order by v.shopify_variant_id asc
  ),

  upserted as (
    insert into public.shopify_product_variants as x (
      user_id, product_id, shopify_variant_id, title, sku, price, inventory_quantity, position
    )
    select
      p_user_id, v.product_row_id, v.shopify_variant_id, v.title, v.sku, v.price, v.inventory_quantity,
      v.position
    from variant_input as v
    on conflict on constraint shopify_product_variants_user_id_shopify_variant_id_key do update
    set
      product_id = excluded.product_id,
      title = excluded.title,
      sku = excluded.sku,
      price = excluded.price,
      inventory_quantity = excluded.inventory_quantity,
      position = excluded.position
    where
      (x.product_id, x.title, x.sku, x.price, x.inventory_quantity, x.position)
      is distinct from (
        excluded.product_id, excluded.title, excluded.sku, excluded.price, excluded.inventory_quantity,
        excluded.position
      )
    returning 1
  ),

  removed as (
    delete from public.shopify_product_variants as x
    using fresh as f
    where
      x.user_id = p_user_id
      and x.product_id = f.id
      and not exists (select from variant_input as v where v.shopify_variant_id = x.shopify_variant_id)
    returning 1
  )

  select (select pg_catalog.count(*) from upserted) + (select pg_catalog.count(*) from removed)
  into variants_written;
  return products_written + variants_written;
end
$$;

comment on function public.upsert_shopify_products(
  uuid, text, public.shopify_product_input[], public.shopify_variant_input[]
) is
'Upserts products and their complete variant lists (webhook or import): never back to an older '
'updated_at, identical rows not rewritten, variants a product no longer has deleted. Returns the rows written.';

revoke all on function public.upsert_shopify_products(
  uuid, text, public.shopify_product_input[], public.shopify_variant_input[]
) from public, anon, authenticated;
grant execute on function public.upsert_shopify_products(
  uuid, text, public.shopify_product_input[], public.shopify_variant_input[]
) to service_role;

create function public.upsert_shopify_collections(
  p_user_id uuid,
  p_shop_domain text,
  p_collections public.shopify_collection_input[],
  p_members public.shopify_collection_member_input[] default null
)
returns bigint
language plpgsql
set search_path = ''
as $$
declare
  collections_written bigint;
  members_written bigint := 0;
begin
  if p_user_id is null then
    raise exception 'upsert_shopify_collections: a user is required' using errcode = '22023';
  end if;
  if exists (
    select from pg_catalog.unnest(p_collections) as i
    where coalesce(pg_catalog.btrim(i.shopify_collection_id), '') = ''
  ) then
    raise exception 'upsert_shopify_collections: every collection needs an id' using errcode = '22023';
  end if;

  with input as (
    select distinct on (i.shopify_collection_id) i.*
    from pg_catalog.unnest(p_collections) as i
    order by i.shopify_collection_id asc, i.shopify_updated_at desc nulls last
  ),

  written_rows as (
    insert into public.shopify_collections as c (
      user_id, shop_domain, shopify_collection_id, title, handle, collection_type, shopify_updated_at
    )
    select
      p_user_id, p_shop_domain, i.shopify_collection_id, coalesce(i.title, ''), i.handle,
      coalesce(i.collection_type, 'custom'), i.shopify_updated_at
    from input as i
    on conflict on constraint shopify_collections_user_id_shopify_collection_id_key do update
    set
      shop_domain = coalesce(excluded.shop_domain, c.shop_domain),
      title = excluded.title,
      handle = excluded.handle,
      collection_type = excluded.collection_type,
      shopify_updated_at = excluded.shopify_updated_at
    where
      (
        c.shopify_updated_at is null
        or excluded.shopify_updated_at is null
        or excluded.shopify_updated_at >= c.shopify_updated_at
      )
      and (c.shop_domain, c.title, c.handle, c.collection_type, c.shopify_updated_at)
      is distinct from (
        coalesce(excluded.shop_domain, c.shop_domain), excluded.title, excluded.handle,
        excluded.collection_type, excluded.shopify_updated_at
      )
    returning 1
  )

  select pg_catalog.count(*) into collections_written from written_rows;

  -- Membership carries no timestamp: when it is given (the import reads it; webhooks do not carry
  -- it), each given collection holds exactly the given products.
  if p_members is not null then
    with wanted as (
      select distinct
        m.shopify_collection_id,
        m.shopify_product_id
      from pg_catalog.unnest(p_members) as m
      inner join pg_catalog.unnest(p_collections) as c on m.shopify_collection_id = c.shopify_collection_id
      where coalesce(m.shopify_product_id, '') <> ''
    ),

    added as (
      insert into public.shopify_collection_products (user_id, shopify_collection_id, shopify_product_id)
      select p_user_id, w.shopify_collection_id, w.shopify_product_id
      from wanted as w
      on conflict do nothing
      returning 1
    ),

    removed as (
      delete from public.shopify_collection_products as x
      where
        x.user_id = p_user_id
        and x.shopify_collection_id in (select c.shopify_collection_id from pg_catalog.unnest(p_collections) as c)
        and not exists (
          select from wanted as w
          where w.shopify_collection_id = x.shopify_collection_id and w.shopify_product_id = x.shopify_product_id
        )
      returning 1
    )

    select (select pg_catalog.count(*) from added) + (select pg_catalog.count(*) from removed)
    into members_written;
  end if;
  return collections_written + members_written;
end
$$;

comment on function public.upsert_shopify_collections(
  uuid, text, public.shopify_collection_input[], public.shopify_collection_member_input[]
) is
'Upserts collections (webhook or import) under the updated_at rule; with members given, each given '
'collection then holds exactly those products. Returns the rows written.';

revoke all on function public.upsert_shopify_collections(
  uuid, text, public.shopify_collection_input[], public.shopify_collection_member_input[]
) from public, anon, authenticated;
grant execute on function public.upsert_shopify_collections(
  uuid, text, public.shopify_collection_input[], public.shopify_collection_member_input[]
) to service_role;

create function public.apply_shopify_catalog_webhook(
  p_user_id uuid, p_shop_domain text, p_topic text, p_payload jsonb
)
returns text
language plpgsql
set search_path = ''
as $$
declare
  item_id text := p_payload ->> 'id';
  written bigint;
begin
  if pg_catalog.jsonb_typeof(p_payload) is distinct from 'object' or coalesce(item_id, '') = '' then
    raise exception 'apply_shopify_catalog_webhook: a payload object with an id is required' using errcode = '22023';
  end if;
  if p_topic = 'products/delete' then
    delete from public.shopify_collection_products as m where m.user_id = p_user_id and m.shopify_product_id = item_id;
    delete from public.shopify_products as p where p.user_id = p_user_id and p.shopify_product_id = item_id;
    return case when found then 'deleted' else 'absent' end;
  end if;
  if p_topic = 'collections/delete' then
    delete from public.shopify_collections as c where c.user_id = p_user_id and c.shopify_collection_id = item_id;
    return case when found then 'deleted' else 'absent' end;
  end if;
  if p_topic in ('products/create', 'products/update') then
    written := public.upsert_shopify_products(
      p_user_id, p_shop_domain,
      array[(
        item_id,
        p_payload ->> 'title',
        p_payload ->> 'handle',
        p_payload ->> 'status',
        p_payload ->> 'vendor',
        p_payload ->> 'product_type',
        -- REST carries tags as one comma-separated string.
        coalesce((
          select pg_catalog.array_agg(pg_catalog.btrim(t) order by n)
          from pg_catalog.unnest(pg_catalog.string_to_array(p_payload ->> 'tags', ',')) with ordinality as u (t, n)
          where pg_catalog.btrim(t) <> ''
        ), '{}'),
        coalesce((
          select pg_catalog.jsonb_agg(
            pg_catalog.jsonb_build_object('url', im ->> 'src', 'alt', im ->> 'alt') order by n
          )
          from pg_catalog.jsonb_array_elements(coalesce(p_payload -> 'images', '[]')) with ordinality as e (im, n)
        ), '[]'),
        (p_payload ->> 'updated_at')::timestamptz,
        (p_payload ->> 'created_at')::timestamptz
      )::public.shopify_product_input],
      coalesce((
        select pg_catalog.array_agg((
          item_id, v ->> 'id', v ->> 'title', v ->> 'sku', (v ->> 'price')::numeric,
          (v ->> 'inventory_quantity')::integer, (v ->> 'position')::integer
        )::public.shopify_variant_input)
        from pg_catalog.jsonb_array_elements(coalesce(p_payload -> 'variants', '[]')) as v
      ), '{}')
    );
  elsif p_topic in ('collections/create', 'collections/update') then
    written := public.upsert_shopify_collections(
      p_user_id, p_shop_domain,
      array[(
        item_id,
        p_payload ->> 'title',
        p_payload ->> 'handle',
        -- A smart collection's payload carries its rules.
        case when p_payload ? 'rules' then 'smart' else 'custom' end,
        (p_payload ->> 'updated_at')::timestamptz
      )::public.shopify_collection_input]
    );
  else
    raise exception 'apply_shopify_catalog_webhook: not a catalog topic: %', p_topic using errcode = '22023';
  end if;
  return case when written > 0 then 'written' else 'stale' end;
end
$$;

comment on function public.apply_shopify_catalog_webhook(uuid, text, text, jsonb) is
'Applies a products/* or collections/* delivery (REST payload) through the import''s own upsert '
'functions; deletes delete. Returns written, stale (older or identical), deleted or absent.';

revoke all on function public.apply_shopify_catalog_webhook(uuid, text, text, jsonb) from public, anon, authenticated;
grant execute on function public.apply_shopify_catalog_webhook(uuid, text, text, jsonb) to service_role;

-- The products export: one row per product with its variants' count, price range and stock, and
-- the titles of its collections. security_invoker, like every export view (30_export_views.sql).
create view public.export_products
with (security_invoker = true) as
select -- noqa: ST06
  p.id,
  p.shopify_product_id,
  p.title,
  p.handle,
  p.status,
  p.vendor,
  p.product_type,
  coalesce(v.variant_count, 0) as variant_count,
  v.min_price,
  v.max_price,
  coalesce(v.inventory, 0) as inventory,
  pg_catalog.array_to_string(p.tags, ', ') as tags,
  (
    select pg_catalog.string_agg(c.title, ', ' order by c.title)
    from public.shopify_collection_products as m
    inner join public.shopify_collections as c
      on m.user_id = c.user_id and m.shopify_collection_id = c.shopify_collection_id
    where m.user_id = p.user_id and m.shopify_product_id = p.shopify_product_id
  ) as collections,
  p.created_at,
  p.user_id,
  p.created_at as export_date
from public.shopify_products as p
left join lateral (
  select
    pg_catalog.count(*) as variant_count,
    pg_catalog.min(x.price) as min_price,
    pg_catalog.max(x.price) as max_price,
    pg_catalog.sum(x.inventory_quantity) as inventory
  from public.shopify_product_variants as x
  where x.user_id = p.user_id and x.product_id = p.id
) as v on true;

comment on view public.export_products is
'Products export: variants'' count, price range and stock, tags and collection titles; export_date = created_at.';

revoke all on table public.export_products from anon, authenticated, service_role;
grant select on table public.export_products to authenticated, service_role;

-- 47_shopify_import.sql
-- The initial import of a shop's data through Shopify's Bulk Operations: one import per request
-- (POST /api/shopify/import, or the wizard's import step), one bulk query operation per kind of
-- object (customers, orders with line items, products with variants and images, collections with
-- their products). The service starts the operations, learns they finished from the
-- bulk_operations/finish webhook or by polling, streams each JSONL result into a temporary table
-- with COPY and writes it with the same set-based functions the webhooks use
-- (42_shopify_order_sync.sql, 46_shopify_catalog.sql), so a webhook that arrives during an import
-- wins when it is newer, and a second import changes nothing.
--
-- Progress is SQL: every bulk operation is a row (its Shopify state, the objects read, the rows
-- written); one that failed, was cancelled, expired or left only partial data stays recorded as
-- such, and another operation is started for its kind. An import completes only when every kind
-- was loaded from a complete result; it then completes the wizard's import step.

create table public.shopify_imports (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references auth.users (id) on delete cascade,
  shop_domain text not null,
  status text not null default 'running'
  constraint shopify_imports_status_valid check (status in ('running', 'completed', 'failed')),
  error text,
  started_at timestamptz not null default now(),
  finished_at timestamptz,
  updated_at timestamptz not null default now(),
  constraint shopify_imports_user_id_id_key unique (user_id, id),
  constraint shopify_imports_finished_when_done check ((status = 'running') = (finished_at is null))
);

comment on table public.shopify_imports is
'Initial imports of a shop''s data through Shopify Bulk Operations: running, completed (every kind '
'loaded from a complete result) or failed. Written by the service; users read their own.';

-- One import runs at a time per account; it serves the user_id foreign key too.
create unique index shopify_imports_one_running_idx
on public.shopify_imports (user_id)
where status = 'running';

create index shopify_imports_user_id_started_at_idx
on public.shopify_imports (user_id, started_at desc);

create trigger shopify_imports_set_updated_at
before update on public.shopify_imports
for each row execute function public.update_updated_at_column();

alter table public.shopify_imports enable row level security;

create policy shopify_imports_select_own on public.shopify_imports
for select to authenticated
using (user_id = (select auth.uid()));

revoke all on table public.shopify_imports from anon, authenticated, service_role;
grant select on table public.shopify_imports to authenticated;
grant select, insert, update, delete on table public.shopify_imports to service_role;

create table public.shopify_bulk_operations (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references auth.users (id) on delete cascade,
  import_id uuid not null,
  kind text not null
  constraint shopify_bulk_operations_kind_valid check (kind in ('customers', 'orders', 'products', 'collections')),
  -- Shopify's gid of the operation.
  shopify_bulk_operation_id text not null
  constraint shopify_bulk_operations_gid_not_blank check (btrim(shopify_bulk_operation_id) <> ''),
  -- created, running: Shopify is at work; completed: the result waits to be loaded; loaded: its
  -- rows are written; failed, canceled, expired, partial (only partialDataUrl): recorded, and
  -- another operation is started for the kind.
  status text not null default 'created'
  constraint shopify_bulk_operations_status_valid check (
    status in ('created', 'running', 'completed', 'loaded', 'failed', 'canceled', 'expired', 'partial')
  ),
  error_code text,
  error text,
  -- Shopify's objectCount while it runs; the JSONL lines read once loaded.
  objects_read bigint not null default 0
  constraint shopify_bulk_operations_objects_read_not_negative check (objects_read >= 0),
  rows_written bigint not null default 0
  constraint shopify_bulk_operations_rows_written_not_negative check (rows_written >= 0),
  created_at timestamptz not null default now(),
  checked_at timestamptz not null default now(),
  finished_at timestamptz,
  updated_at timestamptz not null default now(),
  constraint shopify_bulk_operations_user_id_gid_key unique (user_id, shopify_bulk_operation_id),
  constraint shopify_bulk_operations_import_fkey foreign key (user_id, import_id)
  references public.shopify_imports (user_id, id) on delete cascade
);

comment on table public.shopify_bulk_operations is
'One Shopify bulk query operation of an import: its kind, Shopify state, objects read and rows '
'written; failed, canceled, expired and partial ones stay recorded. Written by the service.';

create index shopify_bulk_operations_user_id_import_id_idx
on public.shopify_bulk_operations (user_id, import_id, kind);

-- The poller reads the operations still in flight.
create index shopify_bulk_operations_in_flight_idx
on public.shopify_bulk_operations (checked_at)
where status in ('created', 'running', 'completed');

create trigger shopify_bulk_operations_set_updated_at
before update on public.shopify_bulk_operations
for each row execute function public.update_updated_at_column();

alter table public.shopify_bulk_operations enable row level security;

create policy shopify_bulk_operations_select_own on public.shopify_bulk_operations
for select to authenticated
using (user_id = (select auth.uid()));

revoke all on table public.shopify_bulk_operations from anon, authenticated, service_role;
grant select on table public.shopify_bulk_operations to authenticated;
grant select, insert, update, delete on table public.shopify_bulk_operations to service_role;

create function public.shopify_import_kinds()
returns text[]
language sql
immutable
parallel safe
set search_path = ''
as $$
  select array['customers', 'orders', 'products', 'collections']::text[]
$$;

comment on function public.shopify_import_kinds() is
'The kinds of object an import reads, one bulk operation each, in the order they are started.';

revoke all on function public.shopify_import_kinds() from public, anon, authenticated;
grant execute on function public.shopify_import_kinds() to service_role;

create function public.start_shopify_import(p_user_id uuid)
returns uuid
language plpgsql
set search_path = ''
as $$
declare
  shop text;
  import_id uuid;
begin
  select i.metadata ->> 'shop_domain' into shop
  from public.integrations as i
  where i.user_id = p_user_id and i.provider = 'shopify' and i.status = 'connected';
  if coalesce(shop, '') = '' then
    raise exception 'connect a Shopify shop before importing its data' using errcode = '55000';
  end if;
  select si.id into import_id
  from public.shopify_imports as si
  where si.user_id = p_user_id and si.status = 'running';
  if found then
    return import_id;  -- one import at a time: the running one
  end if;
  insert into public.shopify_imports (user_id, shop_domain) values (p_user_id, shop)
  returning id into import_id;
  perform public.queue_for_retry(
    p_user_id, 'shopify.import_start', pg_catalog.jsonb_build_object('import_id', import_id),
    p_reference_id => import_id, p_reference_table => 'shopify_imports'
  );
  perform public.log_activity(
    p_user_id, 'shopify_import_started', pg_catalog.jsonb_build_object('import_id', import_id), true, 'settings'
  );
  return import_id;
end
$$;

comment on function public.start_shopify_import(uuid) is
'Starts an import of the connected shop''s data (queues shopify.import_start); while one runs, '
'returns that one. 55000 when no shop is connected.';

revoke all on function public.start_shopify_import(uuid) from public, anon, authenticated;
grant execute on function public.start_shopify_import(uuid) to service_role;

create function public.shopify_bulk_status(p_shopify_status text)
returns text
language sql
immutable
parallel safe
set search_path = ''
as $$
  -- Shopify's BulkOperationStatus (upper case in GraphQL, lower case in the finish webhook) as
  -- ours; CANCELING is still in flight. Null for a value the contract does not name.
  select case pg_catalog.upper(p_shopify_status)
    when 'CREATED' then 'created'
    when 'RUNNING' then 'running'
    when 'CANCELING' then 'running'
    when 'COMPLETED' then 'completed'
    when 'FAILED' then 'failed'
    when 'CANCELED' then 'canceled'
    when 'CANCELLED' then 'canceled'
    when 'EXPIRED' then 'expired'
  end
$$;

comment on function public.shopify_bulk_status(text) is
'Shopify''s bulk operation status (either case) as a shopify_bulk_operations status; null if unknown.';

revoke all on function public.shopify_bulk_status(text) from public, anon, authenticated;
grant execute on function public.shopify_bulk_status(text) to service_role;

create function public.record_shopify_bulk_progress(
  p_operation_id uuid, p_shopify_status text, p_objects bigint default null
)
returns text
language plpgsql
set search_path = ''
as $$
declare
  next_status text := public.shopify_bulk_status(p_shopify_status);
  current_status text;
begin
  if next_status is null or next_status not in ('created', 'running', 'completed') then
    raise exception 'record_shopify_bulk_progress: not an in-flight status: %', p_shopify_status
      using errcode = '22023';
  end if;
  update public.shopify_bulk_operations as b
  set
    status = case when b.status in ('created', 'running') then next_status else b.status end,
    objects_read = greatest(b.objects_read, coalesce(p_objects, 0)),
    checked_at = pg_catalog.now()
  where b.id = p_operation_id
  returning b.status into current_status;
  if not found then
    raise exception 'record_shopify_bulk_progress: no bulk operation %', p_operation_id using errcode = 'P0002';
  end if;
  return current_status;
end
$$;

comment on function public.record_shopify_bulk_progress(uuid, text, bigint) is
'Records an in-flight bulk operation''s Shopify status and object count; a finished row keeps its status.';

revoke all on function public.record_shopify_bulk_progress(uuid, text, bigint) from public, anon, authenticated;
grant execute on function public.record_shopify_bulk_progress(uuid, text, bigint) to service_role;

create function public.fail_shopify_bulk_operation(
  p_operation_id uuid, p_status text, p_error_code text, p_error text, p_max_failures integer default 5
)
returns text
language plpgsql
set search_path = ''
as $$
declare
  op public.shopify_bulk_operations%rowtype;
  failures integer;
begin
  if p_status is null or p_status not in ('failed', 'canceled', 'expired', 'partial') then
    raise exception 'fail_shopify_bulk_operation: status must be failed, canceled, expired or partial, not %',
      coalesce(p_status, 'null') using errcode = '22023';
  end if;
  select b.* into op from public.shopify_bulk_operations as b where b.id = p_operation_id for update;
  if not found then
    raise exception 'fail_shopify_bulk_operation: no bulk operation %', p_operation_id using errcode = 'P0002';
  end if;
  if op.status not in ('created', 'running', 'completed') then
    return op.status;  -- already finished: a second report changes nothing
  end if;
  update public.shopify_bulk_operations as b
  set
    status = p_status, error_code = p_error_code, error = pg_catalog.left(p_error, 2000),
    finished_at = pg_catalog.now(), checked_at = pg_catalog.now()
  where b.id = p_operation_id;

  select pg_catalog.count(*) into failures
  from public.shopify_bulk_operations as b
  where
    b.user_id = op.user_id and b.import_id = op.import_id and b.kind = op.kind
    and b.status in ('failed', 'canceled', 'expired', 'partial');
  if failures >= p_max_failures then
    update public.shopify_imports as si
    set
      status = 'failed', finished_at = pg_catalog.now(),
      error = pg_catalog.format('the %s bulk operation did not complete %s times (last: %s)', op.kind, failures, p_status)
    where si.user_id = op.user_id and si.id = op.import_id and si.status = 'running';
    return 'import failed';
  end if;
  -- Another operation for this kind (and any kind not started yet).
  if exists (
    select from public.shopify_imports as si
    where si.user_id = op.user_id and si.id = op.import_id and si.status = 'running'
  ) then
    perform public.queue_for_retry(
      op.user_id, 'shopify.import_start', pg_catalog.jsonb_build_object('import_id', op.import_id),
      p_reference_id => op.import_id, p_reference_table => 'shopify_imports'
    );
  end if;
  return 'retrying';
end
$$;

comment on function public.fail_shopify_bulk_operation(uuid, text, text, text, integer) is
'Records a bulk operation that failed, was canceled, expired or left only partial data, and queues '
'another for its kind; after p_max_failures of one kind the import fails. Never marks anything complete.';

revoke all on function public.fail_shopify_bulk_operation(uuid, text, text, text, integer)
from public, anon, authenticated;
grant execute on function public.fail_shopify_bulk_operation(uuid, text, text, text, integer) to service_role;

create function public.finish_shopify_bulk_load(p_operation_id uuid, p_objects bigint, p_rows bigint)
returns text
language plpgsql
set search_path = ''
as $$
declare
  op public.shopify_bulk_operations%rowtype;
  missing text [];
begin
  select b.* into op from public.shopify_bulk_operations as b where b.id = p_operation_id for update;
  if not found then
    raise exception 'finish_shopify_bulk_load: no bulk operation %', p_operation_id using errcode = 'P0002';
  end if;
  if op.status = 'loaded' then
    return 'already loaded';
  end if;
  if op.status not in ('created', 'running', 'completed') then
    raise exception 'finish_shopify_bulk_load: bulk operation % is %', p_operation_id, op.status
      using errcode = '55000';
  end if;
  update public.shopify_bulk_operations as b
  set
    status = 'loaded', objects_read = coalesce(p_objects, 0), rows_written = coalesce(p_rows, 0),
    finished_at = pg_catalog.now(), checked_at = pg_catalog.now()
  where b.id = p_operation_id;

  select pg_catalog.array_agg(k) into missing
  from pg_catalog.unnest(public.shopify_import_kinds()) as k
  where not exists (
    select from public.shopify_bulk_operations as b
    where b.user_id = op.user_id and b.import_id = op.import_id and b.kind = k and b.status = 'loaded'
  );
  if missing is not null then
    -- Kinds not started yet (one operation at a time on older API versions) start now.
    perform public.queue_for_retry(
      op.user_id, 'shopify.import_start', pg_catalog.jsonb_build_object('import_id', op.import_id),
      p_reference_id => op.import_id, p_reference_table => 'shopify_imports'
    );
    return 'loaded';
  end if;
  update public.shopify_imports as si
  set status = 'completed', finished_at = pg_catalog.now(), error = null
  where si.user_id = op.user_id and si.id = op.import_id and si.status = 'running';
  if found then
    begin
      perform public.set_setup_step_for_user(op.user_id, 'import', 'completed');
    exception
      when no_data_found then null;  -- a user without a settings row still gets their data
    end;
    perform public.log_activity(
      op.user_id, 'shopify_import_completed', pg_catalog.jsonb_build_object('import_id', op.import_id), true,
      'settings'
    );
  end if;
  return 'import completed';
end
$$;

comment on function public.finish_shopify_bulk_load(uuid, bigint, bigint) is
'Marks a bulk operation loaded with its counts; when every kind of its import is loaded the import '
'completes and so does the wizard''s import step. Otherwise queues the start of the kinds left.';

revoke all on function public.finish_shopify_bulk_load(uuid, bigint, bigint) from public, anon, authenticated;
grant execute on function public.finish_shopify_bulk_load(uuid, bigint, bigint) to service_role;

create function public.record_shopify_bulk_finish(p_user_id uuid, p_shop_domain text, p_payload jsonb)
returns text
language plpgsql
set search_path = ''
as $$
declare
  op_id uuid;
begin
  -- {"admin_graphql_api_id": "gid://shopify/BulkOperation/…", "status": "completed", "error_code": …}
  select b.id into op_id
  from public.shopify_bulk_operations as b
  inner join public.shopify_imports as si on b.user_id = si.user_id and b.import_id = si.id
  where
    b.user_id = p_user_id
    and si.shop_domain = p_shop_domain
    and b.shopify_bulk_operation_id = p_payload ->> 'admin_graphql_api_id'
    and b.status in ('created', 'running', 'completed');
  if op_id is null then
    return null;  -- not ours, or already finished: nothing to do
  end if;
  -- The webhook says it finished; the check reads the result's URL (the webhook does not carry it)
  -- and loads it, or records the failure.
  update public.shopify_bulk_operations as b set checked_at = pg_catalog.now() where b.id = op_id;
  perform public.queue_for_retry(
    p_user_id, 'shopify.import_check', pg_catalog.jsonb_build_object('operation_id', op_id),
    p_reference_id => op_id, p_reference_table => 'shopify_bulk_operations'
  );
  return 'bulk operation ' || coalesce(p_payload ->> 'status', 'finished');
end
$$;

comment on function public.record_shopify_bulk_finish(uuid, text, jsonb) is
'bulk_operations/finish: queues the check (and load) of the named bulk operation if it is one of '
'this shop''s in flight; null otherwise.';

revoke all on function public.record_shopify_bulk_finish(uuid, text, jsonb) from public, anon, authenticated;
grant execute on function public.record_shopify_bulk_finish(uuid, text, jsonb) to service_role;

create function public.queue_shopify_bulk_checks(p_older_than interval)
returns integer
language plpgsql
set search_path = ''
as $$
declare
  queued integer;
begin
  -- The fallback when no finish webhook arrives: every operation in flight not checked for a
  -- while and without a check already waiting gets one.
  with due as (
    update public.shopify_bulk_operations as b
    set checked_at = pg_catalog.now()
    where
      b.status in ('created', 'running', 'completed')
      and b.checked_at <= pg_catalog.now() - p_older_than
      -- An operation of an import that ended (failed, redacted) is nobody's business any more.
      and exists (
        select from public.shopify_imports as si
        where si.user_id = b.user_id and si.id = b.import_id and si.status = 'running'
      )
      and not exists (
        select from public.retry_queue as q
        where
          q.reference_table = 'shopify_bulk_operations' and q.reference_id = b.id
          and q.status in ('pending', 'processing')
      )
    returning b.id, b.user_id
  )

  select pg_catalog.count(public.queue_for_retry(
    d.user_id, 'shopify.import_check', pg_catalog.jsonb_build_object('operation_id', d.id),
    p_reference_id => d.id, p_reference_table => 'shopify_bulk_operations'
  )) into queued
  from due as d;
  return queued;
end
$$;

comment on function public.queue_shopify_bulk_checks(interval) is
'Queues shopify.import_check for every bulk operation in flight of a running import not checked '
'within p_older_than (and without a check waiting); returns how many.';

revoke all on function public.queue_shopify_bulk_checks(interval) from public, anon, authenticated;
grant execute on function public.queue_shopify_bulk_checks(interval) to service_role;

create function public.analyze_shopify_import_targets(p_kind text)
returns void
language plpgsql
security definer
set search_path = ''
as $$
begin
  -- As the tables' owner: ANALYZE is the owner's, and the import runs as service_role. Inside the
  -- import's transaction ANALYZE counts the rows that transaction wrote, so the plans of the next
  -- batches see the tables as they now are, not as they were before the import.
  if p_kind = 'customers' then
    analyze public.customers;
  elsif p_kind = 'orders' then
    analyze public.customers, public.customer_orders;
  elsif p_kind = 'products' then
    analyze public.shopify_products, public.shopify_product_variants;
  elsif p_kind = 'collections' then
    analyze public.shopify_collections, public.shopify_collection_products;
  else
    raise exception 'analyze_shopify_import_targets: unknown kind %', p_kind using errcode = '22023';
  end if;
end
$$;

comment on function public.analyze_shopify_import_targets(text) is
'Refreshes the planner statistics of the tables one import kind writes, as their owner, during the '
'import''s own transaction (called by import_shopify_bulk_stage as the tables grow).';

revoke all on function public.analyze_shopify_import_targets(text) from public, anon, authenticated;
grant execute on function public.analyze_shopify_import_targets(text) to service_role;

create function public.import_shopify_bulk_stage(
  p_user_id uuid, p_shop_domain text, p_kind text, p_batch integer default 10000
)
returns bigint
language plpgsql
set search_path = ''
as $$
declare
  total bigint;
  from_n bigint := 0;
  written bigint := 0;
  -- The batch after which the written tables' statistics are next refreshed: each time the rows
  -- written double, so a million orders cost about seven ANALYZEs.
  next_analyze bigint := p_batch;
begin
  -- The caller has COPYed one bulk operation's JSONL result, a line a row, into
  -- pg_temp.shopify_bulk_stage (doc jsonb) in this transaction. Each line is an object of the
  -- query (GraphQL field names, gids) or a child of one, naming its parent in __parentId (children
  -- need not follow their parent). The rows are turned into our shape here, children joined to
  -- their parents, and written in batches of p_batch parents through the webhooks' own upsert
  -- functions. Returns the rows written.
  if p_user_id is null or coalesce(p_shop_domain, '') = '' or p_batch is null or p_batch < 1 then
    raise exception 'import_shopify_bulk_stage: a user, a shop and a positive batch are required'
      using errcode = '22023';
  end if;
  -- Left by an earlier call in this transaction (no NOTICE for tables that are not there).
  if pg_catalog.to_regclass('pg_temp.shopify_import_parents') is not null then
    drop table pg_temp.shopify_import_parents;
  end if;
  if pg_catalog.to_regclass('pg_temp.shopify_import_children') is not null then
    drop table pg_temp.shopify_import_children;
  end if;

  if p_kind = 'customers' then
    create temp table shopify_import_parents on commit drop as
    select
      pg_catalog.row_number() over () as n,
      (
        pg_catalog.split_part(s.doc ->> 'id', '/', 5),
        coalesce(s.doc -> 'defaultEmailAddress' ->> 'emailAddress', s.doc ->> 'email'),
        (s.doc ->> 'updatedAt')::timestamptz,
        (s.doc ->> 'createdAt')::timestamptz
      )::public.shopify_customer_input as r
    from pg_temp.shopify_bulk_stage as s
    where not s.doc ? '__parentId';
  elsif p_kind = 'orders' then
    create temp table shopify_import_parents on commit drop as
    select
      pg_catalog.row_number() over () as n,
      (
        pg_catalog.split_part(s.doc ->> 'id', '/', 5),
        nullif(pg_catalog.split_part(s.doc -> 'customer' ->> 'id', '/', 5), ''),
        coalesce(s.doc -> 'customer' -> 'defaultEmailAddress' ->> 'emailAddress', s.doc -> 'customer' ->> 'email'),
        coalesce(
          nullif(s.doc ->> 'email', ''),
          s.doc -> 'customer' -> 'defaultEmailAddress' ->> 'emailAddress',
          s.doc -> 'customer' ->> 'email'
        ),
        (s.doc -> 'totalPriceSet' -> 'shopMoney' ->> 'amount')::numeric,
        (s.doc -> 'subtotalPriceSet' -> 'shopMoney' ->> 'amount')::numeric,
        (s.doc -> 'totalDiscountsSet' -> 'shopMoney' ->> 'amount')::numeric,
        coalesce(li.items, 0),
        case
          when s.doc ->> 'cancelledAt' is not null then 'cancelled'
          else coalesce(pg_catalog.lower(nullif(s.doc ->> 'displayFinancialStatus', '')), 'pending')
        end,
        -- The function only where there is a landing page to read (a call costs more than the rest of
        -- the row); without one it is the source name, as the function would say.
        case
          when s.doc #>> '{customerJourneySummary,firstVisit,landingPage}' is not null
            then public.shopify_channel_from_landing(
              s.doc #>> '{customerJourneySummary,firstVisit,landingPage}', s.doc ->> 'sourceName'
            )
          else nullif(s.doc ->> 'sourceName', '')
        end,
        case when pg_catalog.jsonb_array_length(coalesce(s.doc -> 'discountCodes', '[]')) > 0 then
          pg_catalog.array_to_string(array(select pg_catalog.jsonb_array_elements_text(s.doc -> 'discountCodes')), ',')
        end,
        (s.doc ->> 'updatedAt')::timestamptz,
        (s.doc ->> 'createdAt')::timestamptz
      )::public.shopify_order_input as r
    from pg_temp.shopify_bulk_stage as s
    left join (
      select
        c.doc ->> '__parentId' as parent_id,
        pg_catalog.sum((c.doc ->> 'quantity')::integer)::integer as items
      from pg_temp.shopify_bulk_stage as c
      where c.doc ? '__parentId'
      group by c.doc ->> '__parentId'
    ) as li on s.doc ->> 'id' = li.parent_id
    where not s.doc ? '__parentId';
  elsif p_kind = 'products' then
    create temp table shopify_import_parents on commit drop as
    select
      pg_catalog.row_number() over () as n,
      (
        pg_catalog.split_part(s.doc ->> 'id', '/', 5),
        s.doc ->> 'title',
        s.doc ->> 'handle',
        pg_catalog.lower(s.doc ->> 'status'),
        s.doc ->> 'vendor',
        s.doc ->> 'productType',
        array(select pg_catalog.jsonb_array_elements_text(coalesce(s.doc -> 'tags', '[]'))),
        coalesce(im.images, '[]'),
        (s.doc ->> 'updatedAt')::timestamptz,
        (s.doc ->> 'createdAt')::timestamptz
      )::public.shopify_product_input as r
    from pg_temp.shopify_bulk_stage as s
    left join (
      select
        c.doc ->> '__parentId' as parent_id,
        pg_catalog.jsonb_agg(
          pg_catalog.jsonb_build_object('url', c.doc -> 'image' ->> 'url', 'alt', c.doc -> 'image' ->> 'altText')
        ) as images
      from pg_temp.shopify_bulk_stage as c
      where c.doc ? '__parentId' and c.doc ? 'image'
      group by c.doc ->> '__parentId'
    ) as im on s.doc ->> 'id' = im.parent_id
    where not s.doc ? '__parentId';
    create temp table shopify_import_children on commit drop as
    select
      p.n,
      (
        (p.r).shopify_product_id,
        pg_catalog.split_part(c.doc ->> 'id', '/', 5),
        c.doc ->> 'title',
        c.doc ->> 'sku',
        (c.doc ->> 'price')::numeric,
        (c.doc ->> 'inventoryQuantity')::integer,
        (c.doc ->> 'position')::integer
      )::public.shopify_variant_input as r
    from pg_temp.shopify_bulk_stage as c
    inner join pg_temp.shopify_import_parents as p
      on pg_catalog.split_part(c.doc ->> '__parentId', '/', 5) = (p.r).shopify_product_id
    where c.doc ? '__parentId' and pg_catalog.split_part(c.doc ->> 'id', '/', 4) = 'ProductVariant';
  elsif p_kind = 'collections' then
    create temp table shopify_import_parents on commit drop as
    select
      pg_catalog.row_number() over () as n,
      (
        pg_catalog.split_part(s.doc ->> 'id', '/', 5),
        s.doc ->> 'title',
        s.doc ->> 'handle',
        case when pg_catalog.jsonb_typeof(s.doc -> 'ruleSet') = 'object' then 'smart' else 'custom' end,
        (s.doc ->> 'updatedAt')::timestamptz
      )::public.shopify_collection_input as r
    from pg_temp.shopify_bulk_stage as s
    where not s.doc ? '__parentId';
    create temp table shopify_import_children on commit drop as
    select
      p.n,
      ((p.r).shopify_collection_id, pg_catalog.split_part(c.doc ->> 'id', '/', 5))::public.shopify_collection_member_input
      as r
    from pg_temp.shopify_bulk_stage as c
    inner join pg_temp.shopify_import_parents as p
      on pg_catalog.split_part(c.doc ->> '__parentId', '/', 5) = (p.r).shopify_collection_id
    where c.doc ? '__parentId';
  else
    raise exception 'import_shopify_bulk_stage: unknown kind %', coalesce(p_kind, 'null') using errcode = '22023';
  end if;

  select pg_catalog.count(*) into total from pg_temp.shopify_import_parents;
  if total > p_batch then
    create index on pg_temp.shopify_import_parents (n);
    if p_kind in ('products', 'collections') then
      create index on pg_temp.shopify_import_children (n);
    end if;
    analyze pg_temp.shopify_import_parents;
  end if;
  while from_n < total loop
    -- One statement per kind: each is planned for its own row type.
    if p_kind = 'customers' then
      written := written + public.upsert_shopify_customers(p_user_id, p_shop_domain, array(
        select p.r from pg_temp.shopify_import_parents as p where p.n > from_n and p.n <= from_n + p_batch
      ));
    elsif p_kind = 'orders' then
      written := written + public.upsert_shopify_orders(p_user_id, p_shop_domain, array(
        select p.r from pg_temp.shopify_import_parents as p where p.n > from_n and p.n <= from_n + p_batch
      ), false);
    elsif p_kind = 'products' then
      written := written + public.upsert_shopify_products(p_user_id, p_shop_domain, array(
        select p.r from pg_temp.shopify_import_parents as p where p.n > from_n and p.n <= from_n + p_batch
      ), array(
        select c.r from pg_temp.shopify_import_children as c where c.n > from_n and c.n <= from_n + p_batch
      ));
    else
      written := written + public.upsert_shopify_collections(p_user_id, p_shop_domain, array(
        select p.r from pg_temp.shopify_import_parents as p where p.n > from_n and p.n <= from_n + p_batch
      ), array(
        select c.r from pg_temp.shopify_import_children as c where c.n > from_n and c.n <= from_n + p_batch
      ));
    end if;
    from_n := from_n + p_batch;
    -- Planned on statistics from before the import, the lookups of later batches can pick an index
    -- that reads every row of the user per probe (a 1M-order import then never ends).
    if from_n >= next_analyze and from_n < total then
      perform public.analyze_shopify_import_targets(p_kind);
      next_analyze := next_analyze * 2;
    end if;
  end loop;
  if p_kind = 'orders' then
    if total > p_batch then
      perform public.analyze_shopify_import_targets(p_kind);
    end if;
    -- A customer's orders may be spread over every batch: their totals are computed once, here.
    perform public.refresh_shopify_customer_totals(p_user_id, array(
      select c.id
      from (select distinct (p.r).shopify_customer_id as customer_key from pg_temp.shopify_import_parents as p) as k
      -- One unique-index probe per customer (LATERAL with LIMIT stays a subquery): the statistics of
      -- customers are stale by now, and a plan that scans them per order is quadratic.
      cross join lateral (
        select x.id from public.customers as x
        where x.user_id = p_user_id and x.shopify_customer_id = k.customer_key
        limit 1
      ) as c
    ));
  end if;
  drop table pg_temp.shopify_import_parents;
  if p_kind in ('products', 'collections') then
    drop table pg_temp.shopify_import_children;
  end if;
  return written;
end
$$;

comment on function public.import_shopify_bulk_stage(uuid, text, text, integer) is
'Writes one bulk operation''s JSONL result, staged in pg_temp.shopify_bulk_stage (doc jsonb) by '
'the caller, through the webhooks'' upsert functions in batches; children joined by __parentId. '
'Returns the rows written.';

revoke all on function public.import_shopify_bulk_stage(uuid, text, text, integer) from public, anon, authenticated;
grant execute on function public.import_shopify_bulk_stage(uuid, text, text, integer) to service_role;

-- 43_shopify_webhook_inbox.sql: catalog topics and bulk_operations/finish.
create or replace function public.process_shopify_webhook(p_event_row_id uuid)
returns text
language plpgsql
set search_path = ''
as $$
declare
  event public.shopify_webhook_events%rowtype;
  held_shop text;
  held_since timestamptz;
  outcome text;
begin
  select e.* into event from public.shopify_webhook_events as e where e.id = p_event_row_id for update;
  if not found then
    raise exception 'process_shopify_webhook: no event %', p_event_row_id using errcode = 'P0002';
  end if;
  if event.status <> 'received' then
    return 'already ' || event.status;
  end if;

  -- Privacy requests are acted on whatever the connection: they concern data already held.
  if event.topic in ('customers/data_request', 'customers/redact', 'shop/redact') then
    outcome := case event.topic
      when 'customers/data_request' then 'compiled ' || public.compile_shopify_customer_data(event.user_id, event.payload)
      when 'customers/redact' then 'redacted ' || public.redact_shopify_customer(event.user_id, event.payload)
      else 'redacted ' || public.redact_shopify_shop(event.user_id, event.shop_domain, event.payload)
    end;
    perform public.finish_shopify_webhook(p_event_row_id, 'processed');
    return outcome;
  end if;

  select i.metadata ->> 'shop_domain', i.connected_at into held_shop, held_since
  from public.integrations as i
  where i.user_id = event.user_id and i.provider = 'shopify' and i.status <> 'disconnected';
  if held_shop is distinct from event.shop_domain then
    perform public.finish_shopify_webhook(p_event_row_id, 'ignored', 'not the shop this account is connected to');
    return 'ignored: not the connected shop';
  end if;

  if event.topic = 'app/uninstalled' then
    if event.triggered_at < held_since then
      perform public.finish_shopify_webhook(p_event_row_id, 'ignored', 'sent before the current connection was made');
      return 'ignored: older than the connection';
    end if;
    perform public.shopify_app_uninstalled(event.user_id);
    perform public.finish_shopify_webhook(p_event_row_id, 'processed');
    return 'disconnected';
  end if;

  if event.topic in ('orders/create', 'orders/updated') then
    outcome := public.upsert_shopify_order(event.user_id, event.payload);
    update public.customer_orders as o
    set shop_domain = event.shop_domain
    where
      o.user_id = event.user_id
      and o.shopify_order_id = event.payload ->> 'id'
      and o.shop_domain is distinct from event.shop_domain;
    update public.customers as c
    set shop_domain = event.shop_domain
    where
      c.user_id = event.user_id
      and c.shopify_customer_id = event.payload -> 'customer' ->> 'id'
      and c.shop_domain is distinct from event.shop_domain;
  elsif event.topic in ('customers/create', 'customers/update') then
    outcome := public.upsert_shopify_customer(event.user_id, event.payload);
    update public.customers as c
    set shop_domain = event.shop_domain
    where
      c.user_id = event.user_id
      and c.shopify_customer_id = event.payload ->> 'id'
      and c.shop_domain is distinct from event.shop_domain;
  elsif event.topic in (
    'products/create', 'products/update', 'products/delete',
    'collections/create', 'collections/update', 'collections/delete'
  ) then
    outcome := public.apply_shopify_catalog_webhook(event.user_id, event.shop_domain, event.topic, event.payload);
  elsif event.topic = 'bulk_operations/finish' then
    outcome := public.record_shopify_bulk_finish(event.user_id, event.shop_domain, event.payload);
  end if;
  perform public.finish_shopify_webhook(p_event_row_id, case when outcome is null then 'ignored' else 'processed' end);
  return coalesce(outcome, 'ignored');
end
$$;

comment on function public.process_shopify_webhook(uuid) is
'Applies a recorded delivery by topic: privacy requests always; orders, customers (stamped with '
'their shop), products, collections, bulk_operations/finish and app/uninstalled only from the shop '
'the account holds (an uninstall older than the connection is ignored); marks it processed or ignored.';


-- 44_shopify_compliance.sql: shop/redact deletes the catalog and the imports too.
create or replace function public.redact_shopify_shop(p_user_id uuid, p_shop_domain text, p_payload jsonb)
returns uuid
language plpgsql
set search_path = ''
as $$
declare
  shop text := pg_catalog.lower(p_shop_domain);
  other_shop_held boolean;
  orders_deleted integer;
  customers_deleted integer;
  products_deleted integer;
  collections_deleted integer;
  events_deleted integer;
  data_requests_cleared integer;
begin
  if coalesce(shop, '') = '' then
    raise exception 'redact_shopify_shop: the shop is required' using errcode = '22023';
  end if;
  -- Rows from before shops were tracked belong to this shop unless the account now holds another.
  select exists (
    select from public.integrations as i
    where
      i.user_id = p_user_id and i.provider = 'shopify' and i.status <> 'disconnected'
      and i.metadata ->> 'shop_domain' is distinct from shop and i.metadata ->> 'shop_domain' is not null
  ) into other_shop_held;

  delete from public.customer_orders as o
  where o.user_id = p_user_id and (o.shop_domain = shop or (o.shop_domain is null and not other_shop_held));
  get diagnostics orders_deleted = row_count;
  delete from public.customers as c
  where c.user_id = p_user_id and (c.shop_domain = shop or (c.shop_domain is null and not other_shop_held));
  get diagnostics customers_deleted = row_count;
  delete from public.shopify_webhooks as w where w.user_id = p_user_id and w.shop_domain = shop;
  -- The catalog (variants and memberships go with their rows) and the imports of the shop.
  delete from public.shopify_products as p where p.user_id = p_user_id and p.shop_domain = shop;
  get diagnostics products_deleted = row_count;
  delete from public.shopify_collections as c where c.user_id = p_user_id and c.shop_domain = shop;
  get diagnostics collections_deleted = row_count;
  delete from public.shopify_imports as si where si.user_id = p_user_id and si.shop_domain = shop;

  -- Every delivery of the shop but the privacy ones, which are the audit trail of this very
  -- request; the queue items of those still waiting go with them.
  with deleted as (
    delete from public.shopify_webhook_events as e
    where
      e.user_id = p_user_id
      and e.shop_domain = shop
      and e.topic not in ('customers/data_request', 'customers/redact', 'shop/redact')
    returning e.id
  ),

  unqueued as (
    delete from public.retry_queue as q
    where
      q.reference_table = 'shopify_webhook_events'
      and q.status in ('pending', 'failed')
      and q.reference_id in (select d.id from deleted as d)
    returning 1
  )

  select count(*) into events_deleted from deleted;

  update public.shopify_compliance_requests as r
  set result = '{"redacted": true}'::jsonb
  where r.user_id = p_user_id and r.topic = 'customers/data_request' and r.shop_domain = shop;
  get diagnostics data_requests_cleared = row_count;

  return public.record_shopify_compliance(
    p_user_id, 'shop/redact', p_payload,
    pg_catalog.jsonb_build_object(
      'orders_deleted', orders_deleted, 'customers_deleted', customers_deleted,
      'products_deleted', products_deleted, 'collections_deleted', collections_deleted,
      'webhook_events_deleted', events_deleted, 'data_requests_cleared', data_requests_cleared
    ),
    'shopify_shop_redacted'
  );
end
$$;

comment on function public.redact_shopify_shop(uuid, text, jsonb) is
'shop/redact: deletes the shop''s orders, customers, products, collections, imports, subscriptions '
'and deliveries (and the waiting deliveries'' queue items), clears its compiled data requests; audit '
'row with counts. Orders and customers without a shop go too unless the account holds another shop.';


-- 17_setup_progress.sql: a user completes the import step only by importing.
create or replace function public.guard_setup_progress()
returns trigger
language plpgsql
set search_path = ''
as $$
declare
  step text;
begin
  if current_user <> 'authenticated' then
    return new;  -- the service completes connection steps itself when a connection is made
  end if;
  -- A connection step is completed by connecting, not by saying so (skipping is fine).
  for step in
    select e.key
    from pg_catalog.jsonb_each_text(new.setup_progress) as e
    where
      e.value = 'completed'
      and e.value is distinct from old.setup_progress ->> e.key
      and e.key = any(public.integration_providers())
  loop
    if not exists (
      select from public.integrations as i
      where i.user_id = new.user_id and i.provider = step and i.status = 'connected'
    ) then
      raise exception 'connect % before marking its setup step completed', step using errcode = '55000';
    end if;
  end loop;
  -- The import step completes when an import of the shop's data does (47_shopify_import.sql).
  if new.setup_progress ->> 'import' = 'completed'
    and (old.setup_progress ->> 'import') is distinct from 'completed'
    and not exists (
      select from public.shopify_imports as si
      where si.user_id = new.user_id and si.status = 'completed'
    ) then
    raise exception 'the import step completes when an import of the shop''s data completes' using errcode = '55000';
  end if;
  return new;
end
$$;

comment on function public.guard_setup_progress() is
'BEFORE UPDATE OF setup_progress trigger on user_settings: a signed-in user completes a connection '
'step only while that integration is connected, and the import step only once an import completed. '
'55000 otherwise.';
