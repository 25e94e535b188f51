-- next_run_at was writable by users (insert and update column grants). Through PostgREST a user
-- could set it years back: the runner advances a schedule one period at a time from the stored
-- value, so every missed period would be queued, and each emailed to the schedule's free-form
-- address: a mail flood. The database computes it (schedule_export_run) and the runner advances
-- it; the service's API never accepted it.

revoke insert (next_run_at), update (next_run_at) on table public.scheduled_exports from authenticated;
