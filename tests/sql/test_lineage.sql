-- rules.md, "Units across reorganisations": the lineage in the warehouse,
-- with hand-computed expectations.  Units of Sóc Trăng-like shape: a
-- province P, districts H1, H2, communes X1, X2, X3 under H1, and the
-- units of 1 July 2025.  The catalogue counts across the change (rules.md,
-- "Catalogue counts across a reorganisation") at the end.
\ir lib.sql
SELECT plan(34);
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
-- X1 and P: a catalogue from before the change; M: its own, published on
-- 1 July (Q1, level 3) and 15 August (Q2, level 2); C: 10 July; S2 (the
-- part of the split with no lineage row): 1 August.
INSERT INTO stg_thutuc (row_number, unit_code, procedure_code, procedure_name, level,
                        legal_days, fee, in_force, updated_at) VALUES
    (1, 'X1', 'P1', 'Cũ', 4, 5, false, true, pg_temp.lt('2024-01-01 00:00')),
    (2, 'P', 'R1', 'Tỉnh', 2, 5, false, true, pg_temp.lt('2024-01-01 00:00')),
    (3, 'M', 'Q1', 'Mới 1', 3, 5, false, true, pg_temp.lt('2025-07-01 08:00')),
    (4, 'M', 'Q2', 'Mới 2', 2, 5, false, true, pg_temp.lt('2025-08-15 08:00')),
    (5, 'C', 'C1', 'Mới', 2, 5, false, true, pg_temp.lt('2025-07-10 08:00')),
    (6, 'S2', 'S', 'Tách', 2, 5, false, true, pg_temp.lt('2025-08-01 08:00'));
-- the span: June to September 2025
INSERT INTO stg_hoso (row_number, ma_ho_so, unit_code, procedure_code, channel, status,
                      received_at, due_at, finished_at, paid_online, updated_at) VALUES
    (1, 'OLD', 'X1', 'P1', 1, 4, pg_temp.lt('2025-06-10 09:00'), pg_temp.lt('2025-06-17 17:00'),
     NULL, false, pg_temp.lt('2025-06-10 09:00')),
    (2, 'NEW', 'M', 'Q1', 2, 4, pg_temp.lt('2025-09-10 09:00'), pg_temp.lt('2025-09-17 17:00'),
     NULL, false, pg_temp.lt('2025-09-10 09:00')),
    -- June, before the merger: X1 1 of 1 on time (100 %), X2 1 of 3
    -- (33.33 %); merged, 2 of 4 (50 %), not their average (66.67 %)
    (3, 'X1R', 'X1', 'P1', 1, 10, pg_temp.lt('2025-06-02 09:00'), pg_temp.lt('2025-06-09 17:00'),
     pg_temp.lt('2025-06-09 10:00'), false, pg_temp.lt('2025-06-09 10:00')),
    (4, 'X2A', 'X2', 'ZZ', 1, 10, pg_temp.lt('2025-06-02 09:00'), pg_temp.lt('2025-06-09 17:00'),
     pg_temp.lt('2025-06-05 10:00'), false, pg_temp.lt('2025-06-05 10:00')),
    (5, 'X2B', 'X2', 'ZZ', 1, 10, pg_temp.lt('2025-06-02 09:00'), pg_temp.lt('2025-06-09 17:00'),
     pg_temp.lt('2025-06-12 10:00'), false, pg_temp.lt('2025-06-12 10:00')),
    (6, 'X2C', 'X2', 'ZZ', 1, 10, pg_temp.lt('2025-06-02 09:00'), pg_temp.lt('2025-06-09 17:00'),
     pg_temp.lt('2025-06-13 10:00'), false, pg_temp.lt('2025-06-13 10:00')),
    -- the source still uses X1 after it ended: 30 June 23:59 local is
    -- before, 2 July after
    (7, 'EVE', 'X1', 'P1', 1, 4, '2025-06-30 16:59+00', pg_temp.lt('2025-07-07 17:00'),
     NULL, false, pg_temp.lt('2025-06-30 23:59')),
    (8, 'LATE', 'X1', 'P1', 1, 4, pg_temp.lt('2025-07-02 09:00'), pg_temp.lt('2025-07-09 17:00'),
     NULL, false, pg_temp.lt('2025-07-02 09:00'));
SELECT count(*) FROM etl.merge_staging(1, 'src', 1, 1);
SELECT etl.derive('2025-12-15 00:00+07');
COMMIT;

-- procedures_total of a unit by period: months June to September, the
-- quarters Q2 and Q3, the year (not ended at the run: counted at its start).
CREATE FUNCTION pg_temp.catalogue(p_unit text) RETURNS text
LANGUAGE sql AS $$
    SELECT string_agg(procedures_total::text, ' ' ORDER BY period_kind, period_start)
    FROM mart.unit_kpi WHERE unit_code = p_unit
