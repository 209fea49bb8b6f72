-- rules.md, rule by rule, with hand-computed expectations (2024 calendar).
\ir lib.sql
SELECT plan(67);
SELECT pg_temp.rules_2024() IS NOT NULL AS rules;

BEGIN;
SELECT etl.create_staging();
INSERT INTO stg_donvi (row_number, unit_code, unit_name, parent_code, level, updated_at) VALUES
    (1, 'U1', 'Sở Giáo dục và Đào tạo', NULL, 'TINH', pg_temp.lt('2024-01-01 00:00')),
    (2, 'U9', 'Phòng GD&ĐT không có hồ sơ', 'U1', 'HUYEN', pg_temp.lt('2024-01-01 00:00'));
INSERT INTO stg_thutuc (row_number, unit_code, procedure_code, procedure_name, level,
                        legal_days, fee, in_force, updated_at) VALUES
    (1, 'U1', 'N0', 'Trong ngày', 2, 0, false, true, pg_temp.lt('2024-01-01 00:00')),
    (2, 'U1', 'N1', 'Một ngày', 2, 1, true, true, pg_temp.lt('2024-01-01 00:00')),
    (3, 'U1', 'N2', 'Hai ngày', 4, 2, true, true, pg_temp.lt('2024-01-01 00:00')),
    (4, 'U1', 'N3', 'Ba ngày', 3, 3, false, true, pg_temp.lt('2024-01-01 00:00')),
    (5, 'U1', 'N5', 'Năm ngày', 2, 5, false, true, pg_temp.lt('2024-01-01 00:00')),
    -- U2: a level change mid-year and a procedure that stops being in force
    (6, 'U2', 'L', 'Đổi mức', 2, 5, false, true, pg_temp.lt('2024-01-01 00:00')),
    (7, 'U2', 'L', 'Đổi mức', 4, 5, false, true, pg_temp.lt('2024-07-15 08:00')),
    (8, 'U2', 'M', 'Hết hiệu lực', 3, 5, false, true, pg_temp.lt('2024-01-01 00:00')),
    (9, 'U2', 'M', 'Hết hiệu lực', 3, 5, false, false, pg_temp.lt('2024-09-01 00:00')),
    -- a version after the run's start: not yet in force for the current period
    (10, 'U2', 'F', 'Tương lai', 1, 5, false, true, pg_temp.lt('2024-01-01 00:00')),
    (11, 'U2', 'F', 'Tương lai', 4, 5, false, true, pg_temp.lt('2024-12-20 00:00'));

