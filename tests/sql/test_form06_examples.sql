-- reports.md, "Form 06": the worked examples and each column's edge, with
-- expectations computed by hand.  Each case is its own unit, so that its
-- row holds that dossier alone.  2021-Q1 = 15 Dec 2020 - 14 Mar 2021,
-- 2021-Q2 = 15 Mar - 14 Jun 2021; outside 2024 the calendar is Monday to
-- Friday.
\ir lib.sql
SELECT plan(33);
SELECT pg_temp.rules_2024() IS NOT NULL AS rules;

-- A unit's row of a period as "3,4,5,6|7,8,9,10|11,12,13|withdrawn,late
-- legal,unknown legal,masked,overdue legal"; an absent row is zeros.
CREATE FUNCTION pg_temp.f06(p_unit text, p_kind text, p_label text) RETURNS text
LANGUAGE sql AS $$
    SELECT concat_ws('|',
        concat_ws(',', r.received_total, r.received_online, r.received_offline, r.carried_over),
        concat_ws(',', r.resolved_total, r.resolved_early, r.resolved_on_time, r.resolved_late),
        concat_ws(',', r.pending_total, r.pending_in_time, r.pending_overdue),
        concat_ws(',', r.of_which_withdrawn, r.resolved_late_legal, r.resolved_unknown_legal,
                  r.masked_late, r.pending_overdue_legal))
    FROM (SELECT coalesce(sum(received_total), 0) AS received_total,
                 coalesce(sum(received_online), 0) AS received_online,
                 coalesce(sum(received_offline), 0) AS received_offline,
                 coalesce(sum(carried_over), 0) AS carried_over,
                 coalesce(sum(resolved_total), 0) AS resolved_total,
                 coalesce(sum(resolved_early), 0) AS resolved_early,
                 coalesce(sum(resolved_on_time), 0) AS resolved_on_time,
                 coalesce(sum(resolved_late), 0) AS resolved_late,
                 coalesce(sum(pending_total), 0) AS pending_total,
                 coalesce(sum(pending_in_time), 0) AS pending_in_time,
                 coalesce(sum(pending_overdue), 0) AS pending_overdue,
                 coalesce(sum(of_which_withdrawn), 0) AS of_which_withdrawn,
                 coalesce(sum(resolved_late_legal), 0) AS resolved_late_legal,
                 coalesce(sum(resolved_unknown_legal), 0) AS resolved_unknown_legal,
                 coalesce(sum(masked_late), 0) AS masked_late,
                 coalesce(sum(pending_overdue_legal), 0) AS pending_overdue_legal
          FROM mart.form06
          WHERE unit_code = p_unit AND period_kind = p_kind AND period_label = p_label) r
$$;

BEGIN;
SELECT etl.create_staging();
INSERT INTO stg_thutuc (row_number, unit_code, procedure_code, procedure_name, field_code,
                        field_name, level, legal_days, fee, in_force, updated_at) VALUES
    -- two days by law: S1-S3 and ML
    (1, 'S1', 'PS', 'Hai ngày', 'GD', 'Giáo dục', 2, 2, false, true, pg_temp.lt('2020-01-01 00:00')),
    (2, 'S2', 'PS', 'Hai ngày', 'GD', 'Giáo dục', 2, 2, false, true, pg_temp.lt('2020-01-01 00:00')),
    (3, 'S3', 'PS', 'Hai ngày', 'GD', 'Giáo dục', 2, 2, false, true, pg_temp.lt('2020-01-01 00:00')),
    (4, 'ML', 'PS', 'Hai ngày', 'GD', 'Giáo dục', 2, 2, false, true, pg_temp.lt('2020-01-01 00:00')),
    -- a catalogue entry without a field
    (5, 'NF', 'PE', 'Không lĩnh vực', '  ', NULL, 2, 5, false, true, pg_temp.lt('2020-01-01 00:00')),
    -- a field code with spaces; its name from the latest version of any unit
    (6, 'FD', 'PF', 'Khai sinh', ' HT ', 'Hộ tịch cũ', 2, 5, false, true, pg_temp.lt('2020-01-01 00:00')),
    (7, 'FE', 'PG', 'Khai tử', 'HT', ' Hộ tịch ', 2, 5, false, true, pg_temp.lt('2021-01-01 00:00'));

