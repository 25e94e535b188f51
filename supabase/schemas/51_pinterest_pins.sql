-- Pins, their daily metrics and the account's daily figures, written by the service only: pins
-- created in Haven (draft or scheduled), the publisher's claim of due scheduled pins and its
-- outcome, pins and metrics synced from Pinterest. Users read pins, pin_analytics and
-- daily_metrics (RLS, 23_pinterest.sql and 25_daily_metrics.sql) and write none of them.
--
-- A sync reads pages of pins and upserts each page as it arrives (what it writes is true), but
-- only a sync that read every page may mark the pins it did not see as removed
-- (finish_pinterest_pin_sync): a sync cut short by a rate limit removes nothing.

create function public.create_pin(
  p_user_id uuid,
  p_board_id uuid,
  p_title text,
  p_description text,
  p_link text,
  p_image_url text,
  p_alt_text text default null,
  p_scheduled_at timestamptz default null
)
returns public.pins
language plpgsql
set search_path = ''
as $$
declare
  created public.pins;
begin
  if p_user_id is null then
    raise exception 'create_pin: a user is required' using errcode = '22023';
  end if;
  -- Pinterest's limits for a new pin: title 100, description 500, alt text 500, link 2048.
  if p_title is not null and pg_catalog.length(p_title) > 100 then
    raise exception 'create_pin: the title is longer than 100 characters' using errcode = '22023';
  end if;
  if p_description is not null and pg_catalog.length(p_description) > 500 then
    raise exception 'create_pin: the description is longer than 500 characters' using errcode = '22023';
  end if;
  if p_alt_text is not null and pg_catalog.length(p_alt_text) > 500 then
    raise exception 'create_pin: the alt text is longer than 500 characters' using errcode = '22023';
  end if;
  if p_link is not null and (pg_catalog.length(p_link) > 2048 or p_link !~ '^https?://[^\s/?#]+[^\s]*$') then
    raise exception 'create_pin: the link must be an http(s) URL of at most 2048 characters' using errcode = '22023';
  end if;
  if p_image_url is null or pg_catalog.length(p_image_url) > 2048 or p_image_url !~ '^https?://[^\s/?#]+[^\s]*$' then
    raise exception 'create_pin: the image URL must be an http(s) URL of at most 2048 characters'
      using errcode = '22023';
  end if;
  if p_board_id is null or not exists (
    select from public.pinterest_boards as b where b.user_id = p_user_id and b.id = p_board_id
  ) then
    raise exception 'create_pin: no such board' using errcode = 'P0002';
  end if;

  insert into public.pins (user_id, board_id, title, description, link, image_url, alt_text, status, scheduled_at)
  values (
    p_user_id, p_board_id, p_title, p_description, p_link, p_image_url, p_alt_text,
    case when p_scheduled_at is null then 'draft' else 'scheduled' end, p_scheduled_at
  )
  returning * into created;
  return created;
end
$$;

comment on function public.create_pin(uuid, uuid, text, text, text, text, text, timestamptz) is
'A new pin of the user on one of the user''s boards (P0002 otherwise): a draft, or scheduled when '
'p_scheduled_at is given (the publisher posts it once due). Pinterest''s limits are held here '
'(22023): title 100, description 500, alt text 500 characters; link and image URL http(s), at '
'most 2048. Service only.';

revoke all on function public.create_pin(uuid, uuid, text, text, text, text, text, timestamptz)
from public, anon, authenticated;
grant execute on function public.create_pin(uuid, uuid, text, text, text, text, text, timestamptz) to service_role;

create function public.upsert_pinterest_board(p_user_id uuid, p_board jsonb)
returns uuid
language plpgsql
set search_path = ''
as $$
declare
  board_id uuid;
begin
  if p_user_id is null or coalesce(p_board ->> 'id', '') = '' or p_board ->> 'name' is null then
    raise exception 'upsert_pinterest_board: a user and a board with an id and a name are required'
      using errcode = '22023';
  end if;
  insert into public.pinterest_boards as pb (user_id, pinterest_board_id, name, description, privacy, synced_at)
  values (
    p_user_id, p_board ->> 'id', p_board ->> 'name', p_board ->> 'description', p_board ->> 'privacy',
    pg_catalog.now()
  )
  on conflict on constraint pinterest_boards_user_id_pinterest_board_id_key do update
  set
    name = excluded.name,
    description = excluded.description,
    privacy = excluded.privacy,
    synced_at = excluded.synced_at
  returning pb.id into board_id;
  return board_id;
