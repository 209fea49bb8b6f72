-- A log that comes after its dossiers (merge.sql, etl._load_children): the
-- first log steps of a warehouse whose dossiers are derived already go in
-- by the first-load path, and a night's incremental derivation counts them
-- as a rescore does.
\ir lib.sql
SELECT plan(3);
SELECT pg_temp.rules_2024() IS NOT NULL AS rules;
SELECT setseed(0.44);

-- the dossiers, their supplements and the catalogue, without a log
BEGIN;
SELECT pg_temp.stage_random(2000, 1500, '2024-01-01 00:00', '2024-03-01 00:00');
TRUNCATE stg_quatrinh;
SELECT count(*) FROM etl.merge_staging(1, 's1', 1, 1);
SELECT etl.derive(pg_temp.lt('2024-03-01 00:00'));
COMMIT;

-- then the log of some of them, alone, derived incrementally
BEGIN;
SELECT pg_temp.stage_random(100, 1500, '2024-03-01 00:00', '2024-03-02 00:00');
TRUNCATE stg_donvi, stg_thutuc, stg_hoso, stg_bosung;
-- each step once, as a first load needs (a key twice takes the general merge)
DELETE FROM stg_quatrinh a USING stg_quatrinh b
WHERE a.ma_ho_so = b.ma_ho_so AND a.seq = b.seq AND a.row_number < b.row_number;
SET LOCAL onestop.derive_mode = 'incremental';
SELECT count(*) FROM etl.merge_staging(2, 's1', 1, 2);
SELECT etl.derive(pg_temp.lt('2024-03-02 00:00'));
SELECT is((SELECT derived FROM pg_temp.work_state), 'incremental',
          'the late log is derived incrementally');
COMMIT;
SELECT cmp_ok((SELECT sum(steps) FROM dw.step_month), '>', 0::numeric,
              'the late log''s steps are counted');
SELECT is(pg_temp.marts_equal_rescore(pg_temp.lt('2024-03-02 00:00')), NULL,
          'a log after its dossiers: incremental = rescore');
SELECT * FROM finish();
