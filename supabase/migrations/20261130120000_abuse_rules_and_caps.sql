-- Issue 15 (holding under abuse): every rule a user could bypass through PostgREST is held by SQL
-- (design_rules' shape, a schedule's fields of its type, bounded text and a known status on
-- quotes, a bounded delivery address), the per-user cap on export schedules (read from the new
-- service_limits table, which the worker writes from its settings), and the bytes of stored
-- export files kept once per user and content, under a per-user cap.
--
-- The new CHECKs validate existing rows: a quote with a status other than draft, approved or
-- archived, or design_rules of another shape, fails this migration (none exist before a release).

-- 29_service_limits.sql: the caps SQL enforces on users' writes, written from the settings by the worker.
create table public.service_limits (
  name text primary key
  constraint service_limits_name_known check (name in ('export_schedules_per_user')),
  value bigint not null -- noqa: RF04
  constraint service_limits_value_not_negative check (value >= 0),
  updated_at timestamptz not null default now()
);

comment on table public.service_limits is
'The values of the caps SQL enforces on users'' writes, written from the service''s settings by the '
'worker (limits.sync). Service only.';

create trigger service_limits_set_updated_at
before update on public.service_limits
for each row execute function public.update_updated_at_column();

alter table public.service_limits enable row level security;

create policy service_limits_no_user_access on public.service_limits
as restrictive
for all to anon, authenticated
using (false)
with check (false);

revoke all on table public.service_limits from anon, authenticated, service_role;

grant select, insert, update on table public.service_limits to service_role;

create function public.service_limit(p_name text)
returns bigint
language sql
stable
set search_path = ''
as $$
  -- The defaults are the settings' defaults (service/config.py); a test holds them equal.
  select coalesce(
    (select l.value from public.service_limits as l where l.name = p_name),
    case p_name
      when 'export_schedules_per_user' then 20
    end
  )
$$;

comment on function public.service_limit(text) is
'The value of a cap: the one the worker wrote to service_limits, else its default. Null for an '
'unknown name. Service only (triggers that enforce a cap read the table with their owner''s rights).';

revoke all on function public.service_limit(text) from public, anon, authenticated;

grant execute on function public.service_limit(text) to service_role;

