-- Tests supabase/schemas/14_integrations.sql.
-- public.integrations and public.integration_credentials: shape, and who may do what
-- (anon, user A, user B, the service) x (select, insert, update, delete). The matrix covers the
-- credential mapping table of 15_credentials.sql too, beside the integration it belongs to.
begin;
select plan(53);

select has_table('public', 'integrations', 'public.integrations exists');
select col_is_unique('public', 'integrations', array['user_id', 'provider'], 'one row per user and provider');
select fk_ok('public', 'integrations', 'user_id', 'auth', 'users', 'id');
select has_index('public', 'integrations', 'integrations_user_id_status_idx', array['user_id', 'status']);
select has_index('public', 'integrations', 'integrations_token_expires_at_idx', array['token_expires_at']);
select has_trigger('public', 'integrations', 'integrations_set_updated_at', 'updated_at is stamped');
select policies_are('public', 'integrations', array['integrations_select_own'], 'users may only read');
select has_table('public', 'integration_credentials', 'public.integration_credentials exists');
select col_is_pk(
  'public', 'integration_credentials', array['user_id', 'provider', 'credential_type'],
  'one secret per user, provider and credential type'
);
select fk_ok(
  'public', 'integration_credentials', array['user_id', 'provider'],
  'public', 'integrations', array['user_id', 'provider']
);
select policies_are(
  'public', 'integration_credentials', array['integration_credentials_no_user_access'],
  'one restrictive policy: users have no access'
);

-- The CHECKs, as the owner.
select tests.create_user('alice@example.com') as alice \gset
select tests.create_user('bob@example.com') as bob \gset
select throws_ok(
  format($$insert into public.integrations (user_id, provider) values (%L, 'tiktok')$$, :'alice'),
  '23514', null, 'an unknown provider is rejected'
);
select throws_ok(
  format($$insert into public.integrations (user_id, provider, status) values (%L, 'klaviyo', 'ok')$$, :'alice'),
  '23514', null, 'an unknown status is rejected'
);
select throws_ok(
  format($$insert into public.integrations (user_id, provider, metadata) values (%L, 'klaviyo', '[]')$$, :'alice'),
  '23514', null, 'metadata must be an object'
);

insert into public.integrations (user_id, provider, status, metadata)
values
(:'alice', 'klaviyo', 'connected', '{"list_count": 3}'),
(:'bob', 'klaviyo', 'connected', '{"list_count": 9}');
select tests.authenticate_as_service();
select public.store_credential(:'alice', 'klaviyo', 'api_key', 'pk_alice_secret');
select public.store_credential(:'bob', 'klaviyo', 'api_key', 'pk_bob_secret');
select tests.clear_authentication();

select throws_ok(
  format(
    $$insert into public.integrations (user_id, provider) values (%L, 'klaviyo')$$, :'alice'
  ),
  '23505', null, 'a second row for the same user and provider is rejected'
);

-- anon: nothing.
select tests.authenticate_as_anon();
select throws_ok('select * from public.integrations', '42501', null, 'anon cannot select integrations');
select throws_ok(
  format($$insert into public.integrations (user_id, provider) values (%L, 'resend')$$, :'alice'),
  '42501', null, 'anon cannot insert integrations'
);
select throws_ok(
  $$update public.integrations set status = 'error'$$, '42501', null, 'anon cannot update integrations'
);
select throws_ok('delete from public.integrations', '42501', null, 'anon cannot delete integrations');
select throws_ok(
  'select * from public.integration_credentials', '42501', null, 'anon cannot select credentials'
);
select throws_ok(
  format(
    $$insert into public.integration_credentials (user_id, provider, credential_type, secret_id)
      values (%L, 'klaviyo', 'x', gen_random_uuid())$$,
    :'alice'
  ),
  '42501', null, 'anon cannot insert credentials'
);
select throws_ok(
  'update public.integration_credentials set secret_id = gen_random_uuid()', '42501', null,
  'anon cannot update credentials'
);
select throws_ok(
  'delete from public.integration_credentials', '42501', null, 'anon cannot delete credentials'
);