INSERT INTO stg_hoso (row_number, ma_ho_so, unit_code, procedure_code, channel, status,
                      received_at, due_at, finished_at, paid_online, updated_at) VALUES
    -- Saturday receipt, N = 2: Monday 11 Mar + 2 = Wed 13 Mar
    (1, 'SAT', 'U1', 'N2', 1, 4, pg_temp.lt('2024-03-09 10:00'), pg_temp.lt('2024-03-13 17:00'), NULL, false, pg_temp.lt('2024-03-09 10:00')),
    -- Tết: Wed 7 Feb 10:00, N = 3: 15, 16, 19 Feb
    (2, 'TET', 'U1', 'N3', 1, 4, pg_temp.lt('2024-02-07 10:00'), pg_temp.lt('2024-02-19 17:00'), NULL, false, pg_temp.lt('2024-02-07 10:00')),
    -- Make-up Saturday 4 May, before 17:00, N = 1: Monday 6 May
    (3, 'MKUP', 'U1', 'N1', 1, 4, pg_temp.lt('2024-05-04 10:00'), pg_temp.lt('2024-05-06 17:00'), NULL, false, pg_temp.lt('2024-05-04 10:00')),
    -- N = 0 before and after 17:00
    (4, 'N0A', 'U1', 'N0', 1, 9, pg_temp.lt('2024-03-04 10:00'), pg_temp.lt('2024-03-04 17:00'), pg_temp.lt('2024-03-04 16:00'), false, pg_temp.lt('2024-03-04 16:00')),
    (5, 'N0B', 'U1', 'N0', 1, 9, pg_temp.lt('2024-03-04 17:30'), pg_temp.lt('2024-03-05 17:00'), pg_temp.lt('2024-03-06 09:00'), false, pg_temp.lt('2024-03-06 09:00')),
    -- exactly 17:00 is not before office_close
    (6, 'AT17', 'U1', 'N0', 1, 4, pg_temp.lt('2024-03-04 17:00'), pg_temp.lt('2024-03-05 17:00'), NULL, false, pg_temp.lt('2024-03-04 17:00')),
    -- zones: 10:30 UTC is 17:30 local (after close); 09:30 UTC is 16:30 local
    (7, 'TZA', 'U1', 'N0', 1, 4, '2024-03-04 10:30+00', pg_temp.lt('2024-03-05 17:00'), NULL, false, '2024-03-04 10:30+00'),
    (8, 'TZB', 'U1', 'N0', 1, 4, '2024-03-04 17:30+08', pg_temp.lt('2024-03-05 17:00'), NULL, false, '2024-03-04 17:30+08'),
    -- 23:30 local on Sunday 3 Mar is 16:30 UTC: local date Sunday, next working day Monday
    (9, 'TZC', 'U1', 'N0', 1, 4, '2024-03-03 16:30+00', pg_temp.lt('2024-03-04 17:00'), NULL, false, '2024-03-03 16:30+00'),
    -- supplements: outstanding, same day, adjacent
    (10, 'SUPO', 'U1', 'N5', 1, 5, pg_temp.lt('2024-10-01 09:00'), pg_temp.lt('2024-10-08 17:00'), NULL, false, pg_temp.lt('2024-10-03 09:00')),
    (11, 'SUPS', 'U1', 'N5', 1, 4, pg_temp.lt('2024-10-01 09:00'), pg_temp.lt('2024-10-08 17:00'), NULL, false, pg_temp.lt('2024-10-03 09:00')),
    (12, 'SUPA', 'U1', 'N5', 1, 4, pg_temp.lt('2024-10-01 09:00'), pg_temp.lt('2024-10-08 17:00'), NULL, false, pg_temp.lt('2024-10-03 09:00')),
    -- supplement across 2-3 Sep 2024 holidays: (30 Aug, 4 Sep] = 4 Sep only
    (13, 'SUPH', 'U1', 'N5', 1, 4, pg_temp.lt('2024-08-28 09:00'), pg_temp.lt('2024-09-09 17:00'), NULL, false, pg_temp.lt('2024-09-04 09:00')),
    -- apology: appointment pushed to 20 Mar, outstanding supplement with a new
    -- appointment; legal due stays 11 Mar; finished 15 Mar: masked late
    (14, 'APOL', 'U1', 'N5', 2, 10, pg_temp.lt('2024-03-04 09:00'), pg_temp.lt('2024-03-20 17:00'), pg_temp.lt('2024-03-15 10:00'), false, pg_temp.lt('2024-03-15 10:00')),
    -- missing from the catalogue
    (15, 'MISS', 'U1', 'ZZ', 1, 9, pg_temp.lt('2024-03-04 09:00'), pg_temp.lt('2024-03-08 17:00'), pg_temp.lt('2024-03-08 10:00'), false, pg_temp.lt('2024-03-08 10:00')),
    -- every class (procedure N1, fee-bearing; U3 only)
    (21, 'C1', 'U3', 'N1', 2, 1, NULL, NULL, NULL, false, pg_temp.lt('2024-04-01 09:00')),
    (22, 'C2', 'U3', 'N1', 2, 2, pg_temp.lt('2024-04-01 09:00'), pg_temp.lt('2024-04-05 17:00'), NULL, false, pg_temp.lt('2024-04-01 09:00')),
    (23, 'C3', 'U3', 'N1', 2, 3, NULL, NULL, NULL, false, pg_temp.lt('2024-04-01 09:00')),
    (24, 'C4', 'U3', 'N1', 1, 4, pg_temp.lt('2024-04-01 09:00'), pg_temp.lt('2024-04-05 17:00'), NULL, false, pg_temp.lt('2024-04-01 09:00')),
    (25, 'C5', 'U3', 'N1', 3, 5, pg_temp.lt('2024-04-01 09:00'), pg_temp.lt('2024-04-05 17:00'), NULL, false, pg_temp.lt('2024-04-01 09:00')),
    (26, 'C6', 'U3', 'N1', 1, 6, pg_temp.lt('2024-04-01 09:00'), pg_temp.lt('2024-04-05 17:00'), NULL, false, pg_temp.lt('2024-04-01 09:00')),
    (27, 'C7', 'U3', 'N1', 1, 7, pg_temp.lt('2024-04-01 09:00'), NULL, pg_temp.lt('2024-04-02 09:00'), false, pg_temp.lt('2024-04-02 09:00')),
    (28, 'C8', 'U3', 'N1', 1, 8, pg_temp.lt('2024-04-01 09:00'), pg_temp.lt('2024-04-05 17:00'), NULL, false, pg_temp.lt('2024-04-01 09:00')),
    (29, 'C9', 'U3', 'N1', 2, 9, pg_temp.lt('2024-04-01 09:00'), pg_temp.lt('2024-04-05 17:00'), pg_temp.lt('2024-04-02 10:00'), true, pg_temp.lt('2024-04-02 10:00')),
    (30, 'C10', 'U3', 'N1', 1, 10, pg_temp.lt('2024-04-01 09:00'), pg_temp.lt('2024-04-02 17:00'), pg_temp.lt('2024-04-03 10:00'), false, pg_temp.lt('2024-04-03 10:00')),
    -- U4: received, nothing resolved, no fee: rates with zero denominator
    (31, 'Z1', 'U4', 'Y', 1, 4, pg_temp.lt('2024-06-03 09:00'), pg_temp.lt('2024-06-10 17:00'), NULL, false, pg_temp.lt('2024-06-03 09:00'));
