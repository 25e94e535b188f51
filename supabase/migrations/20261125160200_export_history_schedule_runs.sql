-- A scheduled run is recorded in export_history like any export, linked to its schedule and the
-- run time it was queued for, with how it was delivered. A retried run finds its earlier attempt
-- here: a built file is not built again, and a delivered run is not delivered again.

alter table public.export_history
add column scheduled_export_id uuid references public.scheduled_exports (id) on delete set null,
add column scheduled_for timestamptz,
add column delivery_method text
constraint export_history_delivery_method_known check (delivery_method in ('email', 'download')),
add column delivered_at timestamptz,
-- Resend's email id for an emailed file (what a retry compares against; never a secret).
add column delivery_id text,
add constraint export_history_schedule_run_complete
check ((scheduled_export_id is null and delivery_method is null) or scheduled_for is not null),
add constraint export_history_delivered_when_completed
check (delivered_at is null or status = 'completed');

comment on column public.export_history.scheduled_export_id is
'The schedule this run belongs to (null for an export a user downloaded; kept null when the schedule is deleted).';
comment on column public.export_history.scheduled_for is
'The run time the schedule was queued for: it fixes the date range and names the run.';

-- A schedule's runs, newest first; serves the foreign key.
create index export_history_scheduled_export_id_idx
on public.export_history (scheduled_export_id, scheduled_for desc);
