-- Tests supabase/schemas/42_shopify_order_sync.sql.
-- Orders and customers from Shopify payloads, out-of-order deliveries recognised as stale, customer
-- totals computed from the held orders.
begin;
select plan(16);

select tests.create_user('shop-a@example.test') as a \gset user_
select tests.create_user('shop-b@example.test') as b \gset user_

-- A refund paid in the customer's currency counts in the shop's, at the order's own rate.
select public.upsert_shopify_order(:'user_a', '{
  "id": 77, "created_at": "2026-10-20T12:00:00Z", "updated_at": "2026-10-21T12:00:00Z",
  "total_price": "100.00", "currency": "USD", "financial_status": "partially_refunded",
  "total_price_set": {"shop_money": {"amount": "100.00"}, "presentment_money": {"amount": "80.00"}},
  "refunds": [{"transactions": [
    {"kind": "refund", "status": "success", "amount": "8.00", "currency": "EUR"},
    {"kind": "refund", "status": "success", "amount": "5.00", "currency": "USD"}
  ]}]}');
select is(
  (select refunded_total from public.customer_orders where user_id = :'user_a' and shopify_order_id = '77'),
  15.00::numeric(12, 2), 'a refund in the customer''s currency is converted to the shop''s (8 EUR = 10 USD here)'
);

select tests.authenticate_as_service();

-- Orders and customers from payloads.
select is(
  public.upsert_shopify_order(:'user_a', '{
    "id": 5001, "email": "ann@example.test", "created_at": "2026-11-01T10:00:00-05:00",
    "updated_at": "2026-11-01T10:00:00-05:00", "total_price": "60.00", "subtotal_price": "70.00",
    "total_discounts": "10.00", "financial_status": "paid",
    "landing_site": "/products/x?utm_source=Pinterest&utm_medium=pin",
    "discount_codes": [{"code": "WELCOME10", "amount": "10.00", "type": "fixed_amount"}],
    "line_items": [{"id": 1, "quantity": 2}, {"id": 2, "quantity": 1}],
    "customer": {"id": 77, "email": "ann@example.test"}}'),
  'inserted', 'a new order is inserted'
);
select results_eq(
  $$select total, subtotal, discount_total, item_count, status, attribution_channel, coupon_code
    from public.customer_orders where shopify_order_id = '5001'$$,
  $$values (60.00::numeric, 70.00::numeric, 10.00::numeric, 3, 'paid'::text, 'pinterest'::text, 'WELCOME10'::text)$$,
  'the order''s totals, item count (quantities), status, utm attribution and coupon come from the payload'
);
select results_eq(
  $$select order_count, total_spent, first_order_at from public.customers where shopify_customer_id = '77'$$,
  $$values (1, 60.00::numeric, '2026-11-01T15:00:00Z'::timestamptz)$$,
  'the order''s customer exists and its totals are computed from the orders'
);
select is(
  public.upsert_shopify_order(:'user_a', '{"id": 5001, "updated_at": "2026-10-31T00:00:00Z",
    "total_price": "1.00", "customer": {"id": 77}}'),
  'stale', 'an update older than the stored row is stale'
);
select is(
  (select total from public.customer_orders where shopify_order_id = '5001'), 60.00::numeric,
  'a stale update changes nothing'
);
select is(
  public.upsert_shopify_order(:'user_a', '{"id": 5001, "updated_at": "2026-11-02T00:00:00Z",
    "created_at": "2026-11-01T15:00:00Z", "total_price": "60.00", "financial_status": "refunded",
    "customer": {"id": 77}}'),
  'updated', 'a newer update is applied'
);
select is(
  (select order_count from public.customers where shopify_customer_id = '77'), 0,
  'a refunded order no longer counts for the customer'
);
select is(
  public.upsert_shopify_order(:'user_b', '{"id": 5001, "updated_at": "2026-11-02T00:00:00Z", "total_price": "9.00"}'),
  'inserted', 'the same Shopify order id in another user''s shop is another order'
);
select throws_ok(
  $$select public.upsert_shopify_order(null, '{"id": 1}')$$, '22023', null,
  'an order without a user is refused'
);
select throws_ok(
  $$select public.upsert_shopify_order(gen_random_uuid(), '{"no_id": 1}')$$, '22023', null,
  'an order without an id is refused'
);

select is(
  public.upsert_shopify_customer(:'user_a', '{"id": 78, "email": "bo@example.test",
    "updated_at": "2026-11-05T00:00:00Z"}'),
  'inserted', 'a new customer is inserted'
);
select is(
  public.upsert_shopify_customer(:'user_a', '{"id": 78, "email": "old@example.test",
    "updated_at": "2026-11-04T00:00:00Z"}'),
  'stale', 'an older customer payload is stale'
);
select is(
  public.upsert_shopify_customer(:'user_a', '{"id": 78, "email": "bo2@example.test",
    "updated_at": "2026-11-06T00:00:00Z"}'),
  'updated', 'a newer customer payload is applied'
);
select is(
  (select email from public.customers where shopify_customer_id = '78'), 'bo2@example.test',
  'the newer email is stored'
);

-- Users call none of this.
select tests.authenticate_as(:'user_b');
select throws_ok(
  $$select public.upsert_shopify_order(auth.uid(), '{"id": 1}')$$, '42501', null,
  'a user cannot write orders through the sync function'
);

select * from finish();
rollback;
