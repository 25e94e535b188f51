-- Per-user settings: setup wizard progress, operator mode and design rules. One row per user,
-- created when the user signs up.

create function public.setup_steps()
returns text[]
language sql
immutable
parallel safe
set search_path = ''
as $$
  select array[
    'shopify', 'pinterest', 'klaviyo', 'dynamic_mockups',
    'resend', 'design_rules', 'operator_mode', 'import'
  ]::text[]
$$;

comment on function public.setup_steps() is
'The setup wizard''s steps, in wizard order. The one list every other definition reads.';

-- Pure functions: the CHECK below calls is_valid_setup_progress() with the updating role's
-- rights, so the roles that may update the table must be able to execute them.
revoke all on function public.setup_steps() from public, anon;
grant execute on function public.setup_steps() to authenticated, service_role;

create function public.is_valid_setup_progress(progress jsonb)
returns boolean
language sql
immutable
parallel safe
set search_path = ''
as $$
  -- CASE, not AND: jsonb_each_text() raises on anything but an object.
  select case
    when pg_catalog.jsonb_typeof(progress) = 'object' then (
      select
        pg_catalog.count(*) = pg_catalog.cardinality(public.setup_steps())
        and pg_catalog.bool_and(
          coalesce(
            e.key = any(public.setup_steps())
            and e.value in ('pending', 'completed', 'skipped'),
            false
          )
        )
      from pg_catalog.jsonb_each_text(progress) as e
    )
    else false
  end
$$;

comment on function public.is_valid_setup_progress(jsonb) is
'True when progress is an object with exactly the wizard''s steps as keys, each pending, completed or skipped.';

revoke all on function public.is_valid_setup_progress(jsonb) from public, anon;
grant execute on function public.is_valid_setup_progress(jsonb) to authenticated, service_role;

create function public.default_setup_progress()
returns jsonb
language sql
immutable
parallel safe
set search_path = ''
as $$
  select pg_catalog.jsonb_object_agg(step, 'pending')
  from pg_catalog.unnest(public.setup_steps()) as step
$$;

comment on function public.default_setup_progress() is
'A new user''s wizard progress: every step pending.';

revoke all on function public.default_setup_progress() from public, anon;
grant execute on function public.default_setup_progress() to authenticated, service_role;

create function public.default_design_rules()
returns jsonb
language sql
immutable
parallel safe
set search_path = ''
as $$
  select '{
    "typography": {
      "max_font_families": 2,
      "min_font_size_pt": 24,
      "max_quote_words": 30,
      "max_lines": 6,
      "font_styles": ["serif", "sans-serif", "script"],
      "text_alignment": "center"
    },
    "print_formats": [
      {"name": "8x10", "width_in": 8, "height_in": 10, "aspect_ratio": "4:5"},
      {"name": "11x14", "width_in": 11, "height_in": 14, "aspect_ratio": "11:14"},
      {"name": "16x20", "width_in": 16, "height_in": 20, "aspect_ratio": "4:5"},
      {"name": "18x24", "width_in": 18, "height_in": 24, "aspect_ratio": "3:4"},
      {"name": "24x36", "width_in": 24, "height_in": 36, "aspect_ratio": "2:3"},
      {"name": "A4", "width_mm": 210, "height_mm": 297, "aspect_ratio": "1:1.414"},
      {"name": "A3", "width_mm": 297, "height_mm": 420, "aspect_ratio": "1:1.414"},
      {"name": "A2", "width_mm": 420, "height_mm": 594, "aspect_ratio": "1:1.414"}
    ],
    "color": {
      "max_palette_colors": 4,
      "min_contrast_ratio": 4.5,
      "default_palette": ["#1F1F1F", "#F5F1EA", "#C8A97E", "#6B7F6A"]
    },
    "mockups": {
      "per_product": 4,
      "min_resolution_px": 2000,
      "scenes": ["living_room", "bedroom", "office", "nursery"]
    },
    "quality": {
      "min_dpi": 300,
      "bleed_in": 0.125,
      "safe_margin_in": 0.5,
      "min_quality_score": 0.8
    },
    "approval": {
      "require_approval": true
    }
  }'::jsonb
$$;

comment on function public.default_design_rules() is
'Design rules a new quote-print shop starts with: typography, print formats, colour, mockups, quality, approval.';

revoke all on function public.default_design_rules() from public, anon;
grant execute on function public.default_design_rules() to authenticated, service_role;

-- The shape of design rules, as service/setup/design_rules.py validates them: held here too,
-- because users update design_rules directly (PostgREST). A test holds the two to the same
-- answers. Strings must come trimmed (the service trims them before storing).

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

-- The CHECK below calls it with the updating role's rights.
revoke all on function public.is_valid_design_rules(jsonb) from public, anon;
grant execute on function public.is_valid_design_rules(jsonb) to authenticated, service_role;

create table public.user_settings (
  user_id uuid primary key references auth.users (id) on delete cascade,
  setup_progress jsonb not null default public.default_setup_progress()
  constraint user_settings_setup_progress_valid
  check (public.is_valid_setup_progress(setup_progress)),
  operator_mode text not null default 'supervised'
  constraint user_settings_operator_mode_valid
  check (operator_mode in ('supervised', 'assisted', 'autopilot')),
  design_rules jsonb not null default public.default_design_rules()
  constraint user_settings_design_rules_valid
  check (public.is_valid_design_rules(design_rules)),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

comment on table public.user_settings is
'One row per user: setup wizard progress, operator mode (how much runs without approval) and design rules.';

create trigger user_settings_set_updated_at
before update on public.user_settings
for each row execute function public.update_updated_at_column();

alter table public.user_settings enable row level security;

create policy user_settings_select_own on public.user_settings
for select to authenticated
using (user_id = (select auth.uid()));

create policy user_settings_update_own on public.user_settings
for update to authenticated
using (user_id = (select auth.uid()))
with check (user_id = (select auth.uid()));

-- Rows are inserted by the signup trigger and deleted by the cascade from auth.users, so users
-- get no INSERT or DELETE. Users update the two settings they choose directly here; their
-- setup_progress grant and its guard live with the rest of the wizard (17_setup_progress.sql).
revoke all on table public.user_settings from anon, authenticated, service_role;
grant select on table public.user_settings to authenticated;
grant update (operator_mode, design_rules) on table public.user_settings to authenticated;
grant select, update on table public.user_settings to service_role;

create function public.create_user_settings_for_new_user()
returns trigger
language plpgsql
-- Supabase Auth inserts users as supabase_auth_admin, which has no rights on public.
security definer
set search_path = ''
as $$
begin
  insert into public.user_settings (user_id) values (new.id);
  return new;
end
$$;

comment on function public.create_user_settings_for_new_user() is
'AFTER INSERT trigger on auth.users: gives every new user a settings row with the defaults.';

revoke all on function public.create_user_settings_for_new_user()
from public, anon, authenticated, service_role;

create trigger on_auth_user_created_create_settings
after insert on auth.users
for each row execute function public.create_user_settings_for_new_user();
