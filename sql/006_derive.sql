-- 006: derivation (rules.md).  etl.derive re-derives what the merges of the
-- current transaction touched; etl.rescore re-derives everything.  Both run
-- the same steps:
--
--   1. the dossiers to re-derive (touched_dossier), and what they and their
--      log steps counted as in dw.unit_month / dw.step_month, subtracted;
--   2. the dossiers' and log steps' derived columns;
--   3. what they count as now, added; the months whose counts moved;
--   4. the units and the span; the (unit, period) rows to rebuild from the
--      monthly counts: touched months, units whose catalogue changed, periods
--      not ended at the previous derivation, new units and new periods;
--   5. unit_kpi, compliance and step_delay rows for those keys.
--
-- The functions below name the temporary work tables, which exist only while
-- a derivation runs: their bodies cannot be checked when they are created.
SET check_function_bodies = off;

CREATE FUNCTION dw.outcome(finished date, due date) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN finished < due THEN 'early'
                WHEN finished = due THEN 'on_time'
                WHEN finished > due THEN 'late' END
$$;

CREATE FUNCTION dw.dossier_class(status smallint) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN status IN (1, 3) THEN 'not_received'
                WHEN status IN (2, 4) THEN 'in_progress'
                WHEN status IN (5, 6, 8) THEN 'paused'
                WHEN status = 7 THEN 'withdrawn'
                WHEN status IN (9, 10) THEN 'resolved' END
$$;

-- Work tables of one derivation.
CREATE FUNCTION etl._create_derive_work() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF to_regclass('pg_temp.touched_dossier') IS NULL THEN
        CREATE TEMP TABLE touched_dossier (ma_ho_so text PRIMARY KEY) ON COMMIT DROP;
        CREATE TEMP TABLE touched_unit (unit_code text PRIMARY KEY) ON COMMIT DROP;
        CREATE TEMP TABLE touched_um (unit_code text, month_start date,
                                      PRIMARY KEY (unit_code, month_start)) ON COMMIT DROP;
        CREATE TEMP TABLE touched_sm (unit_code text, month_start date,
                                      PRIMARY KEY (unit_code, month_start)) ON COMMIT DROP;
        CREATE TEMP TABLE touched_kpi (unit_code text, period_kind text, period_start date,
                                       PRIMARY KEY (unit_code, period_kind, period_start))
            ON COMMIT DROP;
        CREATE TEMP TABLE touched_step (unit_code text, period_kind text, period_start date,
                                        PRIMARY KEY (unit_code, period_kind, period_start))
            ON COMMIT DROP;
        -- signed contributions to dw.unit_month and dw.step_month
        CREATE TEMP TABLE delta_um (LIKE dw.unit_month) ON COMMIT DROP;
        CREATE TEMP TABLE delta_sm (LIKE dw.step_month) ON COMMIT DROP;
    ELSE
        TRUNCATE pg_temp.touched_dossier, pg_temp.touched_unit, pg_temp.touched_um,
                 pg_temp.touched_sm, pg_temp.touched_kpi, pg_temp.touched_step,
                 pg_temp.delta_um, pg_temp.delta_sm;
    END IF;
END
$$;