INSERT INTO stg_thutuc (row_number, unit_code, procedure_code, procedure_name, level,
                        legal_days, fee, in_force, updated_at) VALUES
    (20, 'U3', 'N1', 'Một ngày', 3, 1, true, true, pg_temp.lt('2024-01-01 00:00'));

INSERT INTO stg_bosung (row_number, ma_ho_so, seq, requested_at, returned_at, new_due_at, updated_at) VALUES
    (1, 'SUPO', 1, pg_temp.lt('2024-10-03 09:00'), NULL, NULL, pg_temp.lt('2024-10-03 09:00')),
    (2, 'SUPS', 1, pg_temp.lt('2024-10-03 09:00'), pg_temp.lt('2024-10-03 15:00'), NULL, pg_temp.lt('2024-10-03 15:00')),
    (3, 'SUPA', 1, pg_temp.lt('2024-10-03 09:00'), pg_temp.lt('2024-10-07 09:00'), NULL, pg_temp.lt('2024-10-07 09:00')),
    (4, 'SUPA', 2, pg_temp.lt('2024-10-07 10:00'), pg_temp.lt('2024-10-09 09:00'), NULL, pg_temp.lt('2024-10-09 09:00')),
    (5, 'SUPH', 1, pg_temp.lt('2024-08-30 09:00'), pg_temp.lt('2024-09-04 09:00'), NULL, pg_temp.lt('2024-09-04 09:00')),
    (6, 'APOL', 1, pg_temp.lt('2024-03-08 09:00'), NULL, pg_temp.lt('2024-03-20 17:00'), pg_temp.lt('2024-03-08 09:00'));

