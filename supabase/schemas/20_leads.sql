-- Leads: quiz responses and email subscribers. They arrive through the service (the public quiz,
-- Klaviyo sync), which validates and de-duplicates them, so users read their leads and the
-- service writes them.

create table public.leads (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references auth.users (id) on delete cascade,
  email text not null
  constraint leads_email_not_blank check (btrim(email) <> ''),
  segment text,
  source text,
  quiz_completed boolean not null default false,
  converted boolean not null default false,
  utm_source text,
  utm_medium text,
  utm_campaign text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

comment on table public.leads is
'Quiz responses and email subscribers of a shop; converted = the lead became a paying customer.';

-- The export reads a user's leads newest first within a date range; serves the foreign key too.
create index leads_user_id_created_at_idx
on public.leads (user_id, created_at, id);

create trigger leads_set_updated_at
before update on public.leads
for each row execute function public.update_updated_at_column();

alter table public.leads enable row level security;

create policy leads_select_own on public.leads
for select to authenticated
using (user_id = (select auth.uid()));

revoke all on table public.leads from anon, authenticated, service_role;
grant select on table public.leads to authenticated;
grant select, insert, update, delete on table public.leads to service_role;
