-- Files that scheduled exports built, kept for download (GET /api/export/files/<id>) until they
-- expire. Emailed runs keep theirs too: a retried delivery sends the same bytes (Resend refuses
-- a reused Idempotency-Key with a different payload), and the user can download what was mailed.
-- Bytes live in Postgres (bytea) because this stack has no object store; the service caps a
-- file's size and prunes expired files.
--
-- The bytes are stored once per user and content (export_file_contents, keyed by sha256): twenty
-- schedules that build the same file keep one copy, and each export_files row names it. The bytes
-- a user's live files take are capped (store_export_file's p_max_user_bytes, the service's
-- HAVEN_EXPORT_STORED_BYTES_PER_USER); a content no live file names any more is pruned with the
-- expired files.

create table public.export_file_contents (
  user_id uuid not null references auth.users (id) on delete cascade,
  sha256 bytea not null
  constraint export_file_contents_sha256_length check (octet_length(sha256) = 32),
  file_bytes bytea not null,
  byte_size bigint generated always as (pg_catalog.octet_length(file_bytes)) stored,
  created_at timestamptz not null default now(),
  constraint export_file_contents_pkey primary key (user_id, sha256)
);

-- Out of line and uncompressed: the download endpoint reads a file in 1 MB slices, and a slice
-- of a compressed value costs decompressing everything before it.
alter table public.export_file_contents alter column file_bytes set storage external;

comment on table public.export_file_contents is
'The bytes of stored export files, once per user and sha256 however many files share them. '
'Read through export_files; written by store_export_file().';

create table public.export_files (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references auth.users (id) on delete cascade,
  export_history_id uuid not null references public.export_history (id) on delete cascade,
  filename text not null
  constraint export_files_filename_plain check (filename ~ '^[A-Za-z0-9._-]{1,200}$'),
  content_type text not null,
  -- The size of its content (export_file_contents.byte_size), kept here for listing.
  byte_size bigint not null
  constraint export_files_byte_size_not_negative check (byte_size >= 0),
  record_count bigint not null
  constraint export_files_record_count_not_negative check (record_count >= 0),
  expires_at timestamptz not null,
  created_at timestamptz not null default now(),
  content_sha256 bytea not null,
  constraint export_files_one_per_run unique (export_history_id),
  constraint export_files_content_fkey foreign key (user_id, content_sha256)
  references public.export_file_contents (user_id, sha256)
);

comment on table public.export_files is
'The file a scheduled export built (CSV or JSON; its bytes in export_file_contents), downloadable by its owner '
'until expires_at.';

create index export_files_user_id_created_at_idx
on public.export_files (user_id, created_at desc);

-- The prune job's query.
create index export_files_expires_at_idx
on public.export_files (expires_at);

-- Serves the foreign key, and the files naming one content (the contents' policy, the prune).
create index export_files_user_id_content_sha256_idx
on public.export_files (user_id, content_sha256);

alter table public.export_files enable row level security;

create policy export_files_select_own on public.export_files
for select to authenticated
using (user_id = (select auth.uid()) and expires_at > (select now()));

-- Only the worker writes files (store_export_file()); users read their own until they expire.
revoke all on table public.export_files from anon, authenticated, service_role;
grant select on table public.export_files to authenticated;
grant select, insert, delete on table public.export_files to service_role;

alter table public.export_file_contents enable row level security;

-- Readable while a live file of the owner names it, as the file itself is.
create policy export_file_contents_select_own on public.export_file_contents
for select to authenticated
using (
  user_id = (select auth.uid())
  and exists (
    select from public.export_files as f
    where
      f.user_id = export_file_contents.user_id
      and f.content_sha256 = export_file_contents.sha256
      and f.expires_at > (select now())
  )
);

revoke all on table public.export_file_contents from anon, authenticated, service_role;
grant select on table public.export_file_contents to authenticated;
grant select, insert, delete on table public.export_file_contents to service_role;

create function public.store_export_file(
  p_user_id uuid,
  p_export_history_id uuid,
  p_filename text,
  p_content_type text,
  p_file_bytes bytea,
  p_record_count bigint,
  p_expires_at timestamptz,
  p_max_user_bytes bigint
)
returns uuid
language plpgsql
set search_path = ''
as $$
declare
  digest bytea := pg_catalog.sha256(p_file_bytes);
  stored bigint;
  file_id uuid;
begin
  if p_user_id is null or p_file_bytes is null or p_max_user_bytes is null or p_max_user_bytes < 0 then
    raise exception 'store_export_file: a user, the bytes and a cap of at least 0 are required' using errcode = '22023';
  end if;
  -- One store per user at a time, so two runs cannot both take the last bytes under the cap.
  perform pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtextextended('export_files:' || p_user_id::text, 0));
  if not exists (
    select from public.export_file_contents as c where c.user_id = p_user_id and c.sha256 = digest
  ) then
    select coalesce(sum(c.byte_size), 0) into stored
    from public.export_file_contents as c
    where
      c.user_id = p_user_id
      and exists (
        select from public.export_files as f
        where f.user_id = c.user_id and f.content_sha256 = c.sha256 and f.expires_at > pg_catalog.now()
      );
    if stored + pg_catalog.octet_length(p_file_bytes) > p_max_user_bytes then
      raise exception
        'export_stored_bytes_per_user: this file (% bytes) and the account''s stored export files (% bytes) '
        'would pass the cap of % bytes; stored files expire after their retention',
        pg_catalog.octet_length(p_file_bytes), stored, p_max_user_bytes
        using errcode = 'PT409';
    end if;
    insert into public.export_file_contents (user_id, sha256, file_bytes) values (p_user_id, digest, p_file_bytes);
  end if;
  insert into public.export_files (
    user_id, export_history_id, filename, content_type, byte_size, record_count, expires_at, content_sha256
  )
  values (
    p_user_id, p_export_history_id, p_filename, p_content_type, pg_catalog.octet_length(p_file_bytes),
    p_record_count, p_expires_at, digest
  )
  returning id into file_id;
  return file_id;
end
$$;

comment on function public.store_export_file(uuid, uuid, text, text, bytea, bigint, timestamptz, bigint) is
'Stores a scheduled run''s file: its bytes once per user and sha256, and the file row naming them. '
'PT409 (limit_reached) when new bytes would bring the user''s live stored contents past '
'p_max_user_bytes (identical bytes already stored cost nothing). Returns the file id. Service only.';

revoke all on function public.store_export_file(uuid, uuid, text, text, bytea, bigint, timestamptz, bigint)
from public, anon, authenticated;
grant execute on function public.store_export_file(uuid, uuid, text, text, bytea, bigint, timestamptz, bigint)
to service_role;

create function public.prune_export_files()
returns integer
language plpgsql
set search_path = ''
as $$
declare
  pruned integer;
begin
  delete from public.export_files where expires_at <= pg_catalog.now();
  get diagnostics pruned = row_count;
  -- Contents no file names any more (their files expired, or their runs were deleted).
  delete from public.export_file_contents as c
  where not exists (
    select from public.export_files as f where f.user_id = c.user_id and f.content_sha256 = c.sha256
  );
  return pruned;
end
$$;

comment on function public.prune_export_files() is
'Deletes expired export files and the contents no file names any more; returns how many files. '
'Service only (the worker runs it periodically).';

revoke all on function public.prune_export_files() from public, anon, authenticated;
grant execute on function public.prune_export_files() to service_role;
