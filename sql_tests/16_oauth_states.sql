-- Tests supabase/schemas/16_oauth_states.sql.
-- OAuth states: hashed, bound to user/provider/shop, 10-minute expiry, single use, pruned;
-- reachable by the service only.
begin;
select plan(35);

select tests.create_user('alice@example.com') as alice \gset
select tests.create_user('bob@example.com') as bob \gset

select is_empty(
  $$
    select p.oid::regprocedure, r.rolname
    from pg_catalog.pg_proc as p
    cross join pg_catalog.unnest(array['anon', 'authenticated']) as r (rolname)
    where p.oid in (
      'public.begin_oauth(uuid, text, text, bytea)'::regprocedure,
      'public.consume_oauth_state(text, text, text)'::regprocedure,
      'public.await_oauth_confirmation(uuid, text)'::regprocedure,
      'public.take_oauth_confirmation(text, text, uuid)'::regprocedure,
      'public.prune_oauth_states()'::regprocedure
    )
      and pg_catalog.has_function_privilege(r.rolname, p.oid, 'execute')
  $$,
  'anon and authenticated may execute no OAuth-state function'
);
select table_privs_are('public', 'oauth_states', 'authenticated', array[]::text[], 'users cannot touch oauth_states');
select table_privs_are(
  'public', 'oauth_states', 'service_role', array[]::text[], 'the service goes through the functions'
);

select tests.authenticate_as(:'alice');
select throws_ok(
  format($$select public.begin_oauth(%L, 'pinterest')$$, :'alice'), '42501', null,
  'a signed-in user cannot begin an OAuth flow in SQL'
);
select throws_ok(
  $$select public.consume_oauth_state('pinterest', 'x')$$, '42501', null,
  'a signed-in user cannot consume a state'
);
select throws_ok('select * from public.oauth_states', '42501', null, 'a signed-in user cannot read states');
select tests.authenticate_as_anon();
select throws_ok(
  format($$select public.begin_oauth(%L, 'pinterest')$$, :'alice'), '42501', null, 'anon cannot begin a flow'
);
select throws_ok(
  $$select public.consume_oauth_state('pinterest', 'x')$$, '42501', null, 'anon cannot consume a state'
);

-- The happy path.
select tests.authenticate_as_service();
select public.begin_oauth(:'alice', 'shopify', ' Demo-Shop.myshopify.com ') as shop_state \gset
select public.begin_oauth(:'alice', 'pinterest') as pin_state \gset
select ok(:'shop_state' ~ '^[0-9a-f]{64}$', 'the raw state is 256 random bits, hex');
select isnt(:'shop_state'::text, :'pin_state'::text, 'each flow gets its own state');
select tests.clear_authentication();
select is(
  (select count(*) from public.oauth_states where state_hash = sha256(convert_to(:'shop_state', 'utf8'))),
  1::bigint,
  'only the SHA-256 of the state is stored'
);
select is(
  (select count(*) from public.oauth_states as o where o.state_hash::text like '%' || :'shop_state' || '%'),
  0::bigint,
  'the raw state is not stored'
);
select results_eq(
  format(
    $$select shop_domain, expires_at - created_at from public.oauth_states
      where state_hash = sha256(convert_to(%L, 'utf8'))$$,
    :'shop_state'
  ),
  $$values ('demo-shop.myshopify.com', interval '10 minutes')$$,
  'the shop is normalised and the state expires after 10 minutes'
);

select tests.authenticate_as_service();
select is(
  (select user_id from public.consume_oauth_state('shopify', :'shop_state', 'demo-shop.myshopify.com')),
  :'alice'::uuid,
  'consuming a state returns the user who began the flow'
);
select throws_ok(
  format($$select public.consume_oauth_state('shopify', %L, 'demo-shop.myshopify.com')$$, :'shop_state'),
  '22023', 'oauth state already used', 'a state is single use'
);

-- Each distinct error.
select throws_ok(
  $$select public.consume_oauth_state('pinterest', 'not-a-state')$$,
  '22023', 'oauth state unknown', 'an unknown state'
);
select throws_ok(
  format($$select public.consume_oauth_state('shopify', %L, 'demo-shop.myshopify.com')$$, :'pin_state'),
  '22023', 'oauth state was issued for another provider', 'a state from another provider'
);
select public.begin_oauth(:'alice', 'shopify', 'demo-shop.myshopify.com') as shop_state_2 \gset
select throws_ok(
  format($$select public.consume_oauth_state('shopify', %L, 'other-shop.myshopify.com')$$, :'shop_state_2'),
  '22023', 'oauth state was issued for another shop', 'a state for another shop'
);
select tests.clear_authentication();
update public.oauth_states set expires_at = now() - interval '1 second'
where state_hash = sha256(convert_to(:'pin_state', 'utf8'));
select tests.authenticate_as_service();
select throws_ok(
  format($$select public.consume_oauth_state('pinterest', %L)$$, :'pin_state'),
  '22023', 'oauth state expired', 'an expired state'
);
select is(
  tests.sqlstate_of(format($$select public.consume_oauth_state('pinterest', %L)$$, :'pin_state')),
  '22023',
  'a failed consumption does not consume (the state still answers expired)'
);