INSERT INTO stg_quatrinh (row_number, ma_ho_so, seq, status, done_at, department, step_due_at, updated_at) VALUES
    -- C9: received in the software within 24 h, handled, finished: on software
    (1, 'C9', 1, 2, pg_temp.lt('2024-04-01 09:05'), 'Bộ phận một cửa', pg_temp.lt('2024-04-01 17:00'), pg_temp.lt('2024-04-02 10:00')),
    (2, 'C9', 2, 4, pg_temp.lt('2024-04-02 09:00'), 'Phòng chuyên môn', pg_temp.lt('2024-04-01 17:00'), pg_temp.lt('2024-04-02 10:00')),
    (3, 'C9', 3, 9, pg_temp.lt('2024-04-02 10:00'), NULL, pg_temp.lt('2024-04-02 17:00'), pg_temp.lt('2024-04-02 10:00')),
    -- C10: typed in two days later: not on software
    (4, 'C10', 1, 2, pg_temp.lt('2024-04-03 09:05'), 'Bộ phận một cửa', NULL, pg_temp.lt('2024-04-03 10:00')),
    (5, 'C10', 2, 4, pg_temp.lt('2024-04-03 09:30'), 'Phòng chuyên môn', NULL, pg_temp.lt('2024-04-03 10:00')),
    (6, 'C10', 3, 10, pg_temp.lt('2024-04-03 10:00'), NULL, NULL, pg_temp.lt('2024-04-03 10:00')),
    -- C4: in progress, received and handled: on software without a final step
    (7, 'C4', 1, 2, pg_temp.lt('2024-04-02 09:00'), 'Bộ phận một cửa', pg_temp.lt('2024-04-01 17:00'), pg_temp.lt('2024-04-02 09:00')),
    (8, 'C4', 2, 4, pg_temp.lt('2024-04-02 10:00'), 'Phòng chuyên môn', NULL, pg_temp.lt('2024-04-02 10:00')),
    -- C1: not received: its steps count nowhere
    (9, 'C1', 1, 1, pg_temp.lt('2024-04-01 09:00'), 'Bộ phận một cửa', pg_temp.lt('2024-03-01 17:00'), pg_temp.lt('2024-04-01 09:00')),
    -- a step of a dossier the warehouse does not know
    (10, 'GHOST', 1, 2, pg_temp.lt('2024-04-01 09:00'), 'Bộ phận một cửa', pg_temp.lt('2024-03-01 17:00'), pg_temp.lt('2024-04-01 09:00'));

SELECT count(*) FROM etl.merge_staging(1, 'src', 1, 1);
SELECT etl.derive('2024-12-15 00:00+07');
COMMIT;

-- Working days and the legal due date
SELECT results_eq($$SELECT effective_receipt_day FROM dw.dossier_derived WHERE ma_ho_so = 'SAT'$$,
                  $$VALUES (date '2024-03-11')$$, 'Saturday receipt: effective Monday');
SELECT results_eq($$SELECT legal_due_date FROM mart.dossier WHERE ma_ho_so = 'SAT'$$,
                  $$VALUES (date '2024-03-13')$$, 'Saturday receipt, N = 2: due Wednesday');
SELECT results_eq($$SELECT legal_due_date FROM mart.dossier WHERE ma_ho_so = 'TET'$$,
                  $$VALUES (date '2024-02-19')$$, 'Tết: 7 Feb + 3 working days = 19 Feb');
SELECT is(dw.workday_add('2024-02-07', 1), date '2024-02-15', 'workday_add over Tết');
SELECT results_eq($$SELECT legal_due_date FROM mart.dossier WHERE ma_ho_so = 'MKUP'$$,
                  $$VALUES (date '2024-05-06')$$, 'make-up Saturday receipt before 17:00 counts that day');
SELECT results_eq($$SELECT legal_due_date FROM mart.dossier WHERE ma_ho_so = 'N0A'$$,
                  $$VALUES (date '2024-03-04')$$, 'N = 0 before 17:00: same day');
SELECT results_eq($$SELECT legal_outcome FROM mart.dossier WHERE ma_ho_so = 'N0A'$$,
                  $$VALUES ('on_time')$$, 'N = 0 finished that day: on time');
SELECT results_eq($$SELECT legal_due_date FROM mart.dossier WHERE ma_ho_so = 'N0B'$$,
                  $$VALUES (date '2024-03-05')$$, 'N = 0 after 17:00: next working day');
SELECT results_eq($$SELECT legal_outcome FROM mart.dossier WHERE ma_ho_so = 'N0B'$$,
                  $$VALUES ('late')$$, 'N = 0 after 17:00 finished two days later: late');
SELECT results_eq($$SELECT declared_outcome FROM mart.dossier WHERE ma_ho_so = 'N0B'$$,
                  $$VALUES ('late')$$, 'declared late against the appointment');
