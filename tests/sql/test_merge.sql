-- source-api.md, "Keys are national codes ...": merge semantics.
\ir lib.sql
SELECT plan(38);
SELECT pg_temp.rules_2024() IS NOT NULL AS rules;

-- Loads one hoso row (status, updated_at local) for dossier K as source/rank/batch.
CREATE FUNCTION pg_temp.stage_hoso(k text, st int, upd text, rn int DEFAULT 1) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO stg_hoso (row_number, ma_ho_so, unit_code, procedure_code, channel, status,
                          received_at, due_at, finished_at, paid_online, updated_at)
    VALUES (rn, k, 'U1', 'P', 1, st, pg_temp.lt('2024-03-04 09:00'), pg_temp.lt('2024-03-11 17:00'),
            CASE WHEN st IN (9, 10) THEN pg_temp.lt('2024-03-08 09:00') END, false, pg_temp.lt(upd))
$$;
CREATE FUNCTION pg_temp.merge_line(run bigint, src text, rnk int, batch bigint) RETURNS text
LANGUAGE sql AS $$
    SELECT string_agg(format('%s:%s/%s', entity, rows_loaded, rows_superseded), ' ' ORDER BY entity)
    FROM etl.merge_staging(run, src, rnk, batch) WHERE rows_loaded + rows_superseded > 0
$$;
CREATE FUNCTION pg_temp.status_of(k text) RETURNS text
LANGUAGE sql AS $$ SELECT status || ' ' || source FROM mart.dossier WHERE ma_ho_so = k $$;

-- Within the stream: the later updated_at wins; on a tie the larger row_number.
BEGIN;
SELECT etl.create_staging();
SELECT pg_temp.stage_hoso('A', 4, '2024-03-05 10:00', 1), pg_temp.stage_hoso('A', 2, '2024-03-04 10:00', 2),
       pg_temp.stage_hoso('B', 4, '2024-03-05 10:00', 3), pg_temp.stage_hoso('B', 9, '2024-03-05 10:00', 4);
SELECT is(pg_temp.merge_line(1, 's1', 1, 1), 'hoso:2/2', 'stream: 2 loaded, 2 superseded');
SELECT is(count(*)::int, 5, 'merge_staging returns all five entities, even when empty')
FROM etl.merge_staging(1, 's1', 1, 1);
SELECT is(watermark, pg_temp.lt('2024-03-05 10:00'), 'watermark = max(updated_at) staged')
FROM etl.merge_staging(1, 's1', 1, 1) WHERE entity = 'hoso';
SELECT is(watermark, NULL::timestamptz, 'watermark NULL when nothing staged')
FROM etl.merge_staging(1, 's1', 1, 1) WHERE entity = 'bosung';
SELECT etl.derive('2025-01-01');
COMMIT;
SELECT is(pg_temp.status_of('A'), '4 s1', 'stream: later updated_at wins over later row');
SELECT is(pg_temp.status_of('B'), '9 s1', 'stream: tie goes to the later row');

-- Across runs: older superseded, same updated_at replaces, newer replaces.
BEGIN;
SELECT etl.create_staging();
SELECT pg_temp.stage_hoso('A', 9, '2024-03-04 12:00'), pg_temp.stage_hoso('B', 10, '2024-03-05 10:00', 2);
SELECT is(pg_temp.merge_line(2, 's1', 1, 2), 'hoso:1/1', 'runs: older superseded, same replaces');
SELECT etl.derive('2025-01-01');
COMMIT;
SELECT is(pg_temp.status_of('A'), '4 s1', 'runs: a late page never rolls a dossier back');
SELECT is(pg_temp.status_of('B'), '10 s1', 'runs: the same updated_at replaces');

