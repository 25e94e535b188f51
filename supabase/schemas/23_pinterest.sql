-- Pinterest boards, pins and pin analytics. Boards and analytics come from Pinterest syncs run by
-- the service; pins are created and published by the service's scheduler. Users read them.

create table public.pinterest_boards (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references auth.users (id) on delete cascade,
  pinterest_board_id text not null
  constraint pinterest_boards_pinterest_board_id_not_blank check (btrim(pinterest_board_id) <> ''),
  name text not null,
  description text,
  privacy text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  -- Pinterest's own counts as of the last sync (replace_pinterest_boards, 50_pinterest_board_sync.sql).
  pin_count integer not null default 0
  constraint pinterest_boards_pin_count_not_negative check (pin_count >= 0),
  follower_count integer not null default 0
  constraint pinterest_boards_follower_count_not_negative check (follower_count >= 0),
  synced_at timestamptz,
  constraint pinterest_boards_user_id_pinterest_board_id_key unique (user_id, pinterest_board_id),
  constraint pinterest_boards_user_id_id_key unique (user_id, id)
);

comment on table public.pinterest_boards is
'A user''s Pinterest boards as last synced from Pinterest. Written by the service.';

create trigger pinterest_boards_set_updated_at
before update on public.pinterest_boards
for each row execute function public.update_updated_at_column();

alter table public.pinterest_boards enable row level security;

create policy pinterest_boards_select_own on public.pinterest_boards
for select to authenticated
using (user_id = (select auth.uid()));

revoke all on table public.pinterest_boards from anon, authenticated, service_role;
grant select on table public.pinterest_boards to authenticated;
grant select, insert, update, delete on table public.pinterest_boards to service_role;

create table public.pins (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references auth.users (id) on delete cascade,
  board_id uuid,
  -- Null until the pin is published on Pinterest.
  pinterest_pin_id text
  constraint pins_pinterest_pin_id_not_blank check (btrim(pinterest_pin_id) <> ''),
  title text,
  description text,
  link text,
  image_url text,
  -- draft, scheduled, publishing (claimed by the publisher), published, failed (last_error says
  -- why), removed (gone from Pinterest at the last complete sync); set by the functions of
  -- 51_pinterest_pins.sql.
  status text not null default 'draft'
  constraint pins_status_not_blank check (btrim(status) <> ''),
  scheduled_at timestamptz,
  published_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  alt_text text,
  -- Why publishing failed (Pinterest's refusal, in our words and its error code).
  last_error text,
  -- When a pin sync last saw it on Pinterest (or it was published): a complete sync that began
  -- later and did not see it marks it removed.
  seen_on_pinterest_at timestamptz,
  -- When its daily metrics were last read, so a sync cut short by a rate limit resumes after the
  -- pins it already did.
  metrics_synced_at timestamptz,
  -- Nulls are distinct: any number of unpublished pins, each Pinterest pin once.
  constraint pins_user_id_pinterest_pin_id_key unique (user_id, pinterest_pin_id),
  constraint pins_user_id_id_key unique (user_id, id),
  -- A board deleted on Pinterest leaves its pins (and their history) without a board.
  constraint pins_board_fkey foreign key (user_id, board_id)
  references public.pinterest_boards (user_id, id) on delete set null (board_id)
);

comment on table public.pins is
'Pins a user created or scheduled through Haven Hub, and pins of the account imported from Pinterest, '
'with their Pinterest id once published. Written by the service (51_pinterest_pins.sql).';

create index pins_user_id_created_at_idx
on public.pins (user_id, created_at, id);

create index pins_user_id_board_id_idx
on public.pins (user_id, board_id);

-- The publisher's claim walks the due scheduled pins in order.
create index pins_due_idx
on public.pins (scheduled_at)
where status = 'scheduled';

create trigger pins_set_updated_at
before update on public.pins
for each row execute function public.update_updated_at_column();

alter table public.pins enable row level security;

create policy pins_select_own on public.pins
for select to authenticated
using (user_id = (select auth.uid()));

revoke all on table public.pins from anon, authenticated, service_role;
grant select on table public.pins to authenticated;
grant select, insert, update, delete on table public.pins to service_role;

create table public.pin_analytics (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references auth.users (id) on delete cascade,
  pin_id uuid not null,
  -- The day (UTC, as Pinterest reports it) the figures are for: each row is that one day's
  -- impressions, saves, clicks (PIN_CLICK) and engagement rate (ENGAGEMENT / IMPRESSION).
  metric_date date not null,
  impressions bigint not null default 0
  constraint pin_analytics_impressions_not_negative check (impressions >= 0),
  saves bigint not null default 0
  constraint pin_analytics_saves_not_negative check (saves >= 0),
  clicks bigint not null default 0
  constraint pin_analytics_clicks_not_negative check (clicks >= 0),
  engagement_rate numeric(9, 6) not null default 0
  constraint pin_analytics_engagement_rate_not_negative check (engagement_rate >= 0),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint pin_analytics_pin_fkey foreign key (user_id, pin_id)
  references public.pins (user_id, id) on delete cascade,
  -- One row per pin per day; also finds a pin's days (and serves both keys).
  constraint pin_analytics_user_id_pin_id_metric_date_key unique (user_id, pin_id, metric_date)
);

comment on table public.pin_analytics is
'A pin''s Pinterest metrics per day (impressions, saves, clicks, engagement rate), '
'as synced from Pinterest''s analytics window; the pins export sums them.';

create trigger pin_analytics_set_updated_at
before update on public.pin_analytics
for each row execute function public.update_updated_at_column();

alter table public.pin_analytics enable row level security;

create policy pin_analytics_select_own on public.pin_analytics
for select to authenticated
using (user_id = (select auth.uid()));

revoke all on table public.pin_analytics from anon, authenticated, service_role;
grant select on table public.pin_analytics to authenticated;
grant select, insert, update, delete on table public.pin_analytics to service_role;
