-- Tests supabase/schemas/34_export_files.sql.
-- A scheduled run's file is its owner's to read until it expires, and only the worker writes files.
begin;
select plan(4);

select tests.create_user('alice@example.com') as alice \gset
select tests.create_user('bob@example.com') as bob \gset

select tests.authenticate_as_service();
insert into public.export_history (user_id, export_type, format, fields, start_date) values
(:'alice', 'orders', 'csv', '{id}', now() - interval '7 days');
insert into public.export_files (
  user_id, export_history_id, filename, content_type, file_bytes, record_count, expires_at
)
select
  user_id,
  id as export_history_id,
  'orders-export-2026-11-30.csv' as filename,
  'text/csv' as content_type,
  convert_to('ID', 'UTF8') as file_bytes,
  1 as record_count,
  now() + interval '1 day' as expires_at
from public.export_history;

select tests.authenticate_as(:'alice');
select is((select count(*) from public.export_files), 1::bigint, 'alice sees her file');
select throws_ok(
  format(
    $$insert into public.export_files (user_id, export_history_id, filename, content_type, file_bytes,
        record_count, expires_at)
      select %L, id, 'x.csv', 'text/csv', 'x', 0, now() from public.export_history$$,
    :'alice'
  ),
  '42501', null, 'but only the worker writes files'
);

select tests.authenticate_as(:'bob');
select is_empty($$select from public.export_files$$, 'bob does not see alice''s file');

select tests.clear_authentication();
update public.export_files set expires_at = now() - interval '1 second';
select tests.authenticate_as(:'alice');
select is_empty($$select from public.export_files$$, 'an expired file is gone for its owner too');

select * from finish();
rollback;
