-- Tests supabase/schemas/35_export_orphans.sql.
-- public.fail_orphaned_exports(): a streaming export whose stream holds no lock any more is
-- marked failed; a finished one is left alone. (A live stream's lock, held from another
-- session, is exercised in tests/test_export_orphans.py, which can open two connections.)
begin;
set local client_min_messages = warning;
select plan(9);

select tests.create_user('alice@example.com') as alice \gset
select tests.authenticate_as_service();
insert into public.export_history (id, user_id, export_type, format, fields)
values ('00000000-0000-4000-8000-000000000001', :'alice', 'orders', 'csv', array['id']);
insert into public.export_history (id, user_id, export_type, format, fields, status, record_count, finished_at)
values ('00000000-0000-4000-8000-000000000002', :'alice', 'orders', 'csv', array['id'], 'completed', 3, now());

select is(
  public.export_stream_lock_key('00000000-0000-4000-8000-000000000001'),
  public.export_stream_lock_key('00000000-0000-4000-8000-000000000001'),
  'the lock key of an export is always the same'
);
select isnt(
  public.export_stream_lock_key('00000000-0000-4000-8000-000000000001'),
  public.export_stream_lock_key('00000000-0000-4000-8000-000000000002'),
  'and differs between exports'
);

select is(public.fail_orphaned_exports(), 1, 'the orphaned export is swept');
select results_eq(
  $$select id::text, status, error, finished_at is not null, record_count from public.export_history order by id$$,
  $$values
    ('00000000-0000-4000-8000-000000000001', 'failed', 'the service stopped before the export finished', true,
     null::bigint),
    ('00000000-0000-4000-8000-000000000002', 'completed', null, true, 3::bigint)$$,
  'it is failed with a reason; the completed one keeps its outcome'
);
select is(public.fail_orphaned_exports(), 0, 'a second sweep finds nothing');

select tests.clear_authentication();
select tests.authenticate_as(:'alice');
select throws_ok($$select public.fail_orphaned_exports()$$, '42501', null, 'users cannot sweep');
select ok(
  public.export_stream_lock_key('00000000-0000-4000-8000-000000000001') is not null,
  'users can compute the key their own stream locks'
);
select tests.authenticate_as_anon();
select throws_ok($$select public.fail_orphaned_exports()$$, '42501', null, 'nor can anon');
select throws_ok(
  $$select public.export_stream_lock_key(gen_random_uuid())$$, '42501', null, 'anon cannot even compute keys'
);

select * from finish();
rollback;