end
$$;

comment on function public.upsert_pinterest_board(uuid, jsonb) is
'Stores one board Pinterest just created for the user (or updates it by its Pinterest id); its id. '
'Service only.';

revoke all on function public.upsert_pinterest_board(uuid, jsonb) from public, anon, authenticated;
grant execute on function public.upsert_pinterest_board(uuid, jsonb) to service_role;

create function public.upsert_pinterest_pins(p_user_id uuid, p_pins jsonb, p_seen_at timestamptz)
returns integer
language plpgsql
set search_path = ''
as $$
declare
  written integer;
begin
  if p_user_id is null or p_seen_at is null or pg_catalog.jsonb_typeof(p_pins) is distinct from 'array' then
    raise exception 'upsert_pinterest_pins: a user, an array of pins and a time are required' using errcode = '22023';
  end if;
  if exists (
    select from pg_catalog.jsonb_array_elements(p_pins) as p
    where coalesce(pg_catalog.btrim(p ->> 'id'), '') = ''
  ) then
    raise exception 'upsert_pinterest_pins: every pin needs an id' using errcode = '22023';
  end if;
  -- One writer of a user's synced pins at a time (the same lock finish_pinterest_pin_sync takes).
  perform pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtextextended('pinterest_pins:' || p_user_id::text, 0));

  -- Pins made outside Haven are imported; pins Haven published are matched by their Pinterest id.
  insert into public.pins as pn (
    user_id, board_id, pinterest_pin_id, title, description, link, image_url, alt_text, status,
    published_at, seen_on_pinterest_at
  )
  select distinct on (p.id)
    p_user_id,
    b.id,
    p.id,
    p.title,
    p.description,
    p.link,
    p.image_url,
    p.alt_text,
    'published',
    coalesce(p.created_at, p_seen_at),
    p_seen_at
  from pg_catalog.jsonb_to_recordset(p_pins) as p (
    id text, board_id text, title text, description text, link text, image_url text, alt_text text,
    created_at timestamptz
  )
  left join public.pinterest_boards as b
    on b.user_id = p_user_id and b.pinterest_board_id = p.board_id
  on conflict on constraint pins_user_id_pinterest_pin_id_key do update
  set
    board_id = coalesce(excluded.board_id, pn.board_id),
    title = excluded.title,
    description = excluded.description,
    link = excluded.link,
    image_url = coalesce(excluded.image_url, pn.image_url),
    alt_text = excluded.alt_text,
    status = 'published',
    last_error = null,
    published_at = coalesce(pn.published_at, excluded.published_at),
    seen_on_pinterest_at = greatest(pn.seen_on_pinterest_at, excluded.seen_on_pinterest_at);
  get diagnostics written = row_count;
  return written;
end
$$;

comment on function public.upsert_pinterest_pins(uuid, jsonb, timestamptz) is
'Writes one page of the user''s pins as Pinterest lists them (upsert on the Pinterest id, the '
'board found by its Pinterest id), seen at p_seen_at (when the sync began); the count written. '
'Removes nothing: see finish_pinterest_pin_sync. Service only.';

revoke all on function public.upsert_pinterest_pins(uuid, jsonb, timestamptz) from public, anon, authenticated;
grant execute on function public.upsert_pinterest_pins(uuid, jsonb, timestamptz) to service_role;

create function public.finish_pinterest_pin_sync(p_user_id uuid, p_started_at timestamptz)
returns integer
language plpgsql
set search_path = ''
as $$
declare
  removed integer;
begin
  if p_user_id is null or p_started_at is null then
    raise exception 'finish_pinterest_pin_sync: a user and the sync''s start are required' using errcode = '22023';
  end if;
  perform pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtextextended('pinterest_pins:' || p_user_id::text, 0));
  -- Seen before this sync began and not by it: gone from Pinterest. A pin published after the
  -- sync began was seen when it was published, so it stays.
  update public.pins as pn
  set status = 'removed'
  where
    pn.user_id = p_user_id
    and pn.pinterest_pin_id is not null
    and pn.status = 'published'
    and coalesce(pn.seen_on_pinterest_at, '-infinity') < p_started_at;
  get diagnostics removed = row_count;
  return removed;
