-- The partitioned layout (007): where rows are stored, and that a dossier
-- moving between homes keeps one row per key with everything under it.
\ir lib.sql
SELECT plan(27);
SELECT pg_temp.rules_2024() IS NOT NULL AS rules;
SET onestop.derive_mode = 'incremental';

-- Stages one hoso row: key, unit, status, received, submitted, updated (local).
CREATE FUNCTION pg_temp.stage_dossier(k text, u text, st int, received text, submitted text,
                                      upd text) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO stg_hoso (row_number, ma_ho_so, unit_code, procedure_code, channel, status,
                          submitted_at, received_at, due_at, finished_at, paid_online,
                          updated_at)
    VALUES ((SELECT count(*) + 1 FROM stg_hoso), k, u, 'P1', 2, st, pg_temp.lt(submitted),
            pg_temp.lt(received),
            CASE WHEN st NOT IN (1, 3) THEN pg_temp.lt(received) + interval '10 days' END,
            CASE WHEN st IN (9, 10) THEN pg_temp.lt(received) + interval '3 days' END,
            false, pg_temp.lt(upd))
$$;
-- Stages log step seq of dossier k (status, done, with a step deadline).
CREATE FUNCTION pg_temp.stage_step(k text, seq int, st int, done text, upd text) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO stg_quatrinh (row_number, ma_ho_so, seq, status, done_at, department,
                              step_due_at, updated_at)
    VALUES ((SELECT count(*) + 1 FROM stg_quatrinh), k, seq, st, pg_temp.lt(done), 'Một cửa',
            pg_temp.lt(done) + interval '1 day', pg_temp.lt(upd))
$$;
CREATE FUNCTION pg_temp.stage_supplement(k text, seq int, requested text, upd text)
RETURNS void LANGUAGE sql AS $$
    INSERT INTO stg_bosung (row_number, ma_ho_so, seq, requested_at, returned_at, updated_at)
    VALUES ((SELECT count(*) + 1 FROM stg_bosung), k, seq, pg_temp.lt(requested),
            pg_temp.lt(requested) + interval '2 days', pg_temp.lt(upd))
$$;
-- Where the rows of dossier k are: "table partition unit_code count" per table.
CREATE FUNCTION pg_temp.where_is(k text) RETURNS text
LANGUAGE sql AS $$
    SELECT string_agg(x, ' ' ORDER BY x) FROM (
        SELECT format('%s:%s', tableoid::regclass, unit_code) AS x FROM dw.dossier WHERE ma_ho_so = k
        UNION ALL
        SELECT format('%s:%s', tableoid::regclass, unit_code) FROM dw.dossier_derived WHERE ma_ho_so = k
        UNION ALL
        SELECT format('%s:%s:%s', tableoid::regclass, unit_code, count(*))
        FROM dw.log_step WHERE ma_ho_so = k GROUP BY tableoid, unit_code
        UNION ALL
        SELECT format('%s:%s:%s', tableoid::regclass, unit_code, count(*))
        FROM dw.supplement WHERE ma_ho_so = k GROUP BY tableoid, unit_code
        UNION ALL
        SELECT format('key:%s:%s', unit_code, home_month) FROM dw.dossier_key WHERE ma_ho_so = k) w
$$;
CREATE FUNCTION pg_temp.explain_json(q text) RETURNS json
LANGUAGE plpgsql AS $$
DECLARE
    plan json;
BEGIN
    EXECUTE 'EXPLAIN (FORMAT JSON) ' || q INTO plan;
    RETURN plan;
