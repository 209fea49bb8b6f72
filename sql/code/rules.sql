-- rules: the rules files (calendar, profiles) and office_close, applied to
-- the warehouse when their hash changes (rules.md, first paragraph).  Rules
-- that live here:
--   * what a calendar or profiles file may say (etl._check_rule_staging;
--     onestop-etl checks the files first, etl/calendar.c, etl/profiles.c);
--   * the calendar's working-day numbers (etl.apply_rules builds dw.calendar,
--     whose workday_no calendar.sql's arithmetic uses);
--   * the metrics a criterion may name (dw.metric_names).
-- The staging tables are temporary tables of the applying transaction.

-- The metrics a profile criterion may name: the rates of mart.unit_kpi.
CREATE FUNCTION dw.metric_names() RETURNS text[]
LANGUAGE sql IMMUTABLE AS $$
    SELECT ARRAY['online_rate', 'ontime_rate', 'ontime_rate_legal',
                 'on_software_rate', 'paid_online_rate', 'pct_level2plus',
                 'pct_level3plus', 'pct_level4', 'progress_rate', 'online_full_rate']
$$;

-- The caller fills these from the calendar and profiles files, then calls
-- etl.apply_rules in the same transaction.
CREATE FUNCTION etl.create_rule_staging() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF to_regclass('pg_temp.stg_calendar') IS NOT NULL THEN
        DROP TABLE pg_temp.stg_calendar, pg_temp.stg_profile;
    END IF;
    CREATE TEMP TABLE stg_calendar (
        day  date,
        kind text,
        note text
    ) ON COMMIT DROP;
    CREATE TEMP TABLE stg_profile (
        profile    text,
        criterion  text,
        label      text,
        metric     text,
        target     numeric,
        max_points numeric,
        note       text
    ) ON COMMIT DROP;
END
$$;

CREATE FUNCTION etl._check_rule_staging() RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    bad record;
BEGIN
    SELECT * INTO bad FROM pg_temp.stg_calendar
    WHERE day IS NULL OR kind IS NULL OR kind NOT IN ('holiday', 'workday') LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'calendar: bad row (date %, kind %)', bad.day, bad.kind
            USING HINT = 'kind is holiday or workday';
    END IF;
    SELECT day INTO bad FROM pg_temp.stg_calendar GROUP BY day HAVING count(*) > 1 LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'calendar: date % is listed more than once', bad.day;
    END IF;
    IF (SELECT min(day) < date '2000-01-01' OR max(day) > date '2100-12-31'
        FROM pg_temp.stg_calendar) THEN
        RAISE EXCEPTION 'calendar: dates must lie in 2000-01-01..2100-12-31';
    END IF;

    SELECT * INTO bad FROM pg_temp.stg_profile
    WHERE metric IS NULL OR NOT metric = ANY (dw.metric_names()) LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'profiles: unknown metric "%" (profile %, criterion %)',
            bad.metric, bad.profile, bad.criterion
            USING HINT = 'metric is one of ' || array_to_string(dw.metric_names(), ', ');
    END IF;
    SELECT * INTO bad FROM pg_temp.stg_profile
    WHERE profile IS NULL OR criterion IS NULL OR label IS NULL
       OR target IS NULL OR target < 0 OR max_points IS NULL OR max_points < 0 LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'profiles: bad row (profile %, criterion %): profile, criterion, label, target >= 0 and max_points >= 0 are required',
            bad.profile, bad.criterion;
    END IF;
    SELECT profile, criterion INTO bad FROM pg_temp.stg_profile
    GROUP BY profile, criterion HAVING count(*) > 1 LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'profiles: criterion % of profile % is listed more than once',
            bad.criterion, bad.profile;
    END IF;
END
$$;

-- Rebuild the calendar and profiles when their content or office_close
-- changed; true when anything changed (the caller then runs etl.rescore).
-- p_covers_from/p_covers_to: the years the calendar file says it covers
-- (NULL when it does not say); recorded, the file's rows apply everywhere.
CREATE FUNCTION etl.apply_rules(p_office_close time, p_covers_from int, p_covers_to int)
RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    st            dw.state;
    v_calendar_hash text;
    v_profiles_hash text;
    v_office_close  time := coalesce(p_office_close, time '17:00');
BEGIN
    PERFORM etl._check_rule_staging();
    SELECT * INTO st FROM dw.state FOR UPDATE;

    SELECT md5(coalesce(string_agg(format('%s,%s,%s', day, kind, note), E'\n'
                                   ORDER BY day), ''))
    INTO v_calendar_hash FROM pg_temp.stg_calendar;
    SELECT md5(coalesce(string_agg(format('%s,%s,%s,%s,%s,%s,%s', profile, criterion,
                                          label, metric, target, max_points, note),
                                   E'\n' ORDER BY profile, criterion), ''))
    INTO v_profiles_hash FROM pg_temp.stg_profile;

    IF v_calendar_hash IS NOT DISTINCT FROM st.calendar_hash
       AND v_profiles_hash IS NOT DISTINCT FROM st.profiles_hash
       AND v_office_close = st.office_close THEN
        UPDATE dw.state SET covers_from = p_covers_from, covers_to = p_covers_to;
        RETURN false;
    END IF;

    IF v_calendar_hash IS DISTINCT FROM st.calendar_hash THEN
        DELETE FROM dw.calendar;
        INSERT INTO dw.calendar (day, is_workday, workday_no, kind, note)
        SELECT day, wd, count(*) FILTER (WHERE wd) OVER (ORDER BY day), kind, note
        FROM (SELECT g::date AS day, s.kind, s.note,
                     CASE s.kind WHEN 'holiday' THEN false
                                 WHEN 'workday' THEN true
                                 ELSE extract(isodow FROM g) < 6 END AS wd
              FROM generate_series(timestamp '2000-01-01', timestamp '2100-12-31',
                                   interval '1 day') g
              LEFT JOIN pg_temp.stg_calendar s ON s.day = g::date) d;
    END IF;

    IF v_profiles_hash IS DISTINCT FROM st.profiles_hash THEN
        DELETE FROM dw.profile_criterion;
        INSERT INTO dw.profile_criterion
            (profile, criterion, label, metric, target, max_points, note)
        SELECT profile, criterion, label, metric, target, max_points, note
        FROM pg_temp.stg_profile;
    END IF;

    UPDATE dw.state
    SET calendar_hash = v_calendar_hash,
        profiles_hash = v_profiles_hash,
        office_close = v_office_close,
        covers_from = p_covers_from, covers_to = p_covers_to,
        rules_applied_at = now();
    RETURN true;
END
$$;

COMMENT ON FUNCTION etl.create_rule_staging() IS
    'creates temp tables stg_calendar(day, kind, note) and stg_profile(profile, criterion, label, metric, target, max_points, note), ON COMMIT DROP';
COMMENT ON FUNCTION etl.apply_rules(time, int, int) IS
    'applies the staged calendar and profiles and office_close when their hash changed; true when something changed (then run etl.rescore)';