-- Step 1, incremental: what the merges touched.  A catalogue change touches
-- the dossiers of its (unit, procedure) received in the validity of the
-- changed version; when that version is the earliest, also those received
-- before it.
CREATE FUNCTION etl._touch_from_merges() RETURNS void
LANGUAGE sql AS $$
    INSERT INTO pg_temp.touched_unit
    SELECT DISTINCT unit_code FROM pg_temp.merged WHERE unit_code IS NOT NULL
    ON CONFLICT DO NOTHING;

    INSERT INTO pg_temp.touched_dossier
    SELECT DISTINCT ma_ho_so FROM pg_temp.merged WHERE ma_ho_so IS NOT NULL
    ON CONFLICT DO NOTHING;

    INSERT INTO pg_temp.touched_dossier
    SELECT DISTINCT d.ma_ho_so
    FROM (SELECT DISTINCT unit_code, procedure_code, updated_at
          FROM pg_temp.merged WHERE entity = 'thutuc') c
    CROSS JOIN LATERAL (
        SELECT (SELECT min(v.updated_at) FROM dw.procedure_version v
                WHERE v.unit_code = c.unit_code AND v.procedure_code = c.procedure_code
                  AND v.updated_at > c.updated_at) AS valid_to,
               EXISTS (SELECT FROM dw.procedure_version v
                       WHERE v.unit_code = c.unit_code AND v.procedure_code = c.procedure_code
                         AND v.updated_at < c.updated_at) AS has_older) w
    JOIN dw.dossier d
      ON d.unit_code = c.unit_code AND d.procedure_code = c.procedure_code
     AND (NOT w.has_older OR d.received_at >= c.updated_at)
     AND (w.valid_to IS NULL OR d.received_at < w.valid_to)
    ON CONFLICT DO NOTHING;

    ANALYZE pg_temp.touched_dossier;
$$;

-- Steps 1 and 3: the keys the touched dossiers are counted under (before the
-- re-derivation: the old keys; after it: the new ones).
CREATE FUNCTION etl._count_touched(p_sign int) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO pg_temp.touched_unit
    SELECT DISTINCT d.k_unit
    FROM dw.dossier d JOIN pg_temp.touched_dossier t USING (ma_ho_so)
    WHERE d.k_unit IS NOT NULL
    ON CONFLICT DO NOTHING;

    INSERT INTO pg_temp.delta_um
    SELECT d.k_unit, dw.period_of('month', d.receipt_date),
           p_sign, p_sign * (d.k_channel = 1)::int, p_sign * (d.k_channel = 2)::int,
           p_sign * (d.k_channel = 3)::int,
           p_sign * coalesce(d.online_eligible, false)::int,
           p_sign * coalesce(d.online_eligible AND d.k_channel = 2, false)::int,
           p_sign * (d.class = 'withdrawn')::int,
           p_sign * coalesce(d.on_software, false)::int,
           p_sign * coalesce(d.fee_received, false)::int,
           p_sign * coalesce(d.fee_received AND d.k_paid_online, false)::int,
           0, 0, 0, 0, 0, 0, 0
    FROM dw.dossier d JOIN pg_temp.touched_dossier t USING (ma_ho_so)
    WHERE d.k_unit IS NOT NULL AND d.receipt_date IS NOT NULL
    UNION ALL
    SELECT d.k_unit, dw.period_of('month', d.finish_date),
           0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
           p_sign,
           p_sign * (d.declared_outcome IS NOT DISTINCT FROM 'early')::int,
           p_sign * (d.declared_outcome IS NOT DISTINCT FROM 'on_time')::int,
           p_sign * (d.declared_outcome IS NOT DISTINCT FROM 'late')::int,
           p_sign * (d.legal_outcome IS NOT DISTINCT FROM 'late')::int,
           p_sign * (d.legal_outcome IS NOT DISTINCT FROM 'unknown')::int,
           p_sign * coalesce(d.masked_late, false)::int
    FROM dw.dossier d JOIN pg_temp.touched_dossier t USING (ma_ho_so)
    WHERE d.k_unit IS NOT NULL AND d.finish_date IS NOT NULL AND d.class = 'resolved';

    INSERT INTO pg_temp.delta_sm
    SELECT s.k_unit, dw.period_of('month', s.done_date), s.k_department,
           p_sign, p_sign * coalesce(s.late, false)::int
    FROM dw.log_step s JOIN pg_temp.touched_dossier t USING (ma_ho_so)
    WHERE s.counted;
$$;

