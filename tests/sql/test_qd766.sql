-- Decision 766 as the national portal scores it (reports.md, the last
-- section, and worked example 5): progress_* and online_full_* of
-- mart.unit_kpi, with hand-computed expectations.  The run starts on
-- 1 Dec 2021 12:00: 2021, its Q4 and December are not yet ended, and are
-- counted at that day.
\ir lib.sql
SELECT plan(17);
SELECT pg_temp.rules_2024() IS NOT NULL AS rules;

BEGIN;
SELECT etl.create_staging();
INSERT INTO stg_thutuc (row_number, unit_code, procedure_code, procedure_name, level,
                        legal_days, fee, in_force, updated_at) VALUES
    (1, 'U1', 'P', 'Mức 2', 2, 5, false, true, pg_temp.lt('2021-01-01 00:00')),
    -- toàn trình: the loader stores TOAN_TRINH as level 4 (test_record.c)
    (2, 'U2', 'T', 'Toàn trình', 4, 5, false, true, pg_temp.lt('2021-01-01 00:00')),
    -- one phần until 10 March 08:00, toàn trình from then on
    (3, 'U2', 'C', 'Lên toàn trình', 3, 5, false, true, pg_temp.lt('2021-01-01 00:00')),
    (4, 'U2', 'C', 'Lên toàn trình', 4, 5, false, true, pg_temp.lt('2021-03-10 08:00')),
    -- toàn trình until 20 March, level 2 from then on
    (5, 'U2', 'D', 'Xuống mức 2', 4, 5, false, true, pg_temp.lt('2021-01-01 00:00')),
    (6, 'U2', 'D', 'Xuống mức 2', 2, 5, false, true, pg_temp.lt('2021-03-20 00:00'));

