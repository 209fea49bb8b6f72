-- reports.md, "The books balance", over a random incremental history: after
-- each of several loads derived incrementally, every row of mart.form06
-- has col 3 = col 7 + col 11, each period's col 11 is the next period's
-- col 6 (an absent row counting as zeros; the last period against
-- mart.form06_range of the next), and mart.form06 is what a full rescore
-- gives.  The loads withdraw dossiers (with and without a step 7), move
-- them between units, change fields in the catalogue, send supplements.
\ir lib.sql
SELECT plan(17);
SET onestop.derive_mode = 'incremental';
SELECT pg_temp.rules_2024() IS NOT NULL AS rules;
SELECT setseed(0.17);

CREATE FUNCTION pg_temp.load(p_run int, p_n int, p_upd_from text, p_upd_to text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    lo timestamptz := pg_temp.lt(p_upd_from);
    span interval := pg_temp.lt(p_upd_to) - pg_temp.lt(p_upd_from);
BEGIN
    PERFORM etl.create_staging();
    INSERT INTO stg_thutuc (row_number, unit_code, procedure_code, procedure_name, field_code,
                            field_name, level, legal_days, fee, in_force, updated_at)
    SELECT g, 'U' || (random() * 6)::int, 'P' || (random() * 4)::int, 'TTHC',
           (ARRAY['HT', ' HT', 'DD', '', NULL, 'GD'])[1 + (random() * 5)::int],
           'Lĩnh vực ' || p_run, 1 + (random() * 3)::int, (random() * 8)::int, false, true,
           lo - interval '200 days' + random() * (span + interval '200 days')
    FROM generate_series(1, 8) g;
    INSERT INTO stg_hoso (row_number, ma_ho_so, unit_code, procedure_code, channel, status,
                          received_at, due_at, finished_at, paid_online, updated_at)
    SELECT g, k, u, p, ch, st,
           CASE WHEN st NOT IN (1, 3) OR random() < 0.5 THEN r END,
           CASE WHEN st NOT IN (1, 3, 7) OR random() < 0.5
                THEN r + (random() * 40 - 5)::int * interval '1 day' END,
           CASE WHEN st IN (9, 10) OR (st = 7 AND random() < 0.5)
                THEN r + (random() * 80 - 3)::int * interval '1 day' + random() * interval '10 hours' END,
           false, upd
    FROM (SELECT g, 'H' || (random() * 300)::int AS k, 'U' || (random() * 6)::int AS u,
                 'P' || (random() * 5)::int AS p, 1 + (random() * 2)::int AS ch,
                 (ARRAY[1, 2, 4, 5, 7, 7, 9, 10, 10])[1 + (random() * 8)::int] AS st,
                 lo - interval '90 days' + random() * span + random() * interval '23 hours' AS r,
                 lo + random() * span AS upd
          FROM generate_series(1, p_n) g) x;
    INSERT INTO stg_bosung (row_number, ma_ho_so, seq, requested_at, returned_at, updated_at)
    SELECT g, 'H' || (random() * 300)::int, 1 + (random() * 2)::int, q,
           CASE WHEN random() < 0.7 THEN q + (random() * 20 - 2)::int * interval '1 day' END,
           lo + random() * span
    FROM (SELECT g, lo - interval '60 days' + random() * span AS q
          FROM generate_series(1, p_n / 3) g) x;
    INSERT INTO stg_quatrinh (row_number, ma_ho_so, seq, status, done_at, department,
                              step_due_at, updated_at)
    SELECT g, 'H' || (random() * 300)::int, 1 + (random() * 4)::int,
           (ARRAY[2, 4, 7, 7, 9])[1 + (random() * 4)::int], t, 'Một cửa', NULL,
           lo + random() * span
    FROM (SELECT g, lo - interval '60 days' + random() * span AS t
          FROM generate_series(1, p_n) g) x;
    PERFORM etl.merge_staging(p_run, 's1', 1, p_run);
    PERFORM etl.derive(pg_temp.lt(p_upd_to));
    INSERT INTO derived_as SELECT p_run, derived FROM pg_temp.work_state;
END
$$;
CREATE TEMP TABLE derived_as (run int, derived text);

\ir form06_checks.sql

CREATE FUNCTION pg_temp.check(p_as_of text, p_name text) RETURNS SETOF text
LANGUAGE plpgsql AS $$
DECLARE
    rows bigint;
    diff bigint;
BEGIN
    RETURN NEXT is(pg_temp.unbalanced(), 0::bigint, p_name || ': col 3 = col 7 + col 11 on every row');
    RETURN NEXT is(pg_temp.unchained(), 0::bigint, p_name || ': col 11 = next period''s col 6');
    CREATE TEMP TABLE inc ON COMMIT DROP AS SELECT * FROM mart.form06;
    PERFORM etl.rescore(pg_temp.lt(p_as_of));
    SELECT count(*) INTO rows FROM mart.form06;
    SELECT count(*) INTO diff
    FROM ((SELECT * FROM inc EXCEPT ALL SELECT * FROM mart.form06)
          UNION ALL (SELECT * FROM mart.form06 EXCEPT ALL SELECT * FROM inc)) x;
    RETURN NEXT ok(rows >= 100, p_name || ': enough rows to mean anything (' || rows || ')');
    RETURN NEXT is(diff, 0::bigint, p_name || ': incremental = rescore');
    DROP TABLE inc;
END
$$;

BEGIN; SELECT pg_temp.load(1, 600, '2024-01-01 00:00', '2024-03-01 00:00'); COMMIT;
BEGIN; SELECT pg_temp.check('2024-03-01 00:00', 'after load 1'); COMMIT;
BEGIN; SELECT pg_temp.load(2, 150, '2024-03-01 00:00', '2024-04-20 00:00'); COMMIT;
BEGIN; SELECT pg_temp.load(3, 150, '2024-04-20 00:00', '2024-06-14 12:00'); COMMIT;
BEGIN; SELECT pg_temp.load(4, 150, '2024-06-14 12:00', '2024-06-16 00:00'); COMMIT;
BEGIN; SELECT pg_temp.load(5, 150, '2023-10-01 00:00', '2023-12-20 00:00'); COMMIT;
BEGIN; SELECT pg_temp.load(6, 150, '2024-06-16 00:00', '2024-12-31 23:00'); COMMIT;
BEGIN; SELECT pg_temp.check('2025-01-01 00:00', 'after six loads'); COMMIT;
BEGIN; SELECT pg_temp.load(7, 100, '2024-12-31 23:00', '2025-01-20 00:00'); COMMIT;
BEGIN; SELECT pg_temp.check('2025-01-20 00:00', 'after a load into a new report year'); COMMIT;

SELECT is((SELECT string_agg(DISTINCT derived, ',') FROM derived_as WHERE run > 1), 'incremental',
          'loads 2-7 were derived incrementally');

-- every received dossier is received once per kind, in a period of the span
SELECT is((SELECT sum(received_online + received_offline)::bigint FROM mart.form06
           WHERE period_kind = k),
          (SELECT count(*) FROM mart.dossier WHERE class <> 'not_received'),
          'every received dossier received once in ' || k)
FROM unnest(ARRAY['report_month', 'report_quarter', 'report_half', 'report_year']) k;
SELECT * FROM finish();