end
$$;

comment on function public.finish_pinterest_pin_sync(uuid, timestamptz) is
'Called only after a sync begun at p_started_at read every page: the user''s published pins it did '
'not see become removed (their metrics stay); the count. Service only.';

revoke all on function public.finish_pinterest_pin_sync(uuid, timestamptz) from public, anon, authenticated;
grant execute on function public.finish_pinterest_pin_sync(uuid, timestamptz) to service_role;

create function public.record_pin_metrics(p_user_id uuid, p_pin_id uuid, p_days jsonb)
returns integer
language plpgsql
set search_path = ''
as $$
declare
  written integer;
begin
  if p_user_id is null or p_pin_id is null or pg_catalog.jsonb_typeof(p_days) is distinct from 'array' then
    raise exception 'record_pin_metrics: a user, a pin and an array of days are required' using errcode = '22023';
  end if;
  if exists (select from pg_catalog.jsonb_array_elements(p_days) as d where d ->> 'date' is null) then
    raise exception 'record_pin_metrics: every day needs a date' using errcode = '22023';
  end if;
  insert into public.pin_analytics as a (user_id, pin_id, metric_date, impressions, saves, clicks, engagement_rate)
  select distinct on (d.date)
    p_user_id,
    p_pin_id,
    d.date,
    coalesce(d.impressions, 0),
    coalesce(d.saves, 0),
    coalesce(d.clicks, 0),
    coalesce(d.engagement_rate, 0)
  from pg_catalog.jsonb_to_recordset(p_days) as d (
    date date, impressions bigint, saves bigint, clicks bigint, engagement_rate numeric
  )
  on conflict on constraint pin_analytics_user_id_pin_id_metric_date_key do update
  set
    impressions = excluded.impressions,
    saves = excluded.saves,
    clicks = excluded.clicks,
    engagement_rate = excluded.engagement_rate;
  get diagnostics written = row_count;
  update public.pins as pn set metrics_synced_at = pg_catalog.now()
  where pn.user_id = p_user_id and pn.id = p_pin_id;
  if not found then
    raise exception 'record_pin_metrics: no such pin' using errcode = 'P0002';
  end if;
  return written;
end
$$;

comment on function public.record_pin_metrics(uuid, uuid, jsonb) is
'Stores a pin''s figures per day ([{date, impressions, saves, clicks, engagement_rate}], the day''s '
'own figures; a day stored before is replaced) and stamps the pin''s metrics_synced_at; the count. '
'Service only.';

revoke all on function public.record_pin_metrics(uuid, uuid, jsonb) from public, anon, authenticated;
grant execute on function public.record_pin_metrics(uuid, uuid, jsonb) to service_role;

create function public.record_pinterest_account_metrics(p_user_id uuid, p_days jsonb)
returns integer
language plpgsql
set search_path = ''
as $$
declare
  written integer;
begin
  if p_user_id is null or pg_catalog.jsonb_typeof(p_days) is distinct from 'array' then
    raise exception 'record_pinterest_account_metrics: a user and an array of days are required'
      using errcode = '22023';
  end if;
  if exists (select from pg_catalog.jsonb_array_elements(p_days) as d where d ->> 'date' is null) then
    raise exception 'record_pinterest_account_metrics: every day needs a date' using errcode = '22023';
  end if;
  -- Only the two Pinterest columns: the day's other figures (revenue, orders, customers, leads,
  -- quizzes) belong to their own rollups and are left as they are.
  insert into public.daily_metrics as m (user_id, date, pin_impressions, pin_clicks)
  select distinct on (d.date)
    p_user_id,
    d.date,
    coalesce(d.impressions, 0),
    coalesce(d.clicks, 0)
  from pg_catalog.jsonb_to_recordset(p_days) as d (date date, impressions bigint, clicks bigint)
  on conflict (user_id, date) do update
  set
    pin_impressions = excluded.pin_impressions,
    pin_clicks = excluded.pin_clicks;
  get diagnostics written = row_count;
  return written;
