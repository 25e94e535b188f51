-- Tests supabase/schemas/51_pinterest_pins.sql.
-- The service's pin functions: creating a pin holds Pinterest's limits and the board's owner; a
-- sync's pages upsert by Pinterest id and only a finished sync removes what it did not see; day
-- metrics replace a day; account figures touch only the two Pinterest columns of daily_metrics;
-- the publisher's claim takes due pins once; users can call none of them.
begin;
select plan(24);

select tests.create_user('pins-a@example.test') as a \gset user_
select tests.create_user('pins-b@example.test') as b \gset user_

select tests.authenticate_as_service();

select public.replace_pinterest_boards(:'user_a', '[{"id": "b1", "name": "Quotes"}]');
select public.replace_pinterest_boards(:'user_b', '[{"id": "b9", "name": "B''s"}]');
select id as board_a from public.pinterest_boards where user_id = :'user_a' \gset
select id as board_b from public.pinterest_boards where user_id = :'user_b' \gset

-- create_pin
select is(
  (
    public.create_pin(:'user_a', :'board_a', 'Title', 'Words', 'https://shop.example/p', 'https://img.example/1.jpg')
  ).status,
  'draft', 'a pin without a time is a draft'
);
select is(
  (
    public.create_pin(
      :'user_a', :'board_a', 'Later', null, null, 'https://img.example/2.jpg', null, now() - interval '1 minute'
    )
  ).status,
  'scheduled', 'a pin with a time is scheduled'
);
select throws_ok(
  format(
    $$select public.create_pin(%L, %L, 'x', null, null, 'https://img.example/1.jpg')$$, :'user_a', :'board_b'
  ),
  'P0002', null, 'another user''s board is no board of yours'
);
select throws_ok(
  format(
    $$select public.create_pin(%L, %L, repeat('t', 101), null, null, 'https://i.example/1')$$,
    :'user_a', :'board_a'
  ),
  '22023', 'create_pin: the title is longer than 100 characters', 'a title past 100 characters is refused'
);
select throws_ok(
  format(
    $$select public.create_pin(%L, %L, 't', repeat('d', 501), null, 'https://i.example/1')$$,
    :'user_a', :'board_a'
  ),
  '22023', null, 'a description past 500 characters is refused'
);
select throws_ok(
  format(
    $$select public.create_pin(%L, %L, 't', null, 'javascript:alert(1)', 'https://i.example/1')$$,
    :'user_a', :'board_a'
  ),
  '22023', null, 'a link that is not http(s) is refused'
);
select throws_ok(
  format($$select public.create_pin(%L, %L, 't', null, null, null)$$, :'user_a', :'board_a'),
  '22023', null, 'a pin needs an image URL'
);

-- a sync: pages upsert, only the end removes
select is(
  public.upsert_pinterest_pins(:'user_a', '[
    {"id": "p1", "board_id": "b1", "title": "One", "created_at": "2026-01-01T00:00:00Z"},
    {"id": "p2", "board_id": "unknown", "title": "Two"}]', '2026-11-01'),
  2, 'a page of pins is written'
);
select results_eq(
  format(
    'select pinterest_pin_id, board_id is not null, status from public.pins where user_id = %L'
    || ' and pinterest_pin_id is not null order by 1', :'user_a'
  ),
  $$ values ('p1'::text, true, 'published'::text), ('p2', false, 'published') $$,
  'imported pins are published, on their board when it is known'
);
select is(
  public.upsert_pinterest_pins(:'user_a', '[{"id": "p1", "board_id": "b1", "title": "One again"}]', '2026-11-02'),
  1, 'a later sync''s page'
);
select is(
  (select count(*)::int from public.pins where user_id = :'user_a' and status = 'removed'), 0,
  'a page alone removes nothing (the sync may stop before its last page)'
);
select is(public.finish_pinterest_pin_sync(:'user_a', '2026-11-02'), 1, 'a finished sync removes what it did not see');
select results_eq(
  format(
    'select pinterest_pin_id, title, status from public.pins where user_id = %L'
    || ' and pinterest_pin_id is not null order by 1', :'user_a'
  ),
  $$ values ('p1'::text, 'One again'::text, 'published'::text), ('p2', 'Two', 'removed') $$,
  'p1 updated in place, p2 removed (kept, with its metrics)'
);
select throws_ok(
  format($$select public.upsert_pinterest_pins(%L, '[{"title": "no id"}]', now())$$, :'user_a'),
  '22023', null, 'a pin without an id is refused'
);

-- metrics
select id as pin1 from public.pins where pinterest_pin_id = 'p1' \gset
select is(
  public.record_pin_metrics(:'user_a', :'pin1', '[
    {"date": "2026-11-01", "impressions": 10, "saves": 1, "clicks": 2, "engagement_rate": 0.3},
    {"date": "2026-11-02", "impressions": 20, "saves": 0, "clicks": 1, "engagement_rate": 0.05}]'),
  2, 'a pin''s days are stored'
);
select public.record_pin_metrics(:'user_a', :'pin1', '[{"date": "2026-11-02", "impressions": 25}]');
select results_eq(
  format('select metric_date::text, impressions from public.pin_analytics where pin_id = %L order by 1', :'pin1'),
  $$ values ('2026-11-01', 10::bigint), ('2026-11-02', 25::bigint) $$,
  'a day read again replaces that day'
);
select throws_ok(
  format($$select public.record_pin_metrics(%L, %L, '[]')$$, :'user_b', :'pin1'),
  'P0002', null, 'another user''s pin is no pin of yours'
);

insert into public.daily_metrics (user_id, date, revenue, orders) values (:'user_a', '2026-11-01', 99.50, 3);
select is(
  public.record_pinterest_account_metrics(:'user_a', '[
    {"date": "2026-11-01", "impressions": 500, "clicks": 7}, {"date": "2026-11-02", "impressions": 90}]'),
  2, 'account days are written'
);
select results_eq(
  format(
    'select date::text, revenue, orders, pin_impressions, pin_clicks from public.daily_metrics'
    || ' where user_id = %L order by 1', :'user_a'
  ),
  $$ values ('2026-11-01', 99.50::numeric, 3, 500::bigint, 7::bigint), ('2026-11-02', 0, 0, 90, 0) $$,
  'only pin_impressions and pin_clicks change; the shop''s figures of the day stay'
);

-- the publisher
select is(
  (select count(*)::int from public.claim_due_pins(10)), 1, 'the due scheduled pin is claimed'
);
select is((select count(*)::int from public.claim_due_pins(10)), 0, 'a claimed pin is not claimed again');
select pin_id as scheduled from (select id as pin_id from public.pins where status = 'publishing') as s \gset
select ok(public.record_pin_published(:'user_a', :'scheduled', 'p77', now()), 'publishing -> published');
select ok(
  not public.record_pin_failed(:'user_a', :'scheduled', 'late'), 'a published pin cannot be failed afterwards'
);

select tests.authenticate_as(:'user_a');
select throws_ok(
  $$select public.claim_due_pins(1)$$, '42501', null, 'users cannot call the service''s pin functions'
);

select * from finish();
rollback;
