-- Tests supabase/schemas/34_export_files.sql.
-- A scheduled run's file is its owner's to read until it expires, and only the worker writes
-- files. Identical bytes are stored once per user, and the bytes a user's live files take are capped.
begin;
select plan(17);

select tests.create_user('alice@example.com') as alice \gset
select tests.create_user('bob@example.com') as bob \gset

select tests.authenticate_as_service();
insert into public.export_history (user_id, export_type, format, fields, start_date)
select
  :'alice'::uuid as user_id,
  'orders' as export_type,
  'csv' as format,
  '{id}'::text[] as fields,
  now() - interval '7 days' as start_date
from generate_series(1, 4);
create temporary table runs on commit drop as
select
  id,
  row_number() over (order by id) as n
from public.export_history;
grant select on runs to public;

-- store_export_file(user, run, name, type, bytes, rows, expires, cap)
select lives_ok(
  format(
    $$select public.store_export_file(%L, (select id from runs where n = 1), 'orders-export-2026-11-30.csv',
      'text/csv', convert_to('ID', 'UTF8'), 1, now() + interval '1 day', 100)$$,
    :'alice'
  ),
  'the worker stores a run''s file'
);
select lives_ok(
  format(
    $$select public.store_export_file(%L, (select id from runs where n = 2), 'orders-export-2026-11-30.csv',
      'text/csv', convert_to('ID', 'UTF8'), 1, now() + interval '1 day', 100)$$,
    :'alice'
  ),
  'and a second run that built the same bytes'
);
select results_eq(
  $$select count(*), sum(byte_size) from public.export_file_contents$$,
  $$values (1::bigint, 2::numeric)$$,
  'identical bytes are stored once'
);
select results_eq(
  $$select count(*), sum(byte_size) from public.export_files$$,
  $$values (2::bigint, 4::numeric)$$,
  'and each file names them, with its size'
);
select throws_ok(
  format(
    $$select public.store_export_file(%L, (select id from runs where n = 3), 'x.csv', 'text/csv',
      convert_to(repeat('y', 99), 'UTF8'), 99, now() + interval '1 day', 100)$$,
    :'alice'
  ),
  'PT409', null, 'new bytes past the user''s cap are refused (2 stored + 99 > 100)'
);
select lives_ok(
  format(
    $$select public.store_export_file(%L, (select id from runs where n = 3), 'x.csv', 'text/csv',
      convert_to('ID', 'UTF8'), 1, now() + interval '1 day', 2)$$,
    :'alice'
  ),
  'identical bytes already stored cost nothing, even at the cap'
);
select lives_ok(
  format(
    $$select public.store_export_file(%L, (select id from runs where n = 4), 'x.csv', 'text/csv',
      convert_to(repeat('y', 98), 'UTF8'), 98, now() + interval '1 day', 100)$$,
    :'alice'
  ),
  'new bytes up to the cap are kept'
);

select tests.authenticate_as(:'alice');
select is((select count(*) from public.export_files), 4::bigint, 'alice sees her files');
select is(
  (
    select convert_from(c.file_bytes, 'UTF8')
    from public.export_files as f
    inner join public.export_file_contents as c on f.user_id = c.user_id and f.content_sha256 = c.sha256
    where f.byte_size = 2
    order by f.id
    limit 1
  ),
  'ID',
  'and reads their bytes'
);
select throws_ok(
  format(
    $$select public.store_export_file(%L, gen_random_uuid(), 'x.csv', 'text/csv', 'x', 0, now(), 100)$$,
    :'alice'
  ),
  '42501', null, 'but only the worker writes files'
);
select throws_ok(
  format(
    $$insert into public.export_file_contents (user_id, sha256, file_bytes) values (%L, sha256('x'), 'x')$$,
    :'alice'
  ),
  '42501', null, 'or their contents'
);

select tests.authenticate_as(:'bob');
select is_empty($$select from public.export_files$$, 'bob does not see alice''s files');
select is_empty($$select from public.export_file_contents$$, 'nor their bytes');

select tests.clear_authentication();
update public.export_files set expires_at = now() - interval '1 second' where byte_size = 98;
select tests.authenticate_as(:'alice');
select is(
  (select count(*) from public.export_file_contents), 1::bigint,
  'an expired file and the bytes only it named are gone for their owner too'
);

select tests.authenticate_as_service();
select is(public.prune_export_files(), 1, 'the prune deletes the expired file');
select results_eq(
  $$select byte_size from public.export_file_contents$$,
  $$values (2::bigint)$$,
  'and the bytes no file names any more, keeping those still named'
);
select lives_ok(
  format(
    $$select public.store_export_file(%L, (select id from runs where n = 4), 'x.csv', 'text/csv',
      convert_to(repeat('z', 98), 'UTF8'), 98, now() + interval '1 day', 100)$$,
    :'alice'
  ),
  'expired files free their bytes under the cap'
);

select * from finish();
rollback;