INSERT INTO stg_hoso (row_number, ma_ho_so, unit_code, procedure_code, channel, status,
                      received_at, due_at, finished_at, paid_online, updated_at) VALUES
    -- example 1: received 10 Dec 2020, resolved on time 20 Dec
    (1, 'E1', 'E1', 'X', 1, 10, pg_temp.lt('2020-12-10 09:00'), pg_temp.lt('2020-12-20 17:00'),
        pg_temp.lt('2020-12-20 10:00'), false, pg_temp.lt('2020-12-20 10:00')),
    -- example 2: received 1 Mar 2021 in person, due 12 Mar, in progress
    (2, 'E2', 'E2', 'X', 1, 4, pg_temp.lt('2021-03-01 09:00'), pg_temp.lt('2021-03-12 17:00'),
        NULL, false, pg_temp.lt('2021-03-01 09:00')),
    -- example 3: received 14 Mar online, due 20 Mar, resolved 15 Mar
    (3, 'E3', 'E3', 'X', 2, 9, pg_temp.lt('2021-03-14 09:00'), pg_temp.lt('2021-03-20 17:00'),
        pg_temp.lt('2021-03-15 10:00'), false, pg_temp.lt('2021-03-15 10:00')),
    -- example 4: received 2 Mar by post, withdrawn: step 7 on 5 Mar 09:00,
    -- the row updated later (20 Mar)
    (4, 'E4', 'E4', 'X', 3, 7, pg_temp.lt('2021-03-02 09:00'), NULL, NULL, false,
        pg_temp.lt('2021-03-20 09:00')),
    -- withdrawn without a step 7 (closes when last updated, 20 Mar), no NgayHenTra
    (5, 'W0', 'W0', 'X', 1, 7, pg_temp.lt('2021-03-03 09:00'), NULL, NULL, false,
        pg_temp.lt('2021-03-20 09:00')),
    -- receipt on the 14th and on the 15th
    (6, 'R14', 'R14', 'X', 2, 4, pg_temp.lt('2021-03-14 23:30'), pg_temp.lt('2021-04-30 17:00'),
        NULL, false, pg_temp.lt('2021-03-14 23:30')),
    (7, 'R15', 'R15', 'X', 2, 4, pg_temp.lt('2021-03-15 00:10'), pg_temp.lt('2021-04-30 17:00'),
        NULL, false, pg_temp.lt('2021-03-15 00:10')),
    -- closing on the last day and on the first day of 2021-Q1
    (8, 'CL', 'CL', 'X', 1, 10, pg_temp.lt('2021-03-01 09:00'), pg_temp.lt('2021-03-10 17:00'),
        pg_temp.lt('2021-03-14 16:00'), false, pg_temp.lt('2021-03-14 16:00')),
    (9, 'CF', 'CF', 'X', 1, 10, pg_temp.lt('2020-12-10 09:00'), pg_temp.lt('2020-12-20 17:00'),
        pg_temp.lt('2020-12-15 08:00'), false, pg_temp.lt('2020-12-15 08:00')),
    -- closing before receipt (bad data): closes on its receipt day, 5 Mar
    (10, 'CB', 'CB', 'X', 1, 10, pg_temp.lt('2021-03-05 09:00'), pg_temp.lt('2021-03-10 17:00'),
        pg_temp.lt('2021-03-01 09:00'), false, pg_temp.lt('2021-03-05 09:00')),
    -- legal due 3 Mar (Mon 1 Mar + 2 working days); S1 with a supplement
    -- outstanding at the end of 14 Mar, S2 with one back on 16 Mar (legal
    -- due then 9 Mar), S3 without
    (11, 'S1', 'S1', 'PS', 1, 5, pg_temp.lt('2021-03-01 09:00'), pg_temp.lt('2021-06-30 17:00'),
        NULL, false, pg_temp.lt('2021-03-10 09:00')),
    (12, 'S2', 'S2', 'PS', 1, 4, pg_temp.lt('2021-03-01 09:00'), pg_temp.lt('2021-06-30 17:00'),
        NULL, false, pg_temp.lt('2021-03-16 09:00')),
    (13, 'S3', 'S3', 'PS', 1, 4, pg_temp.lt('2021-03-01 09:00'), pg_temp.lt('2021-06-30 17:00'),
        NULL, false, pg_temp.lt('2021-03-01 09:00')),
    -- masked late: legal due 3 Mar, appointment 10 Mar, resolved 8 Mar
    (14, 'ML', 'ML', 'PS', 1, 10, pg_temp.lt('2021-03-01 09:00'), pg_temp.lt('2021-03-10 17:00'),
        pg_temp.lt('2021-03-08 09:00'), false, pg_temp.lt('2021-03-08 09:00')),
    -- no catalogue entry: resolved early, legal outcome unknown
    (15, 'NC', 'NC', 'PX', 1, 10, pg_temp.lt('2021-03-01 09:00'), pg_temp.lt('2021-03-10 17:00'),
        pg_temp.lt('2021-03-05 09:00'), false, pg_temp.lt('2021-03-05 09:00')),
    -- a catalogue entry without a field; one with field HT
    (16, 'NF', 'NF', 'PE', 2, 4, pg_temp.lt('2021-03-01 09:00'), pg_temp.lt('2021-03-20 17:00'),
        NULL, false, pg_temp.lt('2021-03-01 09:00')),
    (17, 'FD', 'FD', 'PF', 2, 4, pg_temp.lt('2021-03-01 09:00'), pg_temp.lt('2021-03-20 17:00'),
        NULL, false, pg_temp.lt('2021-03-01 09:00')),
    -- never received: in no column
    (18, 'NR', 'NR', 'X', 1, 1, NULL, NULL, NULL, false, pg_temp.lt('2021-03-01 09:00'));

