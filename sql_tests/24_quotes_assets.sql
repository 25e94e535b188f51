-- Tests supabase/schemas/24_quotes_assets.sql.
-- Users write their quotes directly (PostgREST): what they write is bounded and its status known.
-- (RLS on quotes and assets is tested through the export views, sql_tests/30_export_views.sql.)
begin;
select plan(9);

select tests.create_user('alice@example.com') as alice \gset
select tests.authenticate_as(:'alice');

select lives_ok(
  $$insert into public.quotes (user_id, text, attribution, collection, mood, status)
    values (auth.uid(), 'Be here now', 'Ram Dass', 'Mindful', 'calm', 'approved')$$,
  'a quote with its attribution, collection, mood and a known status is kept'
);
select is((select status from public.quotes), 'approved', 'with that status');
select throws_ok(
  $$insert into public.quotes (user_id, text) values (auth.uid(), repeat('x', 50 * 1024 * 1024))$$,
  '23514', null, 'a 50 MB quote is refused'
);
select throws_ok(
  $$insert into public.quotes (user_id, text) values (auth.uid(), repeat('x', 2001))$$,
  '23514', null, 'a quote holds at most 2000 characters'
);
select throws_ok(
  $$insert into public.quotes (user_id, text, attribution) values (auth.uid(), 'x', repeat('a', 201))$$,
  '23514', null, 'an attribution at most 200'
);
select throws_ok(
  $$insert into public.quotes (user_id, text, collection) values (auth.uid(), 'x', repeat('c', 101))$$,
  '23514', null, 'a collection at most 100'
);
select throws_ok(
  $$insert into public.quotes (user_id, text, mood) values (auth.uid(), 'x', repeat('m', 101))$$,
  '23514', null, 'a mood at most 100'
);
select throws_ok(
  $$insert into public.quotes (user_id, text, status) values (auth.uid(), 'x', 'published')$$,
  '23514', null, 'a status is draft, approved or archived'
);
select throws_ok(
  $$update public.quotes set text = repeat('x', 10000)$$,
  '23514', null, 'an update is held to the same bounds'
);

select * from finish();
rollback;
