-- Tests supabase/schemas/30_export_views.sql.
-- The export domain tables, export_history and the export views: view columns match the field
-- catalog (service/exports/catalog.py), RLS holds through every view, joins are flattened. The
-- domain tables (20_ to 25_) and export_history (32_) are exercised through the views.
begin;
select plan(41);

-- The catalog's field keys per type, plus user_id and export_date (keep in step with catalog.py).
-- export_fields(): a type's field keys are its view's columns but user_id and export_date.
select is(
  public.export_fields('orders'),
  array[
    'id', 'shopify_order_id', 'customer_email', 'total', 'subtotal', 'discount_total', 'item_count',
    'status', 'created_at', 'attribution_channel', 'coupon_code', 'refunded_total'
  ],
  'export_fields() reads a type''s field keys, in order, from its view'
);
select is(public.export_fields('invoices'), null::text[], 'an unknown type has no fields');
select is(
  public.export_fields('export_orders; drop table public.quotes'), null::text[],
  'and a name that is no type is never looked up'
);

select columns_are('public', 'export_leads', array[
  'id', 'email', 'segment', 'source', 'quiz_completed', 'converted', 'created_at',
  'utm_source', 'utm_medium', 'utm_campaign', 'user_id', 'export_date'
]);
select columns_are('public', 'export_customers', array[
  'id', 'email', 'shopify_customer_id', 'segment', 'order_count', 'total_spent', 'first_order_at',
  'last_order_at', 'journey_stage', 'loyalty_tier', 'lifetime_points', 'user_id', 'export_date'
]);
select columns_are('public', 'export_orders', array[
  'id', 'shopify_order_id', 'customer_email', 'total', 'subtotal', 'discount_total', 'item_count',
  'status', 'created_at', 'attribution_channel', 'coupon_code', 'refunded_total', 'user_id', 'export_date'
]);
select columns_are('public', 'export_pins', array[
  'id', 'title', 'board_name', 'status', 'impressions', 'saves', 'clicks', 'engagement_rate',
  'published_at', 'link', 'pinterest_pin_id', 'user_id', 'export_date'
]);
select columns_are('public', 'export_quotes', array[
  'id', 'text', 'attribution', 'collection', 'mood', 'status', 'assets_count', 'created_at',
  'user_id', 'export_date'
]);
select columns_are('public', 'export_assets', array[
  'id', 'quote_text', 'format', 'status', 'quality_score', 'url', 'created_at', 'user_id', 'export_date'
]);
select columns_are('public', 'export_analytics', array[
  'date', 'revenue', 'orders', 'new_customers', 'new_leads', 'quiz_completions', 'pin_impressions',
  'pin_clicks', 'user_id', 'export_date'
]);

select tests.create_user('alice@example.com') as alice \gset
select tests.create_user('bob@example.com') as bob \gset

-- The service writes the domain rows for both users.
select tests.authenticate_as_service();
select set_config('tests.alice', :'alice', true) as alice_setting;
select set_config('tests.bob', :'bob', true) as bob_setting;
do $$
declare
  owner uuid;
  who text;
  customer uuid;
  board uuid;
  pin uuid;
  quote uuid;
