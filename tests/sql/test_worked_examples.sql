-- rules.md, "Worked examples" 1-6, with the official 2024 calendar.
\ir lib.sql
SELECT plan(36);
SELECT is(pg_temp.rules_2024(), true, 'rules applied on an empty warehouse');
SELECT is(pg_temp.rules_2024(), false, 'same rules again: nothing changed');

BEGIN;
SELECT etl.create_staging();
INSERT INTO stg_thutuc (row_number, unit_code, procedure_code, procedure_name, level,
                        legal_days, fee, in_force, updated_at) VALUES
    (1, 'U1', 'P3', 'Thủ tục ba ngày', 2, 3, false, true, pg_temp.lt('2024-01-01 00:00')),
    (2, 'U1', 'P5', 'Thủ tục năm ngày', 2, 5, false, true, pg_temp.lt('2024-01-01 00:00')),
    (3, 'U3', 'P7', 'Thủ tục đổi mức', 2, 10, false, true, pg_temp.lt('2024-06-14 10:00')),
    (4, 'U3', 'P7', 'Thủ tục đổi mức', 3, 7, false, true, pg_temp.lt('2024-06-17 10:00'));
-- U6: 20 procedures, 3 at level 3 (15 %); U7: 5 procedures, 1 at level 3 (20 %)
INSERT INTO stg_thutuc (row_number, unit_code, procedure_code, procedure_name, level,
                        legal_days, fee, in_force, updated_at)
SELECT 10 + g, 'U6', 'Q' || g, 'TTHC ' || g, CASE WHEN g <= 3 THEN 3 ELSE 2 END, 5,
       false, true, pg_temp.lt('2024-01-01 00:00')
FROM generate_series(1, 20) g
UNION ALL
SELECT 40 + g, 'U7', 'Q' || g, 'TTHC ' || g, CASE WHEN g <= 1 THEN 3 ELSE 2 END, 5,
       false, true, pg_temp.lt('2024-01-01 00:00')
FROM generate_series(1, 5) g;

INSERT INTO stg_hoso (row_number, ma_ho_so, unit_code, procedure_code, channel, status,
                      received_at, due_at, finished_at, paid_online, updated_at) VALUES
    -- 1: Friday 17:05, N = 3
    (1, 'H1', 'U1', 'P3', 1, 4, pg_temp.lt('2024-05-03 17:05'), pg_temp.lt('2024-05-08 17:00'),
        NULL, false, pg_temp.lt('2024-05-03 17:05')),
    -- 2: N = 5, two overlapping supplements
    (2, 'H2', 'U1', 'P5', 1, 4, pg_temp.lt('2024-10-01 09:00'), pg_temp.lt('2024-10-14 17:00'),
        NULL, false, pg_temp.lt('2024-10-09 10:00')),
    -- 3: catalogue versions
    (3, 'H3a', 'U3', 'P7', 2, 4, pg_temp.lt('2024-06-17 08:30'), pg_temp.lt('2024-07-01 17:00'),
        NULL, false, pg_temp.lt('2024-06-17 08:30')),
    (4, 'H3b', 'U3', 'P7', 2, 4, pg_temp.lt('2024-06-17 10:00'), pg_temp.lt('2024-07-01 17:00'),
        NULL, false, pg_temp.lt('2024-06-17 10:00')),
    (5, 'H3c', 'U3', 'P7', 2, 4, pg_temp.lt('2024-06-01 10:00'), pg_temp.lt('2024-07-01 17:00'),
        NULL, false, pg_temp.lt('2024-06-01 10:00')),
    -- 4: masked late
    (6, 'H4', 'U1', 'P5', 1, 9, pg_temp.lt('2024-03-04 09:00'), pg_temp.lt('2024-03-13 17:00'),
        pg_temp.lt('2024-03-12 15:00'), false, pg_temp.lt('2024-03-12 15:00'));
-- 5: 1 early dossier of 800 resolved in U5, March 2024
INSERT INTO stg_hoso (row_number, ma_ho_so, unit_code, procedure_code, channel, status,
                      received_at, due_at, finished_at, paid_online, updated_at)
SELECT 100 + g, 'H5-' || g, 'U5', 'X', 1, 10, pg_temp.lt('2024-03-01 09:00'),
       pg_temp.lt('2024-03-10 17:00'),
       CASE WHEN g = 1 THEN pg_temp.lt('2024-03-05 09:00') ELSE pg_temp.lt('2024-03-20 09:00') END,
       false, pg_temp.lt('2024-03-20 09:00')
FROM generate_series(1, 800) g;