-- Step 1: the validity of the catalogue versions of the (unit, procedure)
-- pairs merged in this transaction (all of them for a rescore).
CREATE FUNCTION etl._refresh_versions(p_full boolean) RETURNS void
LANGUAGE sql AS $$
    UPDATE dw.procedure_version v
    SET valid_to = x.valid_to, is_first = x.is_first
    FROM (SELECT v.unit_code, v.procedure_code, v.updated_at,
                 lead(v.updated_at) OVER w AS valid_to,
                 row_number() OVER w = 1 AS is_first
          FROM dw.procedure_version v
          WHERE p_full
             OR (v.unit_code, v.procedure_code) IN
                (SELECT unit_code, procedure_code FROM pg_temp.merged
                 WHERE entity = 'thutuc')
          WINDOW w AS (PARTITION BY v.unit_code, v.procedure_code ORDER BY v.updated_at)) x
    WHERE v.unit_code = x.unit_code AND v.procedure_code = x.procedure_code
      AND v.updated_at = x.updated_at
      AND (v.valid_to, v.is_first) IS DISTINCT FROM (x.valid_to, x.is_first);
$$;

-- Step 2: the derived columns of the touched dossiers.
CREATE FUNCTION etl._derive_dossiers(p_office_close time) RETURNS void
LANGUAGE sql AS $$
    WITH d AS (
        SELECT d.ma_ho_so, d.unit_code, d.channel, d.received_at, d.due_at,
               d.finished_at, dw.dossier_class(d.status) AS class,
               d.received_at AT TIME ZONE 'Asia/Ho_Chi_Minh' AS received_local,
               d.paid_online, v.level, v.legal_days, v.fee, sw.*
        FROM dw.dossier d
        JOIN pg_temp.touched_dossier t USING (ma_ho_so)
        -- the log: received in the software, handled, finished
        CROSS JOIN LATERAL (
            SELECT bool_or(s.status = 2
                           AND s.done_at <= d.received_at + interval '24 hours')
                       AS received_in_software,
                   bool_or(s.status = 4) AS handled,
                   bool_or(s.status IN (9, 10)) AS logged_finish
            FROM dw.log_step s WHERE s.ma_ho_so = d.ma_ho_so) sw
        -- the catalogue version in force at receipt, else the earliest
        LEFT JOIN dw.procedure_version v
               ON v.unit_code = d.unit_code AND v.procedure_code = d.procedure_code
              AND (v.updated_at <= d.received_at OR v.is_first)
              AND (v.valid_to > d.received_at OR v.valid_to IS NULL)
              AND d.received_at IS NOT NULL
    ), supplement AS (
        -- returned supplements as intervals (requested, returned] of local dates
        SELECT s.ma_ho_so, dw.local_date(s.requested_at) AS a,
               dw.local_date(s.returned_at) AS b
        FROM dw.supplement s JOIN pg_temp.touched_dossier t USING (ma_ho_so)
        WHERE s.returned_at IS NOT NULL
          AND dw.local_date(s.returned_at) > dw.local_date(s.requested_at)
    ), island_start AS (
        SELECT ma_ho_so, a, b,
               CASE WHEN a <= max(b) OVER (PARTITION BY ma_ho_so ORDER BY a, b
                                           ROWS BETWEEN UNBOUNDED PRECEDING
                                                    AND 1 PRECEDING)
                    THEN 0 ELSE 1 END AS starts
        FROM supplement
    ), island AS (
        SELECT ma_ho_so, a, b,
               sum(starts) OVER (PARTITION BY ma_ho_so ORDER BY a, b) AS island
        FROM island_start
    ), extension AS (
        -- working days in the union of the intervals, each day once
        SELECT i.ma_ho_so, sum(cb.workday_no - ca.workday_no)::int AS days
        FROM (SELECT ma_ho_so, min(a) AS a, max(b) AS b
              FROM island GROUP BY ma_ho_so, island) i
        JOIN dw.calendar ca ON ca.day = i.a
        JOIN dw.calendar cb ON cb.day = i.b
        GROUP BY i.ma_ho_so
    ), calc AS (
        SELECT d.*, d.class <> 'not_received' AS received,
               coalesce(e.days, 0) AS extension_days,
               -- working-day number of the effective receipt day
               CASE WHEN rc.is_workday AND d.received_local::time < p_office_close
                    THEN rc.workday_no ELSE rc.workday_no + 1 END AS receipt_no
        FROM d
        LEFT JOIN dw.calendar rc ON rc.day = d.received_local::date
        LEFT JOIN extension e USING (ma_ho_so)
    ), res AS (
        SELECT c.*, eff.day AS effective_receipt_day, due.day AS legal_due_date,
               dw.local_date(c.finished_at) AS finish_local
        FROM calc c
        LEFT JOIN dw.calendar eff ON eff.workday_no = c.receipt_no AND eff.is_workday
        LEFT JOIN dw.calendar due
               ON due.workday_no = c.receipt_no + c.legal_days + c.extension_days
              AND due.is_workday
    ), outcome AS (
        SELECT r.*,
               CASE WHEN r.class = 'resolved'
                    THEN dw.outcome(r.finish_local, dw.local_date(r.due_at)) END
                   AS declared_outcome,
               CASE WHEN r.class <> 'resolved' THEN NULL
                    WHEN r.legal_due_date IS NULL OR NOT r.received THEN 'unknown'
                    ELSE dw.outcome(r.finish_local, r.legal_due_date) END AS legal_outcome
        FROM res r
    )
    UPDATE dw.dossier t
    SET class = o.class,
        k_unit = o.unit_code,
        k_channel = o.channel,
        k_paid_online = o.paid_online,
        receipt_date = CASE WHEN o.received THEN o.received_local::date END,
        finish_date = CASE WHEN o.received THEN o.finish_local END,
        effective_receipt_day = CASE WHEN o.received THEN o.effective_receipt_day END,
        legal_days = CASE WHEN o.received THEN o.legal_days END,
        extension_days = CASE WHEN o.received THEN o.extension_days END,
        legal_due_date = CASE WHEN o.received THEN o.legal_due_date END,
        declared_outcome = o.declared_outcome,
        legal_outcome = o.legal_outcome,
        masked_late = CASE WHEN o.class = 'resolved'
                           THEN coalesce(o.declared_outcome IN ('early', 'on_time')
                                         AND o.legal_outcome = 'late', false) END,
        on_software = CASE WHEN o.received
                           THEN coalesce(o.received_in_software AND o.handled
                                         AND (o.class <> 'resolved' OR o.logged_finish),
                                         false) END,
        online_eligible = o.received AND coalesce(o.level >= 3, false)
                          AND o.channel IN (1, 2),
        fee_received = o.received AND coalesce(o.fee, false)
    FROM outcome o
    WHERE t.ma_ho_so = o.ma_ho_so
      -- rewrite only what changed: a rescore after a calendar change moves
      -- few dossiers, and an unchanged row costs no write
      AND (t.class, t.k_unit, t.k_channel, t.k_paid_online, t.receipt_date,
           t.finish_date, t.effective_receipt_day, t.legal_days, t.extension_days,
           t.legal_due_date, t.declared_outcome, t.legal_outcome, t.masked_late,
           t.on_software, t.online_eligible, t.fee_received)
          IS DISTINCT FROM
          (o.class, o.unit_code, o.channel, o.paid_online,
           CASE WHEN o.received THEN o.received_local::date END,
           CASE WHEN o.received THEN o.finish_local END,
           CASE WHEN o.received THEN o.effective_receipt_day END,
           CASE WHEN o.received THEN o.legal_days END,
           CASE WHEN o.received THEN o.extension_days END,
           CASE WHEN o.received THEN o.legal_due_date END,
           o.declared_outcome, o.legal_outcome,
           CASE WHEN o.class = 'resolved'
                THEN coalesce(o.declared_outcome IN ('early', 'on_time')
                              AND o.legal_outcome = 'late', false) END,
           CASE WHEN o.received
                THEN coalesce(o.received_in_software AND o.handled
                              AND (o.class <> 'resolved' OR o.logged_finish), false) END,
           o.received AND coalesce(o.level >= 3, false) AND o.channel IN (1, 2),
           o.received AND coalesce(o.fee, false));