$$;
-- mart.unit_kpi less the catalogue counts, and what must not move at all.
CREATE FUNCTION pg_temp.kpi_but_catalogue() RETURNS text
LANGUAGE sql AS $$
    SELECT md5(string_agg(x, E'\n' ORDER BY x))
    FROM (SELECT (to_jsonb(k) - 'procedures_total' - 'procedures_level2plus'
                  - 'procedures_level3plus' - 'procedures_level4' - 'pct_level2plus'
                  - 'pct_level3plus' - 'pct_level4')::text AS x
          FROM mart.unit_kpi k) r
$$;
CREATE FUNCTION pg_temp.unmoved() RETURNS text
LANGUAGE sql AS $$
    SELECT md5((SELECT string_agg(to_jsonb(f)::text, E'\n' ORDER BY to_jsonb(f)::text)
                FROM mart.form06 f)
               || (SELECT string_agg(to_jsonb(d)::text, E'\n' ORDER BY to_jsonb(d)::text)
                   FROM mart.dossier d)
               || (SELECT string_agg(to_jsonb(k)::text, E'\n' ORDER BY to_jsonb(k)::text)
                   FROM mart.unit_kpi k WHERE unit_code IN ('H2', 'S2')))
$$;

-- Without a lineage: the earliest-version fallback of "Catalogue history".
SELECT is(pg_temp.catalogue('M') || ' / ' || pg_temp.catalogue('X1'),
          '2 2 2 2 2 2 2 / 1 1 1 1 1 1 1', 'without a lineage every catalogue counts from the start');
