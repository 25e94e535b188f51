-- Tests supabase/schemas/44_shopify_compliance.sql.
-- Shopify's privacy webhooks. A data request is compiled for the owner; customers/redact removes
-- the person from customers, orders, leads and waiting bodies; shop/redact deletes the shop's rows
-- and no other's; audit rows hold no personal data.
begin;
select plan(12);

select tests.create_user('shop-a@example.test') as a \gset user_
select tests.create_user('shop-b@example.test') as b \gset user_

select tests.authenticate_as_service();

-- A customer with an order in shop A, and an order of the same Shopify id in B's shop.
select public.claim_shopify_shop(:'user_a', 'a.myshopify.com');
select public.upsert_shopify_order(:'user_a', '{
  "id": 5001, "email": "ann@example.test", "created_at": "2026-11-01T10:00:00-05:00",
  "updated_at": "2026-11-01T10:00:00-05:00", "total_price": "60.00", "financial_status": "paid",
  "customer": {"id": 77, "email": "ann@example.test"}}');
select public.upsert_shopify_order(
  :'user_b', '{"id": 5001, "updated_at": "2026-11-02T00:00:00Z", "total_price": "9.00"}'
);

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
select is(
  (select count(*)::int from public.shopify_compliance_requests), 0,
  'user B sees none of A''s compliance requests'
);
select throws_ok(
  $$select public.redact_shopify_shop(auth.uid(), 'a.myshopify.com', '{}')$$, '42501', null,
  'a user cannot call the redaction functions'
);

select * from finish();
rollback;
