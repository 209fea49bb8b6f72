-- form06: form 06 and the report periods it is cut by (reports.md,
-- "Report periods" and "Form 06").  The state is
-- sql/migrations/012_form06.sql and what each dossier counts as its
-- derived row (derive.sql; 016_form06_in_derived.sql); the view and the
-- function BI reads (mart.form06, mart.form06_range) are in marts.sql.
--
-- The rules that live here:
--   dw.report_month, dw.report_trunc, dw.report_periods
--                      the report periods of Decree 09/2019, 15th to 14th
--   dw.form06_event_days, dw.form06_event_columns,
--   dw.form06_legal_overdue_spans
--                      what one dossier counts as: signed events on days
--   dw.form06_columns  a period's columns from two running sums of the
--                      events, through the day before its first day and
--                      through its last day
-- mart.form06 (report periods, kept by every load: etl._form06_derive,
-- called by etl._derive) and mart.form06_range (any range of days,
-- computed when asked) both go through the events and dw.form06_columns.

-- ------------------------------------------------------- report periods

-- The report month (Decree 09/2019: the 15th of the month before to the
-- 14th) holding d, named by the first day of its calendar month: 15 Feb -
-- 14 Mar 2021 is 2021-03-01.
CREATE FUNCTION dw.report_month(d date) RETURNS date
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT (date_trunc('month', d - 14) + interval '1 month')::date $$;

-- The first report month of the period of a kind holding report month m.
CREATE FUNCTION dw.report_trunc(kind text, m date) RETURNS date
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE kind
               WHEN 'report_month' THEN m
               WHEN 'report_quarter' THEN date_trunc('quarter', m)::date
               WHEN 'report_half' THEN make_date(extract(year FROM m)::int,
                                                 CASE WHEN extract(month FROM m) <= 6
                                                      THEN 1 ELSE 7 END, 1)
               WHEN 'report_year' THEN date_trunc('year', m)::date
           END
$$;

-- Every report period of every kind from the one holding p_from to the one
-- holding p_to, with its first and last report month; none when either is
-- NULL.
CREATE FUNCTION dw.report_periods(p_from date, p_to date)
RETURNS TABLE (period_kind text, period_label text, first_day date, last_day date,
               first_month date, last_month date)
LANGUAGE sql IMMUTABLE AS $$
    SELECT k.kind,
           CASE k.kind
               WHEN 'report_month' THEN to_char(g, 'YYYY-MM')
               WHEN 'report_quarter' THEN to_char(g, 'YYYY-"Q"Q')
               WHEN 'report_half' THEN to_char(g, 'YYYY-"H"')
                                       || CASE WHEN extract(month FROM g) <= 6 THEN '1' ELSE '2' END
               ELSE to_char(g, 'YYYY') END,
           (g - interval '1 month' + interval '14 days')::date,
           (g + k.step - interval '1 month' + interval '13 days')::date,
           g::date,
           (g + k.step - interval '1 month')::date
    FROM (VALUES ('report_month', interval '1 month'), ('report_quarter', interval '3 months'),
                 ('report_half', interval '6 months'), ('report_year', interval '1 year'))
         k (kind, step)
    CROSS JOIN LATERAL generate_series(dw.report_trunc(k.kind, dw.report_month(p_from)),
                                       dw.report_trunc(k.kind, dw.report_month(p_to)),
                                       k.step) g
    WHERE p_from IS NOT NULL AND p_to IS NOT NULL
$$;

-- ------------------------------------------------------------- the rule

