-- daily_metrics' revenue, orders and new_customers, rolled up in SQL from customer_orders and
-- customers and kept current as they change (issue 14, item 4). The other columns of
-- daily_metrics belong to other writers (pins: the Pinterest sync; leads, quiz: their own): this
-- file touches revenue, orders and new_customers only.
--
-- What is counted, per day in the shop's own time zone (daily_metrics_time_zones):
-- - orders: orders placed that day (customer_orders.created_at, Shopify's created_at) that stand:
--   not cancelled, voided or refunded (the rule of refresh_shopify_customer_totals);
-- - revenue: those orders' totals, net of refunds: a fully refunded (or cancelled, voided) order
--   counts nothing, a partially refunded one its total less what was refunded
--   (customer_orders.refunded_total); the order's day's figure goes down when the refund arrives;
-- - new_customers: customers whose first standing order (customers.first_order_at) was placed
--   that day.
--
-- Incrementally: statement-level triggers with transition tables on both tables turn every
-- statement's old and new rows into signed contributions (a row's old contribution taken away,
-- its new one added), summed per user and day, and add them to daily_metrics. An update that
-- changes nothing counted touches nothing; an order that moves to another day, or is deleted
-- (shop/redact), moves its figures; a bulk import that writes thousands of rows in one statement
-- costs one rollup statement. recompute_daily_metrics rebuilds a user's range from the rows
-- (repair, a changed time zone), and the pgTAP file holds incremental == recomputed.
--
-- Concurrency: contributions commute, and daily_metrics rows are updated in place (row locks), so
-- concurrent writers add up. A recompute takes a per-user advisory lock exclusively, the triggers
-- take it shared: a recompute waits for the writers in flight and the writers that come after
-- it add to its result.

create table public.daily_metrics_time_zones (
  user_id uuid primary key references auth.users (id) on delete cascade,
  time_zone text not null
  constraint daily_metrics_time_zones_time_zone_shape check (time_zone ~ '^[A-Za-z][A-Za-z0-9_+/-]{0,63}$'),
  updated_at timestamptz not null default now()
);

comment on table public.daily_metrics_time_zones is
'The time zone a user''s daily_metrics days are counted in (their latest shop''s ianaTimezone); '
'no row: UTC. Written by sync_daily_metrics_time_zone only, which recomputes the days when it changes.';

create trigger daily_metrics_time_zones_set_updated_at
before update on public.daily_metrics_time_zones
for each row execute function public.update_updated_at_column();

alter table public.daily_metrics_time_zones enable row level security;

create policy daily_metrics_time_zones_select_own on public.daily_metrics_time_zones
for select to authenticated
using (user_id = (select auth.uid()));

revoke all on table public.daily_metrics_time_zones from anon, authenticated, service_role;
grant select on table public.daily_metrics_time_zones to authenticated;
grant select, insert, update, delete on table public.daily_metrics_time_zones to service_role;

-- The signed sum of a statement's contributions to one user's day.
create type public.daily_metrics_change as (
  user_id uuid,
  day date,
  revenue numeric,
  orders integer,
  new_customers integer
);

comment on type public.daily_metrics_change is
'The signed sum of one statement''s order or customer rows'' contributions to a user''s day (rollup triggers).';

create function public.daily_metrics_lock_key(p_user_id uuid)
returns integer
language sql
immutable
parallel safe
set search_path = ''
as $$
  select pg_catalog.hashtext(p_user_id::text)
$$;

comment on function public.daily_metrics_lock_key(uuid) is
'The second key of a user''s rollup advisory lock (the first is 26, this file''s number).';

revoke all on function public.daily_metrics_lock_key(uuid) from public, anon, authenticated;
grant execute on function public.daily_metrics_lock_key(uuid) to service_role;

create function public.lock_daily_metrics_shared(p_user_ids uuid[])
returns void
language sql
set search_path = ''
as $$
  -- Shared: writers do not wait for each other, only for a recompute of the same user (which
  -- may change the zone the days are counted in). In one order, so two writers cannot deadlock.
  select pg_catalog.pg_advisory_xact_lock_shared(26, public.daily_metrics_lock_key(u.user_id))
  from (select distinct i.user_id from pg_catalog.unnest(p_user_ids) as i (user_id) order by i.user_id) as u
$$;

comment on function public.lock_daily_metrics_shared(uuid[]) is
'Takes the rollup lock of each user, shared, until the end of the transaction (rollup triggers, before '
'they read the users'' zones). Service only.';

