-- Tests supabase/schemas/17_setup_progress.sql.
-- set_setup_step(): the caller's own row only, known steps and statuses only; the service
-- variant; the guard on direct writes; and the trigger completing a provider's step when it
-- connects. No SECURITY DEFINER: RLS, the CHECK and the guard bound what users write.
begin;
select plan(22);

select tests.create_user('alice@example.com') as alice \gset
select tests.create_user('bob@example.com') as bob \gset

select function_privs_are(
  'public', 'set_setup_step', array['text', 'text'], 'anon', array[]::text[], 'anon cannot call set_setup_step'
);
select function_privs_are(
  'public', 'set_setup_step', array['text', 'text'], 'authenticated', array['EXECUTE'],
  'signed-in users call set_setup_step'
);
select tests.authenticate_as(:'alice');
select throws_ok(
  format($$select public.set_setup_step_for_user(%L, 'import', 'skipped')$$, :'bob'),
  'P0002', null,
  'a user reaching the service variant cannot set another user''s steps (RLS)'
);
select tests.clear_authentication();
select ok(
  (
    select not p.prosecdef and p.proconfig @> array['search_path=""']
    from pg_catalog.pg_proc as p where p.oid = 'public.set_setup_step(text, text)'::regprocedure
  ),
  'set_setup_step is SECURITY INVOKER with an empty search_path'
);

select tests.authenticate_as(:'alice');
select is(
  public.set_setup_step('design_rules', 'completed') ->> 'design_rules', 'completed',
  'a user completes a configuration step and gets the new progress back'
);
select is(
  public.set_setup_step('shopify', 'skipped') ->> 'shopify', 'skipped', 'a user skips a connection step'
);
select throws_ok(
  $$select public.set_setup_step('klaviyo', 'completed')$$, '55000',
  'connect klaviyo before marking its setup step completed',
  'a connection step is completed by connecting, not by saying so'
);
select throws_ok(
  $$select public.set_setup_step('tiktok', 'completed')$$, '22023', null, 'an unknown step is rejected'
);
select throws_ok(
  $$select public.set_setup_step('sky_pilot', 'skipped')$$, '22023', null, 'sky_pilot has no wizard step'
);
select throws_ok(
  $$select public.set_setup_step('import', 'done')$$, '22023', null, 'an unknown status is rejected'
);
select throws_ok(
  $$select public.set_setup_step('import', null)$$, '22023', null, 'a null status is rejected'
);
select tests.authenticate_as_anon();
select throws_ok(
  $$select public.set_setup_step('import', 'skipped')$$, '42501', null, 'anon cannot set a step'
);
select tests.authenticate_as_service();
select throws_ok(
  $$select public.set_setup_step('import', 'skipped')$$, '42501', 'set_setup_step: no signed-in user',
  'without a signed-in user there is no row to act on'
);
select is(
  public.set_setup_step_for_user(:'bob', 'import', 'skipped') ->> 'import', 'skipped',
  'the service sets a step for a given user'
);
select throws_ok(
  $$select public.set_setup_step_for_user(gen_random_uuid(), 'import', 'skipped')$$, 'P0002', null,
  'the service variant names an unknown user'
);
select tests.clear_authentication();

select results_eq(
  format(
    $$select setup_progress ->> 'design_rules', setup_progress ->> 'shopify', setup_progress ->> 'import'
      from public.user_settings where user_id = %L$$,
    :'alice'
  ),
  $$values ('completed', 'skipped', 'pending')$$,
  'alice''s changes stuck, on her row only'
);

-- The trigger: becoming connected completes the provider's step (once; sky_pilot has none).
select tests.authenticate_as_service();
insert into public.integrations (user_id, provider, status) values (:'alice', 'klaviyo', 'connecting');
select is(
  (select s.setup_progress ->> 'klaviyo' from public.user_settings as s where s.user_id = :'alice'),
  'pending', 'connecting does not complete the step'
);
update public.integrations set status = 'connected' where user_id = :'alice' and provider = 'klaviyo';
insert into public.integrations (user_id, provider, status) values (:'alice', 'shopify', 'connected');
select results_eq(
  format(
    $$select setup_progress ->> 'klaviyo', setup_progress ->> 'shopify'
      from public.user_settings where user_id = %L$$,
    :'alice'
  ),
  $$values ('completed', 'completed')$$,
  'becoming connected (by update or insert) completes the step, even a skipped one'
);
select lives_ok(
  format(
    $$insert into public.integrations (user_id, provider, status) values (%L, 'sky_pilot', 'connected')$$,
    :'alice'
  ),
  'connecting sky_pilot, which has no wizard step, works'
);
select is(
  (select s.setup_progress from public.user_settings as s where s.user_id = :'bob') ->> 'klaviyo',
  'pending',
  'another user''s progress is untouched'
);
select tests.clear_authentication();

-- The guard holds for direct writes (the Data API) as for the function.
select tests.authenticate_as(:'alice');
select throws_ok(
  $$update public.user_settings set setup_progress = setup_progress || '{"pinterest": "completed"}'$$,
  '55000', 'connect pinterest before marking its setup step completed',
  'a direct write cannot complete a connection step that is not connected'
);
select lives_ok(
  $$update public.user_settings set setup_progress = setup_progress || '{"pinterest": "skipped"}'$$,
  'a direct write may skip it'
);
select tests.clear_authentication();

select * from finish();
rollback;