INSERT INTO stg_bosung (row_number, ma_ho_so, seq, requested_at, returned_at, updated_at) VALUES
    (1, 'S1', 1, pg_temp.lt('2021-03-10 09:00'), NULL, pg_temp.lt('2021-03-10 09:00')),
    (2, 'S2', 1, pg_temp.lt('2021-03-10 09:00'), pg_temp.lt('2021-03-16 09:00'),
        pg_temp.lt('2021-03-16 09:00'));

INSERT INTO stg_quatrinh (row_number, ma_ho_so, seq, status, done_at, department, step_due_at,
                          updated_at) VALUES
    (1, 'E4', 1, 2, pg_temp.lt('2021-03-02 09:00'), 'Một cửa', NULL, pg_temp.lt('2021-03-20 09:00')),
    (2, 'E4', 2, 7, pg_temp.lt('2021-03-05 09:00'), 'Một cửa', NULL, pg_temp.lt('2021-03-20 09:00')),
    (3, 'E4', 3, 7, pg_temp.lt('2021-03-06 09:00'), 'Một cửa', NULL, pg_temp.lt('2021-03-20 09:00'));

SELECT count(*) AS entities FROM etl.merge_staging(1, 'src', 1, 1);
SELECT etl.derive(pg_temp.lt('2021-12-01 00:00'));
COMMIT;

-- report periods
SELECT results_eq(
    $$SELECT period_kind, period_label, first_day, last_day FROM dw.report_periods('2021-03-14', '2021-03-15')
      ORDER BY 1, 3$$,
    $$VALUES ('report_half', '2021-H1', date '2020-12-15', date '2021-06-14'),
             ('report_month', '2021-03', '2021-02-15', '2021-03-14'),
             ('report_month', '2021-04', '2021-03-15', '2021-04-14'),
             ('report_quarter', '2021-Q1', '2020-12-15', '2021-03-14'),
             ('report_quarter', '2021-Q2', '2021-03-15', '2021-06-14'),
             ('report_year', '2021', '2020-12-15', '2021-12-14')$$,
    'report periods run from the 15th to the 14th');
SELECT results_eq(
    $$SELECT period_label, first_day, last_day FROM dw.report_periods('2021-06-15', '2021-12-15')
      WHERE period_kind IN ('report_half', 'report_year') ORDER BY 2, 1$$,
    $$VALUES ('2021', date '2020-12-15', date '2021-12-14'), ('2021-H2', '2021-06-15', '2021-12-14'),
             ('2022', '2021-12-15', '2022-12-14'), ('2022-H1', '2021-12-15', '2022-06-14')$$,
    'the second half and the year end on 14 December');

