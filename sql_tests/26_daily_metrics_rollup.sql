-- Tests supabase/schemas/26_daily_metrics_rollup.sql.
-- daily_metrics' revenue, orders and new_customers follow the order and customer rows as they are
-- inserted, updated (refunds, cancellations, a changed day), deleted and bulk-written, in the
-- shop's time zone (40_shopify_shops.sql); incremental figures equal recomputed ones; other columns are left alone.
begin;
select plan(27);

select tests.create_user('rollup-a@example.test') as a \gset user_
select tests.create_user('rollup-b@example.test') as b \gset user_

select tests.authenticate_as_service();

-- A webhook order: its day (UTC, no shop zone yet), its total, its customer's first order.
select public.upsert_shopify_order(:'user_a', '{
  "id": 1, "created_at": "2026-11-02T03:30:00Z", "updated_at": "2026-11-02T03:30:00Z",
  "total_price": "40.00", "financial_status": "paid", "customer": {"id": 501}}');
select results_eq(
  $$select date, revenue, orders, new_customers from public.daily_metrics where user_id = $$
  || quote_literal(:'user_a'),
  $$values ('2026-11-02'::date, 40.00::numeric, 1, 1)$$,
  'an order is counted on its UTC day with its total, and its customer as new that day'
);

-- A second order of the same customer, same day: revenue and orders add up, no new customer.
select public.upsert_shopify_order(:'user_a', '{
  "id": 2, "created_at": "2026-11-02T20:00:00Z", "updated_at": "2026-11-02T20:00:00Z",
  "total_price": "10.50", "financial_status": "paid", "customer": {"id": 501}}');
select results_eq(
  $$select revenue, orders, new_customers from public.daily_metrics
    where user_id = $$ || quote_literal(:'user_a') || $$ and date = '2026-11-02'$$,
  $$values (50.50::numeric, 2, 1)$$,
  'a returning customer''s order adds revenue and an order, not a new customer'
);

-- The same delivery again (not older): nothing is counted twice.
select public.upsert_shopify_order(:'user_a', '{
  "id": 2, "created_at": "2026-11-02T20:00:00Z", "updated_at": "2026-11-02T20:00:00Z",
  "total_price": "10.50", "financial_status": "paid", "customer": {"id": 501}}');
select results_eq(
  $$select revenue, orders from public.daily_metrics where user_id = $$
  || quote_literal(:'user_a')
  || $$ and date = '2026-11-02'$$,
  $$values (50.50::numeric, 2)$$,
  'a redelivered order changes nothing'
);

-- A refund: the order stops counting, on its own day.
select public.upsert_shopify_order(:'user_a', '{
  "id": 2, "created_at": "2026-11-02T20:00:00Z", "updated_at": "2026-11-03T09:00:00Z",
  "total_price": "10.50", "financial_status": "refunded", "customer": {"id": 501}}');
select results_eq(
  $$select revenue, orders, new_customers from public.daily_metrics
    where user_id = $$ || quote_literal(:'user_a') || $$ and date = '2026-11-02'$$,
  $$values (40.00::numeric, 1, 1)$$,
  'a refunded order''s total and count leave its day'
);

-- A cancelled first order: the customer is no longer new that day (no standing order).
select public.upsert_shopify_order(:'user_a', '{
  "id": 1, "created_at": "2026-11-02T03:30:00Z", "updated_at": "2026-11-03T10:00:00Z",
  "cancelled_at": "2026-11-03T10:00:00Z", "total_price": "40.00", "financial_status": "paid",
  "customer": {"id": 501}}');
select results_eq(
  $$select revenue, orders, new_customers from public.daily_metrics
    where user_id = $$ || quote_literal(:'user_a') || $$ and date = '2026-11-02'$$,
  $$values (0.00::numeric, 0, 0)$$,
  'a cancelled order counts nothing, and a customer without a standing order is not new'
);

-- An amount changed by an update (an order edit) moves by the difference.
select public.upsert_shopify_order(:'user_a', '{
  "id": 3, "created_at": "2026-11-04T12:00:00Z", "updated_at": "2026-11-04T12:00:00Z",
  "total_price": "100.00", "financial_status": "paid", "customer": {"id": 502}}');
select public.upsert_shopify_order(:'user_a', '{
  "id": 3, "created_at": "2026-11-04T12:00:00Z", "updated_at": "2026-11-04T13:00:00Z",
  "total_price": "80.00", "financial_status": "partially_refunded", "customer": {"id": 502}}');
select results_eq(
  $$select revenue, orders, new_customers from public.daily_metrics
    where user_id = $$ || quote_literal(:'user_a') || $$ and date = '2026-11-04'$$,
  $$values (80.00::numeric, 1, 1)$$,
  'an edited total replaces the old one (a partially refunded order still counts)'
);