create function public.set_service_limits(p_limits jsonb)
returns void
language plpgsql
set search_path = ''
as $$
begin
  if pg_catalog.jsonb_typeof(p_limits) is distinct from 'object' then
    raise exception 'set_service_limits: an object of cap names and values is required' using errcode = '22023';
  end if;
  if exists (
    select from pg_catalog.jsonb_each(p_limits) as l
    where pg_catalog.jsonb_typeof(l.value) is distinct from 'number'
  ) then
    raise exception 'set_service_limits: every value must be a number' using errcode = '22023';
  end if;
  insert into public.service_limits as s (name, value)
  select l.key, (l.value #>> '{}')::bigint
  from pg_catalog.jsonb_each(p_limits) as l
  on conflict (name) do update
  set value = excluded.value
  where s.value is distinct from excluded.value;
end
$$;

comment on function public.set_service_limits(jsonb) is
'Writes the caps'' values, e.g. {"export_schedules_per_user": 20}. An unknown name fails its CHECK '
'(23514). Service only: the worker calls it with its settings.';

revoke all on function public.set_service_limits(jsonb) from public, anon, authenticated;

grant execute on function public.set_service_limits(jsonb) to service_role;

-- 30_export_views.sql: each type's field keys, read from its view.
create function public.export_fields(p_type text)
returns text[]
language sql
stable
parallel safe
set search_path = ''
as $$
  -- The view's own columns, in order: the one statement of each type's fields SQL has
  -- (service/exports/catalog.py names the same keys; a test holds the two equal).
  select pg_catalog.array_agg(a.attname::text order by a.attnum)
  from pg_catalog.pg_attribute as a
  where
    p_type = any(public.export_types())
    and a.attrelid = pg_catalog.to_regclass('public.export_' || p_type)
    and a.attnum > 0
    and not a.attisdropped
    and a.attname not in ('user_id', 'export_date')
$$;

comment on function public.export_fields(text) is
'The field keys of an export type, in file order: the columns of its view but user_id and '
'export_date. Null for an unknown type.';

revoke all on function public.export_fields(text) from public, anon;

grant execute on function public.export_fields(text) to authenticated, service_role;

-- 12_user_settings.sql: the shape of design_rules, held in SQL too.
create function public.jsonb_number_between(p_value jsonb, p_min numeric, p_max numeric, p_integer boolean)
returns boolean
language sql
immutable
parallel safe
set search_path = ''
as $$
  -- CASE: the cast raises on anything but a number.
  select case
    when pg_catalog.jsonb_typeof(p_value) = 'number' then
      (p_value #>> '{}')::numeric between p_min and p_max
      and (not p_integer or (p_value #>> '{}')::numeric = pg_catalog.trunc((p_value #>> '{}')::numeric))
    else false
  end
$$;

comment on function public.jsonb_number_between(jsonb, numeric, numeric, boolean) is
'True when p_value is a JSON number from p_min to p_max (both included), and whole when p_integer.';

revoke all on function public.jsonb_number_between(jsonb, numeric, numeric, boolean) from public, anon;

grant execute on function public.jsonb_number_between(jsonb, numeric, numeric, boolean)
to authenticated, service_role;

create function public.jsonb_trimmed_text(p_value jsonb, p_max_chars integer)
returns boolean
language sql
immutable
parallel safe
set search_path = ''
as $$
  -- Unicode White_Space (what the service trims) and the information separators Python's strip()
  -- also removes: a string that starts or ends with one is not in the form the service stores.
  select case
    when pg_catalog.jsonb_typeof(p_value) = 'string' then
      (p_value #>> '{}') <> ''
      and pg_catalog.char_length(p_value #>> '{}') <= p_max_chars
      and (p_value #>> '{}') = pg_catalog.btrim(
        p_value #>> '{}',
        E'\t\n\u000b\f\r\u001c\u001d\u001e\u001f \u0085\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005'
        '\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000'
      )
    else false
  end
$$;

comment on function public.jsonb_trimmed_text(jsonb, integer) is
'True when p_value is a JSON string of 1 to p_max_chars characters with no surrounding whitespace.';

revoke all on function public.jsonb_trimmed_text(jsonb, integer) from public, anon;

grant execute on function public.jsonb_trimmed_text(jsonb, integer) to authenticated, service_role;

create function public.jsonb_has_keys(p_object jsonb, p_required text[], p_optional text[] default '{}')
returns boolean
language sql
immutable
parallel safe
set search_path = ''
as $$
  select case
    when pg_catalog.jsonb_typeof(p_object) = 'object' then
      p_object ?& p_required
      and not exists (
        select from pg_catalog.jsonb_object_keys(p_object) as k (key)
        where not (k.key = any(p_required) or k.key = any(p_optional))
      )
    else false
  end
$$;

comment on function public.jsonb_has_keys(jsonb, text[], text[]) is
'True when p_object is a JSON object holding every p_required key and no key outside p_required and p_optional.';

revoke all on function public.jsonb_has_keys(jsonb, text[], text[]) from public, anon;

grant execute on function public.jsonb_has_keys(jsonb, text[], text[]) to authenticated, service_role;

create function public.is_valid_design_rules(p_rules jsonb)
returns boolean
language plpgsql
immutable
parallel safe
set search_path = ''
as $$
declare
  part jsonb;
  item jsonb;
  has_inches boolean;
  has_millimetres boolean;
begin
  -- One test per IF, in order: SQL does not promise to stop an AND at its first false operand,
  -- and the later tests raise on the wrong JSON type.
  if not public.jsonb_has_keys(
    p_rules, array['typography', 'print_formats', 'color', 'mockups', 'quality', 'approval']
  ) then
    return false;
  end if;

  part := p_rules -> 'typography';
  if not public.jsonb_has_keys(
    part,
    array['max_font_families', 'min_font_size_pt', 'max_quote_words', 'max_lines', 'font_styles', 'text_alignment']
  ) then
    return false;
  end if;
  if not (
    public.jsonb_number_between(part -> 'max_font_families', 1, 6, true)
    and public.jsonb_number_between(part -> 'min_font_size_pt', 1, 500, false)
    and public.jsonb_number_between(part -> 'max_quote_words', 1, 500, true)
    and public.jsonb_number_between(part -> 'max_lines', 1, 50, true)
    and coalesce(pg_catalog.jsonb_typeof(part -> 'text_alignment') = 'string', false)
    and coalesce(pg_catalog.jsonb_typeof(part -> 'font_styles') = 'array', false)
  ) then
    return false;
  end if;
  if (part ->> 'text_alignment') not in ('left', 'center', 'right', 'justify')
    or pg_catalog.jsonb_array_length(part -> 'font_styles') not between 1 and 6
    or exists (
      select from pg_catalog.jsonb_array_elements(part -> 'font_styles') as e (style)
      where pg_catalog.jsonb_typeof(e.style) <> 'string'
      or (e.style #>> '{}') not in ('serif', 'sans-serif', 'script', 'display', 'monospace', 'handwritten')
    ) then
    return false;
  end if;

  part := p_rules -> 'print_formats';
  if pg_catalog.jsonb_typeof(part) is distinct from 'array' then
    return false;
  end if;
  if pg_catalog.jsonb_array_length(part) not between 1 and 50 then
    return false;
  end if;
  for item in select e.value from pg_catalog.jsonb_array_elements(part) as e loop
    if not public.jsonb_has_keys(
      item, array['name', 'aspect_ratio'], array['width_in', 'height_in', 'width_mm', 'height_mm']
    ) then
      return false;
    end if;
    if not (
      public.jsonb_trimmed_text(item -> 'name', 40)
      and coalesce(pg_catalog.jsonb_typeof(item -> 'aspect_ratio') = 'string', false)
    ) then
      return false;
    end if;
    if pg_catalog.char_length(item ->> 'aspect_ratio') > 20
      or (item ->> 'aspect_ratio') !~ '^[0-9]+(\.[0-9]+)?:[0-9]+(\.[0-9]+)?$' then
      return false;
    end if;
    -- A null dimension is an absent one.
    has_inches := coalesce(item ->> 'width_in', item ->> 'height_in') is not null;
    has_millimetres := coalesce(item ->> 'width_mm', item ->> 'height_mm') is not null;
    if has_inches = has_millimetres then
      return false;  -- one unit, not both, not neither
    end if;
    if has_inches and not (
      public.jsonb_number_between(item -> 'width_in', 0.1, 120, false)
      and public.jsonb_number_between(item -> 'height_in', 0.1, 120, false)
    ) then
      return false;
    end if;
    if has_millimetres and not (
      public.jsonb_number_between(item -> 'width_mm', 1, 3000, false)
      and public.jsonb_number_between(item -> 'height_mm', 1, 3000, false)
    ) then
      return false;
    end if;
  end loop;
  if (
    select pg_catalog.count(distinct e.value ->> 'name') <> pg_catalog.count(*)
    from pg_catalog.jsonb_array_elements(part) as e
  ) then
    return false;  -- format names are unique
  end if;

  part := p_rules -> 'color';
  if not public.jsonb_has_keys(part, array['max_palette_colors', 'min_contrast_ratio', 'default_palette']) then
    return false;
  end if;
  if not (
    public.jsonb_number_between(part -> 'max_palette_colors', 1, 16, true)
    and public.jsonb_number_between(part -> 'min_contrast_ratio', 1, 21, false)
    and coalesce(pg_catalog.jsonb_typeof(part -> 'default_palette') = 'array', false)
  ) then
    return false;
  end if;
  if pg_catalog.jsonb_array_length(part -> 'default_palette') < 1
    or pg_catalog.jsonb_array_length(part -> 'default_palette') > (part ->> 'max_palette_colors')::numeric
    or exists (
      select from pg_catalog.jsonb_array_elements(part -> 'default_palette') as e (colour)
      where pg_catalog.jsonb_typeof(e.colour) <> 'string' or (e.colour #>> '{}') !~ '^#[0-9A-Fa-f]{6}$'
    ) then
    return false;
  end if;

  part := p_rules -> 'mockups';
  if not public.jsonb_has_keys(part, array['per_product', 'min_resolution_px', 'scenes']) then
    return false;
  end if;
  if not (
    public.jsonb_number_between(part -> 'per_product', 1, 20, true)
    and public.jsonb_number_between(part -> 'min_resolution_px', 100, 20000, true)
    and coalesce(pg_catalog.jsonb_typeof(part -> 'scenes') = 'array', false)
  ) then
    return false;
  end if;
  if pg_catalog.jsonb_array_length(part -> 'scenes') not between 1 and 20
    or exists (
      select from pg_catalog.jsonb_array_elements(part -> 'scenes') as e (scene)
      where not public.jsonb_trimmed_text(e.scene, 40)
    ) then
    return false;
  end if;

  part := p_rules -> 'quality';
  if not public.jsonb_has_keys(part, array['min_dpi', 'bleed_in', 'safe_margin_in', 'min_quality_score']) then
    return false;
  end if;
  if not (
    public.jsonb_number_between(part -> 'min_dpi', 72, 2400, true)
    and public.jsonb_number_between(part -> 'bleed_in', 0, 2, false)
    and public.jsonb_number_between(part -> 'safe_margin_in', 0, 5, false)
    and public.jsonb_number_between(part -> 'min_quality_score', 0, 1, false)
  ) then
    return false;
  end if;

  part := p_rules -> 'approval';
  if not public.jsonb_has_keys(part, array['require_approval']) then
    return false;
  end if;
  return coalesce(pg_catalog.jsonb_typeof(part -> 'require_approval') = 'boolean', false);
end
$$;

comment on function public.is_valid_design_rules(jsonb) is
'True when p_rules has the shape service/setup/design_rules.py validates: exactly typography, '
'print_formats, color, mockups, quality and approval, each with its keys, types and bounds.';

revoke all on function public.is_valid_design_rules(jsonb) from public, anon;

grant execute on function public.is_valid_design_rules(jsonb) to authenticated, service_role;

alter table public.user_settings
drop constraint user_settings_design_rules_is_object,
add constraint user_settings_design_rules_valid check (public.is_valid_design_rules(design_rules));

-- 24_quotes_assets.sql: bounded text and a known status for the columns users write.
alter table public.quotes
drop constraint quotes_status_not_blank,
add constraint quotes_status_valid check (status in ('draft', 'approved', 'archived')),
add constraint quotes_text_length check (char_length(text) <= 2000),
add constraint quotes_attribution_length check (char_length(attribution) <= 200),
add constraint quotes_collection_length check (char_length(collection) <= 100),
add constraint quotes_mood_length check (char_length(mood) <= 100);

-- 31_scheduled_exports.sql: a bounded address, fields of the type, and the per-user cap.
alter table public.scheduled_exports
add constraint scheduled_exports_delivery_email_length check (char_length(delivery_email) <= 254);

create function public.check_scheduled_export_fields()
returns trigger
language plpgsql
set search_path = ''
as $$
declare
  allowed text[];
  unknown text[];
  repeated text[];
begin
  -- A schedule whose type lost a field since it was saved stays as it is until its owner touches
  -- what it exports: switching it off, renaming its address or deleting it never needs it to
  -- validate. Switching it back on does.
  if tg_op = 'UPDATE'
    and new.export_type is not distinct from old.export_type
    and new.field_selection is not distinct from old.field_selection
    and not (new.enabled and not old.enabled) then
    return new;
  end if;
  if new.field_selection is null or pg_catalog.cardinality(new.field_selection) = 0 then
    return new;
  end if;
  allowed := public.export_fields(new.export_type);
  if allowed is null then
    return new;  -- an unknown type: its own CHECK names the problem
  end if;
  if pg_catalog.array_ndims(new.field_selection) > 1
    or pg_catalog.cardinality(new.field_selection) > pg_catalog.cardinality(allowed) then
    raise exception 'field_selection: at most % field keys for %, in a flat list',
      pg_catalog.cardinality(allowed), new.export_type
      using errcode = '23514';
  end if;
  select pg_catalog.array_agg(coalesce(f.key, 'null') order by f.ord)
  into unknown
  from pg_catalog.unnest(new.field_selection) with ordinality as f (key, ord)
  where f.key is null or not f.key = any(allowed);
  if unknown is not null then
    raise exception 'field_selection: unknown field(s) for %: % (the fields are %)',
      new.export_type, pg_catalog.array_to_string(unknown, ', '), pg_catalog.array_to_string(allowed, ', ')
      using errcode = '23514';
  end if;
  select pg_catalog.array_agg(r.key order by r.key)
  into repeated
  from (
    select f.key from pg_catalog.unnest(new.field_selection) as f (key)
    group by f.key having pg_catalog.count(*) > 1
  ) as r;
  if repeated is not null then
    raise exception 'field_selection: field(s) listed more than once: %', pg_catalog.array_to_string(repeated, ', ')
      using errcode = '23514';
  end if;
  return new;
end
$$;

comment on function public.check_scheduled_export_fields() is
'Trigger: a schedule''s field_selection holds keys of its type''s fields (export_fields()), each '
'once. Checked on create, when the type or the fields change, and when a schedule is switched '
'back on; never for an update that leaves them alone (a user can always switch a schedule off). '
'23514 naming the problem.';

revoke all on function public.check_scheduled_export_fields() from public, anon, authenticated;

create trigger scheduled_exports_check_fields
before insert or update on public.scheduled_exports
for each row execute function public.check_scheduled_export_fields();

create function public.limit_export_schedules()
returns trigger
language plpgsql
-- Counts the user's schedules whoever inserts and reads the cap from service_limits, which users
-- cannot read.
security definer
set search_path = ''
as $$
declare
  cap bigint := public.service_limit('export_schedules_per_user');
  held bigint;
begin
  -- One insert per user at a time, so two concurrent inserts cannot both take the last place.
  -- Under READ COMMITTED (PostgREST's and the service's) the count below then sees the other's
  -- committed rows, and rows this statement inserted before this one.
  perform pg_catalog.pg_advisory_xact_lock(
    pg_catalog.hashtextextended('scheduled_exports:' || new.user_id::text, 0)
  );
  select pg_catalog.count(*) into held from public.scheduled_exports as s where s.user_id = new.user_id;
  if held >= cap then
    raise exception
      'export_schedules_per_user: at most % export schedules per account, and this one has %: delete one first',
      cap, held
      using errcode = 'PT409';
  end if;
  return new;
end
$$;

comment on function public.limit_export_schedules() is
'Trigger: refuses a new schedule once its user has service_limit(''export_schedules_per_user'') of '
'them (PT409, answered 409 limit_reached).';

revoke all on function public.limit_export_schedules() from public, anon, authenticated, service_role;

create trigger scheduled_exports_limit_per_user
before insert on public.scheduled_exports
for each row execute function public.limit_export_schedules();

-- 34_export_files.sql: the bytes of stored files once per user and content, under a per-user cap.
create table public.export_file_contents (
  user_id uuid not null references auth.users (id) on delete cascade,
  sha256 bytea not null
  constraint export_file_contents_sha256_length check (octet_length(sha256) = 32),
  file_bytes bytea not null,
  byte_size bigint generated always as (pg_catalog.octet_length(file_bytes)) stored,
  created_at timestamptz not null default now(),
  constraint export_file_contents_pkey primary key (user_id, sha256)
);

alter table public.export_file_contents alter column file_bytes set storage external;

comment on table public.export_file_contents is
'The bytes of stored export files, once per user and sha256 however many files share them. '
'Read through export_files; written by store_export_file().';

-- Each file's bytes move to export_file_contents, once per user and sha256.
insert into public.export_file_contents (user_id, sha256, file_bytes)
select distinct on (f.user_id, pg_catalog.sha256(f.file_bytes))
  f.user_id,
  pg_catalog.sha256(f.file_bytes) as sha256,
  f.file_bytes
from public.export_files as f;

alter table public.export_files add column content_sha256 bytea;

update public.export_files set content_sha256 = pg_catalog.sha256(file_bytes);

-- byte_size keeps its values, no longer computed from the bytes that move away.
alter table public.export_files alter column byte_size drop expression;

alter table public.export_files
alter column content_sha256 set not null,
alter column byte_size set not null,
add constraint export_files_byte_size_not_negative check (byte_size >= 0),
add constraint export_files_content_fkey foreign key (user_id, content_sha256)
references public.export_file_contents (user_id, sha256);

alter table public.export_files drop column file_bytes;

comment on table public.export_files is
'The file a scheduled export built (CSV or JSON; its bytes in export_file_contents), downloadable by its owner '
'until expires_at.';

create index export_files_user_id_content_sha256_idx
on public.export_files (user_id, content_sha256);

alter table public.export_file_contents enable row level security;

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

revoke all on table public.export_file_contents from anon, authenticated, service_role;

grant select on table public.export_file_contents to authenticated;

grant select, insert, delete on table public.export_file_contents to service_role;

create or replace function public.prune_export_files()
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
