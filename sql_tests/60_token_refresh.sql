-- Tests supabase/schemas/60_token_refresh.sql.
-- public.integrations_due_for_refresh() and record_refresh_failure(): rows whose refresh keeps
-- failing go after the healthy ones, so they cannot fill every run's list.
begin;
set local client_min_messages = warning;
select plan(5);

select tests.create_user('failing@example.test') as failing \gset
select tests.create_user('older-failure@example.test') as older \gset
select tests.create_user('healthy@example.test') as healthy \gset
select tests.authenticate_as_service();
insert into public.integrations (user_id, provider, status, token_expires_at, last_error_at)
values
(:'failing', 'shopify', 'connected', now() - interval '2 hours', null),
(:'older', 'shopify', 'connected', now() - interval '1 hour', now() - interval '30 minutes'),
(:'healthy', 'shopify', 'connected', now() + interval '5 minutes', null);

select public.record_refresh_failure(:'failing', 'shopify', 'token refresh failed: shopify: server error (503)');
select results_eq(
  format(
    $$select last_error, last_error_at is not null, status from public.integrations where user_id = %L$$,
    :'failing'
  ),
  $$values ('token refresh failed: shopify: server error (503)', true, 'connected')$$,
  'a failure is recorded and the row stays connected'
);
select results_eq(
  $$select * from public.integrations_due_for_refresh('shopify', interval '10 minutes')$$,
  array[:'healthy'::uuid, :'older'::uuid, :'failing'::uuid],
  'healthy rows first, then the longest-failing'
);
select results_eq(
  $$select * from public.integrations_due_for_refresh('shopify', interval '10 minutes', 1)$$,
  array[:'healthy'::uuid],
  'a full list of failing rows cannot crowd out a healthy one'
);

select tests.clear_authentication();
select tests.authenticate_as(:'healthy');
select throws_ok(
  $$select public.record_refresh_failure(auth.uid(), 'shopify', 'x')$$, '42501', null, 'users cannot record failures'
);
select throws_ok(
  $$select * from public.integrations_due_for_refresh('shopify', interval '1 day')$$, '42501', null,
  'nor list who is due'
);

select * from finish();
rollback;