INSERT INTO stg_bosung (row_number, ma_ho_so, seq, requested_at, returned_at, updated_at) VALUES
    (1, 'H2', 1, pg_temp.lt('2024-10-03 10:00'), pg_temp.lt('2024-10-08 10:00'), pg_temp.lt('2024-10-08 10:00')),
    (2, 'H2', 2, pg_temp.lt('2024-10-07 10:00'), pg_temp.lt('2024-10-09 10:00'), pg_temp.lt('2024-10-09 10:00'));

SELECT is(sum(rows_loaded), 837::numeric, 'all rows loaded')
FROM etl.merge_staging(1, 'src', 1, 1);
SELECT etl.derive('2025-01-01 00:00+07');
COMMIT;

-- 1
SELECT results_eq($$SELECT legal_due_date FROM mart.dossier WHERE ma_ho_so = 'H1'$$,
                  $$VALUES (date '2024-05-08')$$,
                  'ex1 after 17:00 Friday, make-up Saturday: due 2024-05-08');
SELECT is(dw.workday_add('2024-05-04', 3), date '2024-05-08', 'ex1 workday_add(2024-05-04, 3)');
SELECT is(dw.workday_add('2024-05-03', 1), date '2024-05-04', 'make-up Saturday is the next working day');
SELECT is(dw.workday_add('2024-05-03', 0), date '2024-05-03', 'workday_add(d, 0) = d');
SELECT is(dw.is_workday('2024-04-30'), false, 'is_workday 30 Apr 2024');
SELECT is(dw.is_workday('2024-05-04'), true, 'is_workday Saturday 4 May 2024');
SELECT is(dw.is_workday('2024-05-11'), false, 'is_workday an ordinary Saturday');
-- 2
SELECT results_eq($$SELECT extension_days FROM mart.dossier WHERE ma_ho_so = 'H2'$$,
                  $$VALUES (4)$$, 'ex2 overlapping supplements: 4 working days, not 5');
SELECT results_eq($$SELECT legal_due_date FROM mart.dossier WHERE ma_ho_so = 'H2'$$,
                  $$VALUES (date '2024-10-14')$$, 'ex2 due 2024-10-14');
-- 3
SELECT results_eq($$SELECT legal_days FROM mart.dossier WHERE ma_ho_so = 'H3a'$$,
                  $$VALUES (10)$$, 'ex3 08:30: the first version (N = 10)');
SELECT results_eq($$SELECT legal_days FROM mart.dossier WHERE ma_ho_so = 'H3b'$$,
                  $$VALUES (7)$$, 'ex3 10:00: the second version (N = 7)');
SELECT results_eq($$SELECT legal_days FROM mart.dossier WHERE ma_ho_so = 'H3c'$$,
                  $$VALUES (10)$$, 'ex3 before any version: the earliest (N = 10)');
SELECT results_eq($$SELECT online_eligible FROM mart.unit_kpi
                    WHERE unit_code = 'U3' AND period_kind = 'month' AND period_start = '2024-06-01'$$,
                  $$VALUES (1::bigint)$$, 'ex3 only the dossier under level 3 is online_eligible');
SELECT results_eq($$SELECT received FROM mart.unit_kpi
                    WHERE unit_code = 'U3' AND period_kind = 'month' AND period_start = '2024-06-01'$$,
                  $$VALUES (3::bigint)$$, 'ex3 three received in June');
-- 4
SELECT results_eq($$SELECT legal_due_date FROM mart.dossier WHERE ma_ho_so = 'H4'$$,
                  $$VALUES (date '2024-03-11')$$, 'ex4 legal due 2024-03-11');
SELECT results_eq($$SELECT declared_outcome FROM mart.dossier WHERE ma_ho_so = 'H4'$$,
                  $$VALUES ('early')$$, 'ex4 declared early');
SELECT results_eq($$SELECT legal_outcome FROM mart.dossier WHERE ma_ho_so = 'H4'$$,
                  $$VALUES ('late')$$, 'ex4 legal late');
SELECT results_eq($$SELECT masked_late FROM mart.dossier WHERE ma_ho_so = 'H4'$$,
                  $$VALUES (true)$$, 'ex4 masked late');
SELECT results_eq($$SELECT masked_late FROM mart.unit_kpi
                    WHERE unit_code = 'U1' AND period_kind = 'month' AND period_start = '2024-03-01'$$,
                  $$VALUES (1::bigint)$$, 'ex4 counted masked late in March');
-- 5
SELECT results_eq($$SELECT ontime_rate FROM mart.unit_kpi
                    WHERE unit_code = 'U5' AND period_kind = 'month' AND period_start = '2024-03-01'$$,
                  $$VALUES (0.13)$$, 'ex5 1 of 800: 0.125 % rounds to 0.13');