$$;

-- Step 2: the derived columns of the touched dossiers' log steps.
CREATE FUNCTION etl._derive_steps() RETURNS void
LANGUAGE sql AS $$
    UPDATE dw.log_step s
    SET k_unit = x.k_unit, k_department = x.k_department, done_date = x.done_date,
        counted = x.counted, late = x.late
    FROM (SELECT s.ma_ho_so, s.seq, d.unit_code AS k_unit,
                 coalesce(nullif(s.department, ''), '(không rõ)') AS k_department,
                 dw.local_date(s.done_at) AS done_date,
                 coalesce(d.class <> 'not_received', false)
                     AND s.step_due_at IS NOT NULL AS counted,
                 dw.local_date(s.done_at) > dw.local_date(s.step_due_at) AS late
          FROM pg_temp.touched_dossier t
          JOIN dw.log_step s USING (ma_ho_so)
          LEFT JOIN dw.dossier d USING (ma_ho_so)) x
    WHERE s.ma_ho_so = x.ma_ho_so AND s.seq = x.seq
      AND (s.k_unit, s.k_department, s.done_date, s.counted, s.late)
          IS DISTINCT FROM (x.k_unit, x.k_department, x.done_date, x.counted, x.late);
$$;

-- Step 3: add the net changes to the monthly counts; the months whose counts
-- moved are the ones to roll up again.
CREATE FUNCTION etl._apply_deltas() RETURNS void
LANGUAGE sql AS $$
    WITH net AS (
        SELECT unit_code, month_start,
                   sum(received) AS received,
                   sum(received_direct) AS received_direct,
                   sum(received_online) AS received_online,
                   sum(received_postal) AS received_postal,
                   sum(online_eligible) AS online_eligible,
                   sum(online_eligible_online) AS online_eligible_online,
                   sum(withdrawn) AS withdrawn,
                   sum(on_software) AS on_software,
                   sum(fee_received) AS fee_received,
                   sum(paid_online) AS paid_online,
                   sum(resolved) AS resolved,
                   sum(resolved_early) AS resolved_early,
                   sum(resolved_on_time) AS resolved_on_time,
                   sum(resolved_late) AS resolved_late,
                   sum(resolved_late_legal) AS resolved_late_legal,
                   sum(resolved_unknown_legal) AS resolved_unknown_legal,
                   sum(masked_late) AS masked_late
        FROM pg_temp.delta_um
        GROUP BY unit_code, month_start
    ), moved AS (
        SELECT * FROM net
        WHERE received <> 0
            OR received_direct <> 0
            OR received_online <> 0
            OR received_postal <> 0
            OR online_eligible <> 0
            OR online_eligible_online <> 0
            OR withdrawn <> 0
            OR on_software <> 0
            OR fee_received <> 0
            OR paid_online <> 0
            OR resolved <> 0
            OR resolved_early <> 0
            OR resolved_on_time <> 0
            OR resolved_late <> 0
            OR resolved_late_legal <> 0
            OR resolved_unknown_legal <> 0
            OR masked_late <> 0
    ), keys AS (
        INSERT INTO pg_temp.touched_um SELECT unit_code, month_start FROM moved
    )
    INSERT INTO dw.unit_month AS m
    SELECT * FROM moved
    ON CONFLICT (unit_code, month_start) DO UPDATE
    SET received = m.received + EXCLUDED.received,
        received_direct = m.received_direct + EXCLUDED.received_direct,
        received_online = m.received_online + EXCLUDED.received_online,
        received_postal = m.received_postal + EXCLUDED.received_postal,
        online_eligible = m.online_eligible + EXCLUDED.online_eligible,
        online_eligible_online = m.online_eligible_online + EXCLUDED.online_eligible_online,
        withdrawn = m.withdrawn + EXCLUDED.withdrawn,
        on_software = m.on_software + EXCLUDED.on_software,
        fee_received = m.fee_received + EXCLUDED.fee_received,
        paid_online = m.paid_online + EXCLUDED.paid_online,
        resolved = m.resolved + EXCLUDED.resolved,
        resolved_early = m.resolved_early + EXCLUDED.resolved_early,
        resolved_on_time = m.resolved_on_time + EXCLUDED.resolved_on_time,
        resolved_late = m.resolved_late + EXCLUDED.resolved_late,
        resolved_late_legal = m.resolved_late_legal + EXCLUDED.resolved_late_legal,
        resolved_unknown_legal = m.resolved_unknown_legal + EXCLUDED.resolved_unknown_legal,
        masked_late = m.masked_late + EXCLUDED.masked_late;

    DELETE FROM dw.unit_month m USING pg_temp.touched_um t
    WHERE m.unit_code = t.unit_code AND m.month_start = t.month_start
      AND m.received = 0 AND m.resolved = 0;

    WITH moved AS (
        SELECT unit_code, month_start, department,
               sum(steps) AS steps, sum(steps_late) AS steps_late
        FROM pg_temp.delta_sm
        GROUP BY unit_code, month_start, department
        HAVING sum(steps) <> 0 OR sum(steps_late) <> 0
    ), keys AS (
        INSERT INTO pg_temp.touched_sm
        SELECT DISTINCT unit_code, month_start FROM moved
    )
    INSERT INTO dw.step_month AS m
    SELECT * FROM moved
    ON CONFLICT (unit_code, month_start, department) DO UPDATE
    SET steps = m.steps + EXCLUDED.steps, steps_late = m.steps_late + EXCLUDED.steps_late;

    DELETE FROM dw.step_month m USING pg_temp.touched_sm t
    WHERE m.unit_code = t.unit_code AND m.month_start = t.month_start AND m.steps = 0;

    ANALYZE pg_temp.touched_um;
    ANALYZE pg_temp.touched_sm;