SELECT pg_temp.kpi_but_catalogue() AS kpi, pg_temp.unmoved() AS unmoved \gset before_

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
-- The catalogue across the reorganisation (months 6-9, Q2, Q3, year):
-- X1 ended on 1 July counts nothing from July; M, a successor, counts
-- what was published by the end of each period, nothing in June; C too
-- (a chain's end); P, the province that took H1 over, and S2, named by no
-- row, keep the fallback.
SELECT is(pg_temp.catalogue('X1'), '1 0 0 0 1 0 0', 'an ended unit counts no catalogue');
SELECT is(pg_temp.catalogue('M'), '0 1 2 2 0 2 2', 'a successor''s catalogue begins when published');
SELECT is(pg_temp.catalogue('C'), '0 1 1 1 0 1 1', 'so does the end of a chain');
SELECT is(pg_temp.catalogue('P') || ' / ' || pg_temp.catalogue('S2'),
          '1 1 1 1 1 1 1 / 1 1 1 1 1 1 1', 'a catalogue older than the change, or of a unit no row names');
SELECT results_eq($$SELECT procedures_level2plus, procedures_level3plus, pct_level2plus, pct_level3plus
                    FROM mart.unit_kpi WHERE unit_code = 'M' AND period_kind = 'quarter'
                    AND period_start = '2025-07-01'$$,
    $$VALUES (2::bigint, 1::bigint, 100.00::numeric, 50.00::numeric)$$, 'levels and rates follow');
SELECT is(pg_temp.kpi_but_catalogue(), :'before_kpi', 'a lineage moves only the catalogue counts of unit_kpi');
SELECT is(pg_temp.unmoved(), :'before_unmoved',
          'nor form 06, the dossiers, or the units it does not name');
SELECT is(pg_temp.marts_equal_rescore('2025-12-15 00:00+07'), NULL,
          'the lineage applied to derived marts is what a rescore gives');

-- By current unit: counts summed over the unit and its predecessors,
-- rates recomputed from the sums.
SELECT results_eq($$
    SELECT unit_code, ontime_rate FROM mart.unit_kpi
    WHERE period_kind = 'month' AND period_start = '2025-06-01' AND unit_code IN ('X1', 'X2')
    UNION ALL
    SELECT unit_code || ' now', ontime_rate FROM mart.unit_kpi_current
    WHERE period_kind = 'month' AND period_start = '2025-06-01' AND unit_code = 'M'
    ORDER BY 1$$,
    $$VALUES ('M now', 50.00::numeric), ('X1', 100.00), ('X2', 33.33)$$,
    'a rate of a merger is recomputed from the sums, not averaged');
SELECT results_eq($$
    SELECT unit_name, received, resolved, resolved_early, resolved_on_time, resolved_late,
           procedures_total, pct_level3plus
    FROM mart.unit_kpi_current
    WHERE unit_code = 'M' AND period_kind = 'month' ORDER BY period_start$$,
    $$VALUES ('Đơn vị M', 6::bigint, 4::bigint, 1::bigint, 1::bigint, 2::bigint, 1::bigint, 100.00::numeric),
             ('Đơn vị M', 1, 0, 0, 0, 0, 1, 100.00),
             ('Đơn vị M', 0, 0, 0, 0, 0, 2, 50.00),
             ('Đơn vị M', 1, 0, 0, 0, 0, 2, 50.00)$$,
    'the current unit''s months hold its predecessors'' months before the cut-over');
SELECT results_eq($$SELECT unit_code, count(*) FROM mart.unit_kpi_current GROUP BY 1 ORDER BY 1$$,
    $$VALUES ('C', 7::bigint), ('H2', 7), ('M', 7), ('P', 7), ('S1', 7), ('S2', 7)$$,
    'a row for every current unit and every period');
SELECT is((SELECT count(*) FROM mart.form06_current
           WHERE received_total <> resolved_total + pending_total), 0::bigint,
          'form 06 by current unit: col 3 = col 7 + col 11');
SELECT results_eq($$
    SELECT period_label, carried_over, pending_total FROM mart.form06_current
    WHERE unit_code = 'M' AND period_kind = 'report_month' ORDER BY first_day$$,
    $$VALUES ('2025-06', 0, 1), ('2025-07', 1, 3), ('2025-08', 3, 3), ('2025-09', 3, 4)$$,
    'form 06 by current unit: col 11 of a period is col 6 of the next, across the cut-over');

SELECT results_eq($$
    SELECT s.value, s.points, s.met, t.points, t.max_points, t.score_pct
    FROM dw.compliance_score_current('month', '2025-06-01') s
    JOIN dw.compliance_total_current('month', '2025-06-01') t USING (unit_code, profile)
    WHERE unit_code = 'M' AND profile = 'qd766' AND criterion = '2'$$,
    -- qd766 (reports.md): 2 progress_rate, June's six dossiers at 30 June:
    -- X1R on time, X2A early and EVE open but not yet due are in time; OLD
    -- open past its due day, X2B and X2C resolved late are not: 3 of 6 =
    -- 50 -> 10 of 20; 3 online_full_rate: OLD, X1R, EVE are of X1's
    -- level-4 P1, none online: 0 of 3 -> 0 of 12; 5 paid_online_rate NULL
    -- (no fee) does not apply: 10 of 32 = 31.25
    $$VALUES (50.00::numeric, 10.00::numeric, false, 10.00::numeric, 32::numeric, 31.25::numeric)$$,
    'scores by current unit: from the recomputed rate, by the rules of the scores');

SELECT results_eq($$SELECT * FROM dw.recorded_after_end(NULL)$$,
    $$VALUES ('X1', date '2025-07-01', 'M', 1::bigint)$$,
    'a dossier recorded under a code after it ended is named per code, local dates compared');
SELECT is((SELECT count(*) FROM dw.recorded_after_end('elsewhere')), 0::bigint,
          'of one source');

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
SELECT is((SELECT count(*) FROM (SELECT * FROM mart.unit_kpi_current
                                 EXCEPT ALL SELECT * FROM mart.unit_kpi) d), 0::bigint,
          'without a lineage the roll-up is mart.unit_kpi itself: dw.kpi_rates are its rates');
SELECT doesnt_match((SELECT prosrc FROM pg_proc
                     WHERE oid = 'etl._build_unit_kpi(date, date, timestamptz)'::regprocedure),
                    'dw\.pct',
                    'etl._build_unit_kpi writes no rate of its own: each is dw.kpi_rates''s, once');

SELECT is((SELECT count(*) FROM (
               (SELECT * FROM dw.compliance_score_current('month', '2025-06-01')
                EXCEPT ALL SELECT * FROM mart.compliance_score
                WHERE period_kind = 'month' AND period_start = '2025-06-01')
               UNION ALL
               (SELECT * FROM mart.compliance_score
                WHERE period_kind = 'month' AND period_start = '2025-06-01'
                EXCEPT ALL SELECT * FROM dw.compliance_score_current('month', '2025-06-01'))) d),
          0::bigint, 'without a lineage the scores by current unit are the scores');
SELECT is((SELECT count(*) FROM (
               (SELECT * FROM dw.compliance_total_current('year', '2025-01-01')
                EXCEPT ALL SELECT * FROM mart.compliance_total
                WHERE period_kind = 'year' AND period_start = '2025-01-01')
               UNION ALL
               (SELECT * FROM mart.compliance_total
                WHERE period_kind = 'year' AND period_start = '2025-01-01'
                EXCEPT ALL SELECT * FROM dw.compliance_total_current('year', '2025-01-01'))) d),
          0::bigint, 'and so are their totals');

-- The catalogue counts stay a join in etl._build_unit_kpi, not a function
-- called per unit and period: the planner inlines dw.catalogue_counts.
CREATE FUNCTION pg_temp.plan_of(p_query text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    line text;
    out text := '';
BEGIN
    FOR line IN EXECUTE 'EXPLAIN ' || p_query LOOP
        out := out || line || E'\n';
    END LOOP;
    RETURN out;
END
$$;
SELECT doesnt_match(pg_temp.plan_of($$SELECT * FROM dw.kpi_unit t
                                CROSS JOIN LATERAL dw.catalogue_counts(t.unit_code, now()) c$$),
              'Function Scan', 'dw.catalogue_counts is inlined');

SELECT * FROM finish();