-- Cross-source tie in one batch: the source listed first (smaller rank) wins.
BEGIN;
SELECT etl.create_staging();
SELECT pg_temp.stage_hoso('C', 4, '2024-03-06 10:00');
SELECT pg_temp.merge_line(3, 's1', 1, 3);
SELECT etl.derive('2025-01-01');
COMMIT;
BEGIN;
SELECT etl.create_staging();
SELECT pg_temp.stage_hoso('C', 9, '2024-03-06 10:00');
SELECT is(pg_temp.merge_line(4, 's2', 2, 3), 'hoso:0/1', 'cross-source tie, same batch: the later-listed source is superseded');
SELECT etl.derive('2025-01-01');
COMMIT;
SELECT is(pg_temp.status_of('C'), '4 s1', 'cross-source tie: the first-listed source''s row stays');
BEGIN;
SELECT etl.create_staging();
SELECT pg_temp.stage_hoso('D', 4, '2024-03-06 10:00');
SELECT pg_temp.merge_line(5, 's2', 2, 4);
SELECT etl.create_staging();
SELECT pg_temp.stage_hoso('D', 9, '2024-03-06 10:00');
SELECT is(pg_temp.merge_line(6, 's1', 1, 4), 'hoso:1/0', 'cross-source tie, same batch: the first-listed source replaces');
SELECT etl.derive('2025-01-01');
COMMIT;
SELECT is(pg_temp.status_of('D'), '9 s1', 'cross-source tie: rank 1 replaces rank 2');
BEGIN;
SELECT etl.create_staging();
SELECT pg_temp.stage_hoso('C', 10, '2024-03-06 10:00');
SELECT is(pg_temp.merge_line(7, 's2', 2, 5), 'hoso:1/0', 'tie from another batch: replaces');
SELECT etl.derive('2025-01-01');
COMMIT;
SELECT is(pg_temp.status_of('C'), '10 s2', 'tie from a later invocation replaces whatever the rank');

-- Catalogue: every version kept; same updated_at replaces that version.
BEGIN;
SELECT etl.create_staging();
INSERT INTO stg_thutuc (row_number, unit_code, procedure_code, procedure_name, level, legal_days, fee, in_force, updated_at) VALUES
    (1, 'U1', 'P', 'v2', 2, 5, false, true, pg_temp.lt('2024-02-01 00:00')),
    (2, 'U1', 'P', 'v2 bis', 2, 4, false, true, pg_temp.lt('2024-02-01 00:00'));
SELECT is(pg_temp.merge_line(8, 's1', 1, 6), 'thutuc:1/1', 'catalogue: a duplicate version in the stream is superseded');
SELECT etl.derive('2025-01-01');
COMMIT;
SELECT results_eq($$SELECT legal_days FROM mart.dossier WHERE ma_ho_so = 'A'$$,
                  $$VALUES (4)$$, 'catalogue: the later row of the same version wins');
BEGIN;
SELECT etl.create_staging();
INSERT INTO stg_thutuc (row_number, unit_code, procedure_code, procedure_name, level, legal_days, fee, in_force, updated_at) VALUES
    (1, 'U1', 'P', 'v1', 2, 10, false, true, pg_temp.lt('2024-01-01 00:00')),
    (2, 'U1', 'P', 'v3', 2, 2, false, true, pg_temp.lt('2024-03-04 09:00'));
SELECT is(pg_temp.merge_line(9, 's1', 1, 7), 'thutuc:2/0', 'catalogue: an older version is added, not superseded');
SELECT etl.derive('2025-01-01');
COMMIT;
SELECT is(count(*)::int, 3, 'catalogue: three versions kept') FROM dw.procedure_version;
SELECT results_eq($$SELECT legal_days FROM mart.dossier WHERE ma_ho_so = 'A'$$,
                  $$VALUES (2)$$, 'catalogue: a version from the minute of receipt is in force');
SELECT results_eq($$SELECT legal_due_date FROM mart.dossier WHERE ma_ho_so = 'A'$$,
                  $$VALUES (date '2024-03-06')$$, 'catalogue: legal due re-derived with the new version');
BEGIN;
SELECT etl.create_staging();
INSERT INTO stg_thutuc (row_number, unit_code, procedure_code, procedure_name, level, legal_days, fee, in_force, updated_at) VALUES
    (1, 'U1', 'P', 'v3 fixed', 2, 3, false, true, pg_temp.lt('2024-03-04 09:00'));
SELECT is(pg_temp.merge_line(10, 's1', 1, 8), 'thutuc:1/0', 'catalogue: same updated_at replaces that version');
SELECT etl.derive('2025-01-01');
COMMIT;
SELECT is(count(*)::int, 3, 'catalogue: still three versions') FROM dw.procedure_version;
SELECT results_eq($$SELECT legal_days FROM mart.dossier WHERE ma_ho_so = 'A'$$,
                  $$VALUES (3)$$, 'catalogue: the replaced version applies');