$$;

-- Step 4: the units of unit_kpi.  Candidates are the touched units: those
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

-- Step 4: the span changed: drop the periods outside it, add the new ones
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

-- Step 4: the other (unit, period) keys to rebuild.  p_cut: periods ending
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

-- Step 5: rebuild the touched unit_kpi rows from the monthly counts and the
-- catalogue in force at the end of each period (at p_as_of for a period not
-- ended).
CREATE FUNCTION etl._build_unit_kpi(p_from date, p_to date, p_as_of timestamptz)
RETURNS void
LANGUAGE sql AS $$
    DELETE FROM mart.unit_kpi k USING pg_temp.touched_kpi t
    WHERE k.unit_code = t.unit_code AND k.period_kind = t.period_kind
      AND k.period_start = t.period_start;

    INSERT INTO mart.unit_kpi
    SELECT t.unit_code, u.unit_name, t.period_kind, t.period_start,
           m.received, m.received_direct, m.received_online, m.received_postal,
           m.online_eligible, m.online_eligible_online,
           dw.pct(m.online_eligible_online, m.online_eligible),
           m.resolved, m.resolved_early, m.resolved_on_time, m.resolved_late,
           dw.pct(m.resolved_early + m.resolved_on_time, m.resolved),
           m.resolved_late_legal, m.resolved_unknown_legal,
           dw.pct(m.resolved - m.resolved_late_legal - m.resolved_unknown_legal,
                  m.resolved - m.resolved_unknown_legal),
           m.masked_late, m.withdrawn, m.on_software,
           dw.pct(m.on_software, m.received),
           m.fee_received, m.paid_online, dw.pct(m.paid_online, m.fee_received),
           c.total, c.level2plus, c.level3plus, c.level4,
           dw.pct(c.level2plus, c.total), dw.pct(c.level3plus, c.total),
           dw.pct(c.level4, c.total)
    FROM pg_temp.touched_kpi t
    JOIN dw.kpi_unit USING (unit_code)
    JOIN dw.periods(p_from, p_to) p USING (period_kind, period_start)
    LEFT JOIN dw.unit u USING (unit_code)
    CROSS JOIN LATERAL (
        -- versions with updated_at before cut are in force at the end
        SELECT CASE WHEN (p.period_end::timestamp AT TIME ZONE 'Asia/Ho_Chi_Minh') <= p_as_of
                    THEN p.period_end::timestamp AT TIME ZONE 'Asia/Ho_Chi_Minh'
                    ELSE p_as_of + interval '1 microsecond' END AS cut) e
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
               coalesce(sum(x.masked_late), 0)::bigint AS masked_late
        FROM dw.unit_month x
        WHERE x.unit_code = t.unit_code AND x.month_start >= t.period_start
          AND x.month_start < p.period_end) m
    CROSS JOIN LATERAL (
        SELECT count(*) FILTER (WHERE v.in_force) AS total,
               count(*) FILTER (WHERE v.in_force AND v.level >= 2) AS level2plus,
               count(*) FILTER (WHERE v.in_force AND v.level >= 3) AS level3plus,
               count(*) FILTER (WHERE v.in_force AND v.level = 4) AS level4
        -- each procedure's latest version before cut, else its earliest
        FROM dw.procedure_version v
        WHERE v.unit_code = t.unit_code
          AND (v.updated_at < e.cut OR v.is_first)
          AND (v.valid_to >= e.cut OR v.valid_to IS NULL)) c;