-- the worked examples
SELECT is(pg_temp.f06('E1', 'report_quarter', '2021-Q1'), '1,0,0,1|1,0,1,0|0,0,0|0,0,1,0,0',
          'example 1: col 6 and col 9 of 2021-Q1 (no catalogue: legal unknown)');
SELECT is(pg_temp.f06('E1', 'report_quarter', '2021-Q2'), '0,0,0,0|0,0,0,0|0,0,0|0,0,0,0,0',
          'example 1: in no column of 2021-Q2');
SELECT is(pg_temp.f06('E2', 'report_quarter', '2021-Q1'), '1,0,1,0|0,0,0,0|1,0,1|0,0,0,0,0',
          'example 2: col 5 and col 13 of 2021-Q1');
SELECT is(pg_temp.f06('E2', 'report_quarter', '2021-Q2'), '1,0,0,1|0,0,0,0|1,0,1|0,0,0,0,0',
          'example 2: col 6 and col 13 of 2021-Q2');
SELECT is(pg_temp.f06('E3', 'report_quarter', '2021-Q1'), '1,1,0,0|0,0,0,0|1,1,0|0,0,0,0,0',
          'example 3: col 4 and col 12 of 2021-Q1');
SELECT is(pg_temp.f06('E3', 'report_quarter', '2021-Q2'), '1,0,0,1|1,1,0,0|0,0,0|0,0,1,0,0',
          'example 3: col 6 and col 8 of 2021-Q2');
SELECT is(pg_temp.f06('E4', 'report_quarter', '2021-Q1'), '1,0,1,0|1,0,1,0|0,0,0|1,0,0,0,0',
          'example 4: col 5, col 9 and of_which_withdrawn, closed by its first step 7');
SELECT is(pg_temp.f06('E4', 'report_month', '2021-03'), '1,0,1,0|1,0,1,0|0,0,0|1,0,0,0,0',
          'example 4: in report month 2021-03');

-- edges
SELECT is(pg_temp.f06('W0', 'report_quarter', '2021-Q1'), '1,0,1,0|0,0,0,0|1,1,0|0,0,0,0,0',
          'withdrawn without a step 7 is open until it was last updated; no NgayHenTra: in time');
SELECT is(pg_temp.f06('W0', 'report_quarter', '2021-Q2'), '1,0,0,1|1,0,1,0|0,0,0|1,0,0,0,0',
          'withdrawn without a step 7 closes on its CapNhatLuc (20 Mar)');
SELECT is(pg_temp.f06('R14', 'report_month', '2021-03'), '1,1,0,0|0,0,0,0|1,1,0|0,0,0,0,0',
          'received on the 14th (23:30 local): report month 2021-03');
SELECT is(pg_temp.f06('R14', 'report_month', '2021-04'), '1,0,0,1|0,0,0,0|1,1,0|0,0,0,0,0',
          'received on the 14th: carried over into 2021-04');
SELECT is(pg_temp.f06('R15', 'report_month', '2021-03'), '0,0,0,0|0,0,0,0|0,0,0|0,0,0,0,0',
          'received on the 15th: not in 2021-03');
SELECT is(pg_temp.f06('R15', 'report_month', '2021-04'), '1,1,0,0|0,0,0,0|1,1,0|0,0,0,0,0',
          'received on the 15th: report month 2021-04');
SELECT is(pg_temp.f06('CL', 'report_quarter', '2021-Q1'), '1,0,1,0|1,0,0,1|0,0,0|0,0,1,0,0',
          'closed on the last day: resolved in the period, not pending');
SELECT is(pg_temp.f06('CF', 'report_quarter', '2021-Q1'), '1,0,0,1|1,1,0,0|0,0,0|0,0,1,0,0',
          'closed on the first day: carried over and resolved in the period');
SELECT is(pg_temp.f06('CF', 'report_month', '2020-12'), '1,0,1,0|0,0,0,0|1,1,0|0,0,0,0,0',
          'closed on the first day of the next period: pending at the end of this one');
SELECT is(pg_temp.f06('CB', 'report_quarter', '2021-Q1'), '1,0,1,0|1,1,0,0|0,0,0|0,0,1,0,0',
          'closed before its receipt: closes on its receipt day');
SELECT is(pg_temp.f06('S1', 'report_quarter', '2021-Q1'), '1,0,1,0|0,0,0,0|1,1,0|0,0,0,0,0',
          'a supplement outstanding at the end of the period: not overdue by law');
