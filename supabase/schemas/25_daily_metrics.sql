-- One row of performance figures per user and day. revenue, orders and new_customers are rolled
-- up in SQL from customer_orders and customers (26_daily_metrics_rollup.sql); the pin columns
-- come from the Pinterest sync; leads and quiz completions from their own writers.

create table public.daily_metrics (
  user_id uuid not null references auth.users (id) on delete cascade,
  date date not null,
  revenue numeric(12, 2) not null default 0,
  orders integer not null default 0
  constraint daily_metrics_orders_not_negative check (orders >= 0),
  new_customers integer not null default 0
  constraint daily_metrics_new_customers_not_negative check (new_customers >= 0),
  new_leads integer not null default 0
  constraint daily_metrics_new_leads_not_negative check (new_leads >= 0),
  quiz_completions integer not null default 0
  constraint daily_metrics_quiz_completions_not_negative check (quiz_completions >= 0),
  pin_impressions bigint not null default 0
  constraint daily_metrics_pin_impressions_not_negative check (pin_impressions >= 0),
  pin_clicks bigint not null default 0
  constraint daily_metrics_pin_clicks_not_negative check (pin_clicks >= 0),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  -- Also the export's index (a user's days in a range) and the user_id foreign key's.
  primary key (user_id, date)
);

comment on table public.daily_metrics is
'Per user and day: revenue, orders, new customers and leads, quiz completions, pin impressions and clicks.';

comment on column public.daily_metrics.revenue is
'Totals of the orders placed that day (shop time zone) that stand: net of refunds, since a refunded, '
'cancelled or voided order counts nothing (a partial refund''s amount is not held: such an order counts '
'its whole total). Rolled up by 26_daily_metrics_rollup.sql.';

comment on column public.daily_metrics.orders is
'Orders placed that day (shop time zone) that stand (not cancelled, voided or refunded).';

comment on column public.daily_metrics.new_customers is
'Customers whose first standing order was placed that day (shop time zone).';

create trigger daily_metrics_set_updated_at
before update on public.daily_metrics
for each row execute function public.update_updated_at_column();

alter table public.daily_metrics enable row level security;

create policy daily_metrics_select_own on public.daily_metrics
for select to authenticated
using (user_id = (select auth.uid()));

revoke all on table public.daily_metrics from anon, authenticated, service_role;
grant select on table public.daily_metrics to authenticated;
grant select, insert, update, delete on table public.daily_metrics to service_role;
