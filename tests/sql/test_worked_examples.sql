-- rules.md, "Worked examples" 1-6, with the official 2024 calendar.
SELECT pg_temp.is(pg_temp.rules_2024(), true, 'rules applied on an empty warehouse');
SELECT pg_temp.is(pg_temp.rules_2024(), false, 'same rules again: nothing changed');

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

SELECT pg_temp.is(sum(rows_loaded), 837::numeric, 'all rows loaded')
FROM etl.merge_staging(1, 'src', 1, 1);
SELECT etl.derive('2025-01-01 00:00+07');
COMMIT;

-- 1
SELECT pg_temp.is(legal_due_date, date '2024-05-08', 'ex1 after 17:00 Friday, make-up Saturday: due 2024-05-08')
FROM mart.dossier WHERE ma_ho_so = 'H1';
SELECT pg_temp.is(dw.workday_add('2024-05-04', 3), date '2024-05-08', 'ex1 workday_add(2024-05-04, 3)');
SELECT pg_temp.is(dw.workday_add('2024-05-03', 1), date '2024-05-04', 'make-up Saturday is the next working day');
SELECT pg_temp.is(dw.workday_add('2024-05-03', 0), date '2024-05-03', 'workday_add(d, 0) = d');
SELECT pg_temp.is(dw.is_workday('2024-04-30'), false, 'is_workday 30 Apr 2024');
SELECT pg_temp.is(dw.is_workday('2024-05-04'), true, 'is_workday Saturday 4 May 2024');
SELECT pg_temp.is(dw.is_workday('2024-05-11'), false, 'is_workday an ordinary Saturday');
-- 2
SELECT pg_temp.is(extension_days, 4, 'ex2 overlapping supplements: 4 working days, not 5')
FROM mart.dossier WHERE ma_ho_so = 'H2';
SELECT pg_temp.is(legal_due_date, date '2024-10-14', 'ex2 due 2024-10-14')
FROM mart.dossier WHERE ma_ho_so = 'H2';
-- 3
SELECT pg_temp.is(legal_days, 10, 'ex3 08:30: the first version (N = 10)')
FROM mart.dossier WHERE ma_ho_so = 'H3a';
SELECT pg_temp.is(legal_days, 7, 'ex3 10:00: the second version (N = 7)')
FROM mart.dossier WHERE ma_ho_so = 'H3b';
SELECT pg_temp.is(legal_days, 10, 'ex3 before any version: the earliest (N = 10)')
FROM mart.dossier WHERE ma_ho_so = 'H3c';
SELECT pg_temp.is(online_eligible, 1::bigint, 'ex3 only the dossier under level 3 is online_eligible')
FROM mart.unit_kpi WHERE unit_code = 'U3' AND period_kind = 'month' AND period_start = '2024-06-01';
SELECT pg_temp.is(received, 3::bigint, 'ex3 three received in June')
FROM mart.unit_kpi WHERE unit_code = 'U3' AND period_kind = 'month' AND period_start = '2024-06-01';
-- 4
SELECT pg_temp.is(legal_due_date, date '2024-03-11', 'ex4 legal due 2024-03-11') FROM mart.dossier WHERE ma_ho_so = 'H4';
SELECT pg_temp.is(declared_outcome, 'early', 'ex4 declared early') FROM mart.dossier WHERE ma_ho_so = 'H4';
SELECT pg_temp.is(legal_outcome, 'late', 'ex4 legal late') FROM mart.dossier WHERE ma_ho_so = 'H4';
SELECT pg_temp.is(masked_late, true, 'ex4 masked late') FROM mart.dossier WHERE ma_ho_so = 'H4';
SELECT pg_temp.is(masked_late, 1::bigint, 'ex4 counted masked late in March')
FROM mart.unit_kpi WHERE unit_code = 'U1' AND period_kind = 'month' AND period_start = '2024-03-01';
-- 5
SELECT pg_temp.is(ontime_rate, 0.13, 'ex5 1 of 800: 0.125 % rounds to 0.13')
FROM mart.unit_kpi WHERE unit_code = 'U5' AND period_kind = 'month' AND period_start = '2024-03-01';
SELECT pg_temp.is(ontime_rate, 0.13, 'ex5 same in the quarter')
FROM mart.unit_kpi WHERE unit_code = 'U5' AND period_kind = 'quarter' AND period_start = '2024-01-01';
SELECT pg_temp.is(resolved_unknown_legal, 800::bigint, 'procedure missing from the catalogue: legal unknown')
FROM mart.unit_kpi WHERE unit_code = 'U5' AND period_kind = 'year' AND period_start = '2024-01-01';
SELECT pg_temp.is(ontime_rate_legal, NULL::numeric, 'ontime_rate_legal NULL when every legal outcome is unknown')
FROM mart.unit_kpi WHERE unit_code = 'U5' AND period_kind = 'year' AND period_start = '2024-01-01';
-- 6
SELECT pg_temp.is(value, 15.00, 'ex6 U6 pct_level3plus 15.00')
FROM mart.compliance_score WHERE unit_code = 'U6' AND period_kind = 'year' AND period_start = '2024-01-01'
  AND profile = 'kh49-2021' AND criterion = '2';