begin
  foreach who in array array['alice', 'bob'] loop
    owner := pg_catalog.current_setting('tests.' || who)::uuid;
    insert into public.leads (user_id, email, source) values (owner, who || '@lead.test', 'quiz');
    insert into public.customers (user_id, shopify_customer_id, email, total_spent)
    values (owner, 'c-' || who, who || '@buyer.test', 12.5)
    returning id into customer;
    -- A second customer without a loyalty row.
    insert into public.customers (user_id, shopify_customer_id, email)
    values (owner, 'c2-' || who, who || '2@buyer.test');
    insert into public.customer_loyalty (user_id, customer_id, tier, points_balance, lifetime_points_earned)
    values (owner, customer, 'gold', 10, 250);
    -- Rolled up into daily_metrics' 2026-01-02 (26_daily_metrics_rollup.sql).
    insert into public.customer_orders (user_id, customer_id, shopify_order_id, customer_email, total, created_at)
    values (owner, customer, 'o-' || who, who || '@buyer.test', 30.00, '2026-01-02T12:00:00Z');
    insert into public.pinterest_boards (user_id, pinterest_board_id, name)
    values (owner, 'b-' || who, who || '''s board')
    returning id into board;
    insert into public.pins (user_id, board_id, pinterest_pin_id, title)
    values (owner, board, 'p-' || who, 'on the board')
    returning id into pin;
    -- Unpublished pins without a board or analytics; two prove null Pinterest ids stay distinct.
    insert into public.pins (user_id, title) values (owner, 'draft'), (owner, 'draft 2');
    insert into public.pin_analytics (user_id, pin_id, metric_date, impressions, saves, clicks, engagement_rate)
    values
      (owner, pin, '2026-01-01', 10, 1, 2, 0.5),
      (owner, pin, '2026-01-03', 30, 1, 2, 0.5),
      (owner, pin, '2026-01-02', 20, 1, 2, 0.5);
    insert into public.quotes (user_id, text) values (owner, who || ' says hi') returning id into quote;
    insert into public.assets (user_id, quote_id, format) values (owner, quote, '8x10'), (owner, quote, 'A4');
    insert into public.daily_metrics (user_id, date, revenue) values (owner, '2026-01-01', -5);
  end loop;
end
$$;

-- Alice, through every view, sees her rows and only hers.
select tests.authenticate_as(:'alice');
select is(
  array(select distinct e.user_id from public.export_leads as e),
  array[:'alice'::uuid],
  'leads: own rows only'
);
select is(
  array(select distinct e.user_id from public.export_customers as e),
  array[:'alice'::uuid],
  'customers: own rows only'
);
select is(
  array(select distinct e.user_id from public.export_orders as e),
  array[:'alice'::uuid],
  'orders: own rows only'
);
select is(
  array(select distinct e.user_id from public.export_pins as e),
  array[:'alice'::uuid],
  'pins: own rows only'
);
select is(
  array(select distinct e.user_id from public.export_quotes as e),
  array[:'alice'::uuid],
  'quotes: own rows only'
);
select is(
  array(select distinct e.user_id from public.export_assets as e),
  array[:'alice'::uuid],
  'assets: own rows only'
);
select is(
  array(select distinct e.user_id from public.export_analytics as e),
  array[:'alice'::uuid],
  'analytics: own rows only'
);
select is(
  (select count(*) from public.export_pins), 3::bigint, 'pins: all three of alice''s pins, joins lose none'
);
select is(
  (select count(*) from public.export_customers), 2::bigint, 'customers: both, with or without loyalty'
);

-- The flattened joins.
select results_eq(
  $$ select loyalty_tier, lifetime_points from public.export_customers order by lifetime_points desc $$,
  $$ values ('gold', 250), ('none', 0) $$,
  'customers: loyalty tier and lifetime points, none/0 without a loyalty row'
);
select results_eq(
  $$
    select board_name, impressions, saves, clicks, engagement_rate
    from public.export_pins where board_name is not null
  $$,
  $$ values ('alice''s board', 60::bigint, 3::bigint, 6::bigint, 0.5::numeric) $$,
  'pins: board name and the pin''s days summed'
);
select results_eq(
  $$ select board_name, impressions, engagement_rate from public.export_pins where title = 'draft' $$,
  $$ values (null::text, 0::bigint, 0::numeric) $$,
  'pins: no board and no analytics yet'
);
select results_eq(
  $$ select text, assets_count from public.export_quotes $$,
  $$ values ('alice says hi', 2::bigint) $$,
  'quotes: assets generated per quote'
);
select results_eq(
  $$ select quote_text, format from public.export_assets order by format $$,
  $$ values ('alice says hi', '8x10'), ('alice says hi', 'A4') $$,
  'assets: the quote text of each asset'
);
select results_eq(
  $$ select date, revenue, export_date from public.export_analytics order by date $$,
  $$ values ('2026-01-01'::date, -5.00::numeric, '2026-01-01'::date),
            ('2026-01-02'::date, 30.00::numeric, '2026-01-02'::date) $$,
  'analytics: one row per day, export_date is the day'
);

-- Bob sees only his.
select tests.authenticate_as(:'bob');
select results_eq(
  $$ select customer_email from public.export_orders $$,
  $$ values ('bob@buyer.test') $$,
  'orders: bob sees his order only'
);
select is(
  (select count(*) from public.export_leads where user_id = :'alice'), 0::bigint,
  'leads: asking for alice''s rows by id finds nothing'
);

select tests.authenticate_as_anon();
select throws_ok($$ select * from public.export_orders $$, '42501', null, 'anon cannot read any export view');

-- Users write their quotes, nothing else.
select tests.authenticate_as(:'alice');
select throws_ok(
  format($$ insert into public.customer_orders (user_id, shopify_order_id) values (%L, 'forged') $$, :'alice'),
  '42501', null, 'users cannot write orders (they come from Shopify through the service)'
);
select throws_ok(
  format($$ insert into public.leads (user_id, email) values (%L, 'x@y.test') $$, :'alice'),
  '42501', null, 'users cannot write leads'
);
select throws_ok(
  format(
    $$ insert into public.export_history (user_id, export_type, format, fields) values (%L, 'orders', 'csv', '{id}') $$,
    :'alice'
  ),
  '42501', null, 'users cannot write export history'
);
select lives_ok(
  format($$ insert into public.quotes (user_id, text, mood) values (%L, 'Be here now', 'calm') $$, :'alice'),
  'users write their own quotes'
);
select throws_ok(
  format($$ insert into public.quotes (user_id, text) values (%L, 'planted') $$, :'bob'),
  '42501', null, 'users cannot write quotes for someone else'
);
select throws_ok(
  format($$ update public.quotes set user_id = %L $$, :'bob'),
  '42501', null, 'users cannot move a quote to someone else'
);
select throws_ok(
  $$ delete from public.quotes where text = 'alice says hi' $$,
  '23503', null, 'a quote with assets cannot be deleted (its designs would be lost)'
);

-- The service cannot mix shops up either.
select tests.authenticate_as_service();
select throws_ok(
  format(
    $$ insert into public.pins (user_id, board_id, title)
       select %L, b.id, 'cross' from public.pinterest_boards as b where b.user_id = %L $$,
    :'alice', :'bob'
  ),
  '23503', null, 'a pin cannot sit on another user''s board'
);
select throws_ok(
  format($$ insert into public.customers (user_id, shopify_customer_id) values (%L, 'c-alice') $$, :'alice'),
  '23505', null, 'a Shopify customer is stored once per shop'
);
select throws_ok(
  format(
    $$
      insert into public.export_history (user_id, export_type, format, fields)
      values (%L, 'invoices', 'csv', '{id}')
    $$,
    :'alice'
  ),
  '23514', null, 'export_history refuses an unknown export type'
);
select throws_ok(
  format(
    $$ insert into public.export_history (user_id, export_type, format, fields, status, finished_at)
       values (%L, 'orders', 'csv', '{id}', 'completed', now()) $$,
    :'alice'
  ),
  '23514', null, 'a completed export records its count'
);
select lives_ok(
  format(
    $$ insert into public.export_history (user_id, export_type, format, fields, start_date, end_date, row_limit)
       values (%L, 'orders', 'json', '{id,total}', '2026-01-01', '2026-02-01', 10) $$,
    :'alice'
  ),
  'the service records a started export'
);

-- Deleting a user removes every row of theirs (NO ACTION on assets -> quotes still lets it happen).
select tests.clear_authentication();
delete from auth.users where id = :'bob';
select is(
  (
    select count(*) from (
      select user_id from public.leads
      union all
      select user_id from public.customers
      union all
      select user_id from public.customer_loyalty
      union all
      select user_id from public.customer_orders
      union all
      select user_id from public.pinterest_boards
      union all
      select user_id from public.pins
      union all
      select user_id from public.pin_analytics
      union all
      select user_id from public.quotes
      union all
      select user_id from public.assets
      union all
      select user_id from public.daily_metrics
    ) as everything
    where user_id = :'bob'
  ),
  0::bigint,
  'deleting a user deletes all their export data'
);

select * from finish();
rollback;
