-- scores: compliance scores (rules.md, "Compliance scores").  The rule that
-- lives here: a criterion's value, points and met, and a profile's total,
-- from mart.unit_kpi and the profiles of dw.profile_criterion (loaded by
-- rules.sql), into mart.compliance_score and mart.compliance_total.  The
-- metrics a criterion may name are rules.sql's (dw.metric_names).

-- A criterion's points: max_points at or above the target, else value ×
-- max_points / target (Decision 766), 2 decimals; NULL where the value is
-- (the criterion does not apply).
CREATE FUNCTION dw.criterion_points(p_value numeric, p_target numeric, p_max numeric)
RETURNS numeric
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN p_value IS NULL THEN NULL
                WHEN p_value >= p_target THEN round(p_max, 2)
                ELSE round(p_value * p_max / p_target, 2) END
$$;

-- A profile's score: points / max_points × 100, 2 decimals; NULL where no
-- criterion applies.
CREATE FUNCTION dw.score_pct(p_points numeric, p_max numeric) RETURNS numeric
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN p_max > 0 THEN round(100 * p_points / p_max, 2) END
$$;

-- The compliance rows of the touched unit_kpi rows (pg_temp.touched_kpi,
-- a work table of merge.sql's): points by dw.criterion_points; no points
-- and no count where the value is NULL.  The totals are grouped in one pass.
CREATE FUNCTION etl._build_compliance() RETURNS void
LANGUAGE sql AS $$
    DELETE FROM mart.compliance_score s USING pg_temp.touched_kpi t
    WHERE s.unit_code = t.unit_code AND s.period_kind = t.period_kind
      AND s.period_start = t.period_start;

    INSERT INTO mart.compliance_score
    SELECT k.unit_code, k.period_kind, k.period_start, p.profile, p.criterion,
           p.label, p.metric, v.value, p.target, p.max_points,
           dw.criterion_points(v.value, p.target, p.max_points),
           v.value >= p.target
    FROM pg_temp.touched_kpi t
    JOIN mart.unit_kpi k USING (unit_code, period_kind, period_start)
    CROSS JOIN dw.profile_criterion p
    CROSS JOIN LATERAL (
        SELECT CASE p.metric
                   WHEN 'online_rate' THEN k.online_rate
                   WHEN 'ontime_rate' THEN k.ontime_rate
                   WHEN 'ontime_rate_legal' THEN k.ontime_rate_legal
                   WHEN 'on_software_rate' THEN k.on_software_rate
                   WHEN 'paid_online_rate' THEN k.paid_online_rate
                   WHEN 'pct_level2plus' THEN k.pct_level2plus
                   WHEN 'pct_level3plus' THEN k.pct_level3plus
                   WHEN 'pct_level4' THEN k.pct_level4
                   WHEN 'progress_rate' THEN k.progress_rate
                   WHEN 'online_full_rate' THEN k.online_full_rate
               END AS value) v;

    DELETE FROM mart.compliance_total s USING pg_temp.touched_kpi t
    WHERE s.unit_code = t.unit_code AND s.period_kind = t.period_kind
      AND s.period_start = t.period_start;

    INSERT INTO mart.compliance_total
    SELECT c.unit_code, c.period_kind, c.period_start, c.profile,
           coalesce(sum(c.points), 0),
           coalesce(sum(c.max_points) FILTER (WHERE c.value IS NOT NULL), 0),
           dw.score_pct(coalesce(sum(c.points), 0),
                        coalesce(sum(c.max_points) FILTER (WHERE c.value IS NOT NULL), 0)),
           count(*) FILTER (WHERE c.met)::int,
           count(*) FILTER (WHERE c.value IS NOT NULL)::int
    FROM pg_temp.touched_kpi t
    JOIN mart.compliance_score c USING (unit_code, period_kind, period_start)
    GROUP BY c.unit_code, c.period_kind, c.period_start, c.profile;
$$;

-- ------------------------------------------------------------ by current unit
-- The scorecard of one period by current unit (rules.md, "By current
-- unit"; score --units current): the criteria applied to the rows of
-- mart.unit_kpi_current, read as asked (a period has a few thousand
-- units at most), by the same rules as etl._build_compliance.  A metric
-- is the column of its name.  PL/pgSQL: the view is marts.sql's, made
-- after this file.
CREATE FUNCTION dw.compliance_score_current(p_kind text, p_start date)
RETURNS TABLE (unit_code text, period_kind text, period_start date, profile text,
               criterion text, label text, metric text, value numeric, target numeric,
               max_points numeric, points numeric, met boolean)
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN QUERY
    SELECT k.unit_code, k.period_kind, k.period_start, p.profile, p.criterion,
           p.label, p.metric, v.value, p.target, p.max_points,
           dw.criterion_points(v.value, p.target, p.max_points), v.value >= p.target
    FROM mart.unit_kpi_current k
    CROSS JOIN dw.profile_criterion p
    CROSS JOIN LATERAL (SELECT (to_jsonb(k) ->> p.metric)::numeric AS value) v
    WHERE k.period_kind = p_kind AND k.period_start = p_start;
END
$$;

CREATE FUNCTION dw.compliance_total_current(p_kind text, p_start date)
RETURNS TABLE (unit_code text, period_kind text, period_start date, profile text,
               points numeric, max_points numeric, score_pct numeric, criteria_met int,
               criteria_applicable int)
LANGUAGE sql STABLE AS $$
    SELECT c.unit_code, c.period_kind, c.period_start, c.profile,
           coalesce(sum(c.points), 0),
           coalesce(sum(c.max_points) FILTER (WHERE c.value IS NOT NULL), 0),
           dw.score_pct(coalesce(sum(c.points), 0),
                        coalesce(sum(c.max_points) FILTER (WHERE c.value IS NOT NULL), 0)),
           count(*) FILTER (WHERE c.met)::int,
           count(*) FILTER (WHERE c.value IS NOT NULL)::int
    FROM dw.compliance_score_current(p_kind, p_start) c
    GROUP BY c.unit_code, c.period_kind, c.period_start, c.profile
$$;