SELECT results_eq($$SELECT legal_due_date FROM mart.dossier WHERE ma_ho_so = 'AT17'$$,
                  $$VALUES (date '2024-03-05')$$, 'received at 17:00 sharp: next working day');
SELECT results_eq($$SELECT legal_due_date FROM mart.dossier WHERE ma_ho_so = 'TZA'$$,
                  $$VALUES (date '2024-03-05')$$, 'zone: 10:30 UTC is 17:30 local, after close');
SELECT results_eq($$SELECT legal_due_date FROM mart.dossier WHERE ma_ho_so = 'TZB'$$,
                  $$VALUES (date '2024-03-04')$$, 'zone: 17:30+08 is 16:30 local, before close');
SELECT results_eq($$SELECT legal_due_date FROM mart.dossier WHERE ma_ho_so = 'TZC'$$,
                  $$VALUES (date '2024-03-04')$$, 'zone: Sunday 23:30 local (16:30 UTC): Monday');
SELECT results_eq($$SELECT received
                    FROM mart.unit_kpi WHERE unit_code = 'U1' AND period_kind = 'month' AND period_start = '2024-02-01'$$,
                  $$VALUES (1::bigint)$$, 'zone: Sunday 23:30 local counts in March, not February');

-- Supplements
SELECT results_eq($$SELECT extension_days FROM mart.dossier WHERE ma_ho_so = 'SUPO'$$,
                  $$VALUES (0)$$, 'outstanding supplement extends nothing');
SELECT results_eq($$SELECT legal_due_date FROM mart.dossier WHERE ma_ho_so = 'SUPO'$$,
                  $$VALUES (date '2024-10-08')$$, 'outstanding supplement: due 1 Oct + 5');
SELECT results_eq($$SELECT extension_days FROM mart.dossier WHERE ma_ho_so = 'SUPS'$$,
                  $$VALUES (0)$$, 'supplement returned the same day extends nothing');
SELECT results_eq($$SELECT extension_days FROM mart.dossier WHERE ma_ho_so = 'SUPA'$$,
                  $$VALUES (4)$$, 'adjacent supplements (3,7] and (7,9]: 4, 7, 8, 9 Oct');
SELECT results_eq($$SELECT legal_due_date FROM mart.dossier WHERE ma_ho_so = 'SUPA'$$,
                  $$VALUES (date '2024-10-14')$$, 'adjacent supplements: due 14 Oct');
SELECT results_eq($$SELECT extension_days FROM mart.dossier WHERE ma_ho_so = 'SUPH'$$,
                  $$VALUES (1)$$, 'supplement over the 2-3 Sep holidays: 1 working day');
SELECT results_eq($$SELECT legal_due_date FROM mart.dossier WHERE ma_ho_so = 'SUPH'$$,
                  $$VALUES (date '2024-09-09')$$, 'supplement over holidays: 28 Aug + 6 = 9 Sep');

-- Apology and masked late
SELECT results_eq($$SELECT legal_due_date FROM mart.dossier WHERE ma_ho_so = 'APOL'$$,
                  $$VALUES (date '2024-03-11')$$, 'apology: new appointment extends nothing');
SELECT results_eq($$SELECT declared_outcome FROM mart.dossier WHERE ma_ho_so = 'APOL'$$,
                  $$VALUES ('early')$$, 'apology: declared early against the new appointment');
SELECT results_eq($$SELECT masked_late FROM mart.dossier WHERE ma_ho_so = 'APOL'$$,
                  $$VALUES (true)$$, 'apology: masked late');

-- Missing from the catalogue
SELECT results_eq($$SELECT legal_due_date FROM mart.dossier WHERE ma_ho_so = 'MISS'$$,
                  $$VALUES (NULL::date)$$, 'missing procedure: legal due unknown');
SELECT results_eq($$SELECT legal_outcome FROM mart.dossier WHERE ma_ho_so = 'MISS'$$,
                  $$VALUES ('unknown')$$, 'missing procedure: legal outcome unknown');
SELECT results_eq($$SELECT masked_late FROM mart.dossier WHERE ma_ho_so = 'MISS'$$,
                  $$VALUES (false)$$, 'missing procedure: not masked late');
