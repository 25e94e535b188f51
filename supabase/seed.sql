-- Demo data for local runs (`haven db reset`, `supabase db reset`). Safe to load twice.
-- The demo user signs in as demo@haven.local / haven-demo on a Supabase stack; locally,
-- `haven dev-token --email demo@haven.local` prints a token for it.

insert into auth.users (
  instance_id,
  id,
  aud,
  role,
  email,
  encrypted_password,
  email_confirmed_at,
  -- Supabase Auth scans these into Go strings, so they must be '' rather than null.
  confirmation_token,
  recovery_token,
  email_change_token_new,
  email_change,
  raw_app_meta_data,
  raw_user_meta_data,
  created_at,
  updated_at
)
values (
  '00000000-0000-0000-0000-000000000000',
  'a0000000-0000-4000-8000-000000000001',
  'authenticated',
  'authenticated',
  'demo@haven.local',
  extensions.crypt('haven-demo', extensions.gen_salt('bf')),
  now(),
  '',
  '',
  '',
  '',
  '{"provider": "email", "providers": ["email"]}',
  '{"full_name": "Demo Operator"}',
  now(),
  now()
)
on conflict do nothing;

-- Password sign-in on a Supabase stack also needs an identity; the local layer has no such table.
do $$
begin
  if pg_catalog.to_regclass('auth.identities') is not null then
    insert into auth.identities (
      id, provider_id, user_id, identity_data, provider, last_sign_in_at, created_at, updated_at
    )
    values (
      'a0000000-0000-4000-8000-000000000001',
      'a0000000-0000-4000-8000-000000000001',
      'a0000000-0000-4000-8000-000000000001',
      '{"sub": "a0000000-0000-4000-8000-000000000001", "email": "demo@haven.local"}',
      'email',
      now(),
      now(),
      now()
    )
    on conflict do nothing;
  end if;
end
$$;

insert into public.activity_log (id, user_id, action_type, details, module)
values (
  'a0000000-0000-4000-8000-0000000000a1',
  'a0000000-0000-4000-8000-000000000001',
  'account_created',
  '{"source": "seed"}',
  'setup'
)
on conflict do nothing;

-- A demo shop for the console (issue 13): orders, customers, Pinterest boards and pins, a few
-- failed and pending operations and a weekly export, so every page shows something on the first
-- `make run`. Fixed ids and `on conflict do nothing` keep it re-runnable. The demo user's
-- integrations stay disconnected: connecting them is the wizard's job.
insert into public.customers (
  id, user_id, shopify_customer_id, email, segment, order_count, total_spent, first_order_at, last_order_at,
  journey_stage, shop_domain
)
select
  ('a0000000-0000-4000-8000-0000000c00' || lpad(n::text, 2, '0'))::uuid as id,
  'a0000000-0000-4000-8000-000000000001' as user_id,
  (7100000 + n)::text as shopify_customer_id,
  format('customer%s@example.com', n) as email,
  (array['new', 'returning', 'vip'])[1 + n % 3] as segment,
  1 + n % 4 as order_count,
  (35 + n * 12.5)::numeric(12, 2) as total_spent,
  now() - make_interval(days => 40 + n) as first_order_at,
  now() - make_interval(days => n) as last_order_at,
  (array['aware', 'engaged', 'customer', 'advocate'])[1 + n % 4] as journey_stage,
  'haven-demo.myshopify.com' as shop_domain
from generate_series(1, 12) as n
on conflict do nothing;