INSERT INTO stg_hoso (row_number, ma_ho_so, unit_code, procedure_code, channel, status,
                      submitted_at, received_at, due_at, finished_at, paid_online, updated_at) VALUES
    -- worked example 5: received 25 Mar, due 2 Apr, resolved 5 Apr: open and
    -- not yet due at 31 Mar, so in time in March and Q1; late in April
    (1, 'E5', 'U1', 'P', 1, 9, NULL, pg_temp.lt('2021-03-25 09:00'), pg_temp.lt('2021-04-02 17:00'),
     pg_temp.lt('2021-04-05 10:00'), false, pg_temp.lt('2021-04-05 10:00')),
    -- resolved early within January: in time
    (2, 'EARLY', 'U1', 'P', 2, 10, NULL, pg_temp.lt('2021-01-05 09:00'), pg_temp.lt('2021-01-20 17:00'),
     pg_temp.lt('2021-01-18 10:00'), false, pg_temp.lt('2021-01-19 10:00')),
    -- closed within the period, late: not in time
    (3, 'LATE', 'U1', 'P', 1, 10, NULL, pg_temp.lt('2021-02-01 09:00'), pg_temp.lt('2021-02-10 17:00'),
     pg_temp.lt('2021-02-15 10:00'), false, pg_temp.lt('2021-02-16 10:00')),
    -- withdrawn on 5 Feb (its first logged step 7), a day after its due
    -- date: closed, and a withdrawal counts as in time
    (4, 'WD', 'U1', 'P', 1, 7, NULL, pg_temp.lt('2021-02-03 09:00'), pg_temp.lt('2021-02-04 17:00'),
     NULL, false, pg_temp.lt('2021-04-10 10:00')),
    -- withdrawn without a step 7: closes on CapNhatLuc, 31 Mar; open on
    -- 31 Mar it would be overdue (due 30 Mar)
    (5, 'WD2', 'U1', 'P', 1, 7, NULL, pg_temp.lt('2021-03-29 09:00'), pg_temp.lt('2021-03-30 17:00'),
     NULL, false, pg_temp.lt('2021-03-31 10:00')),
    -- open at the end of March and overdue (due 20 Mar)
    (6, 'OVD', 'U1', 'P', 1, 4, NULL, pg_temp.lt('2021-03-01 09:00'), pg_temp.lt('2021-03-20 17:00'),
     NULL, false, pg_temp.lt('2021-03-01 09:00')),
    -- not received: in no count
    (7, 'NR', 'U1', 'P', 2, 1, pg_temp.lt('2021-03-10 09:00'), NULL, NULL, NULL, false,
     pg_temp.lt('2021-03-10 09:00')),
    -- open, due 30 Nov: in time at the end of November, overdue on 1 Dec
    -- (the start of the run, before Q4 and 2021 end)
    (8, 'NOV', 'U1', 'P', 1, 4, NULL, pg_temp.lt('2021-11-20 09:00'), pg_temp.lt('2021-11-30 17:00'),
     NULL, false, pg_temp.lt('2021-11-20 09:00')),
    -- open, due 10 Dec: in time on 1 Dec, overdue on 15 Dec
    (9, 'DEC', 'U1', 'P', 1, 4, NULL, pg_temp.lt('2021-12-01 08:00'), pg_temp.lt('2021-12-10 17:00'),
     NULL, false, pg_temp.lt('2021-12-01 08:00')),
    -- U2, March: end-to-end online by the version in force at receipt
    (11, 'T1', 'U2', 'T', 2, 4, NULL, pg_temp.lt('2021-03-02 09:00'), pg_temp.lt('2021-04-30 17:00'),
     NULL, false, pg_temp.lt('2021-03-02 09:00')),
    -- postal and in person: in the denominator, not the numerator
    (12, 'T2', 'U2', 'T', 3, 4, NULL, pg_temp.lt('2021-03-03 09:00'), pg_temp.lt('2021-04-30 17:00'),
     NULL, false, pg_temp.lt('2021-03-03 09:00')),
    (13, 'T3', 'U2', 'T', 1, 4, NULL, pg_temp.lt('2021-03-04 09:00'), pg_temp.lt('2021-04-30 17:00'),
     NULL, false, pg_temp.lt('2021-03-04 09:00')),
    -- C before its change to level 4: not eligible; after it: eligible
    (14, 'C1', 'U2', 'C', 2, 4, NULL, pg_temp.lt('2021-03-05 09:00'), pg_temp.lt('2021-04-30 17:00'),
     NULL, false, pg_temp.lt('2021-03-05 09:00')),
    (15, 'C2', 'U2', 'C', 2, 4, NULL, pg_temp.lt('2021-03-15 09:00'), pg_temp.lt('2021-04-30 17:00'),
     NULL, false, pg_temp.lt('2021-03-15 09:00')),
    -- D at level 4 at receipt, level 2 after: eligible; received after: not
    (16, 'D1', 'U2', 'D', 2, 4, NULL, pg_temp.lt('2021-03-10 09:00'), pg_temp.lt('2021-04-30 17:00'),
     NULL, false, pg_temp.lt('2021-03-10 09:00')),
    (17, 'D2', 'U2', 'D', 2, 4, NULL, pg_temp.lt('2021-03-25 09:00'), pg_temp.lt('2021-04-30 17:00'),
     NULL, false, pg_temp.lt('2021-03-25 09:00')),
    -- not received, of a toàn trình procedure: in no count
    (18, 'TN', 'U2', 'T', 2, 1, pg_temp.lt('2021-03-06 09:00'), NULL, NULL, NULL, false,
     pg_temp.lt('2021-03-06 09:00'));
INSERT INTO stg_quatrinh (row_number, ma_ho_so, seq, status, done_at, department,
                          step_due_at, updated_at) VALUES
    (1, 'WD', 1, 2, pg_temp.lt('2021-02-03 09:00'), 'Một cửa', NULL, pg_temp.lt('2021-02-03 09:00')),
    (2, 'WD', 2, 7, pg_temp.lt('2021-02-05 09:00'), 'Một cửa', NULL, pg_temp.lt('2021-02-05 09:00')),
    (3, 'WD', 3, 7, pg_temp.lt('2021-02-08 09:00'), 'Một cửa', NULL, pg_temp.lt('2021-02-08 09:00'));
