-- kpi: the indicators per unit and period (rules.md, "Indicators per unit
-- and period", and "Step delays" for mart.step_delay).  Rules that live
-- here:
--   * a rate: a percentage, 2 decimals half away from zero, NULL on a zero
--     denominator (dw.pct);
--   * which units and periods have a row: the units of donvi, thutuc and
--     hoso, every period of the span (etl._update_units, etl._update_span);
--   * which rows a derivation rebuilds (etl._touch_periods);
--   * every column of mart.unit_kpi, from the monthly counts of derive.sql
--     and the catalogue in force at the end of the period
--     (etl._build_unit_kpi; the catalogue counts are lineage.sql's
--     dw.catalogue_counts), and of mart.step_delay (etl._build_step_delay);
--   * Decision 766's progress_in_time at L, the period's last day or the
--     local date of the run's start if earlier: an ended period sums its
--     months' counts at the end of its kind (derive.sql counts each
--     dossier at the end of its receipt month, quarter and year); a period
--     not ended counts its dossiers again at the run's start, one pass over
--     the dossiers received since the start of the current year
--     (etl._build_unit_kpi).  _touch_periods rebuilds those periods every
--     run, so the value moves with the run's start.
-- They run after derive.sql's steps, on its work tables (pg_temp.touched_*).

-- A percentage rounded half away from zero; NULL on a zero denominator.
CREATE FUNCTION dw.pct(num bigint, den bigint) RETURNS numeric
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT CASE WHEN den = 0 THEN NULL ELSE round(100::numeric * num / den, 2) END $$;

-- The units of unit_kpi.  Candidates are the touched units: those
-- still found in donvi, thutuc or hoso are kept, the others dropped with
-- their rows.  New units get a row for every period of the span.
CREATE FUNCTION etl._update_units(p_from date, p_to date) RETURNS void
LANGUAGE sql AS $$
    WITH gone AS (
        DELETE FROM dw.kpi_unit k USING pg_temp.touched_unit t
        WHERE k.unit_code = t.unit_code
          AND NOT EXISTS (SELECT FROM dw.unit u WHERE u.unit_code = t.unit_code)
          AND NOT EXISTS (SELECT FROM dw.procedure_version v WHERE v.unit_code = t.unit_code)
          AND NOT EXISTS (SELECT FROM dw.dossier d WHERE d.unit_code = t.unit_code)
        RETURNING k.unit_code
    ), gone_kpi AS (
        DELETE FROM mart.unit_kpi x USING gone WHERE x.unit_code = gone.unit_code
    ), gone_score AS (
        DELETE FROM mart.compliance_score x USING gone WHERE x.unit_code = gone.unit_code
    )
    DELETE FROM mart.compliance_total x USING gone WHERE x.unit_code = gone.unit_code;

    WITH new_unit AS (
        INSERT INTO dw.kpi_unit
        SELECT t.unit_code FROM pg_temp.touched_unit t
        WHERE EXISTS (SELECT FROM dw.unit u WHERE u.unit_code = t.unit_code)
           OR EXISTS (SELECT FROM dw.procedure_version v WHERE v.unit_code = t.unit_code)
           OR EXISTS (SELECT FROM dw.dossier d WHERE d.unit_code = t.unit_code)
        ON CONFLICT DO NOTHING
        RETURNING unit_code
    )
    INSERT INTO pg_temp.touched_kpi
    SELECT n.unit_code, p.period_kind, p.period_start
    FROM new_unit n CROSS JOIN dw.periods(p_from, p_to) p
    ON CONFLICT DO NOTHING;

    -- names follow donvi
    UPDATE mart.unit_kpi k SET unit_name = u.unit_name
    FROM pg_temp.touched_unit t LEFT JOIN dw.unit u USING (unit_code)
    WHERE k.unit_code = t.unit_code AND k.unit_name IS DISTINCT FROM u.unit_name;
$$;