-- What one dossier counts as, as events on days.  Flows on their day: the
-- receipt (online, or in person and by post), the closing (by declared
-- outcome, withdrawn; the legal columns).  Stocks as spans of days at
-- whose end the dossier is held: +1 on a span's first day, -1 on the day
-- after its last.  Held = received and not closed by the end of the day;
-- in time while the day is not after NgayHenTra, overdue after it;
-- overdue by law after legal_due_date, except on days a supplement is
-- outstanding.
--
-- Written as arrays, not rows: the day of each event (NULL: the dossier
-- has none such), in the order of dw.form06_event_columns, which says the
-- column of dw.form06_day each counts in and its sign; and, overdue by
-- law with supplements, the spans left between the stops
-- (dw.form06_legal_overdue_spans).  A caller unnests them in its select
-- list.  The same events as rows of a set-returning function in FROM cost
-- 10.5 s of a 13.1 s count at a million dossiers (the executor restarts
-- the function's plan for every dossier); as arrays the count takes
-- 4.3 s, to the same rows (measured 6 December, make bench's data).
CREATE FUNCTION dw.form06_event_days(p_receipt date, p_close date, p_channel smallint,
                                     p_closed_as text, p_declared text, p_legal text,
                                     p_masked boolean, p_due date, p_legal_due date,
                                     p_stops datemultirange)
RETURNS date[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    -- held = [receipt, close); in time = held before due + 1; overdue =
    -- held from due + 1; overdue by law = held from legal due + 1 (a span
    -- is kept only if it holds a day)
    SELECT ARRAY[
        CASE WHEN p_channel = 2 THEN p_receipt END,
        CASE WHEN p_channel <> 2 THEN p_receipt END,
        CASE WHEN p_closed_as = 'resolved' AND p_declared = 'early' THEN p_close END,
        CASE WHEN p_closed_as = 'resolved' AND p_declared = 'on_time' THEN p_close END,
        CASE WHEN p_closed_as = 'resolved' AND p_declared = 'late' THEN p_close END,
        CASE WHEN p_closed_as = 'withdrawn' THEN p_close END,
        CASE WHEN p_closed_as = 'resolved' AND p_legal = 'late' THEN p_close END,
        CASE WHEN p_closed_as = 'resolved' AND p_legal = 'unknown' THEN p_close END,
        CASE WHEN p_closed_as = 'resolved' AND p_masked THEN p_close END,
        CASE WHEN p_receipt < coalesce(least(p_close, p_due + 1), 'infinity')
             THEN p_receipt END,
        CASE WHEN p_receipt < coalesce(least(p_close, p_due + 1), 'infinity')
             THEN least(p_close, p_due + 1) END,
        CASE WHEN p_due IS NOT NULL
              AND greatest(p_receipt, p_due + 1) < coalesce(p_close, 'infinity')
             THEN greatest(p_receipt, p_due + 1) END,
        CASE WHEN p_due IS NOT NULL AND greatest(p_receipt, p_due + 1) < p_close
             THEN p_close END,
        -- with supplements: dw.form06_legal_overdue_spans
        CASE WHEN p_stops IS NULL AND p_legal_due IS NOT NULL
              AND greatest(p_receipt, p_legal_due + 1) < coalesce(p_close, 'infinity')
             THEN greatest(p_receipt, p_legal_due + 1) END,
        CASE WHEN p_stops IS NULL AND p_legal_due IS NOT NULL
              AND greatest(p_receipt, p_legal_due + 1) < p_close
             THEN p_close END]
$$;

-- The column of dw.form06_day (1 = received_online ... 12 =
-- pending_overdue_legal, in its order) that each element of
-- dw.form06_event_days counts in, negative where it counts -1.
CREATE FUNCTION dw.form06_event_columns() RETURNS smallint[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT '{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, -10, 11, -11, 12, -12}'::smallint[]
$$;

-- Overdue by law, with supplements (p_stops not NULL): the spans of days
-- held past the legal due date less the stops; each counts +1 in column
-- 12 on its first day and -1 on the day after its last.
CREATE FUNCTION dw.form06_legal_overdue_spans(p_receipt date, p_close date,
                                              p_legal_due date, p_stops datemultirange)
RETURNS datemultirange
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT datemultirange(daterange(p_receipt, p_close) * daterange(p_legal_due + 1, NULL))
           - p_stops
$$;

-- A period's columns from two running sums of the events (arrays in the
-- order of dw.form06_day's count columns): b through the day before
-- its first day, u through its last day.  Flows are u - b; what was held at
-- the end of the day before is carried over, what is held at the end of
-- the last day is pending.  So col 3 = col 7 + col 11 for every period,
-- and a period's col 11 is the next one's col 6.
CREATE FUNCTION dw.form06_columns(b int[], u int[],
    OUT received_total int, OUT received_online int, OUT received_offline int,
    OUT carried_over int, OUT resolved_total int, OUT resolved_early int,
    OUT resolved_on_time int, OUT resolved_late int, OUT pending_total int,
    OUT pending_in_time int, OUT pending_overdue int, OUT of_which_withdrawn int,
    OUT resolved_late_legal int, OUT resolved_unknown_legal int, OUT masked_late int,
    OUT pending_overdue_legal int)
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT (u[1] - b[1]) + (u[2] - b[2]) + (b[10] + b[11]),
           u[1] - b[1], u[2] - b[2], b[10] + b[11],
           (u[3] - b[3]) + (u[4] - b[4]) + (u[6] - b[6]) + (u[5] - b[5]),
           u[3] - b[3], (u[4] - b[4]) + (u[6] - b[6]), u[5] - b[5],
           u[10] + u[11], u[10], u[11],
           u[6] - b[6], u[7] - b[7], u[8] - b[8], u[9] - b[9], u[12]
$$;

-- ------------------------------------------------------- the dossiers

-- The work tables of one refresh: the signed events of the dossiers
-- counted again (form06_delta), and each unit and field that changed with
-- the first day it changed on (form06_pair).
CREATE FUNCTION etl._form06_create_work() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    DROP TABLE IF EXISTS pg_temp.form06_delta, pg_temp.form06_pair;
    CREATE TEMP TABLE form06_delta (LIKE dw.form06_day) ON COMMIT DROP;
    CREATE TEMP TABLE form06_pair (unit_code text COLLATE "C", field_code text,
                                   from_day date) ON COMMIT DROP;
END
$$;

-- Made here too, in the transaction that applies the code, so that
-- check_function_bodies checks the functions below against them.
SELECT etl._form06_create_work();

-- The events of the received dossiers of p_derived (a FROM item of
-- derived rows x: dw.dossier_derived, or a night's derived_old or
-- derived_new), times p_sign, added to pg_temp.form06_delta: each
-- dossier's arrays unnested in the select list (dw.form06_event_days),
-- then summed per unit, field and day into the columns they count in.
-- What a dossier counts as is read from its derived row (derive.sql): the
-- receipt, closing and due days, class, outcomes, legal due date, and the
-- two columns kept for form 06, field_code and legal_stops; under k_unit,
-- the unit it was derived under (its own MaDonVi then): a dossier that
-- moves to another unit is moved by etl._rehome before it is derived
-- again, and its old events are taken from the unit they were added to.
-- Dynamic: p_derived is the caller's.
CREATE FUNCTION etl._form06_count(p_sign int, p_derived text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format($sql$
    INSERT INTO pg_temp.form06_delta
    SELECT e.unit_code, e.field_code, e.day,
           %2$s * count(*) FILTER (WHERE e.c = 1), %2$s * count(*) FILTER (WHERE e.c = 2),
           %2$s * count(*) FILTER (WHERE e.c = 3), %2$s * count(*) FILTER (WHERE e.c = 4),
           %2$s * count(*) FILTER (WHERE e.c = 5), %2$s * count(*) FILTER (WHERE e.c = 6),
           %2$s * count(*) FILTER (WHERE e.c = 7), %2$s * count(*) FILTER (WHERE e.c = 8),
           %2$s * count(*) FILTER (WHERE e.c = 9),
           %2$s * coalesce(sum(sign(e.c)) FILTER (WHERE abs(e.c) = 10), 0),
           %2$s * coalesce(sum(sign(e.c)) FILTER (WHERE abs(e.c) = 11), 0),
           %2$s * coalesce(sum(sign(e.c)) FILTER (WHERE abs(e.c) = 12), 0)
    FROM (SELECT x.k_unit AS unit_code, x.field_code,
                 unnest(dw.form06_event_days(
                     x.receipt_date, x.close_date, x.k_channel,
                     CASE WHEN x.close_date IS NOT NULL THEN x.class END,
                     x.declared_outcome, x.legal_outcome, x.masked_late, x.due_date,
                     x.legal_due_date, x.legal_stops)) AS day,
                 unnest(dw.form06_event_columns()) AS c
          FROM %1$s
          WHERE x.class <> 'not_received' AND x.receipt_date IS NOT NULL
          UNION ALL
          SELECT o.unit_code, o.field_code, unnest(ARRAY[lower(o.span), upper(o.span)]),
                 unnest('{12, -12}'::smallint[])
          FROM (SELECT x.k_unit AS unit_code, x.field_code,
                       unnest(dw.form06_legal_overdue_spans(x.receipt_date, x.close_date,
                                                            x.legal_due_date,
                                                            x.legal_stops)) AS span
                FROM %1$s
                WHERE x.class <> 'not_received' AND x.receipt_date IS NOT NULL
                  AND x.legal_stops IS NOT NULL AND x.legal_due_date IS NOT NULL) o
         ) e
    WHERE e.day IS NOT NULL
    GROUP BY e.unit_code, e.field_code, e.day
    $sql$, p_derived, p_sign);
END
$$;

-- The deltas added to dw.form06_day; rows left all zero go.  Fills
-- pg_temp.form06_pair with each unit and field that changed and the first
-- day it changed on.
CREATE FUNCTION etl._form06_apply() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    DROP TABLE IF EXISTS pg_temp.form06_net;
    CREATE TEMP TABLE form06_net ON COMMIT DROP AS
    SELECT unit_code, field_code, day,
           sum(received_online)::int AS received_online, sum(received_offline)::int AS received_offline,
           sum(resolved_early)::int AS resolved_early, sum(resolved_on_time)::int AS resolved_on_time,
           sum(resolved_late)::int AS resolved_late, sum(withdrawn)::int AS withdrawn,
           sum(resolved_late_legal)::int AS resolved_late_legal,
           sum(resolved_unknown_legal)::int AS resolved_unknown_legal,
           sum(masked_late)::int AS masked_late, sum(pending_in_time)::int AS pending_in_time,
           sum(pending_overdue)::int AS pending_overdue,
           sum(pending_overdue_legal)::int AS pending_overdue_legal
    FROM pg_temp.form06_delta
    GROUP BY unit_code, field_code, day;

    INSERT INTO dw.form06_day AS o
    SELECT * FROM pg_temp.form06_net n
    WHERE (n.received_online, n.received_offline, n.resolved_early, n.resolved_on_time,
           n.resolved_late, n.withdrawn, n.resolved_late_legal, n.resolved_unknown_legal,
           n.masked_late, n.pending_in_time, n.pending_overdue, n.pending_overdue_legal)
          <> (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    ON CONFLICT (unit_code, field_code, day) DO UPDATE SET
        received_online = o.received_online + excluded.received_online,
        received_offline = o.received_offline + excluded.received_offline,
        resolved_early = o.resolved_early + excluded.resolved_early,
        resolved_on_time = o.resolved_on_time + excluded.resolved_on_time,
        resolved_late = o.resolved_late + excluded.resolved_late,
        withdrawn = o.withdrawn + excluded.withdrawn,
        resolved_late_legal = o.resolved_late_legal + excluded.resolved_late_legal,
        resolved_unknown_legal = o.resolved_unknown_legal + excluded.resolved_unknown_legal,
        masked_late = o.masked_late + excluded.masked_late,
        pending_in_time = o.pending_in_time + excluded.pending_in_time,
        pending_overdue = o.pending_overdue + excluded.pending_overdue,
        pending_overdue_legal = o.pending_overdue_legal + excluded.pending_overdue_legal;

    DELETE FROM dw.form06_day o USING pg_temp.form06_net n
    WHERE o.unit_code = n.unit_code AND o.field_code = n.field_code AND o.day = n.day
      AND (o.received_online, o.received_offline, o.resolved_early, o.resolved_on_time,
           o.resolved_late, o.withdrawn, o.resolved_late_legal, o.resolved_unknown_legal,
           o.masked_late, o.pending_in_time, o.pending_overdue, o.pending_overdue_legal)
          = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);

    INSERT INTO pg_temp.form06_pair
    SELECT unit_code, field_code, min(day)
    FROM pg_temp.form06_net
    WHERE (received_online, received_offline, resolved_early, resolved_on_time,
           resolved_late, withdrawn, resolved_late_legal, resolved_unknown_legal,
           masked_late, pending_in_time, pending_overdue, pending_overdue_legal)
          <> (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    GROUP BY unit_code, field_code;

    DROP TABLE pg_temp.form06_net;
END
$$;

-- ------------------------------------------------------ the report rows

-- The rows of dw.form06_period of the units and fields of
-- pg_temp.form06_pair, for the periods ending on or after each one's
-- from_day: the running sums of their events at the end of every report
-- month of the span's report years, taken at each period's edges.  The
-- sums start at the report year that holds from_day (every period rebuilt
-- lies in it or after it, as periods nest in report years), with the
-- stocks held at its start read from the stored row of the report month
-- before it, which ends before from_day and so stands (no row: nothing
-- held).  A night that changes this year's dossiers reads this year's
-- days, not every day since the first (5.4 s of a 21 s night at a million
-- dossiers, make bench).
CREATE FUNCTION etl._form06_build() RETURNS void
LANGUAGE sql AS $$
    DELETE FROM dw.form06_period p USING pg_temp.form06_pair t
    WHERE p.unit_code = t.unit_code AND p.field_code = t.field_code AND p.last_day >= t.from_day;

    INSERT INTO dw.form06_period
    WITH span AS (
        SELECT span_from, span_to FROM dw.form06_state WHERE span_from IS NOT NULL
    ), pair AS (
        SELECT t.unit_code, t.field_code, t.from_day, y.start_month,
               (y.start_month - interval '1 month' + interval '14 days')::date AS start_day,
               coalesce(b.pending_in_time, 0) AS b10, coalesce(b.pending_overdue, 0) AS b11,
               coalesce(b.pending_overdue_legal, 0) AS b12
        FROM pg_temp.form06_pair t
        CROSS JOIN LATERAL (
            SELECT CASE WHEN t.from_day = '-infinity' THEN '-infinity'::date
                        ELSE dw.report_trunc('report_year', dw.report_month(t.from_day))
                   END AS start_month) y
        LEFT JOIN dw.form06_period b
               ON b.unit_code = t.unit_code AND b.field_code = t.field_code
              AND b.period_kind = 'report_month'
              AND b.first_day = (y.start_month - interval '2 months' + interval '14 days')::date
    ), series AS (
        SELECT g::date AS month
        FROM span CROSS JOIN LATERAL generate_series(
            dw.report_trunc('report_year', dw.report_month(span_from)),
            dw.report_trunc('report_year', dw.report_month(span_to)) + interval '11 months',
            interval '1 month') g
    ), monthly AS (
        SELECT d.unit_code, d.field_code, dw.report_month(d.day) AS month,
               sum(d.received_online) AS m1,
               sum(d.received_offline) AS m2,
               sum(d.resolved_early) AS m3,
               sum(d.resolved_on_time) AS m4,
               sum(d.resolved_late) AS m5,
               sum(d.withdrawn) AS m6,
               sum(d.resolved_late_legal) AS m7,
               sum(d.resolved_unknown_legal) AS m8,
               sum(d.masked_late) AS m9,
               sum(d.pending_in_time) AS m10,
               sum(d.pending_overdue) AS m11,
               sum(d.pending_overdue_legal) AS m12
        FROM pair t
        JOIN dw.form06_day d USING (unit_code, field_code)
        WHERE d.day >= t.start_day
        GROUP BY 1, 2, 3
    ), running AS (
        -- each month's events (m) and their running sums through it (t)
        SELECT t.unit_code, t.field_code, t.from_day, s.month,
               coalesce(m.m1, 0) AS m1, coalesce(m.m2, 0) AS m2, coalesce(m.m3, 0) AS m3,
               coalesce(m.m4, 0) AS m4, coalesce(m.m5, 0) AS m5, coalesce(m.m6, 0) AS m6,
               coalesce(m.m7, 0) AS m7, coalesce(m.m8, 0) AS m8, coalesce(m.m9, 0) AS m9,
               coalesce(m.m10, 0) AS m10, coalesce(m.m11, 0) AS m11, coalesce(m.m12, 0) AS m12,
               sum(coalesce(m.m1, 0)) OVER w AS t1,
               sum(coalesce(m.m2, 0)) OVER w AS t2,
               sum(coalesce(m.m3, 0)) OVER w AS t3,
               sum(coalesce(m.m4, 0)) OVER w AS t4,
               sum(coalesce(m.m5, 0)) OVER w AS t5,
               sum(coalesce(m.m6, 0)) OVER w AS t6,
               sum(coalesce(m.m7, 0)) OVER w AS t7,
               sum(coalesce(m.m8, 0)) OVER w AS t8,
               sum(coalesce(m.m9, 0)) OVER w AS t9,
               t.b10 + sum(coalesce(m.m10, 0)) OVER w AS t10,
               t.b11 + sum(coalesce(m.m11, 0)) OVER w AS t11,
               t.b12 + sum(coalesce(m.m12, 0)) OVER w AS t12
        FROM pair t
        JOIN series s ON s.month >= t.start_month
        LEFT JOIN monthly m
               ON m.unit_code = t.unit_code AND m.field_code = t.field_code AND m.month = s.month
        WINDOW w AS (PARTITION BY t.unit_code, t.field_code ORDER BY s.month)
    ), periods AS (
        SELECT p.* FROM span CROSS JOIN LATERAL dw.report_periods(span.span_from, span.span_to) p
    ), sums AS (
        -- a period's running sums through its last month (u) and its
        -- months' events (f): through the day before it, u - f
        SELECT r.unit_code, r.field_code, p.period_kind, p.period_label, p.first_day,
               p.last_day,
               sum(r.t1) FILTER (WHERE r.month = p.last_month) AS u1,
               sum(r.t2) FILTER (WHERE r.month = p.last_month) AS u2,
               sum(r.t3) FILTER (WHERE r.month = p.last_month) AS u3,
               sum(r.t4) FILTER (WHERE r.month = p.last_month) AS u4,
               sum(r.t5) FILTER (WHERE r.month = p.last_month) AS u5,
               sum(r.t6) FILTER (WHERE r.month = p.last_month) AS u6,
               sum(r.t7) FILTER (WHERE r.month = p.last_month) AS u7,
               sum(r.t8) FILTER (WHERE r.month = p.last_month) AS u8,
               sum(r.t9) FILTER (WHERE r.month = p.last_month) AS u9,
               sum(r.t10) FILTER (WHERE r.month = p.last_month) AS u10,
               sum(r.t11) FILTER (WHERE r.month = p.last_month) AS u11,
               sum(r.t12) FILTER (WHERE r.month = p.last_month) AS u12,
               sum(r.m1) AS f1,
               sum(r.m2) AS f2,
               sum(r.m3) AS f3,
               sum(r.m4) AS f4,
               sum(r.m5) AS f5,
               sum(r.m6) AS f6,
               sum(r.m7) AS f7,
               sum(r.m8) AS f8,
               sum(r.m9) AS f9,
               sum(r.m10) AS f10,
               sum(r.m11) AS f11,
               sum(r.m12) AS f12
        FROM running r
        CROSS JOIN (VALUES ('report_month'), ('report_quarter'), ('report_half'),
                           ('report_year')) k (kind)
        JOIN periods p
          ON p.period_kind = k.kind AND p.first_month = dw.report_trunc(k.kind, r.month)
        WHERE p.last_day >= r.from_day
        GROUP BY r.unit_code, r.field_code, p.period_kind, p.period_label, p.first_day,
                 p.last_day
    )
    SELECT s.unit_code, s.field_code, s.period_kind, s.period_label, s.first_day, s.last_day,
           c.*
    FROM sums s
    CROSS JOIN LATERAL dw.form06_columns(ARRAY[(u1 - f1)::int, (u2 - f2)::int, (u3 - f3)::int, (u4 - f4)::int, (u5 - f5)::int, (u6 - f6)::int, (u7 - f7)::int, (u8 - f8)::int, (u9 - f9)::int, (u10 - f10)::int, (u11 - f11)::int, (u12 - f12)::int],
                                         ARRAY[u1::int, u2::int, u3::int, u4::int, u5::int, u6::int, u7::int, u8::int, u9::int, u10::int, u11::int, u12::int]) c
    WHERE c.received_total <> 0 OR c.resolved_total <> 0 OR c.pending_total <> 0;
$$;

-- Each field's name (reports.md): of the catalogue versions with that
-- MaLinhVuc, the latest; on a tie, the first by unit and procedure code.
CREATE FUNCTION etl._form06_fields() RETURNS void
LANGUAGE sql AS $$
    DELETE FROM dw.form06_field;
    INSERT INTO dw.form06_field
    SELECT DISTINCT ON (btrim(field_code)) btrim(field_code),
           coalesce(nullif(btrim(field_name), ''), '(không rõ)')
    FROM dw.procedure_version
    WHERE nullif(btrim(field_code), '') IS NOT NULL
    ORDER BY btrim(field_code), updated_at DESC, unit_code, procedure_code;
$$;

-- Brings form 06 up to date with the derivation of this transaction: in
-- bulk, everything again; else the dossiers etl._derive_touched derived
-- again (pg_temp.derived_old, derived_new): their old events subtracted,
-- their new ones added, and the rows of the periods they can change
-- rebuilt.  A span that gains report months at its end adds the rows of
-- the new periods; one that changes otherwise rebuilds every row, as it
-- changes which periods exist.
CREATE FUNCTION etl._form06_derive(p_bulk boolean) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    old_from date;
    old_to   date;
    new_from date;
    new_to   date;
BEGIN
    PERFORM etl._form06_create_work();
    SELECT span_from, span_to INTO old_from, old_to FROM dw.form06_state FOR UPDATE;

    IF p_bulk THEN
        -- no TRUNCATE (readers never wait): the day rows get minus what
        -- they hold plus every event counted again, and only those that
        -- moved are written
        PERFORM etl._subtract_all('dw.form06_day', 'pg_temp.form06_delta');
        PERFORM etl._form06_count(1, 'dw.dossier_derived x');
    ELSE
        -- a dossier that counts as it did adds and takes away the same
        -- events: they cancel in etl._form06_apply, and nothing is written
        PERFORM etl._form06_count(-1, 'pg_temp.derived_old x');
        PERFORM etl._form06_count(1, 'pg_temp.derived_new x');
    END IF;
    PERFORM etl._form06_apply();
    -- pg_temp.merged exists when a derivation runs, not when a migration fills
    IF p_bulk THEN
        PERFORM etl._form06_fields();
    ELSIF EXISTS (SELECT FROM pg_temp.merged WHERE entity = 'thutuc') THEN
        PERFORM etl._form06_fields();
    END IF;

    -- the span: the earliest receipt day and the latest receipt or closing
    -- day of the received dossiers, moved by a night's dossiers as the
    -- indicators' is (etl._span_moved); a bulk derivation reads it whole
    SELECT * INTO new_from, new_to
    FROM etl._span_moved(CASE WHEN NOT p_bulk THEN old_from END, old_to, 'x.receipt_date',
                         'greatest(x.receipt_date, x.close_date)',
                         'x.class <> ''not_received'' AND x.receipt_date IS NOT NULL');
    -- no received dossier, no span and no row (a warehouse without data
    -- holds none)
    DELETE FROM dw.form06_state WHERE new_from IS NULL;
    INSERT INTO dw.form06_state (span_from, span_to)
    SELECT new_from, new_to WHERE new_from IS NOT NULL
    ON CONFLICT (id) DO UPDATE SET span_from = excluded.span_from, span_to = excluded.span_to;

    IF p_bulk OR old_from IS NULL OR new_from IS NULL
       OR dw.report_month(new_from) <> dw.report_month(old_from)
       OR dw.report_month(new_to) < dw.report_month(old_to) THEN
        -- which periods exist changed at the start, or some went: every row
        -- again (DELETE, not TRUNCATE: readers of mart.form06 must not wait
        -- for this transaction)
        DELETE FROM dw.form06_period;
        TRUNCATE pg_temp.form06_pair;
        INSERT INTO pg_temp.form06_pair
        SELECT DISTINCT unit_code, field_code, '-infinity'::date FROM dw.form06_day;
    ELSIF dw.report_month(new_to) > dw.report_month(old_to) THEN
        -- the span grew at its end (a night that reaches the 15th): the
        -- periods that came need a row for every unit and field, from the
        -- first day of the first new report month; the others stand
        -- (one row per unit and field, from its earliest day)
        WITH changed AS (
            DELETE FROM pg_temp.form06_pair RETURNING unit_code, field_code, from_day
        )
        INSERT INTO pg_temp.form06_pair
        SELECT unit_code, field_code, min(from_day)
        FROM (SELECT * FROM changed
              UNION ALL
              SELECT DISTINCT unit_code, field_code,
                     (dw.report_month(old_to) + interval '14 days')::date
              FROM dw.form06_day) x
        GROUP BY unit_code, field_code;
    END IF;
    ANALYZE pg_temp.form06_pair;
    PERFORM etl._form06_build();
END
$$;