$$;

-- Step 5: the compliance rows of the touched unit_kpi rows.
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
               END AS value) v;

    DELETE FROM mart.compliance_total s USING pg_temp.touched_kpi t
    WHERE s.unit_code = t.unit_code AND s.period_kind = t.period_kind
      AND s.period_start = t.period_start;

    INSERT INTO mart.compliance_total
    SELECT s.unit_code, s.period_kind, s.period_start, s.profile, x.points, x.max_points,
           CASE WHEN x.max_points > 0 THEN round(100 * x.points / x.max_points, 2) END,
           x.met, x.applicable
    FROM (SELECT s.unit_code, s.period_kind, s.period_start, s.profile
          FROM mart.compliance_score s
          JOIN pg_temp.touched_kpi t USING (unit_code, period_kind, period_start)
          GROUP BY 1, 2, 3, 4) s
    CROSS JOIN LATERAL (
        SELECT coalesce(sum(c.points), 0) AS points,
               coalesce(sum(c.max_points) FILTER (WHERE c.value IS NOT NULL), 0)
                   AS max_points,
               count(*) FILTER (WHERE c.met)::int AS met,
               count(*) FILTER (WHERE c.value IS NOT NULL)::int AS applicable
        FROM mart.compliance_score c
        WHERE c.unit_code = s.unit_code AND c.period_kind = s.period_kind
          AND c.period_start = s.period_start AND c.profile = s.profile) x;
