-- Tests supabase/schemas/12_user_settings.sql.
-- public.user_settings: the signup trigger, the CHECKs, RLS and grants.
begin;
select plan(48);

select has_table('public', 'user_settings', 'public.user_settings exists');
select col_is_pk('public', 'user_settings', 'user_id', 'one row per user');
select fk_ok('public', 'user_settings', 'user_id', 'auth', 'users', 'id');
select policies_are(
  'public', 'user_settings', array['user_settings_select_own', 'user_settings_update_own'],
  'users may read and update their own settings, nothing else'
);

-- The signup trigger.
select tests.create_user('alice@example.com') as alice \gset
select tests.create_user('bob@example.com') as bob \gset

select results_eq(
  format(
    'select setup_progress, operator_mode from public.user_settings where user_id = %L',
    :'alice'
  ),
  $$
    values (
      '{"shopify": "pending", "pinterest": "pending", "klaviyo": "pending",
        "dynamic_mockups": "pending", "resend": "pending", "design_rules": "pending",
        "operator_mode": "pending", "import": "pending"}'::jsonb,
      'supervised'
    )
  $$,
  'signing up creates the settings row: every wizard step pending, supervised'
);
select is(
  (select s.design_rules from public.user_settings as s where s.user_id = :'alice'),
  public.default_design_rules(),
  'a new user starts with the default design rules'
);
select is(
  (select pg_catalog.jsonb_typeof(public.default_design_rules() -> 'print_formats')),
  'array',
  'the default design rules list print formats'
);
select ok(
  public.default_design_rules() ?& array['typography', 'print_formats', 'color', 'mockups', 'quality', 'approval'],
  'the default design rules cover typography, formats, colour, mockups, quality and approval'
);
select is(
  (select count(*) from public.user_settings where user_id in (:'alice', :'bob')),
  2::bigint,
  'each new user gets exactly one row'
);
select function_privs_are(
  'public', 'create_user_settings_for_new_user', array[]::name[], 'authenticated', array[]::text[],
  'authenticated cannot call the signup trigger function'
);
select function_privs_are(
  'public', 'create_user_settings_for_new_user', array[]::name[], 'anon', array[]::text[],
  'anon cannot call the signup trigger function'
);

-- The CHECKs, as the owner (RLS and grants out of the way).
select throws_ok(
  format(
    $$update public.user_settings set setup_progress = setup_progress || '{"tiktok": "pending"}' where user_id = %L$$,
    :'alice'
  ),
  '23514', null,
  'an unknown wizard step is rejected'
);
select throws_ok(
  format(
    $$update public.user_settings set setup_progress = setup_progress || '{"shopify": "done"}' where user_id = %L$$,
    :'alice'
  ),
  '23514', null,
  'an unknown step status is rejected'
);
select throws_ok(
  format(
    $$update public.user_settings set setup_progress = setup_progress || '{"shopify": null}' where user_id = %L$$,
    :'alice'
  ),
  '23514', null,
  'a null step status is rejected'
);
select throws_ok(
  format(
    $$update public.user_settings set setup_progress = setup_progress - 'import' where user_id = %L$$,
    :'alice'
  ),
  '23514', null,
  'a missing step is rejected'
);
select throws_ok(
  format(
    $$update public.user_settings set setup_progress = '["shopify"]' where user_id = %L$$,
    :'alice'
  ),
  '23514', null,
  'setup_progress must be an object'
);
select lives_ok(
  format(
    $$update public.user_settings
      set setup_progress = setup_progress || '{"shopify": "completed", "pinterest": "skipped"}'
      where user_id = %L$$,
    :'alice'
  ),
  'completed and skipped are valid step statuses'
);
select throws_ok(
  format(
    $$update public.user_settings set operator_mode = 'yolo' where user_id = %L$$,
    :'alice'
  ),
  '23514', null,
  'an unknown operator mode is rejected'
);
select throws_ok(
  format(
    $$update public.user_settings set design_rules = '[]' where user_id = %L$$,
    :'alice'
  ),
  '23514', null,
  'design_rules must be an object'
);

-- What a signed-in user may do.
update public.user_settings set updated_at = now() - interval '1 day' where user_id = :'alice';
select tests.authenticate_as(:'alice');

