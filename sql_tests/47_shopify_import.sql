-- Tests supabase/schemas/47_shopify_import.sql.
-- Starting an import, the bulk operations' states (Shopify's, in either case), a failed one
-- recorded and retried, completion of the import and of the wizard step, the poller, the load of
-- a staged JSONL result (children after their parents, joined by __parentId) and its repetition
-- changing nothing, RLS.
begin;
select plan(30);

select tests.create_user('imp-a@example.test') as a \gset user_
select tests.create_user('imp-b@example.test') as b \gset user_

select tests.authenticate_as_service();

select throws_ok(
  format('select public.start_shopify_import(%L)', :'user_a'), '55000', null,
  'no import without a connected shop'
);
insert into public.integrations (user_id, provider, status, metadata)
values (:'user_a', 'shopify', 'connected', '{"shop_domain": "a.myshopify.com"}');
select public.start_shopify_import(:'user_a') as import_id \gset
select is(public.start_shopify_import(:'user_a'), :'import_id'::uuid, 'while one import runs, starting returns it');
select is(
  (
    select count(*)::integer from public.retry_queue
    where user_id = :'user_a' and operation_type = 'shopify.import_start' and payload ->> 'import_id' = :'import_id'
  ),
  1, 'the start is queued once'
);

select is(public.shopify_bulk_status('completed'), 'completed', 'the webhook''s lower-case status is read');
select is(public.shopify_bulk_status('CANCELING'), 'running', 'CANCELING is still in flight');
select is(public.shopify_bulk_status('EXPIRED'), 'expired', 'EXPIRED is read');
select is(public.shopify_bulk_status('SOMETHING'), null, 'a status the contract does not name is null');

insert into public.shopify_bulk_operations (user_id, import_id, kind, shopify_bulk_operation_id)
select
  :'user_a'::uuid as user_id,
  :'import_id'::uuid as import_id,
  u.k as kind,
  'gid://shopify/BulkOperation/' || u.n as gid
from unnest(public.shopify_import_kinds()) with ordinality as u (k, n);
select id as orders_op from public.shopify_bulk_operations where kind = 'orders' \gset

select is(
  public.record_shopify_bulk_progress(:'orders_op', 'RUNNING', 42), 'running', 'progress is recorded'
);
select is(
  (select objects_read from public.shopify_bulk_operations where id = :'orders_op'), 42::bigint,
  'with Shopify''s object count'
);
select is(
  public.record_shopify_bulk_finish(
    :'user_a', 'a.myshopify.com',
    '{"admin_graphql_api_id": "gid://shopify/BulkOperation/2", "status": "completed", "error_code": null}'
  ),
  'bulk operation completed', 'the finish webhook is taken'
);
select is(
  (
    select count(*)::integer
    from public.retry_queue where
      operation_type = 'shopify.import_check'
      and payload ->> 'operation_id' = :'orders_op'
  ),
  1, 'and queues the check of that operation'
);
select is(
  public.record_shopify_bulk_finish(
    :'user_a', 'other.myshopify.com',
    '{"admin_graphql_api_id": "gid://shopify/BulkOperation/2", "status": "completed"}'
  ),
  null, 'a finish webhook from another shop is not taken'
);
select is(public.queue_shopify_bulk_checks(interval '1 hour'), 0, 'the poller leaves operations checked recently');
select is(
  public.queue_shopify_bulk_checks(interval '0 seconds'), 3,
  'the poller queues a check of every operation in flight without one waiting'
);

select is(
  public.fail_shopify_bulk_operation(:'orders_op', 'partial', null, 'only partial data'), 'retrying',
  'an operation with partial data is recorded and another queued'
);
select is(
  public.fail_shopify_bulk_operation(:'orders_op', 'failed', null, 'again'), 'partial',
  'a second report of a finished operation changes nothing'
);
select throws_ok(
  format('select public.finish_shopify_bulk_load(%L, 1, 1)', :'orders_op'), '55000', null,
  'a failed operation is never loaded'
);