$$;

-- Step 5: the touched step_delay rows.
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

-- jit off: the estimates over temporary tables are rough, and compiling
-- costs more than the work of a nightly derivation.
CREATE FUNCTION etl._derive(p_as_of timestamptz, p_full boolean) RETURNS void
LANGUAGE plpgsql SET jit = off SET random_page_cost = 1.1 AS $$
DECLARE
    st     dw.state;
    as_of  timestamptz := coalesce(p_as_of, now());
    v_from date;
    v_to   date;
BEGIN
    PERFORM etl._create_merged();
    PERFORM etl._create_derive_work();
    SELECT * INTO st FROM dw.state FOR UPDATE;

    IF p_full THEN
        TRUNCATE dw.unit_month, dw.step_month, dw.kpi_unit, mart.unit_kpi,
                 mart.step_delay, mart.compliance_score, mart.compliance_total;
        INSERT INTO pg_temp.touched_dossier SELECT ma_ho_so FROM dw.dossier;
        ANALYZE pg_temp.touched_dossier;
        INSERT INTO pg_temp.touched_unit SELECT unit_code FROM dw.unit;
        INSERT INTO pg_temp.touched_unit
        SELECT unit_code FROM dw.procedure_version GROUP BY unit_code
        ON CONFLICT DO NOTHING;
        INSERT INTO pg_temp.touched_unit
        SELECT unit_code FROM dw.dossier GROUP BY unit_code
        ON CONFLICT DO NOTHING;
        st.span_from := NULL;
        st.span_to := NULL;
        st.last_as_of := NULL;
    ELSE
        PERFORM etl._touch_from_merges();
        PERFORM etl._count_touched(-1);             -- what they counted as
    END IF;

    PERFORM etl._refresh_versions(p_full);
    PERFORM etl._derive_dossiers(st.office_close);
    PERFORM etl._derive_steps();
    PERFORM etl._count_touched(1);                  -- what they count as now
    PERFORM etl._apply_deltas();

    SELECT least((SELECT min(receipt_date) FROM dw.dossier),
                 (SELECT min(finish_date) FROM dw.dossier)),
           greatest((SELECT max(receipt_date) FROM dw.dossier),
                    (SELECT max(finish_date) FROM dw.dossier))
    INTO v_from, v_to;

    PERFORM etl._update_units(v_from, v_to);
    IF v_from IS DISTINCT FROM st.span_from OR v_to IS DISTINCT FROM st.span_to THEN
        PERFORM etl._update_span(st.span_from, st.span_to, v_from, v_to);
    END IF;
    PERFORM etl._touch_periods(v_from, v_to, least(st.last_as_of, as_of));
    PERFORM etl._build_unit_kpi(v_from, v_to, as_of);
    PERFORM etl._build_compliance();
    PERFORM etl._build_step_delay();

    UPDATE dw.state
    SET derived_at = now(), last_as_of = as_of, span_from = v_from, span_to = v_to;
    TRUNCATE pg_temp.merged;
