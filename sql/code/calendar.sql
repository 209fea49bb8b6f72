-- calendar: local time, periods and working days (rules.md, "Local time",
-- "Working days").  Rules that live here:
--   * local time and dates (Asia/Ho_Chi_Minh): dw.local_time, dw.local_date,
--     dw.local_month;
--   * months, quarters and years: dw.period_of, dw.period_end, dw.periods;
--   * working days: dw.is_workday, and the one working-day arithmetic,
--     dw.workday_add, on dw.calendar's workday_no (the number of working
--     days up to and including each day; built by etl.apply_rules in
--     rules.sql from the calendar file).
-- The derivation (derive.sql) does the same arithmetic for a whole set of
-- dossiers at once, as joins on workday_no: "d + k working days" is the
-- working day whose workday_no is d's + k.  A call per dossier would be a
-- subquery per dossier; the tests check that the two agree.

-- Local time, fast: Asia/Ho_Chi_Minh has been UTC+07:00 without daylight
-- saving since 13 June 1975, and a fixed offset costs a quarter of a lookup
-- in the time zone database (which a bulk derivation would do some 20
-- million times).  Earlier instants take the database's word.
CREATE FUNCTION dw.local_time(t timestamptz) RETURNS timestamp
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN t >= timestamptz '1975-06-13 00:00+07'
                THEN t AT TIME ZONE interval '+07:00'
                ELSE t AT TIME ZONE 'Asia/Ho_Chi_Minh' END
$$;

-- The local date of an instant.
CREATE FUNCTION dw.local_date(t timestamptz) RETURNS date
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT dw.local_time(t)::date $$;

-- The first day of the local month of an instant.
CREATE FUNCTION dw.local_month(t timestamptz) RETURNS date
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT date_trunc('month', dw.local_time(t))::date $$;

-- First day of the period of the given kind holding d.
CREATE FUNCTION dw.period_of(kind text, d date) RETURNS date
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT date_trunc(kind, d::timestamp)::date $$;

-- First day after the period of the given kind starting at s.
CREATE FUNCTION dw.period_end(kind text, s date) RETURNS date
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT (s + CASE kind WHEN 'month' THEN interval '1 month'
                         WHEN 'quarter' THEN interval '3 months'
                         ELSE interval '1 year' END)::date $$;

-- Every month, quarter and year from the one holding p_from to the one
-- holding p_to; no rows when either is NULL.
CREATE FUNCTION dw.periods(p_from date, p_to date)
RETURNS TABLE (period_kind text, period_start date, period_end date)
LANGUAGE sql IMMUTABLE AS $$
    SELECT k.kind, g::date, dw.period_end(k.kind, g::date)
    FROM (VALUES ('month', interval '1 month'), ('quarter', interval '3 months'),
                 ('year', interval '1 year')) k (kind, step)
    CROSS JOIN LATERAL generate_series(date_trunc(k.kind, p_from::timestamp),
                                       date_trunc(k.kind, p_to::timestamp),
                                       k.step) g
    WHERE p_from IS NOT NULL AND p_to IS NOT NULL
$$;

-- Whether d is a working day (dw.calendar; Monday to Friday outside it).
CREATE FUNCTION dw.is_workday(d date) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT coalesce((SELECT c.is_workday FROM dw.calendar c WHERE c.day = d),
                    extract(isodow FROM d) < 6)
$$;

-- workday_add (rules.md): k = 0, d itself; k >= 1, the k-th working day
-- after d: the working day numbered workday_no(d) + k.
CREATE FUNCTION dw.workday_add(d date, k int) RETURNS date
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN k = 0 THEN d
                WHEN k > 0 THEN (SELECT n.day FROM dw.calendar c
                                 JOIN dw.calendar n ON n.workday_no = c.workday_no + k
                                                   AND n.is_workday
                                 WHERE c.day = d)
           END
$$;

COMMENT ON FUNCTION dw.workday_add(date, int) IS
    'k = 0: d; k >= 1: the k-th working day after d (dw.calendar)';
COMMENT ON FUNCTION dw.is_workday(date) IS
    'whether d is a working day (dw.calendar; Monday to Friday outside it)';