SELECT count(*) FROM etl.merge_staging(1, 's', 1, 1);
SELECT etl.derive(pg_temp.lt('2021-12-01 12:00'));
COMMIT;

CREATE FUNCTION pg_temp.progress(p_unit text, p_kind text, p_start date,
                                 OUT progress_total bigint, OUT progress_in_time bigint,
                                 OUT progress_rate numeric)
LANGUAGE sql AS $$
    SELECT progress_total, progress_in_time, progress_rate FROM mart.unit_kpi
    WHERE unit_code = p_unit AND period_kind = p_kind AND period_start = p_start
$$;

-- the closing day, as form 06 defines it, is the one progress reads (form 06
-- counts from the same derived row: etl._form06_count)
SELECT results_eq($$SELECT ma_ho_so COLLATE "default", close_date FROM dw.dossier_derived
                    WHERE ma_ho_so IN ('E5', 'WD', 'WD2', 'OVD', 'NR') ORDER BY ma_ho_so$$,
                  $$VALUES ('E5', date '2021-04-05'), ('NR', NULL), ('OVD', NULL),
                           ('WD', date '2021-02-05'), ('WD2', date '2021-03-31')$$,
                  'closing days: finished, first step 7, else CapNhatLuc; none when open');

-- calendar 2021-Q1: EARLY, WD, WD2, E5 in time; LATE, OVD not; NR not counted
SELECT results_eq($$SELECT * FROM pg_temp.progress('U1', 'quarter', '2021-01-01')$$,
                  $$VALUES (6::bigint, 4::bigint, 66.67)$$,
                  'worked example 5: 2021-Q1 counts E5 in time (open, not yet due at 31 Mar)');
SELECT results_eq($$SELECT resolved, resolved_late, ontime_rate FROM mart.unit_kpi
                    WHERE unit_code = 'U1' AND period_kind = 'month' AND period_start = '2021-04-01'$$,
                  $$VALUES (1::bigint, 1::bigint, 0.00)$$,
                  'worked example 5: in ontime_rate of April it is late');
SELECT results_eq($$SELECT p.* FROM (VALUES (date '2021-01-01'), ('2021-02-01'), ('2021-03-01')) m (s)
                    CROSS JOIN LATERAL pg_temp.progress('U1', 'month', m.s) p ORDER BY m.s$$,
                  $$VALUES (1::bigint, 1::bigint, 100.00), (2::bigint, 1::bigint, 50.00),
                           (3::bigint, 2::bigint, 66.67)$$,
                  'months: January early; February late and withdrawn; March overdue, E5, withdrawn');
SELECT results_eq($$SELECT * FROM pg_temp.progress('U1', 'month', '2021-04-01')$$,
                  $$VALUES (0::bigint, 0::bigint, NULL::numeric)$$,
                  'nothing received in April: progress_rate NULL');
-- periods not ended: L = 1 Dec, the run's start
SELECT results_eq($$SELECT * FROM pg_temp.progress('U1', 'month', '2021-11-01')$$,
                  $$VALUES (1::bigint, 1::bigint, 100.00)$$,
                  'November ended: open and due on its last day, in time');
SELECT results_eq($$SELECT p.* FROM (VALUES ('month', date '2021-12-01'), ('quarter', '2021-10-01'),
                                            ('year', '2021-01-01')) k (kind, s)
                    CROSS JOIN LATERAL pg_temp.progress('U1', k.kind, k.s) p ORDER BY k.s DESC$$,
                  $$VALUES (1::bigint, 1::bigint, 100.00), (2::bigint, 1::bigint, 50.00),
                           (8::bigint, 4::bigint, 50.00)$$,
                  'December, Q4 and 2021 not ended: as they stand on 1 Dec (NOV overdue, E5 closed late)');
