-- Board sync from Pinterest. The service reads every page first, then replaces the user's set in
-- one call: upsert on (user_id, pinterest_board_id) and delete what Pinterest no longer has, in
-- one transaction, so an interrupted sync leaves the previous complete set, never a partial one.
-- Syncs of one user run one after the other (a transaction-level advisory lock on the user), so
-- each leaves exactly its complete set, never the union of two or a set missing boards the other
-- had just inserted.

create function public.replace_pinterest_boards(p_user_id uuid, p_boards jsonb)
returns integer
language plpgsql
set search_path = ''
as $$
declare
  board_total integer;
begin
  if p_user_id is null or pg_catalog.jsonb_typeof(p_boards) is distinct from 'array' then
    raise exception 'replace_pinterest_boards: a user and an array of boards are required' using errcode = '22023';
  end if;
  -- One sync of a user's boards at a time: otherwise a concurrent one's DELETE, reading a newer
  -- snapshot, could drop boards this one has just inserted, or keep a stale mixture of both.
  perform pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtextextended('pinterest_boards:' || p_user_id::text, 0));
  if exists (
    select from pg_catalog.jsonb_array_elements(p_boards) as b
    where coalesce(b ->> 'id', '') = '' or b ->> 'name' is null
  ) then
    raise exception 'replace_pinterest_boards: every board needs an id and a name' using errcode = '22023';
  end if;

  insert into public.pinterest_boards as pb (
    user_id, pinterest_board_id, name, description, privacy, pin_count, follower_count, synced_at
  )
  select distinct on (b.id)
    p_user_id, b.id, b.name, b.description, b.privacy,
    coalesce(b.pin_count, 0), coalesce(b.follower_count, 0), pg_catalog.now()
  from pg_catalog.jsonb_to_recordset(p_boards) as b (
    id text, name text, description text, privacy text, pin_count integer, follower_count integer
  )
  on conflict on constraint pinterest_boards_user_id_pinterest_board_id_key do update
  set
    name = excluded.name,
    description = excluded.description,
    privacy = excluded.privacy,
    pin_count = excluded.pin_count,
    follower_count = excluded.follower_count,
    synced_at = excluded.synced_at;

  delete from public.pinterest_boards as pb
  where
    pb.user_id = p_user_id
    and pb.pinterest_board_id not in (select b ->> 'id' from pg_catalog.jsonb_array_elements(p_boards) as b);

  select pg_catalog.count(*)::integer into board_total from public.pinterest_boards as pb where pb.user_id = p_user_id;
  return board_total;
end
$$;

comment on function public.replace_pinterest_boards(uuid, jsonb) is
'Makes the user''s boards exactly the given complete set (upsert by Pinterest id, delete the rest), '
'one sync per user at a time; returns the count.';

revoke all on function public.replace_pinterest_boards(uuid, jsonb) from public, anon, authenticated;
grant execute on function public.replace_pinterest_boards(uuid, jsonb) to service_role;
