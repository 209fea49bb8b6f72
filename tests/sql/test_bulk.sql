-- The bulk path (008) and the incremental path give the same warehouse, and
-- both the warehouse etl.rescore gives from the stored rows.  Each load is
-- run twice on the same state, once per path: the first run's digest is kept
-- in a psql variable and the run rolled back.
\ir lib.sql
SELECT plan(24);
SELECT pg_temp.rules_2024() IS NOT NULL AS rules;

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
SELECT is(:'derived_as'::text, 'incremental', 'first load, incremental forced');
\set mode auto
\ir run_load.psql
COMMIT;
SELECT is(:'derived_as'::text, 'bulk', 'first load into an empty warehouse: bulk');
SELECT is(pg_temp.digest_diff(:'digest', :'inc'), NULL,
                  'first load: bulk = incremental');
SELECT is(pg_temp.marts_equal_rescore(pg_temp.lt('2024-03-01 00:00')), NULL,
                  'first load: = rescore');
SELECT cmp_ok((SELECT count(*) FROM dw.dossier), '>', 1000::bigint, 'first load: enough dossiers');
SELECT cmp_ok((SELECT count(*) FROM mart.unit_kpi), '>', 50::bigint, 'first load: enough kpi rows');

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
SELECT is(:'derived_as'::text, 'bulk', 'small night, bulk forced');
\set mode auto
\ir run_load.psql
COMMIT;
SELECT is(:'derived_as'::text, 'incremental', 'a small night: incremental');
SELECT is(pg_temp.digest_diff(:'digest', :'bulk'), NULL, 'small night: incremental = bulk');
SELECT is(pg_temp.marts_equal_rescore(pg_temp.lt('2024-03-05 00:00')), NULL,
                  'small night: = rescore');

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
SELECT is(:'derived_as'::text, 'bulk', 'a big night: bulk');
SELECT is(pg_temp.digest_diff(:'digest', :'inc'), NULL, 'big night: bulk = incremental');
SELECT is(pg_temp.marts_equal_rescore(pg_temp.lt('2024-04-20 00:00')), NULL,
                  'big night: = rescore');

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
SELECT is(:'derived_as'::text, 'incremental', 'nothing merged: incremental');
SELECT is(pg_temp.digest_diff(:'digest', :'bulk'), NULL, 'nothing merged: incremental = bulk');

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
SELECT is(string_agg(entity || ':' || rows_loaded || '/' || rows_superseded, ' '
                             ORDER BY entity),
                  'bosung:0/0 donvi:0/0 hoso:2/1 quatrinh:2/1 thutuc:0/0',
                  'repeated keys: one winner each, the rest superseded')
FROM etl.merge_staging(5, 's1', 1, 5);
SELECT etl.derive(pg_temp.lt('2024-05-02 00:00'));
COMMIT;
SELECT is((SELECT status || ' ' || home_month FROM dw.dossier WHERE ma_ho_so = 'D1'),
                  '9 2024-04-01', 'repeated keys: the later version, in its month');
SELECT is((SELECT department FROM dw.log_step WHERE ma_ho_so = 'D1'), 'B',
                  'repeated step: the later version');
SELECT is((SELECT count(*) FROM dw.dossier_key), 2::bigint, 'repeated keys: two keys');
SELECT is((SELECT string_agg(c.conname, ' ' ORDER BY c.conname) FROM pg_constraint c
                   WHERE c.conrelid IN ('dw.dossier'::regclass, 'dw.dossier_key'::regclass,
                                        'dw.log_step'::regclass, 'dw.supplement'::regclass,
                                        'dw.dossier_derived'::regclass) AND c.contype = 'p'),
                  'dossier_derived_pkey dossier_key_pkey dossier_pkey log_step_pkey supplement_pkey',
                  'the primary keys are back after the bulk loads');
SELECT is((SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
                   WHERE c.relname = 'dossier_procedure_idx'), 1::bigint,
                  'the catalogue index of the dossiers is back');
SELECT is(pg_temp.marts_equal_rescore(pg_temp.lt('2024-05-02 00:00')), NULL,
                  'repeated keys: = rescore');

-- An unknown mode is refused (the setting and the staging tables go with
-- throws_ok's subtransaction).
SELECT throws_ok($$
    SELECT set_config('onestop.derive_mode', 'fast', true);
    SELECT etl.create_staging();
    SELECT etl.derive(now())$$,
    'onestop.derive_mode: unknown mode "fast"', 'an unknown derive mode is refused');

-- Sources extract in parallel, each in its own transaction, and merge one at
-- a time: a source still staging must hold no lock on the warehouse, or the
-- merge of another (a bulk derivation truncates) would wait for it forever.
BEGIN;
SELECT etl.create_staging();
SELECT pg_temp.stage_random(10, 100, '2024-05-01 00:00', '2024-05-02 00:00');
SELECT coalesce(string_agg(l.relation::regclass::text, ' '), '(none)') AS staging_locks
FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
WHERE l.pid = pg_backend_pid()
  AND c.relnamespace IN ('dw'::regnamespace, 'mart'::regnamespace) \gset
ROLLBACK;
SELECT is(:'staging_locks', '(none)'::text, 'staging locks nothing in dw or mart');
SELECT * FROM finish();