-- The span changed: drop the periods outside it, add the new ones
-- for every unit.
CREATE FUNCTION etl._update_span(p_old_from date, p_old_to date, p_from date, p_to date)
RETURNS void
LANGUAGE sql AS $$
    WITH old_kpi AS (
        DELETE FROM mart.unit_kpi
        WHERE p_from IS NULL
           OR period_start < dw.period_of(period_kind, p_from)
           OR period_start > dw.period_of(period_kind, p_to)
    ), old_score AS (
        DELETE FROM mart.compliance_score
        WHERE p_from IS NULL
           OR period_start < dw.period_of(period_kind, p_from)
           OR period_start > dw.period_of(period_kind, p_to)
    )
    DELETE FROM mart.compliance_total
    WHERE p_from IS NULL
       OR period_start < dw.period_of(period_kind, p_from)
       OR period_start > dw.period_of(period_kind, p_to);

    INSERT INTO pg_temp.touched_kpi
    SELECT u.unit_code, p.period_kind, p.period_start
    FROM dw.kpi_unit u
    CROSS JOIN (SELECT period_kind, period_start FROM dw.periods(p_from, p_to)
                EXCEPT
                SELECT period_kind, period_start FROM dw.periods(p_old_from, p_old_to)) p
    ON CONFLICT DO NOTHING;
$$;

-- The other (unit, period) keys to rebuild.  p_cut: periods ending
-- after it were evaluated at a moment that has passed (NULL: all periods).
CREATE FUNCTION etl._touch_periods(p_from date, p_to date, p_cut timestamptz)
RETURNS void
LANGUAGE sql AS $$
    INSERT INTO pg_temp.touched_kpi
    SELECT DISTINCT t.unit_code, k.kind, dw.period_of(k.kind, t.month_start)
    FROM pg_temp.touched_um t
    CROSS JOIN (VALUES ('month'), ('quarter'), ('year')) k (kind)
    ON CONFLICT DO NOTHING;

    -- a catalogue change may move procedures_total of any period of its unit
    INSERT INTO pg_temp.touched_kpi
    SELECT DISTINCT m.unit_code, p.period_kind, p.period_start
    FROM pg_temp.merged m CROSS JOIN dw.periods(p_from, p_to) p
    WHERE m.entity = 'thutuc'
    ON CONFLICT DO NOTHING;

    INSERT INTO pg_temp.touched_kpi
    SELECT u.unit_code, p.period_kind, p.period_start
    FROM dw.kpi_unit u CROSS JOIN dw.periods(p_from, p_to) p
    WHERE p_cut IS NULL
       OR (p.period_end::timestamp AT TIME ZONE 'Asia/Ho_Chi_Minh') > p_cut
    ON CONFLICT DO NOTHING;

    INSERT INTO pg_temp.touched_step
    SELECT DISTINCT t.unit_code, k.kind, dw.period_of(k.kind, t.month_start)
    FROM pg_temp.touched_sm t
    CROSS JOIN (VALUES ('month'), ('quarter'), ('year')) k (kind)
    ON CONFLICT DO NOTHING;

    ANALYZE pg_temp.touched_kpi;
    ANALYZE pg_temp.touched_step;
$$;

-- The SELECT list of mart.unit_kpi over a FROM item n whose columns are
-- its counts, named as in mart.unit_kpi: every column in its order, each
-- rate by its one definition, dw.kpi_rates (below), so that no rate is
-- written twice.  A numeric column without a definition is an error, not
-- a NULL.
CREATE FUNCTION etl._unit_kpi_columns() RETURNS text
LANGUAGE plpgsql STABLE AS $$
DECLARE
    a    record;
    r    record;
    cols text := '';
BEGIN
    FOR a IN
        SELECT attname::text AS name, format_type(atttypid, atttypmod) AS typ
        FROM pg_attribute
        WHERE attrelid = 'mart.unit_kpi'::regclass AND attnum > 0 AND NOT attisdropped
        ORDER BY attnum
    LOOP
        SELECT * INTO r FROM dw.kpi_rates() d WHERE d.rate = a.name;
        IF FOUND THEN
            cols := cols || format(', dw.pct((%s)::bigint, (%s)::bigint)',
                                   r.numerator, r.denominator);
        ELSIF a.typ = 'numeric' THEN
            RAISE EXCEPTION 'mart.unit_kpi.%: a rate without a definition in dw.kpi_rates()',
                a.name;
        ELSE
            cols := cols || format(', n.%I', a.name);
        END IF;
    END LOOP;
    RETURN substr(cols, 3);
END
$$;