-- Supplements and log steps are merged by (ma_ho_so, seq) and re-derive the dossier.
BEGIN;
SELECT etl.create_staging();
INSERT INTO stg_bosung (row_number, ma_ho_so, seq, requested_at, returned_at, updated_at) VALUES
    (1, 'A', 1, pg_temp.lt('2024-03-05 09:00'), NULL, pg_temp.lt('2024-03-05 09:00')),
    (2, 'A', 1, pg_temp.lt('2024-03-05 09:00'), pg_temp.lt('2024-03-07 09:00'), pg_temp.lt('2024-03-07 09:00'));
SELECT is(pg_temp.merge_line(11, 's1', 1, 9), 'bosung:1/1', 'bosung: keyed by (ma_ho_so, seq)');
SELECT etl.derive('2025-01-01');
COMMIT;
SELECT results_eq($$SELECT extension_days, legal_due_date FROM mart.dossier WHERE ma_ho_so = 'A'$$,
                  $$VALUES (2, date '2024-03-11')$$, 'bosung alone re-derives the dossier');

-- Rerunning the same staging twice gives the same marts.
CREATE FUNCTION pg_temp.marts() RETURNS TABLE (t text, r jsonb) LANGUAGE sql AS $$
    SELECT 'kpi', to_jsonb(k) FROM mart.unit_kpi k
    UNION ALL SELECT 'dossier', to_jsonb(d) FROM mart.dossier d
    UNION ALL SELECT 'score', to_jsonb(s) FROM mart.compliance_score s
    UNION ALL SELECT 'total', to_jsonb(c) FROM mart.compliance_total c
$$;
CREATE TEMP TABLE snap AS SELECT * FROM pg_temp.marts();
BEGIN;
SELECT etl.create_staging();
SELECT pg_temp.stage_hoso('A', 4, '2024-03-05 10:00', 1), pg_temp.stage_hoso('B', 10, '2024-03-05 10:00', 2);
INSERT INTO stg_bosung (row_number, ma_ho_so, seq, requested_at, returned_at, updated_at) VALUES
    (1, 'A', 1, pg_temp.lt('2024-03-05 09:00'), pg_temp.lt('2024-03-07 09:00'), pg_temp.lt('2024-03-07 09:00'));
SELECT is(pg_temp.merge_line(12, 's1', 1, 10), 'bosung:1/0 hoso:2/0', 'rerun: same rows replace themselves');
SELECT is(pg_temp.merge_line(12, 's1', 1, 10), 'bosung:1/0 hoso:2/0', 'rerun: twice in one transaction');
SELECT etl.derive('2025-01-01');
COMMIT;
SELECT bag_eq('SELECT * FROM pg_temp.marts()', 'SELECT * FROM snap',
              'rerun: the marts are unchanged');

-- rows staged = loaded + superseded, for each entity
BEGIN;
SELECT etl.create_staging();
SELECT pg_temp.stage_hoso('E', 4, '2024-03-05 10:00', g) FROM generate_series(1, 5) g;
SELECT rows_loaded + rows_superseded AS staged_hoso
FROM etl.merge_staging(13, 's1', 1, 11) WHERE entity = 'hoso' \gset
ROLLBACK;
SELECT is(:'staged_hoso'::bigint, 5::bigint, 'loaded + superseded = staged');

-- A sole source re-sending a log step unchanged: counted as loaded, not
-- written again (its lineage stays that of the write that stored it); a
-- changed step is written.  With other sources in the batch (p_sole false)
-- the unchanged step is written again, stamping the batch for their ties.
CREATE FUNCTION pg_temp.stage_step(k text, n int, dept text, upd text, rn int) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO stg_quatrinh (row_number, ma_ho_so, seq, status, done_at, department, updated_at)
    VALUES (rn, k, n, 4, pg_temp.lt('2024-03-05 09:00'), dept, pg_temp.lt(upd))