SELECT results_eq($$SELECT legal_days FROM mart.dossier WHERE ma_ho_so = 'MISS'$$,
                  $$VALUES (NULL::int)$$, 'missing procedure: N unknown');

-- Classes
SELECT results_eq($$SELECT status, class FROM mart.dossier WHERE unit_code = 'U3' ORDER BY status$$,
                  $$VALUES (1::smallint, 'not_received'), (2::smallint, 'in_progress'),
                           (3::smallint, 'not_received'), (4::smallint, 'in_progress'),
                           (5::smallint, 'paused'), (6::smallint, 'paused'),
                           (7::smallint, 'withdrawn'), (8::smallint, 'paused'),
                           (9::smallint, 'resolved'), (10::smallint, 'resolved')$$,
                  'every status has its class');
SELECT is(count(*) FILTER (WHERE on_software IS NULL), 2::bigint, 'on_software NULL for not_received only') FROM mart.dossier WHERE unit_code = 'U3';
SELECT is(count(*) FILTER (WHERE declared_outcome IS NOT NULL), 2::bigint, 'outcomes only for resolved') FROM mart.dossier WHERE unit_code = 'U3';
SELECT results_eq($$SELECT on_software FROM mart.dossier WHERE ma_ho_so = 'C9'$$,
                  $$VALUES (true)$$, 'on software: received within 24 h, handled, finished');
SELECT results_eq($$SELECT on_software FROM mart.dossier WHERE ma_ho_so = 'C10'$$,
                  $$VALUES (false)$$, 'not on software: typed in two days later');
SELECT results_eq($$SELECT on_software FROM mart.dossier WHERE ma_ho_so = 'C4'$$,
                  $$VALUES (true)$$, 'on software: in progress needs no final step');
SELECT results_eq($$SELECT on_software FROM mart.dossier WHERE ma_ho_so = 'C5'$$,
                  $$VALUES (false)$$, 'no log: not on software');
SELECT results_eq($$SELECT received, received_direct, received_online, received_postal, withdrawn, resolved, on_software
                    FROM mart.unit_kpi WHERE unit_code = 'U3' AND period_kind = 'month' AND period_start = '2024-04-01'$$,
                  $$VALUES (8::bigint, 5::bigint, 2::bigint, 1::bigint, 1::bigint, 2::bigint, 2::bigint)$$, 'U3 April: received by channel, withdrawn, resolved, on software');
SELECT results_eq($$SELECT online_eligible, online_eligible_online, online_rate
                    FROM mart.unit_kpi WHERE unit_code = 'U3' AND period_kind = 'month' AND period_start = '2024-04-01'$$,
                  $$VALUES (7::bigint, 2::bigint, 28.57)$$, 'U3 April: online eligible excludes postal');
SELECT results_eq($$SELECT fee_received, paid_online, paid_online_rate
                    FROM mart.unit_kpi WHERE unit_code = 'U3' AND period_kind = 'month' AND period_start = '2024-04-01'$$,
                  $$VALUES (8::bigint, 1::bigint, 12.50)$$, 'U3 April: fee received and paid online');
SELECT results_eq($$SELECT resolved_early, resolved_on_time, resolved_late, ontime_rate, on_software_rate
                    FROM mart.unit_kpi WHERE unit_code = 'U3' AND period_kind = 'month' AND period_start = '2024-04-01'$$,
                  $$VALUES (1::bigint, 0::bigint, 1::bigint, 50.00, 25.00)$$, 'U3 April: outcomes and rates');
SELECT results_eq($$SELECT resolved_late_legal, resolved_unknown_legal, ontime_rate_legal
                    FROM mart.unit_kpi WHERE unit_code = 'U3' AND period_kind = 'month' AND period_start = '2024-04-01'$$,
                  $$VALUES (1::bigint, 0::bigint, 50.00)$$, 'U3 April: legal outcomes');

-- Zero denominators
SELECT results_eq($$SELECT ontime_rate
                    FROM mart.unit_kpi WHERE unit_code = 'U4' AND period_kind = 'month' AND period_start = '2024-06-01'$$,
                  $$VALUES (NULL::numeric)$$, 'nothing resolved: ontime_rate NULL');