END
$$;
CREATE FUNCTION pg_temp.load(p_run int, p_as_of text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM etl.merge_staging(p_run, 's1', 1, p_run);
    PERFORM etl.derive(pg_temp.lt(p_as_of));
END
$$;

-- Night 1: a dossier received in March with its log and a supplement; one
-- submitted but not received (home: the month of NgayNopHoSo); one with
-- neither date (home: the month of CapNhatLuc); log steps of a dossier not
-- known yet; a dossier that will change unit.
BEGIN;
SELECT etl.create_staging();
SELECT pg_temp.stage_dossier('MOVE', 'U1', 2, '2024-03-28 10:00', NULL, '2024-03-28 10:00'),
       pg_temp.stage_step('MOVE', 1, 2, '2024-03-28 10:01', '2024-03-28 10:01'),
       pg_temp.stage_step('MOVE', 2, 4, '2024-03-29 10:00', '2024-03-29 10:00'),
       pg_temp.stage_supplement('MOVE', 1, '2024-03-29 11:00', '2024-03-29 11:00'),
       pg_temp.stage_dossier('SUBMITTED', 'U1', 1, NULL, '2024-02-27 20:00', '2024-02-27 20:00'),
       pg_temp.stage_dossier('BARE', 'U1', 3, NULL, NULL, '2024-01-15 08:00'),
       pg_temp.stage_step('LATE', 1, 2, '2024-03-30 09:00', '2024-03-30 09:00'),
       pg_temp.stage_step('LATE', 2, 4, '2024-03-30 10:00', '2024-03-30 10:00'),
       pg_temp.stage_dossier('UNIT', 'U1', 4, '2024-03-05 09:00', NULL, '2024-03-05 09:00'),
       pg_temp.stage_step('UNIT', 1, 2, '2024-03-05 09:01', '2024-03-05 09:01');
SELECT pg_temp.load(1, '2024-04-01 00:00');
COMMIT;

SELECT is(pg_temp.where_is('MOVE'),
    'dw.dossier_derived_p202403:U1 dw.dossier_p202403:U1 dw.log_step_p202403:U1:2 dw.supplement_p202403:U1:1 key:U1:2024-03-01',
    'received in March: everything under (U1, March)');
SELECT is(pg_temp.where_is('SUBMITTED'),
    'dw.dossier_derived_p202402:U1 dw.dossier_p202402:U1 key:U1:2024-02-01',
    'not received: the month of submission');
SELECT is(pg_temp.where_is('BARE'),
    'dw.dossier_derived_p202401:U1 dw.dossier_p202401:U1 key:U1:2024-01-01',
    'neither received nor submitted: the month of the change');
SELECT is(pg_temp.where_is('LATE'), 'dw.log_step_p000101::2',
    'the log of a dossier not known waits under the orphans'' home');
SELECT is((SELECT count(*) FROM mart.dossier), 4::bigint, 'mart.dossier: the four known');
SELECT is((SELECT received FROM mart.unit_kpi WHERE unit_code = 'U1'
                   AND period_kind = 'month' AND period_start = '2024-03-01'), 2::bigint,
                  'March counts MOVE and UNIT');
SELECT is((SELECT steps FROM mart.step_delay WHERE unit_code = 'U1'
                   AND period_kind = 'year' AND period_start = '2024-01-01'), 3::bigint,
                  'the orphan steps count nowhere yet');

-- Night 2: MOVE's receipt is corrected into April, with a new step; the
-- submitted dossier is received in March; LATE's dossier arrives (May);
-- UNIT moves to U2; BARE gets an older version (superseded).
BEGIN;
SELECT etl.create_staging();
SELECT pg_temp.stage_dossier('MOVE', 'U1', 4, '2024-04-02 10:00', NULL, '2024-04-02 10:00'),
       pg_temp.stage_step('MOVE', 3, 4, '2024-04-03 10:00', '2024-04-03 10:00'),
       pg_temp.stage_dossier('SUBMITTED', 'U1', 2, '2024-03-01 08:00', '2024-02-27 20:00',
                             '2024-03-01 08:00'),
       pg_temp.stage_dossier('LATE', 'U3', 4, '2024-05-10 09:00', NULL, '2024-05-10 09:00'),
       pg_temp.stage_dossier('UNIT', 'U2', 4, '2024-03-05 09:00', NULL, '2024-04-01 09:00'),
       pg_temp.stage_dossier('BARE', 'U9', 3, NULL, NULL, '2024-01-14 08:00');
SELECT pg_temp.load(2, '2024-05-11 00:00');
COMMIT;

SELECT is(pg_temp.where_is('MOVE'),
    'dw.dossier_derived_p202404:U1 dw.dossier_p202404:U1 dw.log_step_p202404:U1:3 dw.supplement_p202404:U1:1 key:U1:2024-04-01',
    'receipt moved to April: the dossier, its derived row, log and supplement with it');
SELECT is((SELECT count(*) FROM dw.dossier WHERE ma_ho_so = 'MOVE'), 1::bigint,
                  'moved: one row per key');
SELECT is(pg_temp.where_is('SUBMITTED'),
    'dw.dossier_derived_p202403:U1 dw.dossier_p202403:U1 key:U1:2024-03-01',
    'received at last: moved to the month of receipt');
SELECT is(pg_temp.where_is('LATE'),
    'dw.dossier_derived_p202405:U3 dw.dossier_p202405:U3 dw.log_step_p202405:U3:2 key:U3:2024-05-01',
    'the dossier arrives: its waiting log moves under its home');
SELECT is(pg_temp.where_is('UNIT'),
    'dw.dossier_derived_p202403:U2 dw.dossier_p202403:U2 dw.log_step_p202403:U2:1 key:U2:2024-03-01',
    'a new unit: a new home');
SELECT is(pg_temp.where_is('BARE') || ' ' || (SELECT unit_code FROM dw.dossier
                                                       WHERE ma_ho_so = 'BARE'),
    'dw.dossier_derived_p202401:U1 dw.dossier_p202401:U1 key:U1:2024-01-01 U1',
    'an older version moves nothing');
SELECT is((SELECT count(*) FROM dw.log_step WHERE home_month = dw.orphan_month()),
                  0::bigint, 'no orphans left');
SELECT results_eq($$SELECT period_start, received FROM mart.unit_kpi
                    WHERE unit_code = 'U1' AND period_kind = 'month'
                      AND period_start BETWEEN '2024-03-01' AND '2024-04-01'
                    ORDER BY period_start$$,
                  $$VALUES (date '2024-03-01', 1::bigint), (date '2024-04-01', 1::bigint)$$,
                  'U1 counts SUBMITTED in March and MOVE in April');
SELECT set_eq($$SELECT unit_code, steps FROM mart.step_delay
                WHERE period_kind = 'year' AND period_start = '2024-01-01'$$,
              $$VALUES ('U1', 3::bigint), ('U2', 1::bigint), ('U3', 2::bigint)$$,
              'steps follow their dossiers'' units');
SELECT is(pg_temp.marts_equal_rescore(pg_temp.lt('2024-05-11 00:00')), NULL,
                  'after the moves: derive = rescore');

-- Night 3: MOVE back to March; the step of UNIT replaced by a later version.
BEGIN;
SELECT etl.create_staging();
SELECT pg_temp.stage_dossier('MOVE', 'U1', 9, '2024-03-28 10:00', NULL, '2024-05-12 10:00'),
       pg_temp.stage_step('UNIT', 1, 2, '2024-03-05 09:30', '2024-05-12 09:00');
SELECT pg_temp.load(3, '2024-05-13 00:00');
COMMIT;
SELECT is(pg_temp.where_is('MOVE'),
    'dw.dossier_derived_p202403:U1 dw.dossier_p202403:U1 dw.log_step_p202403:U1:3 dw.supplement_p202403:U1:1 key:U1:2024-03-01',
    'and back to March');
SELECT is((SELECT count(*) FROM dw.dossier_p202404), 0::bigint, 'April is empty again');
SELECT is((SELECT to_char(done_at AT TIME ZONE 'Asia/Ho_Chi_Minh', 'HH24:MI')
                   FROM dw.log_step WHERE ma_ho_so = 'UNIT'), '09:30',
                  'a step''s new version replaces it in place');
SELECT is(pg_temp.marts_equal_rescore(pg_temp.lt('2024-05-13 00:00')), NULL,
                  'after moving back: derive = rescore');

-- Partitions: one per month holding a home, for each of the four tables.
SELECT is((SELECT string_agg(DISTINCT to_char(home_month, 'YYYY-MM'), ' ')
                   FROM dw.dossier_key), '2024-01 2024-03 2024-05', 'homes in use');
SELECT is((SELECT count(*) FROM pg_inherits i
                   WHERE i.inhparent IN ('dw.dossier'::regclass, 'dw.dossier_derived'::regclass,
                                         'dw.supplement'::regclass, 'dw.log_step'::regclass)
                     AND i.inhrelid::regclass::text LIKE '%\_p202404'), 4::bigint,
                  'April has a partition in each table');
-- a query for a month of dossiers reads that month's partitions only
SELECT is((SELECT count(*) FROM (
                       SELECT regexp_matches(plan::text, '"(dossier|log_step)_p\d{6}"', 'g')
                       FROM (SELECT pg_temp.explain_json('SELECT * FROM dw.dossier d
                                 JOIN dw.log_step s USING (ma_ho_so, unit_code, home_month)
                                 WHERE d.home_month = date ''2024-03-01''') AS plan) p) m),
                  2::bigint, 'partition pruning: one month, one partition of each table');

-- A first load that brings the log before its dossiers: the dossiers, when
-- they come, take their log home (the one-pass load of an empty warehouse
-- does not apply while rows wait).
TRUNCATE dw.dossier_key, dw.dossier, dw.dossier_derived, dw.supplement, dw.log_step;
BEGIN; SELECT etl.rescore(pg_temp.lt('2024-06-01 00:00')); COMMIT;
BEGIN;
SELECT etl.create_staging();
SELECT pg_temp.stage_step('FIRST', 1, 2, '2024-06-03 09:01', '2024-06-03 09:01'),
       pg_temp.stage_supplement('FIRST', 1, '2024-06-04 09:00', '2024-06-04 09:00');
SELECT pg_temp.load(4, '2024-06-05 00:00');
COMMIT;
SELECT is(pg_temp.where_is('FIRST'), 'dw.log_step_p000101::1 dw.supplement_p000101::1',
                  'log first: it waits');
BEGIN;
SELECT etl.create_staging();
SELECT pg_temp.stage_dossier('FIRST', 'U5', 2, '2024-06-03 09:00', NULL, '2024-06-03 09:00');
SELECT pg_temp.load(5, '2024-06-05 00:00');
COMMIT;
SELECT is(pg_temp.where_is('FIRST'),
    'dw.dossier_derived_p202406:U5 dw.dossier_p202406:U5 dw.log_step_p202406:U5:1 dw.supplement_p202406:U5:1 key:U5:2024-06-01',
    'then its dossier: all under its home');
SELECT is(pg_temp.marts_equal_rescore(pg_temp.lt('2024-06-05 00:00')), NULL,
                  'log first: derive = rescore');
SELECT * FROM finish();