end
$$;

comment on function public.record_pinterest_account_metrics(uuid, jsonb) is
'Sets daily_metrics.pin_impressions and pin_clicks of the given days ([{date, impressions, clicks}], '
'from Pinterest''s account analytics) and nothing else of those rows; the count. Service only.';

revoke all on function public.record_pinterest_account_metrics(uuid, jsonb) from public, anon, authenticated;
grant execute on function public.record_pinterest_account_metrics(uuid, jsonb) to service_role;

create function public.claim_due_pins(p_limit integer)
returns table (pin_id uuid, user_id uuid)
language plpgsql
set search_path = ''
as $$
begin
  if p_limit is null or p_limit < 1 then
    raise exception 'claim_due_pins: p_limit must be at least 1' using errcode = '22023';
  end if;
  -- SKIP LOCKED: two publishers at once claim different pins, never one pin twice.
  return query
  with due as (
    select pn.id
    from public.pins as pn
    where pn.status = 'scheduled' and pn.scheduled_at <= pg_catalog.now()
    order by pn.scheduled_at, pn.id
    limit p_limit
    for update skip locked
  )

  update public.pins as pn
  set status = 'publishing', last_error = null
  from due
  where pn.id = due.id
  returning pn.id, pn.user_id;
end
$$;

comment on function public.claim_due_pins(integer) is
'Moves up to p_limit due scheduled pins (scheduled_at <= now()) to publishing and returns them; '
'concurrent claims never share a pin. The caller queues one pinterest.create_pin per pin in the '
'same transaction. Service only.';

revoke all on function public.claim_due_pins(integer) from public, anon, authenticated;
grant execute on function public.claim_due_pins(integer) to service_role;

create function public.record_pin_published(
  p_user_id uuid, p_pin_id uuid, p_pinterest_pin_id text, p_published_at timestamptz
)
returns boolean
language plpgsql
set search_path = ''
as $$
begin
  if p_user_id is null or p_pin_id is null or coalesce(pg_catalog.btrim(p_pinterest_pin_id), '') = '' then
    raise exception 'record_pin_published: a user, a pin and its Pinterest id are required' using errcode = '22023';
  end if;
  perform pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtextextended('pinterest_pins:' || p_user_id::text, 0));
  -- A sync that listed the new pin before this commit imported it as a row of its own: that row
  -- is this pin, and goes (it has at most the sync's metrics, which the next sync writes again).
  delete from public.pins as pn
  where pn.user_id = p_user_id and pn.pinterest_pin_id = p_pinterest_pin_id and pn.id <> p_pin_id;
  update public.pins as pn
  set
    pinterest_pin_id = p_pinterest_pin_id,
    published_at = coalesce(p_published_at, pg_catalog.now()),
    status = 'published',
    last_error = null,
    seen_on_pinterest_at = pg_catalog.now()
  where pn.user_id = p_user_id and pn.id = p_pin_id and pn.status = 'publishing';
  return found;
end
$$;

comment on function public.record_pin_published(uuid, uuid, text, timestamptz) is
'The publisher posted the pin: its Pinterest id, published_at, status published. False (nothing '
'changed) unless the pin was publishing. Service only.';

revoke all on function public.record_pin_published(uuid, uuid, text, timestamptz) from public, anon, authenticated;
grant execute on function public.record_pin_published(uuid, uuid, text, timestamptz) to service_role;

create function public.record_pin_failed(p_user_id uuid, p_pin_id uuid, p_error text)
returns boolean
language plpgsql
set search_path = ''
as $$
begin
  update public.pins as pn
  set
    status = 'failed',
    last_error = pg_catalog.left(coalesce(nullif(pg_catalog.btrim(p_error), ''), 'publishing failed'), 2000)
  where pn.user_id = p_user_id and pn.id = p_pin_id and pn.status = 'publishing';
  return found;
end
$$;

comment on function public.record_pin_failed(uuid, uuid, text) is
'Publishing the pin failed for good: status failed, last_error the reason (cut to 2000 characters). '
'False unless it was publishing. Service only.';

revoke all on function public.record_pin_failed(uuid, uuid, text) from public, anon, authenticated;
grant execute on function public.record_pin_failed(uuid, uuid, text) to service_role;
