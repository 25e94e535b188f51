-- Shopify orders. Written by the service from webhooks and syncs; users read them. created_at is
-- when the order was placed (the sync writes Shopify's created_at), shopify_updated_at is
-- Shopify's updated_at, so a webhook older than the stored row can be recognised and refused.

create table public.customer_orders (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references auth.users (id) on delete cascade,
  customer_id uuid,
  shopify_order_id text not null
  constraint customer_orders_shopify_order_id_not_blank check (btrim(shopify_order_id) <> ''),
  customer_email text,
  total numeric(12, 2) not null default 0,
  subtotal numeric(12, 2) not null default 0,
  discount_total numeric(12, 2) not null default 0,
  item_count integer not null default 0
  constraint customer_orders_item_count_not_negative check (item_count >= 0),
  status text not null default 'pending'
  constraint customer_orders_status_not_blank check (btrim(status) <> ''),
  attribution_channel text,
  coupon_code text,
  shopify_updated_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  -- Stamped when a delivery is applied, so shop/redact for a shop the account held before (it
  -- arrives 48 hours after that shop's uninstall) deletes only that shop's orders.
  shop_domain text,
  -- What was refunded of the order so far (Shopify's refunds): a partially refunded order counts
  -- total - refunded_total in revenue and in its customer's spend.
  refunded_total numeric(12, 2) not null default 0
  constraint customer_orders_refunded_total_not_negative check (refunded_total >= 0),
  constraint customer_orders_user_id_shopify_order_id_key unique (user_id, shopify_order_id),
  -- The customer may be deleted (GDPR redaction) while the order stays for the books.
  constraint customer_orders_customer_fkey foreign key (user_id, customer_id)
  references public.customers (user_id, id) on delete set null (customer_id)
);

comment on table public.customer_orders is
'A shop''s Shopify orders: totals, item count, status, attribution. Written by the service.';

comment on column public.customer_orders.shop_domain is
'The Shopify shop the order came from (null: recorded before shops were tracked).';

-- The export reads a user's orders newest first within a date range; serves the user_id key too.
create index customer_orders_user_id_created_at_idx
on public.customer_orders (user_id, created_at, id);

create index customer_orders_user_id_customer_id_idx
on public.customer_orders (user_id, customer_id);

create trigger customer_orders_set_updated_at
before update on public.customer_orders
for each row execute function public.update_updated_at_column();

alter table public.customer_orders enable row level security;

create policy customer_orders_select_own on public.customer_orders
for select to authenticated
using (user_id = (select auth.uid()));

revoke all on table public.customer_orders from anon, authenticated, service_role;
grant select on table public.customer_orders to authenticated;
grant select, insert, update, delete on table public.customer_orders to service_role;