END
$$;

-- Re-derive what the merges of this transaction touched (p_as_of: the start
-- of the run; a period not yet ended is evaluated at that moment).
CREATE FUNCTION etl.derive(p_as_of timestamptz) RETURNS void
LANGUAGE sql AS $$ SELECT etl._derive(p_as_of, false) $$;

-- Re-derive everything from the stored rows.
CREATE FUNCTION etl.rescore(p_as_of timestamptz) RETURNS void
LANGUAGE sql AS $$ SELECT etl._derive(p_as_of, true) $$;

RESET check_function_bodies;

COMMENT ON FUNCTION etl.create_rule_staging() IS
    'creates temp tables stg_calendar(day, kind, note) and stg_profile(profile, criterion, label, metric, target, max_points, note), ON COMMIT DROP';
COMMENT ON FUNCTION etl.apply_rules(time, int, int) IS
    'applies the staged calendar and profiles and office_close when their hash changed; true when something changed (then run etl.rescore)';
COMMENT ON FUNCTION etl.create_staging() IS
    'creates the five temp staging tables stg_donvi .. stg_quatrinh (COPY text format, first column row_number), ON COMMIT DROP';
COMMENT ON FUNCTION etl.merge_staging(bigint, text, int, bigint) IS
    'merges the staged rows into dw (source-api.md merge rules); one row per entity: rows_loaded, rows_superseded, watermark = max staged updated_at';
COMMENT ON FUNCTION etl.derive(timestamptz) IS
    're-derives dossiers, indicators and scores touched by the merges of this transaction; p_as_of = start of the run';
COMMENT ON FUNCTION etl.rescore(timestamptz) IS
    're-derives everything from the stored rows; p_as_of = start of the run';
COMMENT ON FUNCTION etl.advance_watermark(text, text, timestamptz) IS
    'moves a source/entity watermark forward (never back); NULL does nothing';
COMMENT ON FUNCTION dw.workday_add(date, int) IS
    'k = 0: d; k >= 1: the k-th working day after d (dw.calendar)';
COMMENT ON FUNCTION dw.is_workday(date) IS
    'whether d is a working day (dw.calendar; Monday to Friday outside it)';
