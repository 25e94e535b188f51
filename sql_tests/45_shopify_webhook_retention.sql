-- Tests supabase/schemas/45_shopify_webhook_retention.sql.
-- public.prune_shopify_webhook_events(): handled inbox rows past the retention go; waiting and
-- failed ones, and anything younger, stay; a retention under a day is refused.
begin;
set local client_min_messages = warning;
select plan(7);

select tests.create_user('shop@example.test') as shop_owner \gset
select tests.authenticate_as_service();
insert into public.shopify_webhook_events (user_id, shop_domain, topic, webhook_id, status, received_at)
select
  :'shop_owner' as user_id,
  'a.myshopify.com' as shop_domain,
  'orders/create' as topic,
  status || '-' || age as webhook_id,
  status,
  now() - age::interval as received_at
from
  unnest(array['received', 'processed', 'ignored', 'unknown_shop', 'failed']) as status,
  unnest(array['40 days', '2 days']) as age;

select throws_ok(
  $$select public.prune_shopify_webhook_events(interval '23 hours')$$, '22023', null,
  'a retention under a day is refused (a redelivery could still come)'
);
select throws_ok(
  $$select public.prune_shopify_webhook_events(null)$$, '22023', null, 'and so is none'
);
select is(public.prune_shopify_webhook_events(interval '30 days'), 3, 'three handled rows are past 30 days');
select results_eq(
  $$select webhook_id from public.shopify_webhook_events order by webhook_id$$,
  $$values ('failed-2 days'), ('failed-40 days'), ('ignored-2 days'), ('processed-2 days'),
    ('received-2 days'), ('received-40 days'), ('unknown_shop-2 days')$$,
  'waiting and failed rows stay however old; younger handled rows stay'
);
select is(public.prune_shopify_webhook_events(interval '30 days'), 0, 'a second run finds nothing');

select tests.clear_authentication();
select tests.authenticate_as(:'shop_owner');
select throws_ok(
  $$select public.prune_shopify_webhook_events(interval '30 days')$$, '42501', null, 'users cannot prune'
);
select tests.authenticate_as_anon();
select throws_ok(
  $$select public.prune_shopify_webhook_events(interval '30 days')$$, '42501', null, 'nor can anon'
);

select * from finish();
rollback;