select results_eq(
  'select user_id from public.user_settings',
  format('values (%L::uuid)', :'alice'),
  'a user sees their own settings row and no other'
);
select is_empty(
  format('select * from public.user_settings where user_id = %L', :'bob'),
  'a user cannot read another user''s settings'
);
select results_eq(
  $$
    update public.user_settings
    set operator_mode = 'assisted', design_rules = design_rules || '{"approval": {"require_approval": false}}'
    returning operator_mode, design_rules -> 'approval' ->> 'require_approval'
  $$,
  $$ values ('assisted', 'false') $$,
  'a user updates their own operator mode and design rules'
);
-- design_rules: the shape service/setup/design_rules.py validates, held for direct writes too.
select ok(public.is_valid_design_rules(public.default_design_rules()), 'the default design rules are valid');
select throws_ok(
  $$update public.user_settings set design_rules = '{}'$$,
  '23514', null, 'design rules without their sections are refused'
);
select throws_ok(
  $$update public.user_settings set design_rules = design_rules || '{"extra": 1}'$$,
  '23514', null, 'so is a section the rules do not have'
);
select throws_ok(
  $$update public.user_settings set design_rules = jsonb_set(design_rules, '{typography,min_font_size_pt}', '"24"')$$,
  '23514', null, 'a number given as a string is refused'
);
select throws_ok(
  $$update public.user_settings set design_rules = jsonb_set(design_rules, '{typography,max_lines}', '6.5')$$,
  '23514', null, 'a fraction where a whole number belongs is refused'
);
select throws_ok(
  $$update public.user_settings set design_rules = jsonb_set(design_rules, '{color,max_palette_colors}', '3')$$,
  '23514', null, 'a default palette larger than max_palette_colors is refused'
);
select throws_ok(
  $$update public.user_settings
    set design_rules = jsonb_set(design_rules, '{print_formats,0,width_mm}', '210')$$,
  '23514', null, 'a print format measured in inches and millimetres is refused'
);
select throws_ok(
  $$update public.user_settings
    set design_rules = jsonb_set(design_rules, '{print_formats,1,name}', '"8x10"')$$,
  '23514', null, 'two print formats of one name are refused'
);
select throws_ok(
  $$update public.user_settings
    set design_rules = jsonb_set(
      design_rules, '{mockups,scenes}', (select jsonb_agg('scene'::text) from generate_series(1, 100000))
    )$$,
  '23514', null, 'a list past its bound (100,000 scenes) is refused'
);
select lives_ok(
  $$update public.user_settings set design_rules = jsonb_set(design_rules, '{typography,max_lines}', '8')$$,
  'rules of the right shape are kept'
);
select is_empty(
  format(
    $$update public.user_settings set operator_mode = 'autopilot' where user_id = %L returning 1$$,
    :'bob'
  ),
  'a user cannot update another user''s settings'
);
select throws_ok(
  $$update public.user_settings set operator_mode = 'yolo'$$,
  '23514', null,
  'the operator mode CHECK holds for users too'
);
select throws_ok(
  format($$update public.user_settings set user_id = %L$$, :'bob'),
  '42501', null,
  'a user cannot move their row to another user'
);
select throws_ok(
  $$update public.user_settings set setup_progress = '{"import": "skipped"}'$$,
  '23514', null,
  'a user cannot write a setup_progress that is not the wizard''s steps'
);
select throws_ok(
  format($$insert into public.user_settings (user_id) values (%L)$$, :'alice'),
  '42501', null,
  'a user cannot insert settings'
);
select throws_ok(
  'delete from public.user_settings',
  '42501', null,
  'a user cannot delete settings'
);
select tests.clear_authentication();

select results_eq(
  format(
    'select operator_mode, updated_at = now() from public.user_settings where user_id = %L',
    :'alice'
  ),
  $$ values ('assisted', true) $$,
  'the update stuck, and the trigger stamped updated_at'
);
select is(
  (select s.operator_mode from public.user_settings as s where s.user_id = :'bob'),
  'supervised',
  'bob''s settings are untouched'
);

-- anon sees nothing.
select tests.authenticate_as_anon();
select throws_ok(
  'select * from public.user_settings', '42501', null,
  'anon cannot read user_settings'
);
select throws_ok(
  $$update public.user_settings set operator_mode = 'autopilot'$$, '42501', null,
  'anon cannot update user_settings'
);

-- The service reads and updates every row.
select tests.authenticate_as_service();
select is(
  (select count(*) from public.user_settings where user_id in (:'alice', :'bob')),
  2::bigint,
  'service_role reads every user''s settings'
);
select lives_ok(
  format(
    $$update public.user_settings
      set setup_progress = setup_progress || '{"klaviyo": "completed"}'
      where user_id = %L$$,
    :'bob'
  ),
  'service_role updates setup_progress'
);
select throws_ok(
  format($$insert into public.user_settings (user_id) values (%L)$$, :'bob'),
  '42501', null,
  'service_role does not insert settings either: the trigger does'
);
select tests.clear_authentication();

select table_privs_are(
  'public', 'user_settings', 'anon', array[]::text[],
  'anon holds no privilege on user_settings'
);
select table_privs_are(
  'public', 'user_settings', 'authenticated', array['SELECT'],
  'authenticated holds only SELECT on the whole table (UPDATE is per column)'
);

-- Deleting the user deletes the settings.
delete from auth.users where id = :'bob';
select is_empty(
  format('select * from public.user_settings where user_id = %L', :'bob'),
  'deleting a user deletes their settings'
);

select * from finish();
rollback;