-- A partial refund: the order still counts, its revenue less what was refunded (successful refund
-- transactions only), and so does its customer's spend.
select public.upsert_shopify_order(:'user_a', '{
  "id": 3, "created_at": "2026-11-04T12:00:00Z", "updated_at": "2026-11-04T14:00:00Z",
  "total_price": "80.00", "financial_status": "partially_refunded", "customer": {"id": 502},
  "refunds": [{"transactions": [
    {"kind": "refund", "status": "success", "amount": "20.00"},
    {"kind": "refund", "status": "failure", "amount": "80.00"}
  ]}, {"transactions": [{"kind": "refund", "status": "success", "amount": "10.00"}]}]}');
select results_eq(
  $$select m.revenue, m.orders, c.total_spent from public.daily_metrics as m, public.customers as c
    where m.user_id = $$ || quote_literal(:'user_a') || $$ and m.date = '2026-11-04'
      and c.user_id = m.user_id and c.shopify_customer_id = '502'$$,
  $$values (50.00::numeric, 1, 50.00::numeric(12, 2))$$,
  'a partially refunded order counts its total less its successful refunds, in revenue and spend'
);

-- An order that moves to another day takes its figures along.
update public.customer_orders set created_at = '2026-11-05T12:00:00Z'
where user_id = :'user_a' and shopify_order_id = '3';
select results_eq(
  $$select date, revenue, orders from public.daily_metrics
    where user_id = $$ || quote_literal(:'user_a') || $$ and date in ('2026-11-04', '2026-11-05') order by date$$,
  $$values ('2026-11-04'::date, 0.00::numeric, 0), ('2026-11-05'::date, 50.00::numeric, 1)$$,
  'an order moved to another day leaves its old day and counts on the new one'
);

-- A bulk write: thousands of orders in one statement (as an import writes them).
insert into public.customer_orders (user_id, shopify_order_id, total, status, created_at)
select
  :'user_a' as user_id,
  'bulk-' || n as shopify_order_id,
  2.50 as total,
  case when n % 10 = 0 then 'refunded' else 'paid' end as status,
  '2026-10-01T00:00:00Z'::timestamptz + make_interval(hours => n % 240) as created_at
from generate_series(1, 3000) as n;
select results_eq(
  $$select sum(orders)::integer, sum(revenue), count(*)::integer from public.daily_metrics
    where user_id = $$ || quote_literal(:'user_a') || $$ and date between '2026-10-01' and '2026-10-10'$$,
  $$values (2700, 6750.00::numeric, 10)$$,
  'a statement of 3,000 orders is rolled up over its ten days, refunded ones left out'
);

-- A bulk update of the same rows: all refunded.
update public.customer_orders set status = 'refunded'
where user_id = :'user_a' and shopify_order_id like 'bulk-%';
select is(
  (
    select sum(orders)::integer from public.daily_metrics
    where user_id = :'user_a' and date between '2026-10-01' and '2026-10-10'
  ),
  0,
  'a bulk refund takes every order back out'
);
update public.customer_orders set status = 'paid'
where user_id = :'user_a' and shopify_order_id like 'bulk-%' and shopify_order_id like '%5';

-- Another user's figures are their own.
select public.upsert_shopify_order(:'user_b', '{
  "id": 1, "created_at": "2026-11-02T12:00:00Z", "updated_at": "2026-11-02T12:00:00Z",
  "total_price": "7.00", "financial_status": "paid", "customer": {"id": 900}}');
select results_eq(
  $$select date, revenue, orders, new_customers from public.daily_metrics where user_id = $$
  || quote_literal(:'user_b'),
  $$values ('2026-11-02'::date, 7.00::numeric, 1, 1)$$,
  'each user''s orders count in their own rows'
);

-- Columns other writers own are left alone.
update public.daily_metrics set pin_impressions = 123, new_leads = 4
where user_id = :'user_b' and date = '2026-11-02';
select public.upsert_shopify_order(:'user_b', '{
  "id": 2, "created_at": "2026-11-02T13:00:00Z", "updated_at": "2026-11-02T13:00:00Z",
  "total_price": "3.00", "financial_status": "paid", "customer": {"id": 900}}');
select results_eq(
  $$select revenue, orders, pin_impressions, new_leads from public.daily_metrics
    where user_id = $$ || quote_literal(:'user_b') || $$ and date = '2026-11-02'$$,
  $$values (10.00::numeric, 2, 123::bigint, 4)$$,
  'the rollup adds to revenue and orders and leaves the pin and lead columns as they were'
);

