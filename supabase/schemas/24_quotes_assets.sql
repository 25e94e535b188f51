-- Quotes and the design assets generated from them. A quote is the user's own writing, so users
-- manage their quotes directly (as through PostgREST); assets are produced by the design engine
-- and mockup provider through the service, so users read them and the service writes them.

create table public.quotes (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references auth.users (id) on delete cascade,
  text text not null
  constraint quotes_text_not_blank check (btrim(text) <> ''),
  attribution text,
  collection text,
  mood text,
  -- draft: being written; approved: ready to be designed; archived: kept, no longer used.
  status text not null default 'draft'
  constraint quotes_status_valid check (status in ('draft', 'approved', 'archived')),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint quotes_user_id_id_key unique (user_id, id),
  -- Users write these columns directly (PostgREST), so their size is bounded here: a quote is
  -- printed on a wall, not a document.
  constraint quotes_text_length check (char_length(text) <= 2000),
  constraint quotes_attribution_length check (char_length(attribution) <= 200),
  constraint quotes_collection_length check (char_length(collection) <= 100),
  constraint quotes_mood_length check (char_length(mood) <= 100)
);

comment on table public.quotes is
'Quotes a shop turns into wall-art prints: text, attribution, collection, mood, status. Users manage their own.';

create index quotes_user_id_created_at_idx
on public.quotes (user_id, created_at, id);

create trigger quotes_set_updated_at
before update on public.quotes
for each row execute function public.update_updated_at_column();

alter table public.quotes enable row level security;

create policy quotes_select_own on public.quotes
for select to authenticated
using (user_id = (select auth.uid()));

create policy quotes_insert_own on public.quotes
for insert to authenticated
with check (user_id = (select auth.uid()));

create policy quotes_update_own on public.quotes
for update to authenticated
using (user_id = (select auth.uid()))
with check (user_id = (select auth.uid()));

create policy quotes_delete_own on public.quotes
for delete to authenticated
using (user_id = (select auth.uid()));

-- id, user_id and the timestamps are not the user's to set.
revoke all on table public.quotes from anon, authenticated, service_role;
grant select, delete on table public.quotes to authenticated;
grant insert (user_id, text, attribution, collection, mood, status) on table public.quotes to authenticated;
grant update (text, attribution, collection, mood, status) on table public.quotes to authenticated;
grant select, insert, update, delete on table public.quotes to service_role;

create table public.assets (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references auth.users (id) on delete cascade,
  quote_id uuid not null,
  -- A print format name from the design rules (8x10, A4, ...).
  format text not null
  constraint assets_format_not_blank check (btrim(format) <> ''),
  status text not null default 'pending'
  constraint assets_status_not_blank check (btrim(status) <> ''),
  quality_score numeric(4, 3)
  constraint assets_quality_score_fraction check (quality_score between 0 and 1),
  url text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  -- NO ACTION, not CASCADE: deleting a quote must not silently destroy the designs made from it
  -- (archive the quote instead); deleting the user still removes both in one statement.
  constraint assets_quote_fkey foreign key (user_id, quote_id)
  references public.quotes (user_id, id)
);

comment on table public.assets is
'Design assets generated from a quote (one per print format), with quality score and file URL. Written by the service.';

create index assets_user_id_created_at_idx
on public.assets (user_id, created_at, id);

create index assets_user_id_quote_id_idx
on public.assets (user_id, quote_id);

create trigger assets_set_updated_at
before update on public.assets
for each row execute function public.update_updated_at_column();

alter table public.assets enable row level security;

create policy assets_select_own on public.assets
for select to authenticated
using (user_id = (select auth.uid()));

revoke all on table public.assets from anon, authenticated, service_role;
grant select on table public.assets to authenticated;
grant select, insert, update, delete on table public.assets to service_role;