SELECT results_eq($$SELECT paid_online_rate
                    FROM mart.unit_kpi WHERE unit_code = 'U4' AND period_kind = 'month' AND period_start = '2024-06-01'$$,
                  $$VALUES (NULL::numeric)$$, 'no fee-bearing dossier: paid_online_rate NULL');
SELECT results_eq($$SELECT pct_level2plus
                    FROM mart.unit_kpi WHERE unit_code = 'U4' AND period_kind = 'month' AND period_start = '2024-06-01'$$,
                  $$VALUES (NULL::numeric)$$, 'no catalogue: pct_level2plus NULL');
SELECT results_eq($$SELECT on_software_rate
                    FROM mart.unit_kpi WHERE unit_code = 'U4' AND period_kind = 'month' AND period_start = '2024-06-01'$$,
                  $$VALUES (0.00)$$, 'received but never on software: 0');
SELECT results_eq($$SELECT received
                    FROM mart.unit_kpi WHERE unit_code = 'U4' AND period_kind = 'month' AND period_start = '2024-07-01'$$,
                  $$VALUES (0::bigint)$$, 'a month with nothing received has a row with 0');

-- Catalogue level change mid-year, procedures at the end of the period
SELECT results_eq($$SELECT procedures_total, procedures_level4, pct_level4
                    FROM mart.unit_kpi WHERE unit_code = 'U2' AND period_kind = 'month' AND period_start = '2024-06-01'$$,
                  $$VALUES (3::bigint, 0::bigint, 0.00)$$, 'June: L still level 2');
SELECT results_eq($$SELECT procedures_total, procedures_level4, pct_level4
                    FROM mart.unit_kpi WHERE unit_code = 'U2' AND period_kind = 'month' AND period_start = '2024-07-01'$$,
                  $$VALUES (3::bigint, 1::bigint, 33.33)$$, 'July: L level 4 from 15 July');
SELECT results_eq($$SELECT procedures_total, procedures_level3plus
                    FROM mart.unit_kpi WHERE unit_code = 'U2' AND period_kind = 'month' AND period_start = '2024-09-01'$$,
                  $$VALUES (2::bigint, 1::bigint)$$, 'September: M no longer in force');
SELECT results_eq($$SELECT procedures_total, pct_level4
                    FROM mart.unit_kpi WHERE unit_code = 'U2' AND period_kind = 'quarter' AND period_start = '2024-04-01'$$,
                  $$VALUES (3::bigint, 0.00)$$, 'Q2 at 30 June');
SELECT results_eq($$SELECT procedures_total, procedures_level4
                    FROM mart.unit_kpi WHERE unit_code = 'U2' AND period_kind = 'quarter' AND period_start = '2024-07-01'$$,
                  $$VALUES (2::bigint, 1::bigint)$$, 'Q3 at 30 September');
-- The span ends at the latest receipt or finish (October here), so the
-- period not yet ended at the run is Q4, not a December month.
SELECT results_eq($$SELECT procedures_total, procedures_level4
                    FROM mart.unit_kpi WHERE unit_code = 'U2' AND period_kind = 'quarter' AND period_start = '2024-10-01'$$,
                  $$VALUES (2::bigint, 1::bigint)$$, 'Q4 not ended: at the run (F level 4 not yet)');
SELECT results_eq($$SELECT procedures_total, procedures_level4
                    FROM mart.unit_kpi WHERE unit_code = 'U2' AND period_kind = 'year' AND period_start = '2024-01-01'$$,
                  $$VALUES (2::bigint, 1::bigint)$$, 'year 2024 not ended: at the run');

-- Span and units
SELECT is(count(*), 14::bigint, 'a unit from donvi alone has every period of the span (Feb-Oct: 9 + 4 + 1)')
FROM mart.unit_kpi WHERE unit_code = 'U9';
SELECT results_eq($$SELECT unit_name
                    FROM mart.unit_kpi WHERE unit_code = 'U9' AND period_kind = 'year'$$,
                  $$VALUES ('Phòng GD&ĐT không có hồ sơ')$$, 'unit name from donvi');
