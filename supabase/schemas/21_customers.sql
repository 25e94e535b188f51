-- Shopify customers and their loyalty standing. Rows come from Shopify webhooks and syncs run by
-- the service; users read them. created_at is when the customer was created in Shopify (the sync
-- writes it), shopify_updated_at is Shopify's own updated_at, so a webhook older than the stored
-- row can be recognised and refused.

create table public.customers (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references auth.users (id) on delete cascade,
  shopify_customer_id text not null
  constraint customers_shopify_customer_id_not_blank check (btrim(shopify_customer_id) <> ''),
  email text,
  segment text,
  order_count integer not null default 0
  constraint customers_order_count_not_negative check (order_count >= 0),
  total_spent numeric(12, 2) not null default 0,
  first_order_at timestamptz,
  last_order_at timestamptz,
  journey_stage text,
  shopify_updated_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  -- Stamped when a delivery is applied, so shop/redact deletes only that shop's customers.
  shop_domain text,
  constraint customers_user_id_shopify_customer_id_key unique (user_id, shopify_customer_id),
  -- Target of the (user_id, customer_id) foreign keys, which keep children in their owner's shop.
  constraint customers_user_id_id_key unique (user_id, id),
  constraint customers_order_dates_ordered check (first_order_at <= last_order_at)
);

comment on table public.customers is
'A shop''s Shopify customers: identity, segment, purchase totals and journey stage. Written by the service.';

comment on column public.customers.shop_domain is
'The Shopify shop the customer came from (null: recorded before shops were tracked).';

create index customers_user_id_created_at_idx
on public.customers (user_id, created_at, id);

create trigger customers_set_updated_at
before update on public.customers
for each row execute function public.update_updated_at_column();

alter table public.customers enable row level security;

create policy customers_select_own on public.customers
for select to authenticated
using (user_id = (select auth.uid()));

revoke all on table public.customers from anon, authenticated, service_role;
grant select on table public.customers to authenticated;
grant select, insert, update, delete on table public.customers to service_role;

create table public.customer_loyalty (
  customer_id uuid primary key,
  user_id uuid not null references auth.users (id) on delete cascade,
  tier text not null default 'none'
  constraint customer_loyalty_tier_not_blank check (btrim(tier) <> ''),
  points_balance integer not null default 0
  constraint customer_loyalty_points_balance_not_negative check (points_balance >= 0),
  lifetime_points_earned integer not null default 0
  constraint customer_loyalty_lifetime_points_not_negative check (lifetime_points_earned >= 0),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint customer_loyalty_customer_fkey foreign key (user_id, customer_id)
  references public.customers (user_id, id) on delete cascade
);

comment on table public.customer_loyalty is
'Loyalty standing of one customer (tier, spendable and lifetime points). Written by the service.';

-- Serves both foreign keys (user_id leads).
create index customer_loyalty_user_id_customer_id_idx
on public.customer_loyalty (user_id, customer_id);

create trigger customer_loyalty_set_updated_at
before update on public.customer_loyalty
for each row execute function public.update_updated_at_column();

alter table public.customer_loyalty enable row level security;

create policy customer_loyalty_select_own on public.customer_loyalty
for select to authenticated
using (user_id = (select auth.uid()));

revoke all on table public.customer_loyalty from anon, authenticated, service_role;
grant select on table public.customer_loyalty to authenticated;
grant select, insert, update, delete on table public.customer_loyalty to service_role;
