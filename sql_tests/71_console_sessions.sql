-- Tests supabase/schemas/71_console_sessions.sql.
-- Console sessions and sign-in attempts: service only, tokens only on hosted sessions, user
-- deletion ends sessions, the attempt limit per account and per address, pruning.
begin;
select plan(14);

select tests.create_user('alice@example.com') as alice \gset

select table_privs_are('public', 'console_sessions', 'authenticated', array[]::text[], 'users cannot touch sessions');
select table_privs_are('public', 'console_sessions', 'anon', array[]::text[], 'anon cannot touch sessions');
select table_privs_are(
  'public', 'console_sign_in_attempts', 'authenticated', array[]::text[], 'users cannot touch sign-in attempts'
);
select is_empty(
  $$
    select p.oid::regprocedure, r.rolname
    from pg_catalog.pg_proc as p
    cross join pg_catalog.unnest(array['anon', 'authenticated']) as r (rolname)
    where p.oid in (
      'public.allow_sign_in_attempt(text, text, integer, integer, integer)'::regprocedure,
      'public.prune_console_sessions(integer)'::regprocedure
    )
      and pg_catalog.has_function_privilege(r.rolname, p.oid, 'execute')
  $$,
  'anon and authenticated may execute no console-session function'
);

select tests.authenticate_as(:'alice');
select throws_ok('select * from public.console_sessions', '42501', null, 'a signed-in user cannot read sessions');

select tests.authenticate_as_service();
select lives_ok(
  format(
    $$insert into public.console_sessions (session_hash, user_id, kind, csrf_token, expires_at)
      values (sha256('a'), %L, 'local', repeat('c', 43), now() + interval '1 hour')$$,
    :'alice'
  ),
  'the service stores a local session'
);
select throws_ok(
  format(
    $$insert into public.console_sessions (session_hash, user_id, kind, csrf_token, expires_at)
      values (sha256('b'), %L, 'supabase', repeat('c', 43), now() + interval '1 hour')$$,
    :'alice'
  ),
  '23514', null, 'a hosted session must hold its tokens'
);
select throws_ok(
  format(
    $$insert into public.console_sessions (session_hash, user_id, kind, csrf_token, expires_at, access_token)
      values (sha256('c'), %L, 'local', repeat('c', 43), now() + interval '1 hour', 'x')$$,
    :'alice'
  ),
  '23514', null, 'a local session holds no token'
);
select throws_ok(
  format(
    $$insert into public.console_sessions (session_hash, user_id, kind, csrf_token, expires_at)
      values (sha256('d'), %L, 'local', 'short', now() + interval '1 hour')$$,
    :'alice'
  ),
  '23514', null, 'a CSRF token is long'
);

-- Attempts: three per account, five per address, within a window.
select results_eq(
  $$select array_agg(public.allow_sign_in_attempt('Bob@Example.com', '10.0.0.1', 3, 5, 600) order by n)
    from generate_series(1, 4) as n$$,
  $$values (array[true, true, true, false])$$,
  'the fourth attempt on one account within the window is refused (case-insensitive email)'
);
select is(
  public.allow_sign_in_attempt('carol@example.com', '10.0.0.1', 3, 5, 600), true,
  'another account from the same address is still allowed'
);
select is(
  public.allow_sign_in_attempt('dave@example.com', '10.0.0.1', 3, 5, 600), false,
  'the sixth attempt from one address is refused, whatever the account'
);

-- Pruning and cascades.
select tests.clear_authentication();
update public.console_sessions set expires_at = now() - interval '1 second';
update public.console_sign_in_attempts set attempted_at = now() - interval '2 days';
select tests.authenticate_as_service();
select is(public.prune_console_sessions(), 1, 'expired sessions are pruned');
select tests.clear_authentication();
select is(
  (select count(*) from public.console_sign_in_attempts), 0::bigint, 'old sign-in attempts are pruned'
);

select * from finish();
rollback;