-- Rebuilds the touched unit_kpi rows from the monthly counts and the
-- catalogue in force at the end of each period (at p_as_of for a period not
-- ended): the counts of each row here, its rates from them as
-- etl._unit_kpi_columns writes them.  In the statement, $1 is p_from, $2
-- p_to and $3 p_as_of.
CREATE FUNCTION etl._build_unit_kpi(p_from date, p_to date, p_as_of timestamptz)
RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM mart.unit_kpi k USING pg_temp.touched_kpi t
    WHERE k.unit_code = t.unit_code AND k.period_kind = t.period_kind
      AND k.period_start = t.period_start;

    EXECUTE format($sql$
    INSERT INTO mart.unit_kpi
    SELECT %s FROM (
    WITH current_period AS MATERIALIZED (
        -- the periods not ended, as they stand at the run's start: each
        -- begins in the year of the run's start or later
        SELECT x.k_unit AS unit_code, k.kind AS period_kind,
               dw.period_of(k.kind, x.receipt_date) AS period_start,
               count(*) FILTER (WHERE dw.in_time_at(x.class, x.close_date, x.declared_outcome,
                                                    x.due_date, dw.local_date($3)))
                   AS progress_in_time
        FROM dw.dossier_derived x
        CROSS JOIN (VALUES ('month'), ('quarter'), ('year')) k (kind)
        WHERE x.home_month >= dw.period_of('year', dw.local_date($3))
          AND x.receipt_date >= dw.period_of('year', dw.local_date($3))
        GROUP BY 1, 2, 3
    )
    SELECT t.unit_code, u.unit_name, t.period_kind, t.period_start,
           m.received, m.received_direct, m.received_online, m.received_postal,
           m.online_eligible, m.online_eligible_online,
           m.resolved, m.resolved_early, m.resolved_on_time, m.resolved_late,
           m.resolved_late_legal, m.resolved_unknown_legal,
           m.masked_late, m.withdrawn, m.on_software,
           m.fee_received, m.paid_online,
           c.total AS procedures_total, c.level2plus AS procedures_level2plus,
           c.level3plus AS procedures_level3plus, c.level4 AS procedures_level4,
           m.received AS progress_total, g.progress_in_time,
           m.online_full_eligible, m.online_full
    FROM pg_temp.touched_kpi t
    JOIN dw.kpi_unit USING (unit_code)
    JOIN dw.periods($1, $2) p USING (period_kind, period_start)
    LEFT JOIN dw.unit u USING (unit_code)
    CROSS JOIN LATERAL (
        -- versions with updated_at before cut are in force at the end
        SELECT CASE WHEN (p.period_end::timestamp AT TIME ZONE 'Asia/Ho_Chi_Minh') <= $3
                    THEN p.period_end::timestamp AT TIME ZONE 'Asia/Ho_Chi_Minh'
                    ELSE $3 + interval '1 microsecond' END AS cut) e
    CROSS JOIN LATERAL (
        SELECT coalesce(sum(x.received), 0)::bigint AS received,
               coalesce(sum(x.received_direct), 0)::bigint AS received_direct,
               coalesce(sum(x.received_online), 0)::bigint AS received_online,
               coalesce(sum(x.received_postal), 0)::bigint AS received_postal,
               coalesce(sum(x.online_eligible), 0)::bigint AS online_eligible,
               coalesce(sum(x.online_eligible_online), 0)::bigint AS online_eligible_online,
               coalesce(sum(x.withdrawn), 0)::bigint AS withdrawn,
               coalesce(sum(x.on_software), 0)::bigint AS on_software,
               coalesce(sum(x.fee_received), 0)::bigint AS fee_received,
               coalesce(sum(x.paid_online), 0)::bigint AS paid_online,
               coalesce(sum(x.resolved), 0)::bigint AS resolved,
               coalesce(sum(x.resolved_early), 0)::bigint AS resolved_early,
               coalesce(sum(x.resolved_on_time), 0)::bigint AS resolved_on_time,
               coalesce(sum(x.resolved_late), 0)::bigint AS resolved_late,
               coalesce(sum(x.resolved_late_legal), 0)::bigint AS resolved_late_legal,
               coalesce(sum(x.resolved_unknown_legal), 0)::bigint AS resolved_unknown_legal,
               coalesce(sum(x.masked_late), 0)::bigint AS masked_late,
               coalesce(sum(x.progress_in_time_month), 0)::bigint AS progress_in_time_month,
               coalesce(sum(x.progress_in_time_quarter), 0)::bigint AS progress_in_time_quarter,
               coalesce(sum(x.progress_in_time_year), 0)::bigint AS progress_in_time_year,
               coalesce(sum(x.online_full_eligible), 0)::bigint AS online_full_eligible,
               coalesce(sum(x.online_full), 0)::bigint AS online_full
        FROM dw.unit_month x
        WHERE x.unit_code = t.unit_code AND x.month_start >= t.period_start
          AND x.month_start < p.period_end) m
    LEFT JOIN current_period cp
           ON cp.unit_code = t.unit_code AND cp.period_kind = t.period_kind
          AND cp.period_start = t.period_start
    CROSS JOIN LATERAL (
        SELECT CASE WHEN p.period_end - 1 > dw.local_date($3)
                    THEN coalesce(cp.progress_in_time, 0)
                    WHEN t.period_kind = 'month' THEN m.progress_in_time_month
                    WHEN t.period_kind = 'quarter' THEN m.progress_in_time_quarter
                    ELSE m.progress_in_time_year END AS progress_in_time) g
    -- the catalogue in force at the end, across reorganisations (lineage.sql)
    CROSS JOIN LATERAL dw.catalogue_counts(t.unit_code, e.cut) c
    ) n$sql$, etl._unit_kpi_columns())
    USING p_from, p_to, p_as_of;
