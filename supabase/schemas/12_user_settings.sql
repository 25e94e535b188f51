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

create table public.user_settings (
  user_id uuid primary key references auth.users (id) on delete cascade,
  setup_progress jsonb not null default public.default_setup_progress()
  constraint user_settings_setup_progress_valid
  check (public.is_valid_setup_progress(setup_progress)),
  operator_mode text not null default 'supervised'
  constraint user_settings_operator_mode_valid
  check (operator_mode in ('supervised', 'assisted', 'autopilot')),
  design_rules jsonb not null default public.default_design_rules()
  constraint user_settings_design_rules_is_object
  check (jsonb_typeof(design_rules) = 'object'),
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
-- get no INSERT or DELETE. setup_progress changes go through set_setup_step()
-- (17_setup_progress.sql), so users may update only the two settings they choose directly.
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
