-- The bulk path (008) and the incremental path give the same warehouse, and
-- both the warehouse etl.rescore gives from the stored rows.  Each load is
-- run twice on the same state, once per path: the first run's digest is kept
-- in a psql variable and the run rolled back.
SELECT pg_temp.rules_2024() IS NOT NULL AS rules;

CREATE FUNCTION pg_temp.error_of_derive() RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    PERFORM etl.derive(now());
    RETURN NULL;
EXCEPTION WHEN OTHERS THEN
    RETURN SQLERRM;
END
$$;

-- 1. A first load into an empty warehouse: the merge loads the stream as it
-- comes (indexes built after), the derivation is bulk.
\set load 'SELECT pg_temp.stage_random(3000, 2000, ''2024-01-01 00:00'', ''2024-03-01 00:00'')'
\set seed 0.11
\set run 1
\set as_of '2024-03-01 00:00'
\set mode incremental
\ir run_load.psql
ROLLBACK;
\set inc :digest
SELECT pg_temp.is(:'derived_as', 'incremental', 'first load, incremental forced');
\set mode auto
\ir run_load.psql
COMMIT;
SELECT pg_temp.is(:'derived_as', 'bulk', 'first load into an empty warehouse: bulk');
SELECT pg_temp.is(pg_temp.digest_diff(:'digest', :'inc'), NULL,
                  'first load: bulk = incremental');
BEGIN;
SELECT pg_temp.is(pg_temp.marts_equal_rescore(pg_temp.lt('2024-03-01 00:00')), NULL,
                  'first load: = rescore');
ROLLBACK;
SELECT pg_temp.is((SELECT count(*) FROM dw.dossier) > 1000, true, 'first load: enough dossiers');
SELECT pg_temp.is((SELECT count(*) FROM mart.unit_kpi) > 50, true, 'first load: enough kpi rows');

-- 2. A night: a few dossiers change (units, months of receipt, statuses),
-- steps arrive for dossiers not known, the catalogue changes.
\set load 'SELECT pg_temp.stage_random(20, 2100, ''2024-03-01 00:00'', ''2024-03-05 00:00'', 1)'
\set seed 0.22
\set run 2
\set as_of '2024-03-05 00:00'
\set mode bulk
\ir run_load.psql
ROLLBACK;
\set bulk :digest
SELECT pg_temp.is(:'derived_as', 'bulk', 'small night, bulk forced');
\set mode auto
\ir run_load.psql
COMMIT;
SELECT pg_temp.is(:'derived_as', 'incremental', 'a small night: incremental');
SELECT pg_temp.is(pg_temp.digest_diff(:'digest', :'bulk'), NULL, 'small night: incremental = bulk');
BEGIN;
SELECT pg_temp.is(pg_temp.marts_equal_rescore(pg_temp.lt('2024-03-05 00:00')), NULL,
                  'small night: = rescore');
ROLLBACK;

-- 3. A big night (half the dossiers): the merge goes bulk itself.
\set load 'SELECT pg_temp.stage_random(1000, 2100, ''2024-03-05 00:00'', ''2024-04-20 00:00'')'
\set seed 0.33
\set run 3
\set as_of '2024-04-20 00:00'
\set mode incremental
\ir run_load.psql
ROLLBACK;
\set inc :digest
\set mode auto
\ir run_load.psql
COMMIT;
SELECT pg_temp.is(:'derived_as', 'bulk', 'a big night: bulk');
SELECT pg_temp.is(pg_temp.digest_diff(:'digest', :'inc'), NULL, 'big night: bulk = incremental');
BEGIN;
SELECT pg_temp.is(pg_temp.marts_equal_rescore(pg_temp.lt('2024-04-20 00:00')), NULL,
                  'big night: = rescore');
ROLLBACK;

-- 4. Nothing merged: a derivation moves the periods not ended, both ways.
\set load 'SELECT etl.create_staging()'
\set seed 0.44
\set run 4
\set as_of '2024-05-02 00:00'
\set mode bulk
\ir run_load.psql
ROLLBACK;
\set bulk :digest
\set mode auto
\ir run_load.psql
COMMIT;
SELECT pg_temp.is(:'derived_as', 'incremental', 'nothing merged: incremental');
SELECT pg_temp.is(pg_temp.digest_diff(:'digest', :'bulk'), NULL, 'nothing merged: incremental = bulk');

