-- The books of form 06 (reports.md, "The books balance"), as functions
-- of the session: included by test_form06_balance.sql and run by
-- tests/integration/test_form06.py over the demo warehouse.

-- Rows breaking col 3 = col 7 + col 11, or 3 = 4 + 5 + 6, 7 = 8 + 9 + 10,
-- 11 = 12 + 13.
CREATE FUNCTION pg_temp.unbalanced() RETURNS bigint LANGUAGE sql AS $$
    SELECT count(*) FROM mart.form06
    WHERE received_total <> resolved_total + pending_total
       OR received_total <> received_online + received_offline + carried_over
       OR resolved_total <> resolved_early + resolved_on_time + resolved_late
       OR pending_total <> pending_in_time + pending_overdue
$$;

-- Adjacent periods (same kind, unit and field) where the first's col 11
-- is not the next's col 6; absent rows are zeros, and the last period of
-- each kind is compared with mart.form06_range of the period after it.
CREATE FUNCTION pg_temp.unchained() RETURNS bigint LANGUAGE sql AS $$
    WITH p AS (
        SELECT r.* FROM dw.form06_state s, dw.report_periods(s.span_from, s.span_to) r
    ), cell AS (
        SELECT k.unit_code, k.field_code, p.period_kind, p.first_day, p.last_day,
               coalesce(m.pending_total, 0) AS pending, coalesce(m.carried_over, 0) AS carried
        FROM (SELECT DISTINCT unit_code, field_code FROM mart.form06) k
        CROSS JOIN p
        LEFT JOIN mart.form06 m USING (unit_code, field_code, period_kind, first_day)
    ), last_ AS (
        SELECT DISTINCT ON (period_kind) period_kind, last_day FROM p
        ORDER BY period_kind, last_day DESC
    ), next_ AS (
        SELECT l.period_kind, n.first_day, n.last_day
        FROM last_ l
        CROSS JOIN LATERAL dw.report_periods(l.last_day + 1, l.last_day + 1) n
        WHERE n.period_kind = l.period_kind
    ), after_ AS (
        SELECT k.unit_code, k.field_code, n.period_kind, n.first_day,
               coalesce(r.carried_over, 0) AS carried
        FROM (SELECT DISTINCT unit_code, field_code FROM mart.form06) k
        CROSS JOIN next_ n
        LEFT JOIN LATERAL (SELECT * FROM mart.form06_range(n.first_day, n.last_day) r
                           WHERE r.unit_code = k.unit_code AND r.field_code = k.field_code) r
               ON true
    )
    SELECT count(*)
    FROM cell a
    JOIN (SELECT unit_code, field_code, period_kind, first_day, carried FROM cell
          UNION ALL SELECT * FROM after_) b
      ON b.unit_code = a.unit_code AND b.field_code = a.field_code
     AND b.period_kind = a.period_kind AND b.first_day = a.last_day + 1
    WHERE a.pending <> b.carried
$$;
