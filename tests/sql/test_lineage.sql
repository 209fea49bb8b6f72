-- rules.md, "Units across reorganisations": the lineage in the warehouse,
-- with hand-computed expectations.  Units of Sóc Trăng-like shape: a
-- province P, districts H1, H2, communes X1, X2, X3 under H1, and the
-- units of 1 July 2025.
\ir lib.sql
SELECT plan(12);
SELECT pg_temp.rules_2024() IS NOT NULL AS rules;

-- The lineage as etl/pipeline.c stages it, applied; the answer of
-- etl.apply_lineage (changed or not).
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
SELECT etl.create_staging();
INSERT INTO stg_donvi (row_number, unit_code, unit_name, parent_code, level, updated_at)
SELECT g, code, 'Đơn vị ' || code, parent, lvl, pg_temp.lt('2024-01-01 00:00')
FROM (VALUES (1, 'P', NULL, 'TINH'), (2, 'H1', 'P', 'HUYEN'), (3, 'H2', 'P', 'HUYEN'),
             (4, 'X1', 'H1', 'XA'), (5, 'X2', 'H1', 'XA'), (6, 'X3', 'H1', 'XA'),
             (7, 'M', 'P', 'XA'), (8, 'S1', 'P', 'XA'), (9, 'S2', 'P', 'XA'),
             (10, 'A', 'P', 'XA'), (11, 'B', 'P', 'XA'), (12, 'C', 'P', 'XA'))
     AS u (g, code, parent, lvl);
SELECT count(*) FROM etl.merge_staging(1, 'src', 1, 1);
SELECT etl.derive('2025-12-15 00:00+07');
COMMIT;

-- A merger (X1, X2 -> M), a chain whose first link is the older (A -> B in
-- 2023, B -> C in 2025: the current unit of A and B is C), a district
-- dissolved into its province (H1 -> P), a commune split between S1 and S2
-- whose pending dossiers went to S1 (X3 -> S1).
BEGIN;
SELECT pg_temp.lineage($$
    ('X1', 'M', '2025-07-01', 'NQ 1668/NQ-UBTVQH15', 2),
    ('X2', 'M', '2025-07-01', 'NQ 1668/NQ-UBTVQH15', 3),
    ('A', 'B', '2023-01-01', '', 4),
    ('B', 'C', '2025-07-01', NULL, 5),
    ('H1', 'P', '2025-07-01', 'giải thể cấp huyện', 6),
    ('X3', 'S1', '2025-07-01', 'chia tách', 7)$$) AS changed \gset first_
COMMIT;
SELECT is(:'first_changed'::boolean, true, 'a new lineage is applied');

SELECT results_eq($$
    SELECT unit_code::text, successor_code::text, current_code::text, ended_on
    FROM mart.unit ORDER BY unit_code$$,
    $$VALUES ('A', 'B', 'C', date '2023-01-01'),
             ('B', 'C', 'C', date '2025-07-01'),
             ('C', NULL, 'C', NULL),
             ('H1', 'P', 'P', date '2025-07-01'),
             ('H2', NULL, 'H2', NULL),
             ('M', NULL, 'M', NULL),
             ('P', NULL, 'P', NULL),
             ('S1', NULL, 'S1', NULL),
             ('S2', NULL, 'S2', NULL),
             ('X1', 'M', 'M', date '2025-07-01'),
             ('X2', 'M', 'M', date '2025-07-01'),
             ('X3', 'S1', 'S1', date '2025-07-01')$$,
    'mart.unit: successor, current unit at the end of the chain, the day the code ended');
SELECT results_eq($$SELECT unit_name, parent_code::text, level FROM mart.unit WHERE unit_code = 'X3'$$,
    $$VALUES ('Đơn vị X3', 'H1', 'XA')$$,
    'a unit that ended keeps its name, parent and level as recorded');
SELECT is(dw.current_unit('unseen'), 'unseen', 'a code without a row is its own current unit');
SELECT is(dw.current_unit('A'), 'C', 'dw.current_unit follows the chain');
SELECT results_eq($$SELECT from_code::text, basis FROM dw.unit_lineage WHERE basis IS NULL ORDER BY 1$$,
    $$VALUES ('A', NULL::text), ('B', NULL)$$, 'an empty basis is NULL');

-- The same rows again, in another order and at other lines: nothing changed.
BEGIN;
SELECT pg_temp.lineage($$
    ('X3', 'S1', '2025-07-01', 'chia tách', 2),
    ('H1', 'P', '2025-07-01', 'giải thể cấp huyện', 3),
    ('B', 'C', '2025-07-01', NULL, 4),
    ('A', 'B', '2023-01-01', NULL, 5),
    ('X2', 'M', '2025-07-01', 'NQ 1668/NQ-UBTVQH15', 6),
    ('X1', 'M', '2025-07-01', 'NQ 1668/NQ-UBTVQH15', 9)$$) AS changed \gset same_
COMMIT;
SELECT is(:'same_changed'::boolean, false, 'the same rows in another order change nothing');

-- Rows that etl/lineage.c refuses are refused here too.
BEGIN;
SELECT etl.create_lineage_staging();
INSERT INTO stg_lineage VALUES ('A', 'B', '2025-07-01', NULL, 2), ('B', 'A', '2025-07-01', NULL, 3);
SELECT throws_like('SELECT etl.apply_lineage()', 'lineage: the chain from % is a cycle', 'a cycle is refused');
SELECT etl.create_lineage_staging();
INSERT INTO stg_lineage VALUES ('A', 'B', '2025-07-01', NULL, 2), ('A', 'C', '2025-07-01', NULL, 5);
SELECT throws_ok('SELECT etl.apply_lineage()',
    'lineage: from_code A is given more than once (lines 2, 5)', 'a duplicate is refused');
SELECT etl.create_lineage_staging();
INSERT INTO stg_lineage VALUES ('A', 'A', '2025-07-01', NULL, 2);
SELECT throws_like('SELECT etl.apply_lineage()', 'lineage: bad row (line 2, %', 'a code is not its own successor');
COMMIT;

-- An empty file: every unit is its own again.
BEGIN;
SELECT etl.create_lineage_staging();
SELECT etl.apply_lineage() AS changed \gset empty_
COMMIT;
SELECT is(:'empty_changed'::boolean, true, 'an emptied lineage is a change');
SELECT is((SELECT count(*) FROM mart.unit WHERE current_code <> unit_code OR ended_on IS NOT NULL),
          0::bigint, 'without a lineage every unit is its own current unit');

SELECT * FROM finish();