SELECT pg_temp.is(points, 18.75, 'ex6 value 15 of target 20: 18.75 points')
FROM mart.compliance_score WHERE unit_code = 'U6' AND period_kind = 'year' AND period_start = '2024-01-01'
  AND profile = 'kh49-2021' AND criterion = '2';
SELECT pg_temp.is(met, false, 'ex6 value 15: not met')
FROM mart.compliance_score WHERE unit_code = 'U6' AND period_kind = 'year' AND period_start = '2024-01-01'
  AND profile = 'kh49-2021' AND criterion = '2';
SELECT pg_temp.is(points, 25::numeric, 'ex6 value 20: 25 points')
FROM mart.compliance_score WHERE unit_code = 'U7' AND period_kind = 'year' AND period_start = '2024-01-01'
  AND profile = 'kh49-2021' AND criterion = '2';
SELECT pg_temp.is(met, true, 'ex6 value 20: met')
FROM mart.compliance_score WHERE unit_code = 'U7' AND period_kind = 'year' AND period_start = '2024-01-01'
  AND profile = 'kh49-2021' AND criterion = '2';
SELECT pg_temp.is(points, NULL::numeric, 'ex6 value NULL: no points')
FROM mart.compliance_score WHERE unit_code = 'U5' AND period_kind = 'year' AND period_start = '2024-01-01'
  AND profile = 'kh49-2021' AND criterion = '2';
SELECT pg_temp.is(met, NULL::boolean, 'ex6 value NULL: met NULL')
FROM mart.compliance_score WHERE unit_code = 'U5' AND period_kind = 'year' AND period_start = '2024-01-01'
  AND profile = 'kh49-2021' AND criterion = '2';
-- U5 has no catalogue: kh49 criteria 1-3 do not apply; on_software_rate is 0 (applies)
SELECT pg_temp.is(criteria_applicable, 1, 'ex6 criteria that do not apply count in no total')
FROM mart.compliance_total WHERE unit_code = 'U5' AND period_kind = 'year' AND period_start = '2024-01-01'
  AND profile = 'kh49-2021';
SELECT pg_temp.is(max_points, 25::numeric, 'ex6 max_points only of applicable criteria')
FROM mart.compliance_total WHERE unit_code = 'U5' AND period_kind = 'year' AND period_start = '2024-01-01'
  AND profile = 'kh49-2021';
SELECT pg_temp.is(score_pct, 0::numeric, 'ex6 score 0 of 25')
FROM mart.compliance_total WHERE unit_code = 'U5' AND period_kind = 'year' AND period_start = '2024-01-01'
  AND profile = 'kh49-2021';
