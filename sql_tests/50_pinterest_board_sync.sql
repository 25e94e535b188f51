-- Tests supabase/schemas/50_pinterest_board_sync.sql.
-- replace_pinterest_boards(): a sync makes a user's boards exactly the given set, leaves other
-- users' alone, refuses malformed sets, and is the service's to call. (Two syncs of one user at
-- once need two connections: tests/test_pinterest_flow.py.)
begin;
select plan(9);

select tests.create_user('pin-a@example.test') as a \gset user_
select tests.create_user('pin-b@example.test') as b \gset user_

select tests.authenticate_as_service();

select is(
  public.replace_pinterest_boards(:'user_a', '[
    {"id": "1", "name": "Quotes", "pin_count": 10, "follower_count": 3, "privacy": "PUBLIC"},
    {"id": "2", "name": "Nursery"},
    {"id": "3", "name": "Office"}]'),
  3, 'a first sync stores every board'
);
select is(
  public.replace_pinterest_boards(:'user_b', '[{"id": "1", "name": "B''s board"}]'),
  1, 'another user''s boards are their own set'
);
select is(
  public.replace_pinterest_boards(:'user_a', '[
    {"id": "1", "name": "Quotes renamed", "pin_count": 11},
    {"id": "3", "name": "Office"},
    {"id": "4", "name": "Kitchen"}]'),
  3, 'a later sync replaces the set'
);
select results_eq(
  format(
    'select pinterest_board_id, name, pin_count from public.pinterest_boards where user_id = %L order by 1',
    :'user_a'
  ),
  $$values ('1'::text, 'Quotes renamed'::text, 11), ('3', 'Office', 0), ('4', 'Kitchen', 0)$$,
  'boards are updated in place, deleted ones removed, new ones added, no duplicates'
);
select is(
  (select count(*)::int from public.pinterest_boards where user_id = :'user_b'), 1,
  'the other user''s boards are untouched'
);
select throws_ok(
  $$select public.replace_pinterest_boards(gen_random_uuid(), '{"id": "1"}')$$, '22023', null,
  'a set that is not an array is refused'
);
select throws_ok(
  $$select public.replace_pinterest_boards(gen_random_uuid(), '[{"name": "no id"}]')$$, '22023', null,
  'a board without an id is refused'
);
select is(
  public.replace_pinterest_boards(:'user_a', '[]'), 0, 'an empty set (all boards deleted on Pinterest) empties it'
);

select tests.authenticate_as(:'user_a');
select throws_ok(
  $$select public.replace_pinterest_boards(auth.uid(), '[]')$$, '42501', null,
  'a user cannot write boards through the sync function'
);

select * from finish();
rollback;