SELECT results_eq($$SELECT unit_name
                    FROM mart.unit_kpi WHERE unit_code = 'U3' AND period_kind = 'year'$$,
                  $$VALUES (NULL)$$, 'unit_name NULL where donvi lacks it');
SELECT is(count(DISTINCT unit_code), 5::bigint, 'a row for every unit code seen (U1-U4, U9)') FROM mart.unit_kpi;
SELECT is(min(period_start), date '2024-02-01', 'span starts with the earliest receipt (Tết, February)')
FROM mart.unit_kpi WHERE period_kind = 'month';
SELECT is(max(period_start), date '2024-10-01', 'span ends with the latest receipt or finish (October)')
FROM mart.unit_kpi WHERE period_kind = 'month';
SELECT is(count(*), 5::bigint, 'mart.unit lists every unit') FROM mart.unit;

-- Step delays
SELECT results_eq($$SELECT steps, steps_late, late_rate
                    FROM mart.step_delay WHERE unit_code = 'U3' AND department = 'Bộ phận một cửa' AND period_kind = 'month' AND period_start = '2024-04-01'$$,
                  $$VALUES (2::bigint, 1::bigint, 50.00)$$, 'step_delay one-stop desk April: C9 on time, C4 a day late');
SELECT results_eq($$SELECT steps, steps_late
                    FROM mart.step_delay WHERE unit_code = 'U3' AND department = 'Phòng chuyên môn' AND period_kind = 'year'$$,
                  $$VALUES (1::bigint, 1::bigint)$$, 'step_delay specialist department');
SELECT results_eq($$SELECT steps, steps_late
                    FROM mart.step_delay WHERE unit_code = 'U3' AND department = '(không rõ)' AND period_kind = 'quarter'$$,
                  $$VALUES (1::bigint, 0::bigint)$$, 'step_delay empty department is (không rõ)');
SELECT is(count(*), 9::bigint, 'step_delay: only groups with steps (3 departments x 3 kinds)') FROM mart.step_delay;

-- Rates are percentages with two decimals (the checks above compare them as
-- numbers, which 50.0 would pass as well as 50.00)
SELECT is_empty($$
    SELECT unit_code, period_kind, period_start FROM mart.unit_kpi
    WHERE scale(online_rate) <> 2 OR scale(ontime_rate) <> 2 OR scale(ontime_rate_legal) <> 2
       OR scale(on_software_rate) <> 2 OR scale(paid_online_rate) <> 2
       OR scale(pct_level2plus) <> 2 OR scale(pct_level3plus) <> 2 OR scale(pct_level4) <> 2
    UNION ALL
    SELECT unit_code, period_kind, period_start FROM mart.step_delay WHERE scale(late_rate) <> 2$$,
    'every rate of mart.unit_kpi and mart.step_delay has two decimals');

-- A step of an unknown dossier counts once the dossier arrives
BEGIN;
SELECT etl.create_staging();
INSERT INTO stg_hoso (row_number, ma_ho_so, unit_code, procedure_code, channel, status,
                      received_at, due_at, finished_at, paid_online, updated_at) VALUES
    (1, 'GHOST', 'U3', 'N1', 1, 4, pg_temp.lt('2024-04-01 08:00'), pg_temp.lt('2024-04-05 17:00'), NULL, false, pg_temp.lt('2024-04-01 08:00'));
SELECT count(*) FROM etl.merge_staging(2, 'src', 1, 2);
SELECT etl.derive('2024-12-16 00:00+07');
COMMIT;
SELECT results_eq($$SELECT steps, steps_late
                    FROM mart.step_delay WHERE unit_code = 'U3' AND department = 'Bộ phận một cửa' AND period_kind = 'month' AND period_start = '2024-04-01'$$,
                  $$VALUES (3::bigint, 2::bigint)$$, 'step of a dossier that arrived later now counts');
SELECT results_eq($$SELECT on_software FROM mart.dossier WHERE ma_ho_so = 'GHOST'$$,
                  $$VALUES (false)$$, 'late-arriving dossier: its earlier log counts (received, not handled)');
SELECT * FROM finish();