revoke all on function public.lock_daily_metrics_shared(uuid[]) from public, anon, authenticated;
grant execute on function public.lock_daily_metrics_shared(uuid[]) to service_role;

create function public.apply_daily_metrics_changes(p_changes public.daily_metrics_change[])
returns void
language plpgsql
set search_path = ''
as $$
begin
  with nonzero as (
    select c.user_id, c.day, c.revenue, c.orders, c.new_customers
    from pg_catalog.unnest(p_changes) as c
    where c.day is not null and (c.revenue <> 0 or c.orders <> 0 or c.new_customers <> 0)
  ),

  updated as (
    update public.daily_metrics as m
    set
      revenue = m.revenue + n.revenue,
      orders = m.orders + n.orders,
      new_customers = m.new_customers + n.new_customers
    from nonzero as n
    where m.user_id = n.user_id and m.date = n.day
    returning m.user_id, m.date
  )

  -- A day without a row yet. Only additions can need one: a day that lost figures had them, so
  -- its row exists (unless the user is being deleted, and daily_metrics went first).
  insert into public.daily_metrics as m (user_id, date, revenue, orders, new_customers)
  select n.user_id, n.day, n.revenue, n.orders, n.new_customers
  from nonzero as n
  where
    n.orders >= 0 and n.new_customers >= 0
    and not exists (select from updated as u where u.user_id = n.user_id and u.date = n.day)
  order by n.user_id, n.day
  on conflict (user_id, date) do update
    set
      revenue = m.revenue + excluded.revenue,
      orders = m.orders + excluded.orders,
      new_customers = m.new_customers + excluded.new_customers;
end
$$;

comment on function public.apply_daily_metrics_changes(public.daily_metrics_change[]) is
'Adds per-day sums of signed contributions to daily_metrics'' revenue, orders and new_customers (the '
'rollup triggers call it, holding the users'' rollup locks). Service only.';

revoke all on function public.apply_daily_metrics_changes(public.daily_metrics_change[])
from public, anon, authenticated;
grant execute on function public.apply_daily_metrics_changes(public.daily_metrics_change[]) to service_role;

create function public.order_counts_in_daily_metrics(p_status text)
returns boolean
language sql
immutable
parallel safe
set search_path = ''
as $$
  select p_status not in ('cancelled', 'voided', 'refunded')
$$;

comment on function public.order_counts_in_daily_metrics(text) is
'Whether an order of this status counts in daily_metrics'' orders and revenue (it stands: not '
'cancelled, voided or refunded).';

revoke all on function public.order_counts_in_daily_metrics(text) from public, anon, authenticated;
grant execute on function public.order_counts_in_daily_metrics(text) to service_role;

-- The triggers sum a statement's rows per user and local day before anything else (a bulk write
-- of a million rows becomes a few hundred days), after taking the users' rollup locks, so the
-- zone they read cannot change under them. plpgsql plans each statement when it first runs, so a
-- branch may name a transition table that only its own event has.

create function public.roll_up_customer_orders()
returns trigger
language plpgsql
set search_path = ''
as $$
declare
  changes public.daily_metrics_change[];
begin
  if tg_op = 'INSERT' then
    perform public.lock_daily_metrics_shared(array(select n.user_id from new_rows as n));
    changes := array(
      select row(c.user_id, c.day, pg_catalog.sum(c.total), pg_catalog.count(*), 0)::public.daily_metrics_change
      from (
        select
          n.user_id, (n.created_at at time zone coalesce(z.time_zone, 'UTC'))::date as day,
          n.total - n.refunded_total as total
        from new_rows as n left join public.daily_metrics_time_zones as z on n.user_id = z.user_id
        where public.order_counts_in_daily_metrics(n.status)
      ) as c
      group by c.user_id, c.day
    );
  elsif tg_op = 'DELETE' then
    perform public.lock_daily_metrics_shared(array(select o.user_id from old_rows as o));
    changes := array(
      select row(c.user_id, c.day, -pg_catalog.sum(c.total), -pg_catalog.count(*), 0)::public.daily_metrics_change
      from (
        select
          o.user_id, (o.created_at at time zone coalesce(z.time_zone, 'UTC'))::date as day,
          o.total - o.refunded_total as total
        from old_rows as o left join public.daily_metrics_time_zones as z on o.user_id = z.user_id
        where public.order_counts_in_daily_metrics(o.status)
      ) as c
      group by c.user_id, c.day
    );
  else
    perform public.lock_daily_metrics_shared(array(
      select o.user_id from old_rows as o union select n.user_id from new_rows as n
    ));
    changes := array(
      select
        row(c.user_id, c.day, pg_catalog.sum(c.total), pg_catalog.sum(c.sign), 0)::public.daily_metrics_change
      from (
        select o.user_id, o.created_at, o.refunded_total - o.total as total, -1 as sign
        from old_rows as o where public.order_counts_in_daily_metrics(o.status)
        union all
        select n.user_id, n.created_at, n.total - n.refunded_total, 1
        from new_rows as n where public.order_counts_in_daily_metrics(n.status)
      ) as r
      left join public.daily_metrics_time_zones as z on r.user_id = z.user_id
      cross join lateral (
        select r.user_id, (r.created_at at time zone coalesce(z.time_zone, 'UTC'))::date as day, r.total, r.sign
      ) as c
      group by c.user_id, c.day
    );
  end if;
  if pg_catalog.cardinality(changes) > 0 then
    perform public.apply_daily_metrics_changes(changes);
  end if;
  return null;
