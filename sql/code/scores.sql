-- scores: compliance scores (rules.md, "Compliance scores").  The rule that
-- lives here: a criterion's value, points and met, and a profile's total,
-- from mart.unit_kpi and the profiles of dw.profile_criterion (loaded by
-- rules.sql), into mart.compliance_score and mart.compliance_total.  The
-- metrics a criterion may name are rules.sql's (dw.metric_names).

-- The compliance rows of the touched unit_kpi rows (pg_temp.touched_kpi,
-- a work table of merge.sql's): points = max_points at or above the target,
-- else value × max_points / target (Decision 766), 2 decimals; no points
-- and no count where the value is NULL.  The totals are grouped in one pass.
CREATE FUNCTION etl._build_compliance() RETURNS void
LANGUAGE sql AS $$
    DELETE FROM mart.compliance_score s USING pg_temp.touched_kpi t
    WHERE s.unit_code = t.unit_code AND s.period_kind = t.period_kind
      AND s.period_start = t.period_start;

    INSERT INTO mart.compliance_score
    SELECT k.unit_code, k.period_kind, k.period_start, p.profile, p.criterion,
           p.label, p.metric, v.value, p.target, p.max_points,
           CASE WHEN v.value IS NULL THEN NULL
                WHEN v.value >= p.target THEN round(p.max_points, 2)
                ELSE round(v.value * p.max_points / p.target, 2) END,
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
           CASE WHEN coalesce(sum(c.max_points) FILTER (WHERE c.value IS NOT NULL), 0) > 0
                THEN round(100 * coalesce(sum(c.points), 0)
                           / sum(c.max_points) FILTER (WHERE c.value IS NOT NULL), 2) END,
           count(*) FILTER (WHERE c.met)::int,
           count(*) FILTER (WHERE c.value IS NOT NULL)::int
    FROM pg_temp.touched_kpi t
    JOIN mart.compliance_score c USING (unit_code, period_kind, period_start)
    GROUP BY c.unit_code, c.period_kind, c.period_start, c.profile;
$$;