insert into public.customer_orders (
  id, user_id, customer_id, shopify_order_id, customer_email, total, subtotal, discount_total, item_count,
  status, attribution_channel, coupon_code, created_at, shop_domain
)
select
  ('a0000000-0000-4000-8000-0000000d00' || lpad(n::text, 2, '0'))::uuid as id,
  'a0000000-0000-4000-8000-000000000001' as user_id,
  ('a0000000-0000-4000-8000-0000000c00' || lpad((1 + n % 12)::text, 2, '0'))::uuid as customer_id,
  (5500 + n)::text as shopify_order_id,
  format('customer%s@example.com', 1 + n % 12) as customer_email,
  (29 + n * 7)::numeric(12, 2) as total,
  (32 + n * 7)::numeric(12, 2) as subtotal,
  3 as discount_total,
  1 + n % 3 as item_count,
  (array['paid', 'paid', 'fulfilled', 'refunded'])[1 + n % 4] as status,
  (array['pinterest', 'email', 'direct'])[1 + n % 3] as attribution_channel,
  case when n % 5 = 0 then 'SPRING5' end as coupon_code,
  now() - make_interval(days => n * 2) as created_at,
  'haven-demo.myshopify.com' as shop_domain
from generate_series(1, 24) as n
on conflict do nothing;

insert into public.pinterest_boards (id, user_id, pinterest_board_id, name, description, privacy, pin_count)
values
(
  'a0000000-0000-4000-8000-0000000b0001', 'a0000000-0000-4000-8000-000000000001', '900000000000001',
  'Quiet mornings', 'Calm prints for bedrooms', 'PUBLIC', 3
),
(
  'a0000000-0000-4000-8000-0000000b0002', 'a0000000-0000-4000-8000-000000000001', '900000000000002',
  'Words to live by', 'Quote art', 'PUBLIC', 3
)
on conflict do nothing;

insert into public.pins (
  id, user_id, board_id, pinterest_pin_id, title, link, status, published_at, created_at
)
select
  ('a0000000-0000-4000-8000-0000000e00' || lpad(n::text, 2, '0'))::uuid as id,
  'a0000000-0000-4000-8000-000000000001' as user_id,
  ('a0000000-0000-4000-8000-0000000b000' || (1 + n % 2)::text)::uuid as board_id,
  (800000000000000 + n)::text as pinterest_pin_id,
  format('Haven print no. %s', n) as title,
  format('https://haven-demo.myshopify.com/products/print-%s', n) as link,
  'published' as status,
  now() - make_interval(days => n * 3) as published_at,
  now() - make_interval(days => n * 3) as created_at
from generate_series(1, 6) as n
on conflict do nothing;

-- Two operations that failed for good, one waiting for its next try (tomorrow, so the worker
-- leaves it for the page to show), one done.
insert into public.retry_queue (
  id, user_id, operation_type, payload, status, attempts, max_attempts, last_error, next_retry_at, resolved_at,
  created_at
)
values
(
  'a0000000-0000-4000-8000-0000000f0001', 'a0000000-0000-4000-8000-000000000001', 'shopify.register_webhooks',
  '{"shop": "haven-demo.myshopify.com"}', 'failed', 5, 5, 'shopify: 503 from the Admin API', now(), null,
  now() - interval '3 hours'
),
(
  'a0000000-0000-4000-8000-0000000f0002', 'a0000000-0000-4000-8000-000000000001', 'pinterest.sync_boards',
  '{}', 'failed', 5, 5, 'pinterest: 401 the access token was refused', now(), null, now() - interval '1 day'
),
(
  'a0000000-0000-4000-8000-0000000f0003', 'a0000000-0000-4000-8000-000000000001', 'pinterest.sync_boards',
  '{}', 'pending', 2, 5, 'pinterest: 429 rate limited', now() + interval '1 day', null,
  now() - interval '20 minutes'
),
(
  'a0000000-0000-4000-8000-0000000f0004', 'a0000000-0000-4000-8000-000000000001', 'shopify.register_webhooks',
  '{"shop": "haven-demo.myshopify.com"}', 'resolved', 1, 5, null, now(), now() - interval '2 days',
  now() - interval '2 days'
)
on conflict do nothing;

insert into public.scheduled_exports (
  id, user_id, export_type, format, frequency, date_range_type, delivery_method
)
values
(
  'a0000000-0000-4000-8000-0000000a0001', 'a0000000-0000-4000-8000-000000000001', 'orders', 'csv', 'weekly',
  'last_week', 'download'
)
on conflict do nothing;