end
$$;

comment on function public.roll_up_customer_orders() is
'Statement trigger of customer_orders: the statement''s rows'' orders and revenue, old taken away and '
'new added, into daily_metrics.';

revoke all on function public.roll_up_customer_orders() from public, anon, authenticated;

create trigger customer_orders_roll_up_insert
after insert on public.customer_orders
referencing new table as new_rows
for each statement execute function public.roll_up_customer_orders();

create trigger customer_orders_roll_up_update
after update on public.customer_orders
referencing old table as old_rows new table as new_rows
for each statement execute function public.roll_up_customer_orders();

create trigger customer_orders_roll_up_delete
after delete on public.customer_orders
referencing old table as old_rows
for each statement execute function public.roll_up_customer_orders();

create function public.roll_up_customers()
returns trigger
language plpgsql
set search_path = ''
as $$
declare
  changes public.daily_metrics_change[];
begin
  if tg_op = 'INSERT' then
    perform public.lock_daily_metrics_shared(array(select n.user_id from new_rows as n));
  elsif tg_op = 'DELETE' then
    perform public.lock_daily_metrics_shared(array(select o.user_id from old_rows as o));
  else
    perform public.lock_daily_metrics_shared(array(
      select o.user_id from old_rows as o union select n.user_id from new_rows as n
    ));
  end if;
  if tg_op = 'INSERT' then
    changes := array(
      select row(c.user_id, c.day, 0, 0, pg_catalog.count(*))::public.daily_metrics_change
      from (
        select n.user_id, (n.first_order_at at time zone coalesce(z.time_zone, 'UTC'))::date as day
        from new_rows as n left join public.daily_metrics_time_zones as z on n.user_id = z.user_id
        where n.first_order_at is not null
      ) as c
      group by c.user_id, c.day
    );
  elsif tg_op = 'DELETE' then
    changes := array(
      select row(c.user_id, c.day, 0, 0, -pg_catalog.count(*))::public.daily_metrics_change
      from (
        select o.user_id, (o.first_order_at at time zone coalesce(z.time_zone, 'UTC'))::date as day
        from old_rows as o left join public.daily_metrics_time_zones as z on o.user_id = z.user_id
        where o.first_order_at is not null
      ) as c
      group by c.user_id, c.day
    );
  else
    changes := array(
      select row(c.user_id, c.day, 0, 0, pg_catalog.sum(c.sign))::public.daily_metrics_change
      from (
        select o.user_id, o.first_order_at, -1 as sign
        from old_rows as o where o.first_order_at is not null
        union all
        select n.user_id, n.first_order_at, 1
        from new_rows as n where n.first_order_at is not null
      ) as r
      left join public.daily_metrics_time_zones as z on r.user_id = z.user_id
      cross join lateral (
        select r.user_id, (r.first_order_at at time zone coalesce(z.time_zone, 'UTC'))::date as day, r.sign
      ) as c
      group by c.user_id, c.day
    );
  end if;
  if pg_catalog.cardinality(changes) > 0 then
    perform public.apply_daily_metrics_changes(changes);
  end if;
  return null;
end
$$;

comment on function public.roll_up_customers() is
'Statement trigger of customers: new customers (by the day of their first standing order), old taken '
'away and new added, into daily_metrics.';

revoke all on function public.roll_up_customers() from public, anon, authenticated;

create trigger customers_roll_up_insert
after insert on public.customers
referencing new table as new_rows
for each statement execute function public.roll_up_customers();

create trigger customers_roll_up_update
after update on public.customers
referencing old table as old_rows new table as new_rows
for each statement execute function public.roll_up_customers();