$$;
CREATE FUNCTION pg_temp.step_of(k text, n int) RETURNS text
LANGUAGE sql AS $$
    SELECT department || ' run ' || run_id || ' batch ' || batch_id
    FROM dw.log_step WHERE ma_ho_so = k AND seq = n
$$;
BEGIN;
SELECT etl.create_staging();
SELECT pg_temp.stage_hoso('S', 4, '2024-03-05 10:00', 1);
SELECT pg_temp.stage_step('S', 1, 'Một cửa', '2024-03-05 10:00', 1),
       pg_temp.stage_step('S', 2, 'Phòng A', '2024-03-05 10:00', 2);
SELECT count(*) FROM etl.merge_staging(20, 's1', 1, 20, true);
SELECT etl.derive('2025-01-01');
COMMIT;
BEGIN;
SELECT etl.create_staging();
SELECT pg_temp.stage_step('S', 1, 'Một cửa', '2024-03-05 10:00', 1),
       pg_temp.stage_step('S', 2, 'Phòng B', '2024-03-05 10:00', 2);
SELECT is((SELECT rows_loaded || '/' || rows_superseded
                   FROM etl.merge_staging(21, 's1', 1, 21, true) WHERE entity = 'quatrinh'),
                  '2/0', 'sole source: an unchanged step still counts as loaded');
SELECT etl.derive('2025-01-01');
COMMIT;
SELECT is(pg_temp.step_of('S', 1), 'Một cửa run 20 batch 20',
                  'sole source: an unchanged step is not written again');
SELECT is(pg_temp.step_of('S', 2), 'Phòng B run 21 batch 21',
                  'sole source: a changed step with the same updated_at replaces the stored one');
BEGIN;
SELECT etl.create_staging();
SELECT pg_temp.stage_step('S', 1, 'Một cửa', '2024-03-05 10:00', 1);
SELECT count(*) FROM etl.merge_staging(22, 's1', 1, 22, false);
SELECT etl.derive('2025-01-01');
COMMIT;
SELECT is(pg_temp.step_of('S', 1), 'Một cửa run 22 batch 22',
                  'other sources in the batch: an unchanged step is written, stamping the batch');
-- ... so that a later source of the batch loses the tie to it
BEGIN;
SELECT etl.create_staging();
SELECT pg_temp.stage_step('S', 1, 'Phòng C', '2024-03-05 10:00', 1);
SELECT is((SELECT rows_loaded || '/' || rows_superseded
                   FROM etl.merge_staging(23, 's2', 2, 22, true) WHERE entity = 'quatrinh'),
                  '0/1', 'a later source of the batch loses the tie to the stamped step');
SELECT etl.derive('2025-01-01');
COMMIT;
SELECT is(pg_temp.step_of('S', 1), 'Một cửa run 22 batch 22', 'the first source''s step stays');
-- A row sent again as it is stored, but for its CapNhatLuc (a night re-sends
-- the whole log of a changed dossier, and the catalogue's latest version),
-- is loaded, and gives nothing to derive again.
BEGIN;
SELECT etl.create_staging();
INSERT INTO stg_bosung (row_number, ma_ho_so, seq, requested_at, returned_at, updated_at) VALUES
    (1, 'A', 1, pg_temp.lt('2024-03-05 09:00'), pg_temp.lt('2024-03-07 09:00'), pg_temp.lt('2024-03-09 09:00'));
SELECT pg_temp.stage_step('S', 1, 'Một cửa', '2024-03-09 09:00', 1);
INSERT INTO stg_thutuc (row_number, unit_code, procedure_code, procedure_name, level, legal_days, fee, in_force, updated_at) VALUES
    (1, 'U1', 'P', 'v3 fixed', 2, 3, false, true, pg_temp.lt('2024-03-04 09:00'));
SELECT is(pg_temp.merge_line(24, 's1', 1, 24), 'bosung:1/0 quatrinh:1/0 thutuc:1/0',
          'unchanged but for CapNhatLuc: loaded');
SELECT is((SELECT count(*)::int FROM pg_temp.touched_dossier)
          + (SELECT count(*)::int FROM pg_temp.merged), 0,
          'unchanged but for CapNhatLuc: no dossier and no catalogue version to derive again');
SELECT etl.derive('2025-01-01');
COMMIT;
SELECT * FROM finish();
