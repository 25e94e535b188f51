begin;
select plan(39);

select tests.create_user('shop-a@example.test') as a \gset user_
select tests.create_user('shop-b@example.test') as b \gset user_

select tests.authenticate_as_service();

-- The inbox: one row per delivery, a redelivery is recognised, an unknown shop keeps no body.
select public.claim_shopify_shop(:'user_a', 'a.myshopify.com');
select is(
  public.accept_shopify_webhooks('[{"webhook_id": "wh-1", "topic": "orders/create", "shop_domain": "A.myshopify.com",
    "event_id": "ev-1", "api_version": "2026-10", "payload": {"id": 1}}]'),
  '{accepted}'::text[], 'a first delivery is accepted (the domain compared lower-cased)'
);
select is(
  public.accept_shopify_webhooks('[{"webhook_id": "wh-1", "topic": "orders/create", "shop_domain": "a.myshopify.com",
    "payload": {"id": 1}}]'),
  '{duplicate}'::text[], 'a redelivery with the same webhook id is a duplicate'
);
select is(
  (select count(*)::int from public.shopify_webhook_events where webhook_id = 'wh-1'), 1,
  'a redelivery adds no row'
);
select is(
  public.accept_shopify_webhooks('[
    {"webhook_id": "wh-b1", "topic": "orders/create", "shop_domain": "a.myshopify.com", "payload": {"id": 3}},
    {"webhook_id": "wh-b1", "topic": "orders/create", "shop_domain": "a.myshopify.com", "payload": {"id": 3}},
    {"webhook_id": "wh-unknown", "topic": "orders/create", "shop_domain": "nobody.myshopify.com",
     "payload": {"email": "x@example.test"}}]'),
  '{accepted,duplicate,unknown_shop}'::text[], 'a batch answers each delivery in order, repeats inside it counted once'
);
select is(
  (
    select status || ':' || coalesce(payload::text, 'no body') from public.shopify_webhook_events
    where webhook_id = 'wh-unknown'
  ),
  'unknown_shop:no body', 'an unknown shop''s delivery is recorded as such, without its body'
);
select is(
  (select count(*)::int from public.retry_queue where operation_type = 'shopify.process_webhook'), 2,
  'each accepted delivery (and only those) queues its processing'
);
select throws_ok(
  $$select public.accept_shopify_webhooks('[{"webhook_id": " ", "topic": "orders/create",
    "shop_domain": "a.myshopify.com"}]')$$,
  '22023', null, 'a delivery without a webhook id is refused'
);

select public.finish_shopify_webhook(
  (select id from public.shopify_webhook_events where webhook_id = 'wh-1'),
  'processed'
);
select is(
  (select payload from public.shopify_webhook_events where webhook_id = 'wh-1'), null,
  'a processed delivery drops its body'
);
select public.accept_shopify_webhooks('[{"webhook_id": "wh-2", "topic": "orders/create",
  "shop_domain": "a.myshopify.com", "payload": {"id": 2}}]');
select public.finish_shopify_webhook(
  (select id from public.shopify_webhook_events where webhook_id = 'wh-2'),
  'failed', 'boom'
);
select is(
  (select payload ->> 'id' from public.shopify_webhook_events where webhook_id = 'wh-2'), '2',
  'a failed delivery keeps its body for the operator'
);
select throws_ok(
  $$select public.finish_shopify_webhook(gen_random_uuid(), 'processed')$$, 'P0002', null,
  'finishing an unknown event is an error'
);
select throws_ok(
  $$select public.finish_shopify_webhook((select id from public.shopify_webhook_events limit 1), 'done')$$,
  '22023', null, 'an unknown status is refused'
);

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

-- Compliance.
insert into public.leads (user_id, email) values (:'user_a', 'ANN@example.test');
select public.accept_shopify_webhooks('[{"webhook_id": "wh-3", "topic": "customers/update",
  "shop_domain": "a.myshopify.com", "payload": {"id": 77, "email": "ann@example.test"}}]');
select ok(
  (select public.compile_shopify_customer_data(
    :'user_a',
    '{"shop_domain": "a.myshopify.com", "customer": {"id": 77}, "orders_requested": [5001],
      "data_request": {"id": 9999}}'
  )) is not null,
  'a data request is compiled'
);
select is(
  (
    select pg_catalog.jsonb_array_length(result -> 'orders') from public.shopify_compliance_requests
    where topic = 'customers/data_request'
  ),
  1, 'the data request holds the customer''s orders for the owner'
);
select public.redact_shopify_customer(
  :'user_a',
  '{"shop_domain": "a.myshopify.com", "customer": {"id": 77, "email": "ann@example.test", "phone": "555"},
    "orders_to_redact": [5001]}'
);
select is(
  (select count(*)::int from public.customers where user_id = :'user_a' and shopify_customer_id = '77'), 0,
  'the redacted customer is deleted'
);
select is(
  (select customer_email from public.customer_orders where user_id = :'user_a' and shopify_order_id = '5001'),
  null, 'their orders stay without their email'
);
select is(
  (select count(*)::int from public.leads where user_id = :'user_a'), 0,
  'their lead (same email, any case) is deleted'
);
select is(
  (select payload from public.shopify_webhook_events where webhook_id = 'wh-3'), null,
  'a pending delivery about them loses its body'
);
select ok(
  (select result::text !~* 'ann@|555' from public.shopify_compliance_requests where topic = 'customers/redact'),
  'the redaction''s audit row holds no personal data'
);
select is(
  (
    select count(*)::int
    from public.activity_log
    where user_id = :'user_a' and action_type = 'shopify_customer_redacted'
  ),
  1, 'the redaction is in the activity log'
);

select public.redact_shopify_shop(:'user_a', 'a.myshopify.com', '{"shop_domain": "a.myshopify.com"}');
select is(
  (select count(*)::int from public.customer_orders where user_id = :'user_a')
  + (select count(*)::int from public.customers where user_id = :'user_a'),
  0, 'shop/redact deletes every order and customer of the shop'
);
select is(
  (select count(*)::int from public.customer_orders where user_id = :'user_b'), 1,
  'another shop''s data is untouched'
);

-- Users read their own rows and call none of this.
select tests.authenticate_as(:'user_b');
select is((select count(*)::int from public.shopify_webhook_events), 0, 'user B sees none of A''s deliveries');
select is(
  (select count(*)::int from public.shopify_compliance_requests), 0,
  'user B sees none of A''s compliance requests'
);
select throws_ok(
  $$select public.upsert_shopify_order(auth.uid(), '{"id": 1}')$$, '42501', null,
  'a user cannot write orders through the sync function'
);
select throws_ok(
  $$select public.redact_shopify_shop(auth.uid(), 'a.myshopify.com', '{}')$$, '42501', null,
  'a user cannot call the redaction functions'
);

select * from finish();
rollback;