-- Bad arguments to begin_oauth.
select throws_ok(
  format($$select public.begin_oauth(%L, 'klaviyo')$$, :'alice'), '22023', null,
  'klaviyo is not an OAuth provider'
);
select throws_ok(
  format($$select public.begin_oauth(%L, 'shopify', 'evil.example.com')$$, :'alice'), '22023', null,
  'shopify needs a myshopify.com domain'
);
select throws_ok(
  format($$select public.begin_oauth(%L, 'pinterest', 'demo.myshopify.com')$$, :'alice'), '22023', null,
  'pinterest takes no shop'
);
select throws_ok(
  $$select public.begin_oauth(gen_random_uuid(), 'pinterest')$$, 'P0002', null, 'an unknown user'
);


-- Bound to the browser: a console flow carries its session's hash; a JSON API flow is held.
select tests.authenticate_as_service();
select public.begin_oauth(:'alice', 'pinterest', null, sha256('session-a')) as bound_state \gset
select * from public.consume_oauth_state('pinterest', :'bound_state') \gset bound_
select results_eq(
  format($$values (%L::uuid, %L::bytea)$$, :'bound_user_id', :'bound_browser_binding'),
  format($$values (%L::uuid, sha256('session-a'))$$, :'alice'),
  'a console flow hands the callback the hash of the session that began it'
);
select throws_ok(
  format($$select public.begin_oauth(%L, 'pinterest', null, '\x01'::bytea)$$, :'alice'), '22023', null,
  'a browser binding is a SHA-256'
);
select throws_ok(
  format($$select public.await_oauth_confirmation(%L, 'code')$$, :'bound_state_id'),
  '22023', null, 'a console flow is never held for confirmation'
);
select public.begin_oauth(:'alice', 'shopify', 'held-shop.myshopify.com') as api_state \gset
select state_id as api_state_id
from public.consume_oauth_state('shopify', :'api_state', 'held-shop.myshopify.com') \gset
select public.await_oauth_confirmation(:'api_state_id', 'the-code') as confirmation \gset
select ok(:'confirmation' ~ '^[0-9a-f]{64}$', 'a held callback gets a random one-time confirmation id');
select throws_ok(
  format($$select * from public.take_oauth_confirmation('shopify', %L, %L)$$, :'confirmation', :'bob'),
  '22023', 'oauth confirmation belongs to another account', 'another account cannot confirm the flow'
);
select throws_ok(
  format($$select * from public.take_oauth_confirmation('pinterest', %L, %L)$$, :'confirmation', :'alice'),
  '22023', 'oauth confirmation was issued for another provider', 'a confirmation is for its provider'
);
select results_eq(
  format(
    $$select code, shop_domain from public.take_oauth_confirmation('shopify', %L, %L)$$, :'confirmation', :'alice'
  ),
  $$values ('the-code', 'held-shop.myshopify.com')$$,
  'the user who began the flow takes the held code and the shop'
);
select throws_ok(
  format($$select * from public.take_oauth_confirmation('shopify', %L, %L)$$, :'confirmation', :'alice'),
  '22023', 'oauth confirmation already used', 'a confirmation works once'
);
select tests.clear_authentication();
select is(
  (select count(*) from public.oauth_states where pending_code is not null), 0::bigint,
  'no code stays held once taken'
);

-- Pruning: states that expired over an hour ago go; recent ones stay (so they say "expired").
select tests.clear_authentication();
update public.oauth_states set expires_at = now() - interval '2 hours'
where state_hash = sha256(convert_to(:'shop_state', 'utf8'));
select tests.authenticate_as_service();
select public.begin_oauth(:'alice', 'pinterest') as pin_state_2 \gset
select tests.clear_authentication();
select results_eq(
  format(
    $$select count(*) filter (where state_hash = sha256(convert_to(%L, 'utf8'))),
             count(*) filter (where state_hash = sha256(convert_to(%L, 'utf8')))
      from public.oauth_states$$,
    :'shop_state', :'pin_state'
  ),
  $$values (0::bigint, 1::bigint)$$,
  'beginning a flow prunes states expired over an hour ago, and keeps recently expired ones'
);

-- Deleting the user deletes their states.
delete from auth.users where id = :'alice';
select is(
  (select count(*) from public.oauth_states where user_id = :'alice'),
  0::bigint,
  'deleting a user deletes their OAuth states'
);

select * from finish();
rollback;