SELECT results_eq($$SELECT criterion, metric, value, points FROM mart.compliance_score
                    WHERE unit_code = 'U1' AND period_kind = 'quarter' AND period_start = '2021-01-01'
                      AND profile = 'qd766' ORDER BY criterion$$,
                  $$VALUES ('2', 'progress_rate', 66.67, 13.33), ('3', 'online_full_rate', NULL, NULL),
                           ('5', 'paid_online_rate', NULL, NULL)$$,
                  'qd766 criterion 2 scores the progress rate');

-- end-to-end online, U2 March: T1, T2 (postal), T3 (in person), C2, D1
SELECT results_eq($$SELECT online_full_eligible, online_full, online_full_rate FROM mart.unit_kpi
                    WHERE unit_code = 'U2' AND period_kind = 'month' AND period_start = '2021-03-01'$$,
                  $$VALUES (5::bigint, 3::bigint, 60.00)$$,
                  'toàn trình by the version in force at receipt; postal and in person not online');
SELECT results_eq($$SELECT online_full_eligible, online_full, online_full_rate FROM mart.unit_kpi
                    WHERE unit_code = 'U2' AND period_kind = 'quarter' AND period_start = '2021-01-01'$$,
                  $$VALUES (5::bigint, 3::bigint, 60.00)$$, 'the quarter sums its months');
SELECT results_eq($$SELECT online_eligible, online_eligible_online FROM mart.unit_kpi
                    WHERE unit_code = 'U2' AND period_kind = 'month' AND period_start = '2021-03-01'$$,
                  $$VALUES (5::bigint, 4::bigint)$$,
                  'online_eligible (level 3+, in person or online) is unchanged: C1 in, T2 postal out');
SELECT results_eq($$SELECT value, points FROM mart.compliance_score
                    WHERE unit_code = 'U2' AND period_kind = 'month' AND period_start = '2021-03-01'
                      AND profile = 'qd766' AND criterion = '3'$$,
                  $$VALUES (60.00, 9.00)$$, 'qd766 criterion 3: 60 of 80 earns 9 of 12 points');
SELECT is(pg_temp.marts_equal_rescore(pg_temp.lt('2021-12-01 12:00')), NULL,
          'derive = rescore on 1 Dec');

-- the next run, on 15 Dec, with nothing merged: December, Q4 and 2021 move
BEGIN; SELECT etl.create_staging(); SELECT etl.derive(pg_temp.lt('2021-12-15 12:00')); COMMIT;
SELECT results_eq($$SELECT p.* FROM (VALUES ('month', date '2021-12-01'), ('quarter', '2021-10-01'),
                                            ('year', '2021-01-01')) k (kind, s)
                    CROSS JOIN LATERAL pg_temp.progress('U1', k.kind, k.s) p ORDER BY k.s DESC$$,
                  $$VALUES (1::bigint, 0::bigint, 0.00), (2::bigint, 0::bigint, 0.00),
                           (8::bigint, 3::bigint, 37.50)$$,
                  'on 15 Dec DEC is overdue too');
SELECT is(pg_temp.marts_equal_rescore(pg_temp.lt('2021-12-15 12:00')), NULL,
          'derive = rescore on 15 Dec');
-- and after the year's end, 2021 stands at 31 Dec
BEGIN; SELECT etl.create_staging(); SELECT etl.derive(pg_temp.lt('2022-01-05 01:30')); COMMIT;
SELECT results_eq($$SELECT * FROM pg_temp.progress('U1', 'year', '2021-01-01')$$,
                  $$VALUES (8::bigint, 3::bigint, 37.50)$$, '2021 ended: as at 31 Dec');
SELECT is(pg_temp.marts_equal_rescore(pg_temp.lt('2022-01-05 01:30')), NULL,
          'derive = rescore after the year ended');
SELECT * FROM finish();