create trigger customers_roll_up_delete
after delete on public.customers
referencing old table as old_rows
for each statement execute function public.roll_up_customers();

create function public.recompute_daily_metrics(
  p_user_id uuid, p_from date default null, p_to date default null
)
returns integer
language plpgsql
set search_path = ''
as $$
declare
  zone text;
  low timestamptz;
  high timestamptz;
  written integer;
begin
  if p_user_id is null then
    raise exception 'recompute_daily_metrics: a user is required' using errcode = '22023';
  end if;
  if p_from > p_to then
    raise exception 'recompute_daily_metrics: the range starts (%) after it ends (%)', p_from, p_to
      using errcode = '22023';
  end if;
  -- Exclusive: wait for the writers in flight (their rows are then visible to the statements
  -- below, each of which takes a new snapshot under read committed); later writers wait for us.
  perform pg_catalog.pg_advisory_xact_lock(26, public.daily_metrics_lock_key(p_user_id));
  zone := coalesce(
    (select z.time_zone from public.daily_metrics_time_zones as z where z.user_id = p_user_id), 'UTC'
  );
  low := case when p_from is null then '-infinity'::timestamptz else p_from::timestamp at time zone zone end;
  high := case when p_to is null then 'infinity'::timestamptz else (p_to + 1)::timestamp at time zone zone end;

  update public.daily_metrics as m
  set revenue = 0, orders = 0, new_customers = 0
  where
    m.user_id = p_user_id
    and m.date >= coalesce(p_from, '-infinity'::date)
    and m.date <= coalesce(p_to, 'infinity'::date)
    and (m.revenue <> 0 or m.orders <> 0 or m.new_customers <> 0);

  insert into public.daily_metrics as m (user_id, date, revenue, orders, new_customers)
  select p_user_id, f.day, pg_catalog.sum(f.revenue), pg_catalog.sum(f.orders), pg_catalog.sum(f.new_customers)
  from (
    select
      (o.created_at at time zone zone)::date as day, o.total - o.refunded_total as revenue, 1 as orders,
      0 as new_customers
    from public.customer_orders as o
    where
      o.user_id = p_user_id
      and o.created_at >= low and o.created_at < high
      and public.order_counts_in_daily_metrics(o.status)
    union all
    select (c.first_order_at at time zone zone)::date, 0, 0, 1
    from public.customers as c
    where c.user_id = p_user_id and c.first_order_at >= low and c.first_order_at < high
  ) as f
  group by f.day
  order by f.day
  on conflict (user_id, date) do update
    set revenue = excluded.revenue, orders = excluded.orders, new_customers = excluded.new_customers;
  get diagnostics written = row_count;
  return written;
end
$$;

comment on function public.recompute_daily_metrics(uuid, date, date) is
'Rebuilds a user''s daily_metrics revenue, orders and new_customers for local days p_from..p_to (null: '
'unbounded) from customer_orders and customers; returns the days that have figures. For operators '
'(repair) and time zone changes; run it under read committed. Service only.';

revoke all on function public.recompute_daily_metrics(uuid, date, date) from public, anon, authenticated;
grant execute on function public.recompute_daily_metrics(uuid, date, date) to service_role;

create function public.sync_daily_metrics_time_zone(p_user_id uuid)
returns boolean
language plpgsql
set search_path = ''
as $$
declare
  wanted text;
  held text;
begin
  -- The zone of the shop the user connected last; UTC when it is not known.
  wanted := coalesce(
    (
      select s.iana_timezone from public.shopify_shops as s
      where s.user_id = p_user_id
      order by s.connected_at desc, s.shop_domain
      limit 1
    ),
    'UTC'
  );
  held := coalesce(
    (select z.time_zone from public.daily_metrics_time_zones as z where z.user_id = p_user_id), 'UTC'
  );
  if wanted = held then
    return false;
  end if;
  insert into public.daily_metrics_time_zones as z (user_id, time_zone)
  values (p_user_id, wanted)
  on conflict (user_id) do update set time_zone = excluded.time_zone;
  -- Every day moves: the figures are rebuilt in the new zone.
  perform public.recompute_daily_metrics(p_user_id);
  return true;
end
$$;

comment on function public.sync_daily_metrics_time_zone(uuid) is
'Sets the zone a user''s days are counted in to their latest shop''s (UTC when unknown) and, when it '
'changed, recomputes all their days. True when it changed. Called by the shopify_shops trigger.';

revoke all on function public.sync_daily_metrics_time_zone(uuid) from public, anon, authenticated;
grant execute on function public.sync_daily_metrics_time_zone(uuid) to service_role;