-- 5. A first load whose stream repeats keys: the one-pass load of an empty
-- table gives way to the merge that picks each key's winner.
TRUNCATE dw.dossier_key, dw.dossier, dw.dossier_derived, dw.supplement, dw.log_step;
BEGIN;
SELECT etl.create_staging();
INSERT INTO stg_hoso (row_number, ma_ho_so, unit_code, procedure_code, channel, status,
                      received_at, due_at, finished_at, paid_online, updated_at) VALUES
    (1, 'D1', 'U1', 'P1', 1, 2, pg_temp.lt('2024-03-04 09:00'), pg_temp.lt('2024-03-11 17:00'),
     NULL, false, pg_temp.lt('2024-03-04 09:00')),
    (2, 'D1', 'U1', 'P1', 1, 9, pg_temp.lt('2024-04-01 09:00'), pg_temp.lt('2024-04-11 17:00'),
     pg_temp.lt('2024-04-05 10:00'), false, pg_temp.lt('2024-04-05 10:00')),
    (3, 'D2', 'U2', 'P1', 2, 4, pg_temp.lt('2024-03-05 09:00'), pg_temp.lt('2024-03-12 17:00'),
     NULL, false, pg_temp.lt('2024-03-05 09:00'));
INSERT INTO stg_quatrinh (row_number, ma_ho_so, seq, status, done_at, department, updated_at)
VALUES (1, 'D1', 1, 2, pg_temp.lt('2024-04-01 09:05'), 'A', pg_temp.lt('2024-04-01 09:05')),
       (2, 'D1', 1, 2, pg_temp.lt('2024-04-01 09:10'), 'B', pg_temp.lt('2024-04-01 09:10')),
       (3, 'D2', 1, 2, pg_temp.lt('2024-03-05 09:05'), 'A', pg_temp.lt('2024-03-05 09:05'));
SELECT pg_temp.is(string_agg(entity || ':' || rows_loaded || '/' || rows_superseded, ' '
                             ORDER BY entity),
                  'bosung:0/0 donvi:0/0 hoso:2/1 quatrinh:2/1 thutuc:0/0',
                  'repeated keys: one winner each, the rest superseded')
FROM etl.merge_staging(5, 's1', 1, 5);
SELECT etl.derive(pg_temp.lt('2024-05-02 00:00'));
COMMIT;
SELECT pg_temp.is((SELECT status || ' ' || home_month FROM dw.dossier WHERE ma_ho_so = 'D1'),
                  '9 2024-04-01', 'repeated keys: the later version, in its month');
SELECT pg_temp.is((SELECT department FROM dw.log_step WHERE ma_ho_so = 'D1'), 'B',
                  'repeated step: the later version');
SELECT pg_temp.is((SELECT count(*) FROM dw.dossier_key), 2::bigint, 'repeated keys: two keys');
SELECT pg_temp.is((SELECT string_agg(c.conname, ' ' ORDER BY c.conname) FROM pg_constraint c
                   WHERE c.conrelid IN ('dw.dossier'::regclass, 'dw.dossier_key'::regclass,
                                        'dw.log_step'::regclass, 'dw.supplement'::regclass,
                                        'dw.dossier_derived'::regclass) AND c.contype = 'p'),
                  'dossier_derived_pkey dossier_key_pkey dossier_pkey log_step_pkey supplement_pkey',
                  'the primary keys are back after the bulk loads');
SELECT pg_temp.is((SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
                   WHERE c.relname = 'dossier_procedure_idx'), 1::bigint,
                  'the catalogue index of the dossiers is back');
BEGIN;
SELECT pg_temp.is(pg_temp.marts_equal_rescore(pg_temp.lt('2024-05-02 00:00')), NULL,
                  'repeated keys: = rescore');
ROLLBACK;

-- An unknown mode is refused.
BEGIN;
SET LOCAL onestop.derive_mode = 'fast';
SELECT etl.create_staging();
SELECT pg_temp.is(pg_temp.error_of_derive(), 'onestop.derive_mode: unknown mode "fast"',
                  'an unknown derive mode is refused');
ROLLBACK;

-- Sources extract in parallel, each in its own transaction, and merge one at
-- a time: a source still staging must hold no lock on the warehouse, or the
-- merge of another (a bulk derivation truncates) would wait for it forever.
BEGIN;
SELECT etl.create_staging();
SELECT pg_temp.stage_random(10, 100, '2024-05-01 00:00', '2024-05-02 00:00');
SELECT pg_temp.is((SELECT string_agg(l.relation::regclass::text, ' ')
                   FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
                   WHERE l.pid = pg_backend_pid()
                     AND c.relnamespace IN ('dw'::regnamespace, 'mart'::regnamespace)),
                  NULL, 'staging locks nothing in dw or mart');
ROLLBACK;