-- User A: reads their own integration row, nothing else, and writes nothing.
select tests.authenticate_as(:'alice');
select results_eq(
  'select user_id, provider, metadata from public.integrations',
  format($$values (%L::uuid, 'klaviyo', '{"list_count": 3}'::jsonb)$$, :'alice'),
  'user A sees their own integration and no other'
);
select is_empty(
  format('select * from public.integrations where user_id = %L', :'bob'),
  'user A cannot read user B''s integration'
);
select throws_ok(
  format($$insert into public.integrations (user_id, provider) values (%L, 'resend')$$, :'alice'),
  '42501', null, 'user A cannot insert an integration, even their own'
);
select throws_ok(
  $$update public.integrations set status = 'connected', metadata = '{}'$$, '42501', null,
  'user A cannot update their own integration'
);
select throws_ok(
  'delete from public.integrations', '42501', null, 'user A cannot delete their own integration'
);
select throws_ok(
  'select * from public.integration_credentials', '42501', null, 'user A cannot select credentials'
);
select throws_ok(
  format(
    $$insert into public.integration_credentials (user_id, provider, credential_type, secret_id)
      values (%L, 'klaviyo', 'x', gen_random_uuid())$$,
    :'alice'
  ),
  '42501', null, 'user A cannot insert credentials'
);
select throws_ok(
  'update public.integration_credentials set secret_id = gen_random_uuid()', '42501', null,
  'user A cannot update credentials'
);
select throws_ok(
  'delete from public.integration_credentials', '42501', null, 'user A cannot delete credentials'
);

-- User B: the same from the other side.
select tests.authenticate_as(:'bob');
select results_eq(
  'select user_id, provider, metadata from public.integrations',
  format($$values (%L::uuid, 'klaviyo', '{"list_count": 9}'::jsonb)$$, :'bob'),
  'user B sees their own integration and no other'
);
select throws_ok(
  format($$insert into public.integrations (user_id, provider) values (%L, 'resend')$$, :'alice'),
  '42501', null, 'user B cannot insert an integration for user A'
);
select throws_ok(
  format($$update public.integrations set status = 'error' where user_id = %L$$, :'alice'),
  '42501', null, 'user B cannot update user A''s integration'
);
select throws_ok(
  format('delete from public.integrations where user_id = %L', :'alice'),
  '42501', null, 'user B cannot delete user A''s integration'
);
select throws_ok(
  'select * from public.integration_credentials', '42501', null, 'user B cannot select credentials'
);
select throws_ok(
  format(
    $$insert into public.integration_credentials (user_id, provider, credential_type, secret_id)
      values (%L, 'klaviyo', 'x', gen_random_uuid())$$,
    :'bob'
  ),
  '42501', null, 'user B cannot insert credentials'
);
select throws_ok(
  'update public.integration_credentials set secret_id = gen_random_uuid()', '42501', null,
  'user B cannot update credentials'
);
select throws_ok(
  'delete from public.integration_credentials', '42501', null, 'user B cannot delete credentials'
);

-- The service: every integration row; credentials readable as a mapping, written only by the functions.
select tests.authenticate_as_service();
select is(
  (select count(*) from public.integrations where user_id in (:'alice', :'bob')),
  2::bigint,
  'service_role reads every user''s integrations'
);
select lives_ok(
  format($$insert into public.integrations (user_id, provider) values (%L, 'resend')$$, :'alice'),
  'service_role inserts integrations'
);
select lives_ok(
  format($$update public.integrations set status = 'error' where user_id = %L and provider = 'resend'$$, :'alice'),
  'service_role updates integrations'
);
select lives_ok(
  format($$delete from public.integrations where user_id = %L and provider = 'resend'$$, :'alice'),
  'service_role deletes integrations'
);
select is(
  (select count(*) from public.integration_credentials where user_id in (:'alice', :'bob')),
  2::bigint,
  'service_role sees which credentials exist'
);
select throws_ok(
  format(
    $$insert into public.integration_credentials (user_id, provider, credential_type, secret_id)
      values (%L, 'klaviyo', 'x', gen_random_uuid())$$,
    :'alice'
  ),
  '42501', null, 'service_role cannot insert credential mappings directly'
);
select throws_ok(
  'update public.integration_credentials set secret_id = gen_random_uuid()', '42501', null,
  'service_role cannot repoint a credential'
);
select throws_ok(
  'delete from public.integration_credentials', '42501', null,
  'service_role deletes credentials only through delete_credentials()'
);
select tests.clear_authentication();

select table_privs_are('public', 'integrations', 'anon', array[]::text[], 'anon holds nothing on integrations');
select table_privs_are(
  'public', 'integrations', 'authenticated', array['SELECT'], 'authenticated may only select integrations'
);
select table_privs_are(
  'public', 'integration_credentials', 'authenticated', array[]::text[],
  'authenticated holds nothing on integration_credentials'
);
select table_privs_are(
  'public', 'integration_credentials', 'service_role', array['SELECT'],
  'service_role may only select integration_credentials'
);

-- updated_at.
update public.integrations set updated_at = now() - interval '1 day' where user_id = :'alice';
update public.integrations set status = 'error' where user_id = :'alice';
select is(
  (select i.updated_at from public.integrations as i where i.user_id = :'alice'),
  now(),
  'an update stamps updated_at'
);

select * from finish();
rollback;