-- A staged result: parents and children (after all parents), as the service COPYs it.
select lives_ok($$select public.create_shopify_bulk_stage('orders')$$, 'the orders'' staging table is made');
insert into pg_temp.shopify_bulk_stage (
  parent_gid, gid, customer_gid, total, financial_status, cancelled_at, discount_codes, updated_at, created_at,
  quantity
) values
-- Order 1 with one line item summed into its row by the service, and two of its items elsewhere.
(
  null, 'gid://shopify/Order/1', 'gid://shopify/Customer/9', 30.00, 'PAID', null, '{A,B}', '2026-11-02', '2026-11-01',
  1
),
(null, 'gid://shopify/Order/2', null, 5.00, null, '2026-11-02', '{}', '2026-11-02', '2026-11-01', null),
('gid://shopify/Order/1', null, null, null, null, null, null, null, null, 4),
('gid://shopify/Order/1', null, null, null, null, null, null, null, null, 2);
select is(
  public.import_shopify_bulk_stage(:'user_a', 'a.myshopify.com', 'orders', 1), 2::bigint,
  'a staged result is written in batches'
);
select results_eq(
  $$select shopify_order_id, item_count, status, coupon_code, total, shop_domain from public.customer_orders
    order by 1$$,
  $$values ('1'::text, 7, 'paid'::text, 'A,B'::text, 30.00::numeric(12, 2), 'a.myshopify.com'::text),
    ('2', 0, 'cancelled', null, 5.00, 'a.myshopify.com')$$,
  'orders in our shape: line items summed (in the row and through __parentId), status, coupons'
);
select results_eq(
  $$select order_count, total_spent from public.customers where shopify_customer_id = '9'$$,
  $$values (1, 30.00::numeric(12, 2))$$,
  'the order''s customer exists with its totals'
);
select is(
  public.import_shopify_bulk_stage(:'user_a', 'a.myshopify.com', 'orders'), 0::bigint,
  'the same result again writes nothing'
);
select ok(
  not has_function_privilege('authenticated', 'public.analyze_shopify_import_targets(text)', 'execute')
  and not has_function_privilege('anon', 'public.analyze_shopify_import_targets(text)', 'execute')
  and has_function_privilege('service_role', 'public.analyze_shopify_import_targets(text)', 'execute'),
  'refreshing the import''s statistics is the service''s alone'
);
select throws_ok(
  $$select public.analyze_shopify_import_targets('pins')$$, '22023', null,
  'an unknown import kind is refused'
);
select throws_ok(
  $$select public.create_shopify_bulk_stage('pins')$$, '22023', null,
  'a staging table for an unknown kind is refused'
);
select ok(
  not has_function_privilege('authenticated', 'public.create_shopify_bulk_stage(text)', 'execute')
  and not has_function_privilege('anon', 'public.create_shopify_bulk_stage(text)', 'execute'),
  'staging an import is the service''s alone'
);

-- Every kind loaded: the import and the wizard step complete.
update public.shopify_bulk_operations set status = 'loaded', finished_at = now()
where import_id = :'import_id' and kind <> 'customers' and status <> 'partial';
insert into public.shopify_bulk_operations (user_id, import_id, kind, shopify_bulk_operation_id, status, finished_at)
values (:'user_a', :'import_id', 'orders', 'gid://shopify/BulkOperation/99', 'loaded', now());
select id as customers_op from public.shopify_bulk_operations where kind = 'customers' \gset
select is(
  public.finish_shopify_bulk_load(:'customers_op', 10, 8), 'import completed', 'the last kind completes the import'
);
select is(
  (select setup_progress ->> 'import' from public.user_settings where user_id = :'user_a'), 'completed',
  'and the wizard''s import step'
);

select tests.authenticate_as(:'user_b');
select is((select count(*)::integer from public.shopify_bulk_operations), 0, 'another user sees no operations');
select tests.authenticate_as(:'user_a');
select throws_ok(
  $$update public.shopify_imports set status = 'running'$$, '42501', null, 'a user cannot write an import'
);

select * from finish();
rollback;