END
$$;

-- The touched step_delay rows: the step-delay rule's monthly counts
-- (derive.sql) summed over the period.
CREATE FUNCTION etl._build_step_delay() RETURNS void
LANGUAGE sql AS $$
    DELETE FROM mart.step_delay s USING pg_temp.touched_step t
    WHERE s.unit_code = t.unit_code AND s.period_kind = t.period_kind
      AND s.period_start = t.period_start;

    INSERT INTO mart.step_delay
    SELECT t.unit_code, m.department, t.period_kind, t.period_start,
           sum(m.steps), sum(m.steps_late),
           dw.pct(sum(m.steps_late)::bigint, sum(m.steps)::bigint)
    FROM pg_temp.touched_step t
    JOIN dw.step_month m
      ON m.unit_code = t.unit_code AND m.month_start >= t.period_start
     AND m.month_start < dw.period_end(t.period_kind, t.period_start)
    GROUP BY t.unit_code, m.department, t.period_kind, t.period_start
    HAVING sum(m.steps) > 0;
$$;

-- ------------------------------------------------------------ rates
-- Every rate of mart.unit_kpi as its definition over the counts of one
-- row: rate = dw.pct(numerator, denominator), each an SQL expression of
-- count columns.  It is the only one: etl._build_unit_kpi writes the
-- rates of mart.unit_kpi by it (etl._unit_kpi_columns), and the roll-ups
-- by current unit (marts.sql, etl._by_current_unit_sql) recompute each
-- rate from summed counts by it, never averaging rates.  A rate column of
-- mart.unit_kpi without a row here stops the code from being applied.
CREATE FUNCTION dw.kpi_rates() RETURNS TABLE (rate text, numerator text, denominator text)
LANGUAGE sql IMMUTABLE AS $$
    VALUES ('online_rate', 'online_eligible_online', 'online_eligible'),
           ('ontime_rate', 'resolved_early + resolved_on_time', 'resolved'),
           ('ontime_rate_legal', 'resolved - resolved_late_legal - resolved_unknown_legal',
            'resolved - resolved_unknown_legal'),
           ('on_software_rate', 'on_software', 'received'),
           ('paid_online_rate', 'paid_online', 'fee_received'),
           ('pct_level2plus', 'procedures_level2plus', 'procedures_total'),
           ('pct_level3plus', 'procedures_level3plus', 'procedures_total'),
           ('pct_level4', 'procedures_level4', 'procedures_total'),
           ('progress_rate', 'progress_in_time', 'progress_total'),
           ('online_full_rate', 'online_full', 'online_full_eligible')
$$;
COMMENT ON FUNCTION dw.kpi_rates() IS
    'each rate of mart.unit_kpi as dw.pct(numerator, denominator) over its count columns';
