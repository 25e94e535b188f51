-- An export's history row says `streaming` until the service records how it ended. A service
-- that dies mid-stream never does, and the row would say `streaming` for ever. Each stream holds
-- a transaction-level advisory lock on its row's key in its read transaction, and records its
-- outcome before that transaction ends; a dead service's connection ends the transaction and so
-- frees the lock. The worker's sweep marks `streaming` rows whose lock is free as failed: it can
-- tell a dead export from a long one at once, with no age to guess. (Its index,
-- export_history_streaming_created_at_idx, is with the table in 32_export_history.sql.)

create function public.export_stream_lock_key(p_history_id uuid)
returns bigint
language sql
immutable
parallel safe
set search_path = ''
as $$
  select pg_catalog.hashtextextended('export_history:' || p_history_id::text, 0)
$$;

comment on function public.export_stream_lock_key(uuid) is
'The advisory lock key an export stream holds while it runs (pure; the stream and the sweep share it).';

-- Pure; the stream's read transaction runs as the signed-in user.
revoke all on function public.export_stream_lock_key(uuid) from public, anon;
grant execute on function public.export_stream_lock_key(uuid) to authenticated, service_role;

create function public.fail_orphaned_exports()
returns integer
language plpgsql
set search_path = ''
as $$
declare
  candidate uuid;
  failed integer := 0;
begin
  for candidate in
    select h.id from public.export_history as h where h.status = 'streaming' order by h.created_at
  loop
    -- Taken: the stream is alive (its read transaction holds the key). Free: nobody streams it.
    if pg_catalog.pg_try_advisory_xact_lock(public.export_stream_lock_key(candidate)) then
      update public.export_history as h
      set
        status = 'failed',
        error = 'the service stopped before the export finished',
        finished_at = pg_catalog.now()
      where h.id = candidate and h.status = 'streaming';
      if found then
        failed := failed + 1;
      end if;
    end if;
  end loop;
  return failed;
end
$$;

comment on function public.fail_orphaned_exports() is
'Marks failed every streaming export whose stream is gone (its advisory lock is free); returns how '
'many. Run by the worker periodically. Service only.';

revoke all on function public.fail_orphaned_exports() from public, anon, authenticated;
grant execute on function public.fail_orphaned_exports() to service_role;