SELECT results_eq($$SELECT ontime_rate FROM mart.unit_kpi
                    WHERE unit_code = 'U5' AND period_kind = 'quarter' AND period_start = '2024-01-01'$$,
                  $$VALUES (0.13)$$, 'ex5 same in the quarter');
SELECT results_eq($$SELECT resolved_unknown_legal FROM mart.unit_kpi
                    WHERE unit_code = 'U5' AND period_kind = 'year' AND period_start = '2024-01-01'$$,
                  $$VALUES (800::bigint)$$, 'procedure missing from the catalogue: legal unknown');
SELECT results_eq($$SELECT ontime_rate_legal FROM mart.unit_kpi
                    WHERE unit_code = 'U5' AND period_kind = 'year' AND period_start = '2024-01-01'$$,
                  $$VALUES (NULL::numeric)$$,
                  'ontime_rate_legal NULL when every legal outcome is unknown');
-- 6: kh49-2021 criterion 2 (pct_level3plus, target 20, 25 points), year 2024
SELECT results_eq($$SELECT value FROM mart.compliance_score
                    WHERE unit_code = 'U6' AND period_kind = 'year' AND period_start = '2024-01-01'
                      AND profile = 'kh49-2021' AND criterion = '2'$$,
                  $$VALUES (15.00)$$, 'ex6 U6 pct_level3plus 15.00');
SELECT results_eq($$SELECT points FROM mart.compliance_score
                    WHERE unit_code = 'U6' AND period_kind = 'year' AND period_start = '2024-01-01'
                      AND profile = 'kh49-2021' AND criterion = '2'$$,
                  $$VALUES (18.75)$$, 'ex6 value 15 of target 20: 18.75 points');
SELECT results_eq($$SELECT met FROM mart.compliance_score
                    WHERE unit_code = 'U6' AND period_kind = 'year' AND period_start = '2024-01-01'
                      AND profile = 'kh49-2021' AND criterion = '2'$$,
                  $$VALUES (false)$$, 'ex6 value 15: not met');
SELECT results_eq($$SELECT points FROM mart.compliance_score
                    WHERE unit_code = 'U7' AND period_kind = 'year' AND period_start = '2024-01-01'
                      AND profile = 'kh49-2021' AND criterion = '2'$$,
                  $$VALUES (25::numeric)$$, 'ex6 value 20: 25 points');
SELECT results_eq($$SELECT met FROM mart.compliance_score
                    WHERE unit_code = 'U7' AND period_kind = 'year' AND period_start = '2024-01-01'
                      AND profile = 'kh49-2021' AND criterion = '2'$$,
                  $$VALUES (true)$$, 'ex6 value 20: met');
SELECT results_eq($$SELECT points FROM mart.compliance_score
                    WHERE unit_code = 'U5' AND period_kind = 'year' AND period_start = '2024-01-01'
                      AND profile = 'kh49-2021' AND criterion = '2'$$,
                  $$VALUES (NULL::numeric)$$, 'ex6 value NULL: no points');
SELECT results_eq($$SELECT met FROM mart.compliance_score
                    WHERE unit_code = 'U5' AND period_kind = 'year' AND period_start = '2024-01-01'
                      AND profile = 'kh49-2021' AND criterion = '2'$$,
                  $$VALUES (NULL::boolean)$$, 'ex6 value NULL: met NULL');
-- U5 has no catalogue: kh49 criteria 1-3 do not apply; on_software_rate is 0 (applies)
SELECT results_eq($$SELECT criteria_applicable FROM mart.compliance_total
                    WHERE unit_code = 'U5' AND period_kind = 'year' AND period_start = '2024-01-01'
                      AND profile = 'kh49-2021'$$,
                  $$VALUES (1)$$, 'ex6 criteria that do not apply count in no total');
SELECT results_eq($$SELECT max_points FROM mart.compliance_total
                    WHERE unit_code = 'U5' AND period_kind = 'year' AND period_start = '2024-01-01'
                      AND profile = 'kh49-2021'$$,
                  $$VALUES (25::numeric)$$, 'ex6 max_points only of applicable criteria');
SELECT results_eq($$SELECT score_pct FROM mart.compliance_total
                    WHERE unit_code = 'U5' AND period_kind = 'year' AND period_start = '2024-01-01'
                      AND profile = 'kh49-2021'$$,
                  $$VALUES (0::numeric)$$, 'ex6 score 0 of 25');
SELECT * FROM finish();
