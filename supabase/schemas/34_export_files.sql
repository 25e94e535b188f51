-- Files that scheduled exports built, kept for download (GET /api/export/files/<id>) until they
-- expire. Emailed runs keep theirs too: a retried delivery sends the same bytes (Resend refuses
-- a reused Idempotency-Key with a different payload), and the user can download what was mailed.
-- Bytes live in Postgres (bytea) because this stack has no object store; the service caps a
-- file's size and prunes expired files.

create table public.export_files (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references auth.users (id) on delete cascade,
  export_history_id uuid not null references public.export_history (id) on delete cascade,
  filename text not null
  constraint export_files_filename_plain check (filename ~ '^[A-Za-z0-9._-]{1,200}$'),
  content_type text not null,
  file_bytes bytea not null,
  byte_size bigint generated always as (pg_catalog.octet_length(file_bytes)) stored,
  record_count bigint not null
  constraint export_files_record_count_not_negative check (record_count >= 0),
  expires_at timestamptz not null,
  created_at timestamptz not null default now(),
  constraint export_files_one_per_run unique (export_history_id)
);

-- Out of line and uncompressed: the download endpoint reads a file in 1 MB slices, and a slice
-- of a compressed value costs decompressing everything before it.
alter table public.export_files alter column file_bytes set storage external;

comment on table public.export_files is
'The file a scheduled export built (CSV or JSON bytes), downloadable by its owner until expires_at.';

create index export_files_user_id_created_at_idx
on public.export_files (user_id, created_at desc);

-- The prune job's query.
create index export_files_expires_at_idx
on public.export_files (expires_at);

alter table public.export_files enable row level security;

create policy export_files_select_own on public.export_files
for select to authenticated
using (user_id = (select auth.uid()) and expires_at > (select now()));

-- Only the worker writes files; users read their own until they expire.
revoke all on table public.export_files from anon, authenticated, service_role;
grant select on table public.export_files to authenticated;
grant select, insert, delete on table public.export_files to service_role;

create function public.prune_export_files()
returns integer
language sql
set search_path = ''
as $$
  with pruned as (
    delete from public.export_files
    where expires_at <= pg_catalog.now()
    returning 1
  )
  select pg_catalog.count(*)::integer from pruned
$$;

comment on function public.prune_export_files() is
'Deletes expired export files; returns how many. Service only (the worker runs it periodically).';

revoke all on function public.prune_export_files() from public, anon, authenticated;
grant execute on function public.prune_export_files() to service_role;