SELECT is(pg_temp.f06('S1', 'report_quarter', '2021-Q2'), '1,0,0,1|0,0,0,0|1,1,0|0,0,0,0,0',
          'still outstanding at the end of 2021-Q2: still not overdue by law');
SELECT is(pg_temp.f06('S2', 'report_quarter', '2021-Q1'), '1,0,1,0|0,0,0,0|1,1,0|0,0,0,0,0',
          'a supplement back after the period''s end: not overdue by law at its end');
SELECT is(pg_temp.f06('S2', 'report_month', '2021-04'), '1,0,0,1|0,0,0,0|1,1,0|0,0,0,0,1',
          'back on 16 Mar: legal due 9 Mar, overdue by law at 14 Apr');
SELECT is(pg_temp.f06('S3', 'report_quarter', '2021-Q1'), '1,0,1,0|0,0,0,0|1,1,0|0,0,0,0,1',
          'no supplement: legal due 3 Mar, overdue by law, in time by NgayHenTra');
SELECT is(pg_temp.f06('ML', 'report_quarter', '2021-Q1'), '1,0,1,0|1,1,0,0|0,0,0|0,1,0,1,0',
          'declared early, legally late: resolved_late_legal and masked_late');
SELECT is(pg_temp.f06('NC', 'report_quarter', '2021-Q1'), '1,0,1,0|1,1,0,0|0,0,0|0,0,1,0,0',
          'no catalogue entry: legal outcome unknown');
SELECT is(pg_temp.f06('NR', 'report_year', '2021'), '0,0,0,0|0,0,0,0|0,0,0|0,0,0,0,0',
          'never received: in no column');

-- fields
SELECT results_eq(
    $$SELECT unit_code COLLATE "default", field_code, field_name FROM mart.form06
      WHERE period_kind = 'report_quarter' AND period_label = '2021-Q1'
        AND unit_code IN ('NC', 'NF', 'FD', 'S1') ORDER BY 1$$,
    $$VALUES ('FD'::text, 'HT'::text, 'Hộ tịch'::text), ('NC', '(không rõ)', '(không rõ)'),
             ('NF', '(không rõ)', '(không rõ)'), ('S1', 'GD', 'Giáo dục')$$,
    'field: trimmed code in force at receipt, the latest version''s trimmed name, (không rõ) without one');

-- mart.form06_range from the same events: a report period gives its row
SELECT set_eq(
    $$SELECT unit_code, field_code, field_name, first_day, last_day, received_total, received_online,
             received_offline, carried_over, resolved_total, resolved_early, resolved_on_time,
             resolved_late, pending_total, pending_in_time, pending_overdue, of_which_withdrawn,
             resolved_late_legal, resolved_unknown_legal, masked_late, pending_overdue_legal
      FROM mart.form06_range('2020-12-15', '2021-03-14')$$,
    $$SELECT unit_code, field_code, field_name, first_day, last_day, received_total, received_online,
             received_offline, carried_over, resolved_total, resolved_early, resolved_on_time,
             resolved_late, pending_total, pending_in_time, pending_overdue, of_which_withdrawn,
             resolved_late_legal, resolved_unknown_legal, masked_late, pending_overdue_legal
      FROM mart.form06 WHERE period_kind = 'report_quarter' AND period_label = '2021-Q1'$$,
    'form06_range of 2021-Q1''s days = mart.form06 of 2021-Q1');
-- a calendar month: E2 received 1 Mar, held at 31 Mar, overdue
SELECT results_eq(
    $$SELECT received_total, received_offline, carried_over, pending_overdue
      FROM mart.form06_range('2021-03-01', '2021-03-31') WHERE unit_code = 'E2'$$,
    $$VALUES (1, 1, 0, 1)$$, 'form06_range of a calendar month');
SELECT is((SELECT count(*) FROM mart.form06_range('2021-03-02', '2021-03-01'))::int, 0,
          'form06_range of an empty range: no rows');

-- the books balance here too
SELECT is((SELECT count(*) FROM mart.form06
           WHERE received_total <> resolved_total + pending_total)::int, 0,
          'col 3 = col 7 + col 11 on every row');
SELECT * FROM finish();
