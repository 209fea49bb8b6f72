-- etl.derive after each of several loads gives exactly what etl.rescore
-- gives from the stored rows: the incremental derivation misses nothing.
-- (These loads are small against what is stored, and would go bulk: the
-- incremental path is forced; test_bulk compares the two.)
\ir lib.sql
SELECT plan(9);
SET onestop.derive_mode = 'incremental';
SELECT pg_temp.rules_2024() IS NOT NULL AS rules;
SELECT setseed(0.42);

-- A lineage over the random units (rules.md, "Units across
-- reorganisations"): a merger, a chain, a code ended mid-history; changed
-- between loads below.  The marts by current unit and the catalogue counts
-- across it must come out of the incremental loads as a rescore has them
-- (U1, whose catalogue a test below follows, is left out).
CREATE FUNCTION pg_temp.lineage(p_rows text) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM etl.create_lineage_staging();
    EXECUTE 'INSERT INTO stg_lineage (from_code, to_code, effective, basis, line) VALUES '
            || p_rows;
    RETURN etl.apply_lineage();
END
$$;
BEGIN;
SELECT pg_temp.lineage($$('U9', 'U2', '2024-04-01', NULL, 2), ('U3', 'U4', '2024-06-15', NULL, 3),
                         ('U4', 'U5', '2024-09-01', NULL, 4), ('U6', 'U0', '2024-07-01', NULL, 5)$$);
COMMIT;

-- One load: n dossiers drawn from a pool, with random changes; some rows
-- older than what is stored, some moving to another unit or out of scope.
CREATE FUNCTION pg_temp.load(p_run int, p_n int, p_upd_from text, p_upd_to text, p_as_of text)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    lo timestamptz := pg_temp.lt(p_upd_from);
    span interval := pg_temp.lt(p_upd_to) - pg_temp.lt(p_upd_from);
BEGIN
    PERFORM etl.create_staging();
    INSERT INTO stg_donvi (row_number, unit_code, unit_name, level, updated_at)
    SELECT g, 'U' || (random() * 12)::int, 'Đơn vị ' || p_run || '-' || g, 'XA', lo + random() * span
    FROM generate_series(1, 4) g;
    INSERT INTO stg_thutuc (row_number, unit_code, procedure_code, procedure_name, level,
                            legal_days, fee, in_force, updated_at)
    SELECT g, 'U' || (random() * 12)::int, 'P' || (random() * 5)::int, 'TTHC',
           1 + (random() * 3)::int, (random() * 10)::int, random() < 0.5, random() < 0.9,
           lo - interval '200 days' + random() * (span + interval '200 days')
    FROM generate_series(1, 15) g;
    INSERT INTO stg_hoso (row_number, ma_ho_so, unit_code, procedure_code, channel, status,
                          received_at, due_at, finished_at, paid_online, updated_at)
    SELECT g, k, u, p, ch, st,
           CASE WHEN st NOT IN (1, 3) OR random() < 0.5 THEN r END,
           CASE WHEN st NOT IN (1, 3, 7) THEN r + (random() * 15)::int * interval '1 day' END,
           CASE WHEN st IN (9, 10) OR (st = 7 AND random() < 0.5)
                THEN r + (random() * 20)::int * interval '1 day' + random() * interval '10 hours' END,
           random() < 0.3, upd
    FROM (SELECT g, 'H' || (random() * 400)::int AS k, 'U' || (random() * 12)::int AS u,
                 'P' || (random() * 6)::int AS p, 1 + (random() * 2)::int AS ch,
                 1 + (random() * 9)::int AS st,
                 lo - interval '60 days' + random() * span + random() * interval '23 hours' AS r,
                 lo - interval '30 days' + random() * (span + interval '30 days') AS upd
          FROM generate_series(1, p_n) g) x;
    INSERT INTO stg_bosung (row_number, ma_ho_so, seq, requested_at, returned_at, updated_at)
    SELECT g, 'H' || (random() * 400)::int, 1 + (random() * 2)::int, q,
           CASE WHEN random() < 0.8 THEN q + (random() * 6)::int * interval '1 day' END,
           lo + random() * span
    FROM (SELECT g, lo - interval '40 days' + random() * span AS q
          FROM generate_series(1, p_n / 4) g) x;
    INSERT INTO stg_quatrinh (row_number, ma_ho_so, seq, status, done_at, department,
                              step_due_at, updated_at)
    SELECT g, 'H' || (random() * 400)::int, 1 + (random() * 4)::int,
           (ARRAY[2, 4, 4, 9, 10, 7])[1 + (random() * 5)::int], t,
           (ARRAY['Một cửa', 'Chuyên môn', NULL])[1 + (random() * 2)::int],
           CASE WHEN random() < 0.8 THEN t + (random() * 4 - 2)::int * interval '1 day' END,
           lo + random() * span
    FROM (SELECT g, lo - interval '40 days' + random() * span AS t
          FROM generate_series(1, p_n) g) x;
    PERFORM etl.merge_staging(p_run, 's' || (p_run % 2), 1 + p_run % 2, p_run);
    PERFORM etl.derive(pg_temp.lt(p_as_of));
END
$$;

CREATE FUNCTION pg_temp.marts() RETURNS TABLE (t text, r jsonb) LANGUAGE sql AS $$
    SELECT 'kpi', to_jsonb(k) FROM mart.unit_kpi k
    UNION ALL SELECT 'dossier', to_jsonb(d) FROM mart.dossier d
    UNION ALL SELECT 'unit', to_jsonb(u) FROM mart.unit u
    UNION ALL SELECT 'step', to_jsonb(s) FROM mart.step_delay s
    UNION ALL SELECT 'score', to_jsonb(s) FROM mart.compliance_score s
    UNION ALL SELECT 'total', to_jsonb(c) FROM mart.compliance_total c
    UNION ALL SELECT 'kpi_current', to_jsonb(k) FROM mart.unit_kpi_current k
    UNION ALL SELECT 'form06_current', to_jsonb(f) FROM mart.form06_current f
    UNION ALL SELECT 'form06', to_jsonb(f) FROM mart.form06 f
$$;

CREATE FUNCTION pg_temp.check_against_rescore(p_as_of text, name text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    diff bigint;
    rows bigint;
    sample text;
BEGIN
    CREATE TEMP TABLE inc AS SELECT * FROM pg_temp.marts();
    PERFORM etl.rescore(pg_temp.lt(p_as_of));
    CREATE TEMP TABLE full_ AS SELECT * FROM pg_temp.marts();
    SELECT count(*) INTO rows FROM full_;
    SELECT count(*), min(x.t || ' ' || x.r::text) INTO diff, sample
    FROM ((SELECT 'inc only' AS side, * FROM (SELECT * FROM inc EXCEPT ALL SELECT * FROM full_) a)
          UNION ALL
          (SELECT 'rescore only', * FROM (SELECT * FROM full_ EXCEPT ALL SELECT * FROM inc) b)) x (side, t, r);
    DROP TABLE inc, full_;
    IF rows < 1000 THEN
        RETURN ok(false, name) || E'\n' || diag('too few mart rows to mean anything: ' || rows);
    END IF;
    RETURN is(diff, 0::bigint, name || ' (' || rows || ' mart rows)')
           || CASE WHEN diff > 0 THEN E'\n' || diag('e.g. ' || left(sample, 400)) ELSE '' END;
END
$$;

BEGIN; SELECT pg_temp.load(1, 1500, '2024-01-01 00:00', '2024-03-01 00:00', '2024-03-01 00:00'); COMMIT;
SELECT pg_temp.check_against_rescore('2024-03-01 00:00', 'after load 1: derive = rescore');
BEGIN; SELECT pg_temp.load(2, 400, '2024-03-01 00:00', '2024-05-20 00:00', '2024-05-20 00:00'); COMMIT;
BEGIN; SELECT pg_temp.load(3, 400, '2024-05-20 00:00', '2024-06-30 12:00', '2024-06-30 12:00'); COMMIT;
-- the lineage changes between two nights: a row goes, one moves, one comes
BEGIN;
SELECT pg_temp.lineage($$('U9', 'U2', '2024-04-01', NULL, 2), ('U3', 'U4', '2024-05-01', NULL, 3),
                         ('U4', 'U5', '2024-09-01', NULL, 4), ('U7', 'U8', '2024-02-01', NULL, 5)$$);
COMMIT;
BEGIN; SELECT pg_temp.load(4, 400, '2024-06-30 12:00', '2024-07-02 00:00', '2024-07-02 00:00'); COMMIT;
BEGIN; SELECT pg_temp.load(5, 400, '2023-11-01 00:00', '2024-01-01 00:00', '2024-07-03 00:00'); COMMIT;
BEGIN; SELECT pg_temp.load(6, 400, '2024-07-03 00:00', '2024-12-31 23:00', '2025-01-05 00:00'); COMMIT;
SELECT pg_temp.check_against_rescore('2025-01-05 00:00', 'after six loads: derive = rescore');
-- changes inside the span, across the report years' edge (15 December): form
-- 06's rows are rebuilt from the report year of each change, on the stocks
-- of the stored month before it
BEGIN; SELECT pg_temp.load(7, 300, '2024-12-10 00:00', '2024-12-20 00:00', '2025-01-05 12:00'); COMMIT;
SELECT pg_temp.check_against_rescore('2025-01-05 12:00', 'a load inside the span: derive = rescore');

-- a derivation with nothing merged only moves the periods not ended
BEGIN; SELECT etl.create_staging(); SELECT etl.derive(pg_temp.lt('2025-01-06 00:00')); COMMIT;
SELECT pg_temp.check_against_rescore('2025-01-06 00:00', 'empty derive = rescore');

-- a catalogue version dated after the run's start comes into force while no
-- row changes: the next derivation must still move the current periods
BEGIN;
SELECT etl.create_staging();
INSERT INTO stg_thutuc (row_number, unit_code, procedure_code, procedure_name, level,
                        legal_days, fee, in_force, updated_at) VALUES
    (1, 'U1', 'PF', 'Hiện tại', 1, 3, false, true, pg_temp.lt('2024-01-01 00:00')),
    (2, 'U1', 'PF', 'Tương lai', 4, 3, false, true, pg_temp.lt('2025-01-10 00:00'));
INSERT INTO stg_hoso (row_number, ma_ho_so, unit_code, procedure_code, channel, status,
                      received_at, due_at, finished_at, paid_online, updated_at) VALUES
    (1, 'JAN', 'U1', 'PF', 2, 4, pg_temp.lt('2025-01-06 09:00'), pg_temp.lt('2025-01-09 17:00'),
     NULL, false, pg_temp.lt('2025-01-06 09:00'));
SELECT count(*) FROM etl.merge_staging(7, 's1', 1, 7);
SELECT etl.derive(pg_temp.lt('2025-01-07 00:00'));
COMMIT;
CREATE TEMP TABLE before_ AS SELECT procedures_level4 FROM mart.unit_kpi
WHERE unit_code = 'U1' AND period_kind = 'month' AND period_start = '2025-01-01';
BEGIN; SELECT etl.create_staging(); SELECT etl.derive(pg_temp.lt('2025-01-12 00:00')); COMMIT;
SELECT is((SELECT procedures_level4 FROM mart.unit_kpi
                   WHERE unit_code = 'U1' AND period_kind = 'month' AND period_start = '2025-01-01'),
                  (SELECT procedures_level4 + 1 FROM before_),
                  'a version dated after one run is in force at the next');
SELECT pg_temp.check_against_rescore('2025-01-12 00:00', 'period not ended moves with the run''s start');

-- sums: every dossier counted once per kind
SELECT is((SELECT sum(received)::bigint FROM mart.unit_kpi WHERE period_kind = 'year'),
                  (SELECT count(*) FROM mart.dossier WHERE class <> 'not_received'),
                  'every received dossier counted once');
SELECT is((SELECT sum(resolved)::bigint FROM mart.unit_kpi WHERE period_kind = 'quarter'),
                  (SELECT count(*) FROM mart.dossier WHERE class = 'resolved'),
                  'every resolved dossier counted once');
SELECT is((SELECT sum(received)::bigint FROM mart.unit_kpi WHERE period_kind = 'month'),
                  (SELECT sum(received)::bigint FROM mart.unit_kpi WHERE period_kind = 'quarter'),
                  'months add up to quarters');
SELECT * FROM finish();
