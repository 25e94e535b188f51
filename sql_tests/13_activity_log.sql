-- Tests supabase/schemas/13_activity_log.sql.
-- public.activity_log and public.log_activity().
begin;
select plan(27);

select has_table('public', 'activity_log', 'public.activity_log exists');
select fk_ok('public', 'activity_log', 'user_id', 'auth', 'users', 'id');
select is(
  pg_catalog.pg_get_indexdef('public.activity_log_user_id_created_at_idx'::regclass),
  'CREATE INDEX activity_log_user_id_created_at_idx ON public.activity_log '
  || 'USING btree (user_id, created_at DESC)',
  'entries are indexed by user, newest first'
);
select policies_are(
  'public', 'activity_log', array['activity_log_select_own'],
  'users may only read their own entries'
);
select has_function(
  'public', 'log_activity', array['uuid', 'text', 'jsonb', 'boolean', 'text'],
  'log_activity(p_user_id, p_action_type, p_details, p_executed, p_module) exists'
);

select tests.create_user('alice@example.com') as alice \gset
select tests.create_user('bob@example.com') as bob \gset

-- The service logs.
select tests.authenticate_as_service();
select public.log_activity(
  :'alice', 'shopify_connected', '{"shop": "alice.myshopify.com"}', true, 'integrations'
) as alice_entry \gset
select public.log_activity(:'bob', 'design_proposed', p_executed => false) as bob_entry \gset
select results_eq(
  format(
    'select user_id, action_type, details, executed, module from public.activity_log where id = %L',
    :'alice_entry'
  ),
  format(
    $$ values (%L::uuid, 'shopify_connected', '{"shop": "alice.myshopify.com"}'::jsonb, true, 'integrations') $$,
    :'alice'
  ),
  'log_activity stores every argument'
);
select results_eq(
  format(
    'select details, executed, module from public.activity_log where id = %L',
    :'bob_entry'
  ),
  $$ values ('{}'::jsonb, false, null::text) $$,
  'log_activity fills in the defaults'
);
select throws_ok(
  format($$select public.log_activity(%L, '')$$, :'alice'),
  '22023', 'log_activity: p_action_type must be a non-empty string',
  'an empty action type is rejected as invalid_parameter_value'
);
select throws_ok(
  format($$select public.log_activity(%L, '   ')$$, :'alice'),
  '22023', 'log_activity: p_action_type must be a non-empty string',
  'a blank action type is rejected'
);
select throws_ok(
  format($$select public.log_activity(%L, null)$$, :'alice'),
  '22023', 'log_activity: p_action_type must be a non-empty string',
  'a null action type is rejected'
);
select throws_ok(
  $$select public.log_activity(null, 'anything')$$,
  '22023', 'log_activity: p_user_id is required',
  'a null user is rejected'
);
select throws_ok(
  format($$select public.log_activity(%L, 'anything', '[1, 2]')$$, :'alice'),
  '22023', 'log_activity: p_details must be a JSON object, not array',
  'details that are not an object are rejected'
);
select throws_ok(
  $$select public.log_activity('00000000-0000-4000-8000-00000000dead', 'anything')$$,
  'P0002', 'log_activity: user 00000000-0000-4000-8000-00000000dead not found',
  'an unknown user is no_data_found'
);
select tests.clear_authentication();

select function_privs_are(
  'public', 'log_activity', array['uuid', 'text', 'jsonb', 'boolean', 'text'], 'service_role', array['EXECUTE'],
  'service_role may call log_activity'
);
select function_privs_are(
  'public', 'log_activity', array['uuid', 'text', 'jsonb', 'boolean', 'text'], 'authenticated', array[]::text[],
  'authenticated may not call log_activity'
);
select function_privs_are(
  'public', 'log_activity', array['uuid', 'text', 'jsonb', 'boolean', 'text'], 'anon', array[]::text[],
  'anon may not call log_activity'
);

-- Users read their own entries, and nothing else.
select tests.authenticate_as(:'alice');
select results_eq(
  'select id from public.activity_log',
  format('values (%L::uuid)', :'alice_entry'),
  'a user sees their own entries and no other'
);
select throws_ok(
  format($$select public.log_activity(%L, 'forged')$$, :'alice'),
  '42501', null,
  'a user cannot call log_activity'
);
select throws_ok(
  format($$insert into public.activity_log (user_id, action_type) values (%L, 'forged')$$, :'alice'),
  '42501', null,
  'a user cannot insert log entries'
);
select throws_ok(
  $$update public.activity_log set action_type = 'rewritten'$$,
  '42501', null,
  'a user cannot edit log entries'
);
select throws_ok(
  'delete from public.activity_log',
  '42501', null,
  'a user cannot delete log entries'
);

select tests.authenticate_as_anon();
select throws_ok(
  'select * from public.activity_log', '42501', null,
  'anon cannot read activity_log'
);
select throws_ok(
  $$select public.log_activity('00000000-0000-4000-8000-00000000dead', 'forged')$$, '42501', null,
  'anon cannot call log_activity'
);

select tests.authenticate_as_service();
select throws_ok(
  $$update public.activity_log set action_type = 'rewritten'$$,
  '42501', null,
  'not even the service edits log entries'
);
select tests.clear_authentication();

select table_privs_are(
  'public', 'activity_log', 'anon', array[]::text[],
  'anon holds no privilege on activity_log'
);
select table_privs_are(
  'public', 'activity_log', 'authenticated', array['SELECT'],
  'authenticated may only read activity_log'
);

delete from auth.users where id = :'alice';
select is_empty(
  format('select * from public.activity_log where user_id = %L', :'alice'),
  'deleting a user deletes their entries'
);

select * from finish();
rollback;