-- The shop's time zone: days are counted there, and a change recomputes every day.
select public.claim_shopify_shop(:'user_a', 'rollup-a.myshopify.com');
select is(
  public.set_shopify_shop_time_zone('rollup-a.myshopify.com', 'America/New_York'),
  'America/New_York', 'a known zone is stored'
);
select is(
  (select time_zone from public.daily_metrics_time_zones where user_id = :'user_a'),
  'America/New_York', 'the user''s days follow their shop''s zone'
);
-- 2026-11-02T03:30Z (order 1, cancelled) and 20:00Z (refunded) count nothing; 2026-11-05T12:00Z
-- is 07:00 in New York, the same day.
select results_eq(
  $$select date, revenue, orders from public.daily_metrics
    where user_id = $$ || quote_literal(:'user_a') || $$ and date >= '2026-11-01' and orders > 0$$,
  $$values ('2026-11-05'::date, 50.00::numeric, 1)$$,
  'after the zone changed, the days were recomputed in it'
);
select public.upsert_shopify_order(:'user_a', '{
  "id": 4, "created_at": "2026-11-07T02:00:00Z", "updated_at": "2026-11-07T02:00:00Z",
  "total_price": "15.00", "financial_status": "paid", "customer": {"id": 503}}');
select results_eq(
  $$select date, revenue, orders, new_customers from public.daily_metrics
    where user_id = $$ || quote_literal(:'user_a') || $$ and date between '2026-11-06' and '2026-11-07'$$,
  $$values ('2026-11-06'::date, 15.00::numeric, 1, 1)$$,
  'an order at 02:00 UTC counts on the shop''s previous day (21:00 in New York)'
);
-- The bulk orders, recomputed in New York: the same totals (no day boundary lost an order).
select is(
  (select sum(orders)::integer from public.daily_metrics where user_id = :'user_a' and date < '2026-11-01'),
  300, 'the recomputed bulk orders are all there, on their New York days'
);
select is(
  public.set_shopify_shop_time_zone('rollup-a.myshopify.com', 'Mars/Olympus_Mons'),
  null, 'a zone Postgres does not know is stored as null (UTC)'
);
select is(
  tests.sqlstate_of($$select public.set_shopify_shop_time_zone('nobody.myshopify.com', 'UTC')$$),
  'P0002', 'an unknown shop is P0002'
);
select public.set_shopify_shop_time_zone('rollup-a.myshopify.com', 'Asia/Tokyo');

-- Deleting (shop/redact) takes the rows' figures away.
delete from public.customer_orders where user_id = :'user_a' and shopify_order_id = '4';
delete from public.customers where user_id = :'user_a' and shopify_customer_id = '503';
select is(
  (select sum(orders)::integer from public.daily_metrics where user_id = :'user_a' and date >= '2026-11-06'),
  0, 'a deleted order and customer leave their day'
);

-- Incremental equals recomputed, after all of the above.
create temporary table incremental on commit drop as
select
  user_id,
  date,
  revenue,
  orders,
  new_customers
from public.daily_metrics;
select public.recompute_daily_metrics(:'user_a');
select public.recompute_daily_metrics(:'user_b');
select results_eq(
  $$select user_id, date, revenue, orders, new_customers from public.daily_metrics order by 1, 2$$,
  $$select user_id, date, revenue, orders, new_customers from incremental order by 1, 2$$,
  'the incremental figures equal the recomputed ones after inserts, updates, refunds, moves and deletes'
);

-- Repair: a damaged range is rebuilt, days outside it are not touched.
update public.daily_metrics set revenue = 999, orders = 99
where user_id = :'user_a' and date in ('2026-11-05', '2026-10-03');
select public.recompute_daily_metrics(:'user_a', '2026-11-01', '2026-11-30');
select results_eq(
  $$select date, revenue, orders from public.daily_metrics
    where user_id = $$ || quote_literal(:'user_a') || $$ and date in ('2026-11-05', '2026-10-03') order by date$$,
  $$values ('2026-10-03'::date, 999::numeric, 99), ('2026-11-05'::date, 50.00::numeric, 1)$$,
  'recomputing a range repairs its days and leaves the others'
);
select is(
  tests.sqlstate_of($$select public.recompute_daily_metrics(null)$$), '22023', 'a user is required'
);
select is(
  tests.sqlstate_of(format(
    'select public.recompute_daily_metrics(%L, %L, %L)', :'user_a', '2026-11-02', '2026-11-01'
  )),
  '22023', 'a range that ends before it starts is refused'
);

-- Users read their own zone; they cannot recompute or write figures.
select tests.authenticate_as(:'user_a');
select is(
  (select time_zone from public.daily_metrics_time_zones), 'Asia/Tokyo', 'a user reads their own zone'
);
select tests.authenticate_as(:'user_b');
select is(
  (select count(*)::integer from public.daily_metrics_time_zones), 0, 'a user sees no other user''s zone'
);
select is(
  tests.sqlstate_of(format('select public.recompute_daily_metrics(%L)', :'user_b')),
  '42501', 'a user cannot run the recompute'
);

select * from finish();
rollback;
