-- Tests supabase/schemas/43_shopify_webhook_inbox.sql.
-- The inbox records each delivery once, recognises redeliveries, keeps no body for an unknown shop,
-- queues processing, and drops a body once handled unless it failed. (The functions processing
-- applies a delivery with are tested in 42_shopify_order_sync.sql and 44_shopify_compliance.sql.)
begin;
select plan(12);

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

-- Users read their own rows and call none of this.
select tests.authenticate_as(:'user_b');
select is((select count(*)::int from public.shopify_webhook_events), 0, 'user B sees none of A''s deliveries');

select * from finish();
rollback;
