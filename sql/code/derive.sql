-- derive: what each dossier and log step counts as (rules.md), and the
-- monthly counts kept from it.  Rules that live here:
--   * dossier class (dw.dossier_class) and outcome (dw.outcome);
--   * effective receipt day, declared and legal outcome, masked late, on
--     the software, online eligible, fee received, closing day (form 06's,
--     reports.md), end-to-end online eligible: one function each
--     (dw.effective_receipt_no, dw.declared_outcome, dw.legal_outcome,
--     dw.masked_late, dw.on_software, dw.online_eligible, dw.fee_received,
--     dw.close_day, dw.online_full_eligible),
--     applied to a set of dossiers by etl._derive_dossiers, one statement
--     that also sums the supplement extension and joins the legal due date,
--     with the log facts of etl._log_fact_aggregates; its working-day
--     arithmetic is calendar.sql's (dw.workday_add), done as joins on
--     workday_no;
--   * what form 06 reads of a dossier beside these: the field of its
--     catalogue version in force at receipt and the days a supplement is
--     outstanding (etl._derive_dossiers; counted by form06.sql);
--   * the catalogue version in force at receipt (in etl._derive_dossiers),
--     the versions' validity (etl._refresh_versions) and the dossiers a
--     catalogue change touches (etl._touch_from_catalogue);
--   * the step-delay rule (dw.step_late, dw.step_department, and which
--     steps count: etl._count_steps and the bulk count of etl._derive_all);
--   * Decision 766's progress: in time at a day (dw.in_time_at), counted
--     at the end of the receipt month, quarter and year
--     (etl._count_dossiers; a period not ended: kpi.sql);
--   * the monthly counts (dw.unit_month, dw.step_month): added and
--     subtracted per dossier (etl._count_dossiers, etl._apply_deltas) and
--     the span of the indicators (etl._indicator_span).
-- etl.derive re-derives what the merges of the transaction touched,
-- etl.rescore everything, by the same statements, in two modes that give
-- the same warehouse (etl._derive):
--
--   incremental  the touched dossiers' old contributions to dw.unit_month
--                and dw.step_month are subtracted, their derived rows
--                rewritten and their new contributions added;
--   bulk         everything is derived again as set-based work: a few large
--                INSERT ... SELECT with hash joins and aggregates over whole
--                tables, no per-key index lookups, no per-row bookkeeping.
--
-- etl.rescore is always bulk; etl.derive goes bulk when the merge asked for
-- it or the dossiers to re-derive are many (etl._bulk_wanted, merge.sql).
-- Rebuilding mart rows from the monthly counts is kpi.sql's and scores.sql's.
--
-- Dynamic SQL (EXECUTE) stays where a statement runs over different FROM
-- items in the two modes: whole tables in bulk, and in incremental mode the
-- touched dossiers' partitions named by their months as constants, so that
-- the planner keeps only those (partition.sql, etl._in_months).  The work
-- tables (pg_temp.*) exist only inside a load or rescore transaction.

-- The class of a dossier by its status (rules.md, "Dossier class").
CREATE FUNCTION dw.dossier_class(status smallint) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN status IN (1, 3) THEN 'not_received'
                WHEN status IN (2, 4) THEN 'in_progress'
                WHEN status IN (5, 6, 8) THEN 'paused'
                WHEN status = 7 THEN 'withdrawn'
                WHEN status IN (9, 10) THEN 'resolved' END
$$;

-- A resolved dossier's outcome against a due date (rules.md, "Outcome").
CREATE FUNCTION dw.outcome(finished date, due date) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN finished < due THEN 'early'
                WHEN finished = due THEN 'on_time'
                WHEN finished > due THEN 'late' END
$$;

-- The rules of one dossier (rules.md), each as an expression of its facts:
-- etl._derive_dossiers applies them to a set of dossiers in one statement,
-- and PostgreSQL inlines them there (plain SQL expressions, each argument
-- used once or a plain column), so the plan is that of the bare expressions
-- while the rules themselves are checked when this file is applied.

-- The working-day number of the effective receipt day ("Legal due date",
-- 1): the receipt day's when it is a working day and the time is before
-- office_close, else the next working day's.
CREATE FUNCTION dw.effective_receipt_no(receipt_is_workday boolean, receipt_workday_no int,
                                        received_local timestamp, office_close time)
RETURNS int
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN receipt_is_workday AND received_local::time < office_close
                THEN receipt_workday_no ELSE receipt_workday_no + 1 END
$$;

-- Processed on the software: received in the software within 24 hours of
-- NgayTiepNhan, handled there, and, if resolved, its finish logged.
CREATE FUNCTION dw.on_software(first_receipt_step timestamptz, received_at timestamptz,
                               handled boolean, class text, logged_finish boolean)
RETURNS boolean
-- STABLE, as timestamptz + interval is: an IMMUTABLE one would not be inlined
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT coalesce(first_receipt_step <= received_at + interval '24 hours'
                    AND handled AND (class <> 'resolved' OR logged_finish), false)
$$;

-- "Outcome of a resolved dossier": against the appointment (declared), and
-- against the legal due date (legal; unknown without one); NULL unless
-- resolved.
CREATE FUNCTION dw.declared_outcome(class text, finished date, appointment date)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN class = 'resolved' THEN dw.outcome(finished, appointment) END
$$;

CREATE FUNCTION dw.legal_outcome(class text, received boolean, finished date,
                                 legal_due date)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN class <> 'resolved' THEN NULL
                WHEN legal_due IS NULL OR NOT received THEN 'unknown'
                ELSE dw.outcome(finished, legal_due) END
$$;

-- Masked late: declared early or on time, but legally late.
CREATE FUNCTION dw.masked_late(class text, declared_outcome text, legal_outcome text)
RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN class = 'resolved'
                THEN coalesce(declared_outcome IN ('early', 'on_time')
                              AND legal_outcome = 'late', false) END
$$;

-- Online eligible: received, the procedure at level 3 or 4 at receipt, in
-- person or online.
CREATE FUNCTION dw.online_eligible(received boolean, level smallint, channel smallint)
RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT received AND coalesce(level >= 3, false) AND channel IN (1, 2)
$$;

-- End-to-end online eligible (Decision 766, reports.md): received, the
-- procedure at level 4 at receipt (TOAN_TRINH is stored as 4), whatever
-- the channel: a postal dossier of such a procedure counts here, and is not
-- online.
CREATE FUNCTION dw.online_full_eligible(received boolean, level smallint) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT received AND coalesce(level = 4, false)
$$;

-- The closing day (reports.md, "When a dossier closes"): resolved, the
-- local date of NgayKetThucXuLy; withdrawn, that of its first logged step
-- 7, else of CapNhatLuc; never before the receipt day; NULL: not closed
-- (or not received).
CREATE FUNCTION dw.close_day(class text, receipt date, finished date,
                             first_withdrawal_step timestamptz, updated_at timestamptz)
RETURNS date
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN receipt IS NULL THEN NULL
                WHEN class = 'resolved' AND finished IS NOT NULL THEN greatest(finished, receipt)
                WHEN class = 'withdrawn'
                THEN greatest(dw.local_date(coalesce(first_withdrawal_step, updated_at)), receipt)
           END
$$;

-- In time at the end of day L (Decision 766's progress, reports.md): closed
-- by L and, if resolved, declared early or on time (withdrawn counts as in
-- time); or not closed by L, with NgayHenTra empty or not before L.
CREATE FUNCTION dw.in_time_at(class text, close_date date, declared_outcome text,
                              due date, l date)
RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN close_date <= l
                THEN class = 'withdrawn' OR coalesce(declared_outcome IN ('early', 'on_time'), false)
                ELSE due IS NULL OR due >= l END
$$;

-- Fee received: received, the procedure bearing a fee at receipt.
CREATE FUNCTION dw.fee_received(received boolean, fee boolean) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT received AND coalesce(fee, false)
$$;

-- The step-delay rule (rules.md, "Step delays"): a log step counts when it
-- has a deadline of its own (NgayKetThucTheoQuyDinh) and its dossier is
-- received (class other than not_received); it counts under its dossier's
-- unit, its department (dw.step_department) and the local month of its
-- ThoiDiemXuLy, and it is late when the local date of ThoiDiemXuLy is after
-- the local date of its deadline (dw.step_late).  Counted for a set of
-- dossiers by etl._count_steps, for all of them at once by etl._derive_all;
-- both inline these two functions, so the plans are those of the bare
-- expressions.
CREATE FUNCTION dw.step_department(department text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT coalesce(nullif(department, ''), '(không rõ)') $$;

CREATE FUNCTION dw.step_late(done_at timestamptz, step_due_at timestamptz) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT dw.local_date(done_at) > dw.local_date(step_due_at) $$;

-- The validity of the catalogue versions of the (unit, procedure)
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

-- Incremental: the dossiers touched by a catalogue change merged in this
-- transaction (those of its (unit, procedure) received in the validity of
-- the changed version; when that version is the earliest, also those
-- received before it), and the units the merges of donvi and thutuc touched.
CREATE FUNCTION etl._touch_from_catalogue() RETURNS void
LANGUAGE sql AS $$
    INSERT INTO pg_temp.touched_unit
    SELECT DISTINCT unit_code FROM pg_temp.merged WHERE unit_code IS NOT NULL
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
$$;

-- What a dossier's log says of it, as aggregates over its steps s: when it
-- was first received in the software, whether it was handled there,
-- whether its finish was logged (rules.md, "Processed on the software").
-- A fragment of SQL, written once for the bulk derivation (a table of all
-- dossiers' facts) and the incremental one (etl._log_facts_of).
CREATE FUNCTION etl._log_fact_aggregates() RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT 'min(s.done_at) FILTER (WHERE s.status = 2) AS first_receipt_step,
            bool_or(s.status = 4) AS handled,
            bool_or(s.status IN (9, 10)) AS logged_finish,
            min(s.done_at) FILTER (WHERE s.status = 7) AS first_withdrawal_step'
$$;

-- The log facts of a set of dossiers, as a FROM item l (ma_ho_so,
-- first_receipt_step, handled, logged_finish, first_withdrawal_step), from
-- p_dossiers: a FROM item
-- t with the dossiers' ma_ho_so, unit_code and home_month.  One lookup per
-- dossier, in its home partition (run-time partition pruning).
CREATE FUNCTION etl._log_facts_of(p_dossiers text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT format($sql$(
        SELECT t.ma_ho_so, f.first_receipt_step, f.handled, f.logged_finish,
               f.first_withdrawal_step
        FROM %s
        CROSS JOIN LATERAL (
            SELECT %s
            FROM dw.log_step s
            WHERE s.ma_ho_so = t.ma_ho_so AND s.unit_code = t.unit_code
              AND s.home_month = t.home_month) f
    ) l$sql$, p_dossiers, etl._log_fact_aggregates())
$$;

-- The log of the dossiers of pg_temp.count_set t, restricted to p_months,
-- joined at each dossier's home: a JOIN clause for the scopes of
-- etl._count_steps.
CREATE FUNCTION etl._log_at_home(p_months text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT ' JOIN ' || etl._in_months('dw.log_step', p_months, 's')
           || ' ON s.ma_ho_so = t.ma_ho_so AND s.home_month = t.home_month'
$$;

-- Writes the derived rows of the dossiers of p_dossier (a FROM item naming
-- dw.dossier d), whose supplements p_supplement names (dw.supplement s) and
-- whose log facts p_log yields (etl._log_facts_of, or the table a bulk
-- derivation aggregates; l) into p_target (dw.dossier_derived, or a table
-- of its columns): rules.md, in one set-based statement.  Each
-- layer (OFFSET 0: not flattened) computes its values once per dossier.
-- Dynamic: the FROM items are the bulk or incremental mode's (see the top).
CREATE FUNCTION etl._derive_dossiers(p_office_close time, p_dossier text,
                                     p_log text, p_supplement text,
                                     p_target text DEFAULT 'dw.dossier_derived')
RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format($sql$
    INSERT INTO %4$s
        (ma_ho_so, unit_code, home_month, class, k_unit, k_channel, k_paid_online,
         receipt_date, finish_date, effective_receipt_day, legal_days, extension_days,
         legal_due_date, declared_outcome, legal_outcome, masked_late, on_software,
         online_eligible, fee_received, close_date, due_date, online_full_eligible,
         field_code, legal_stops)
    WITH log_facts AS (
        -- the log: received in the software, handled, finished, withdrawn
        SELECT l.ma_ho_so, l.first_receipt_step, l.handled, l.logged_finish,
               l.first_withdrawal_step
        FROM %2$s
    ), supplement AS (
        -- returned supplements as intervals (requested, returned] of local dates
        SELECT s.ma_ho_so, dw.local_date(s.requested_at) AS a,
               dw.local_date(s.returned_at) AS b
        FROM %3$s
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
    ), stop AS (
        -- form 06: the days at whose end a supplement is outstanding
        -- (requested on or before the day, back after it)
        SELECT s.ma_ho_so,
               range_agg(daterange(dw.local_date(s.requested_at),
                                   dw.local_date(s.returned_at))) AS stops
        FROM %3$s
        WHERE s.returned_at IS NULL
           OR dw.local_date(s.returned_at) > dw.local_date(s.requested_at)
        GROUP BY s.ma_ho_so
    ), dossier AS (
        SELECT d.ma_ho_so, d.unit_code, d.home_month, d.procedure_code, d.channel,
               d.paid_online, d.received_at, d.updated_at,
               dw.dossier_class(d.status) AS class,
               dw.local_time(d.received_at) AS received_local,
               dw.local_date(d.finished_at) AS finish_local,
               dw.local_date(d.due_at) AS due_local
        FROM %1$s
        OFFSET 0
    ), facts AS (
        SELECT d.ma_ho_so, d.unit_code, d.home_month, d.channel, d.paid_online, d.class,
               d.class <> 'not_received' AS received,
               d.received_local::date AS receipt_local, d.finish_local, d.due_local,
               v.level, v.legal_days, v.fee, v.field_code, st.stops,
               dw.close_day(d.class, d.received_local::date, d.finish_local,
                            l.first_withdrawal_step, d.updated_at) AS close_date,
               dw.on_software(l.first_receipt_step, d.received_at, l.handled, d.class,
                              l.logged_finish) AS on_software,
               coalesce(e.days, 0) AS extension_days,
               dw.effective_receipt_no(rc.is_workday, rc.workday_no, d.received_local,
                                       %5$L::time) AS receipt_no
        FROM dossier d
        LEFT JOIN log_facts l USING (ma_ho_so)
        LEFT JOIN extension e USING (ma_ho_so)
        LEFT JOIN stop st USING (ma_ho_so)
        -- the catalogue version in force at receipt, else the earliest
        LEFT JOIN dw.procedure_version v
               ON v.unit_code = d.unit_code AND v.procedure_code = d.procedure_code
              AND (v.updated_at <= d.received_at OR v.is_first)
              AND (v.valid_to > d.received_at OR v.valid_to IS NULL)
              AND d.received_at IS NOT NULL
        LEFT JOIN dw.calendar rc ON rc.day = d.received_local::date
        OFFSET 0
    ), outcome AS (
        SELECT f.*, eff.day AS effective_receipt_day, due.day AS legal_due_date,
               dw.declared_outcome(f.class, f.finish_local, f.due_local) AS declared_outcome,
               dw.legal_outcome(f.class, f.received, f.finish_local, due.day) AS legal_outcome
        FROM facts f
        LEFT JOIN dw.calendar eff ON eff.workday_no = f.receipt_no AND eff.is_workday
        LEFT JOIN dw.calendar due
               ON due.workday_no = f.receipt_no + f.legal_days + f.extension_days
              AND due.is_workday
        OFFSET 0
    )
    SELECT o.ma_ho_so, o.unit_code, o.home_month, o.class, o.unit_code, o.channel,
           o.paid_online,
           CASE WHEN o.received THEN o.receipt_local END,
           CASE WHEN o.received THEN o.finish_local END,
           CASE WHEN o.received THEN o.effective_receipt_day END,
           CASE WHEN o.received THEN o.legal_days END,
           CASE WHEN o.received THEN o.extension_days END,
           CASE WHEN o.received THEN o.legal_due_date END,
           o.declared_outcome, o.legal_outcome,
           dw.masked_late(o.class, o.declared_outcome, o.legal_outcome),
           CASE WHEN o.received THEN o.on_software END,
           dw.online_eligible(o.received, o.level, o.channel),
           dw.fee_received(o.received, o.fee),
           CASE WHEN o.received THEN o.close_date END,
           CASE WHEN o.received THEN o.due_local END,
           dw.online_full_eligible(o.received, o.level),
           -- form 06's row: the field of the version in force at receipt
           CASE WHEN o.received
                THEN coalesce(nullif(btrim(o.field_code), ''), '(không rõ)') END,
           CASE WHEN o.received THEN o.stops END
    FROM outcome o
    $sql$, p_dossier, p_log, p_supplement, p_target, p_office_close);
END
$$;

-- Adds p_sign times what the derived rows of p_scope (a FROM clause naming
-- dw.dossier_derived x) count as to pg_temp.delta_um, and their units to
-- pg_temp.touched_unit.  Dynamic: p_scope is the mode's FROM item.
CREATE FUNCTION etl._count_dossiers(p_sign int, p_scope text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('INSERT INTO pg_temp.touched_unit SELECT DISTINCT x.k_unit FROM %s
                    ON CONFLICT DO NOTHING', p_scope);
    EXECUTE format($sql$
        INSERT INTO pg_temp.delta_um
        SELECT x.k_unit, dw.period_of('month', x.receipt_date),
               %2$s * count(*),
               %2$s * count(*) FILTER (WHERE x.k_channel = 1),
               %2$s * count(*) FILTER (WHERE x.k_channel = 2),
               %2$s * count(*) FILTER (WHERE x.k_channel = 3),
               %2$s * count(*) FILTER (WHERE x.online_eligible),
               %2$s * count(*) FILTER (WHERE x.online_eligible AND x.k_channel = 2),
               %2$s * count(*) FILTER (WHERE x.class = 'withdrawn'),
               %2$s * count(*) FILTER (WHERE x.on_software),
               %2$s * count(*) FILTER (WHERE x.fee_received),
               %2$s * count(*) FILTER (WHERE x.fee_received AND x.k_paid_online),
               0, 0, 0, 0, 0, 0, 0,
               %2$s * count(*) FILTER (WHERE dw.in_time_at(x.class, x.close_date,
                   x.declared_outcome, x.due_date,
                   dw.period_end('month', dw.period_of('month', x.receipt_date)) - 1)),
               %2$s * count(*) FILTER (WHERE dw.in_time_at(x.class, x.close_date,
                   x.declared_outcome, x.due_date,
                   dw.period_end('quarter', dw.period_of('quarter', x.receipt_date)) - 1)),
               %2$s * count(*) FILTER (WHERE dw.in_time_at(x.class, x.close_date,
                   x.declared_outcome, x.due_date,
                   dw.period_end('year', dw.period_of('year', x.receipt_date)) - 1)),
               %2$s * count(*) FILTER (WHERE x.online_full_eligible),
               %2$s * count(*) FILTER (WHERE x.online_full_eligible AND x.k_channel = 2)
        FROM %1$s
        WHERE x.receipt_date IS NOT NULL
        GROUP BY 1, 2
        UNION ALL
        SELECT x.k_unit, dw.period_of('month', x.finish_date),
               0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
               %2$s * count(*),
               %2$s * count(*) FILTER (WHERE x.declared_outcome = 'early'),
               %2$s * count(*) FILTER (WHERE x.declared_outcome = 'on_time'),
               %2$s * count(*) FILTER (WHERE x.declared_outcome = 'late'),
               %2$s * count(*) FILTER (WHERE x.legal_outcome = 'late'),
               %2$s * count(*) FILTER (WHERE x.legal_outcome = 'unknown'),
               %2$s * count(*) FILTER (WHERE x.masked_late),
               0, 0, 0, 0, 0
        FROM %1$s
        WHERE x.finish_date IS NOT NULL AND x.class = 'resolved'
        GROUP BY 1, 2
        $sql$, p_scope, p_sign);
END
$$;

-- Adds p_sign times what the log steps of p_scope (a FROM clause naming
-- derived rows x and log steps s: dw.log_step, or the signed changes of
-- pg_temp.step_change with p_weight 's.sign') that meet p_where count as to
-- pg_temp.delta_sm, by the step-delay rule (above), under the unit the
-- dossier is counted under.  Dynamic: p_scope is the mode's FROM item.
CREATE FUNCTION etl._count_steps(p_sign int, p_scope text, p_where text DEFAULT 'true',
                                 p_weight text DEFAULT '1')
RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format($sql$
        INSERT INTO pg_temp.delta_sm
        SELECT x.k_unit, dw.local_month(s.done_at), dw.step_department(s.department),
               %2$s * sum(%4$s),
               %2$s * coalesce(sum(%4$s) FILTER (WHERE dw.step_late(s.done_at, s.step_due_at)), 0)
        FROM %1$s
        WHERE x.class <> 'not_received' AND s.step_due_at IS NOT NULL AND (%3$s)
        GROUP BY 1, 2, 3
        $sql$, p_scope, p_sign, p_where, p_weight);
END
$$;

-- Adds the net changes to the monthly counts; the months whose counts
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
                   sum(masked_late) AS masked_late,
                   sum(progress_in_time_month) AS progress_in_time_month,
                   sum(progress_in_time_quarter) AS progress_in_time_quarter,
                   sum(progress_in_time_year) AS progress_in_time_year,
                   sum(online_full_eligible) AS online_full_eligible,
                   sum(online_full) AS online_full
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
            OR progress_in_time_month <> 0
            OR progress_in_time_quarter <> 0
            OR progress_in_time_year <> 0
            OR online_full_eligible <> 0
            OR online_full <> 0
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
        masked_late = m.masked_late + EXCLUDED.masked_late,
        progress_in_time_month = m.progress_in_time_month + EXCLUDED.progress_in_time_month,
        progress_in_time_quarter = m.progress_in_time_quarter + EXCLUDED.progress_in_time_quarter,
        progress_in_time_year = m.progress_in_time_year + EXCLUDED.progress_in_time_year,
        online_full_eligible = m.online_full_eligible + EXCLUDED.online_full_eligible,
        online_full = m.online_full + EXCLUDED.online_full;

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

-- A span of days over derived rows: min(p_lo) and max(p_hi) over the rows
-- x of p_rows (a FROM item) that meet p_where.  Two spans are kept: the
-- indicators' (etl._indicator_span) and form 06's (etl._form06_derive).
-- Dynamic: the expressions are the caller's.
CREATE FUNCTION etl._span(p_rows text, p_lo text, p_hi text, p_where text,
                          OUT span_from date, OUT span_to date)
LANGUAGE plpgsql STABLE AS $$
BEGIN
    EXECUTE format('SELECT min(%s), max(%s) FROM %s WHERE %s', p_lo, p_hi, p_rows, p_where)
    INTO span_from, span_to;
END
$$;

-- The same span after an incremental derivation, which held it at
-- (p_from, p_to): it moves out with the touched dossiers' new rows
-- (pg_temp.derived_new); an edge one of their old rows (derived_old) held
-- and none of the new holds may move in, and only then is every derived
-- row read (a night whose dossiers stay off the edges, or on them, does
-- not).  No span yet: every row read.
CREATE FUNCTION etl._span_moved(p_from date, p_to date, p_lo text, p_hi text,
                                p_where text, OUT span_from date, OUT span_to date)
LANGUAGE plpgsql AS $$
DECLARE
    o_from date;
    o_to   date;
BEGIN
    IF p_from IS NOT NULL THEN
        SELECT * INTO o_from, o_to
        FROM etl._span('pg_temp.derived_old x', p_lo, p_hi, p_where);
        SELECT * INTO span_from, span_to
        FROM etl._span('pg_temp.derived_new x', p_lo, p_hi, p_where);
        IF NOT ((o_from = p_from AND NOT coalesce(span_from <= p_from, false))
                OR (o_to = p_to AND NOT coalesce(span_to >= p_to, false))) THEN
            span_from := least(p_from, span_from);
            span_to := greatest(p_to, span_to);
            RETURN;
        END IF;
    END IF;
    SELECT * INTO span_from, span_to FROM etl._span('dw.dossier_derived x', p_lo, p_hi, p_where);
END
$$;

-- The span of the indicators: the earliest and latest local date of any
-- receipt or finish of a received dossier; p_from NULL: read whole (a
-- bulk derivation), else moved by an incremental one (etl._span_moved).
CREATE FUNCTION etl._indicator_span(p_from date, p_to date,
                                    OUT span_from date, OUT span_to date)
LANGUAGE sql AS $$
    SELECT * FROM etl._span_moved(p_from, p_to, 'least(x.receipt_date, x.finish_date)',
                                  'greatest(x.receipt_date, x.finish_date)', 'true')
$$;
-- Bulk: every dossier derived again, the monthly counts summed from scratch.
-- Nothing is truncated and no index of a table a reader sees is dropped
-- (readers never wait; partition.sql): into an empty dw.dossier_derived
-- (a first load) the rows go by the bulk path, else they are derived beside
-- it and only the rows that differ are written (etl._sync); the monthly
-- counts get minus what they hold plus everything counted again, and only
-- the months that moved are written.
-- Hash joins and sequential scans only: the partitions a first load has
-- just filled have no statistics yet, and nothing here wants an index.
-- The two passes over the log (each dossier's facts, the monthly step
-- counts) are CREATE TABLE AS, which PostgreSQL runs with parallel workers
-- (an INSERT ... SELECT never is).
CREATE FUNCTION etl._derive_all(p_office_close time) RETURNS void
LANGUAGE plpgsql
SET enable_nestloop = off SET enable_mergejoin = off AS $$
DECLARE
    months date[] := ARRAY(SELECT DISTINCT home_month FROM dw.dossier_key);
BEGIN
    TRUNCATE pg_temp.delta_um, pg_temp.delta_sm, pg_temp.touched_dossier, pg_temp.step_change;
    INSERT INTO pg_temp.touched_unit
    SELECT unit_code FROM dw.unit
    UNION SELECT unit_code FROM dw.procedure_version
    UNION SELECT unit_code FROM dw.dossier_key
    UNION SELECT unit_code FROM dw.kpi_unit
    ON CONFLICT DO NOTHING;

    PERFORM etl._refresh_versions(true);
    DROP TABLE IF EXISTS pg_temp.log_facts;
    -- a dossier's log is in one partition: grouped by it, partition-wise;
    -- dynamic: the aggregates are the fragment the incremental mode shares
    EXECUTE format('CREATE TEMP TABLE log_facts ON COMMIT DROP AS
                    SELECT s.ma_ho_so, %s
                    FROM dw.log_step s
                    GROUP BY s.ma_ho_so, s.home_month', etl._log_fact_aggregates());

    IF NOT EXISTS (SELECT FROM dw.dossier_derived) THEN
        PERFORM etl._derive_dossiers(p_office_close, 'dw.dossier d', 'pg_temp.log_facts l',
                                     'dw.supplement s', etl._bulk_open('dossier_derived', months));
        PERFORM etl._bulk_attach('dossier_derived');
    ELSE
        DROP TABLE IF EXISTS pg_temp.derived_all;
        CREATE TEMP TABLE derived_all (LIKE dw.dossier_derived) ON COMMIT DROP;
        PERFORM etl._derive_dossiers(p_office_close, 'dw.dossier d', 'pg_temp.log_facts l',
                                     'dw.supplement s', 'pg_temp.derived_all');
        PERFORM dw.add_partitions(months, ARRAY['dossier_derived']);
        PERFORM etl._sync('dw.dossier_derived', 'pg_temp.derived_all',
                          '{ma_ho_so,unit_code,home_month}');
        DROP TABLE pg_temp.derived_all;
    END IF;

    PERFORM etl._subtract_all('dw.unit_month', 'pg_temp.delta_um');
    PERFORM etl._subtract_all('dw.step_month', 'pg_temp.delta_sm');
    PERFORM etl._count_dossiers(1, 'dw.dossier_derived x');
    -- every dossier was just counted under its own unit_code, which is the
    -- unit_code of its log's home: the log needs no join to the dossiers,
    -- only the few not received to leave out (and the orphans)
    DROP TABLE IF EXISTS pg_temp.step_counts;
    CREATE TEMP TABLE step_counts ON COMMIT DROP AS
    SELECT s.unit_code, dw.local_month(s.done_at) AS month_start,
           dw.step_department(s.department) AS department,
           count(*) AS steps,
           count(*) FILTER (WHERE dw.step_late(s.done_at, s.step_due_at)) AS steps_late
    FROM dw.log_step s
    WHERE s.step_due_at IS NOT NULL AND s.home_month <> dw.orphan_month()
      AND NOT EXISTS (SELECT FROM dw.dossier_derived x
                      WHERE x.class = 'not_received' AND x.ma_ho_so = s.ma_ho_so)
    GROUP BY 1, 2, 3;
    INSERT INTO pg_temp.delta_sm (unit_code, month_start, department, steps, steps_late)
    SELECT unit_code, month_start, department, steps, steps_late FROM pg_temp.step_counts;
    PERFORM etl._apply_deltas();
    -- a rescore rebuilds every row of the marts, changed counts or not (the
    -- rules that read them may have changed)
    INSERT INTO pg_temp.touched_um SELECT unit_code, month_start FROM dw.unit_month
    ON CONFLICT DO NOTHING;
    INSERT INTO pg_temp.touched_sm SELECT DISTINCT unit_code, month_start FROM dw.step_month
    ON CONFLICT DO NOTHING;
    INSERT INTO pg_temp.touched_step
    SELECT unit_code, period_kind, period_start FROM mart.step_delay
    ON CONFLICT DO NOTHING;
    PERFORM etl._analyze('dw.dossier_derived, dw.unit_month, dw.step_month');
END
$$;

-- Incremental: the touched dossiers derived again, each one's log looked up
-- at its home; returns the new span.  Their derived rows before and after
-- are kept in two work tables (derived_old, derived_new), so that what they
-- counted as and count as now is read from them, not looked up again.  The
-- step counts move by the signed changes the merges recorded
-- (pg_temp.step_change) where a dossier's unit and class stand; where they
-- moved (or the dossier is new), its whole log is counted out under the old
-- ones and in under the new: with L the log now and C the changes,
-- count(L - C, old) = count(L, old) - count(C, old).
-- Dynamic: the touched months are written in as constants (etl._in_months).
CREATE FUNCTION etl._derive_touched(p_office_close time, p_span_from date,
                                    p_span_to date,
                                    OUT span_from date, OUT span_to date)
LANGUAGE plpgsql AS $$
DECLARE
    months  text;
BEGIN
    TRUNCATE pg_temp.count_set;
    INSERT INTO pg_temp.count_set
    SELECT k.ma_ho_so, k.unit_code, k.home_month
    FROM pg_temp.touched_dossier t JOIN dw.dossier_key k USING (ma_ho_so);
    ANALYZE pg_temp.count_set;
    months := etl._months('SELECT home_month FROM pg_temp.count_set');

    -- what they counted as, subtracted; their old rows go
    DROP TABLE IF EXISTS pg_temp.derived_old, pg_temp.derived_new, pg_temp.step_moved;
    CREATE TEMP TABLE derived_old (LIKE dw.dossier_derived) ON COMMIT DROP;
    CREATE TEMP TABLE derived_new (LIKE dw.dossier_derived) ON COMMIT DROP;
    EXECUTE format('WITH gone AS (
                        DELETE FROM dw.dossier_derived x USING pg_temp.count_set t
                        WHERE x.ma_ho_so = t.ma_ho_so AND x.home_month = ANY (%L::date[])
                        RETURNING x.*)
                    INSERT INTO pg_temp.derived_old SELECT * FROM gone', months);
    ANALYZE pg_temp.derived_old;
    PERFORM etl._count_dossiers(-1, 'pg_temp.derived_old x');

    PERFORM etl._refresh_versions(false);
    PERFORM dw.add_partitions(months::date[], ARRAY['dossier_derived']);
    PERFORM etl._derive_dossiers(p_office_close,
        'pg_temp.count_set t JOIN ' || etl._in_months('dw.dossier', months, 'd')
            || ' USING (ma_ho_so)',
        etl._log_facts_of('pg_temp.count_set t'),
        'pg_temp.count_set t JOIN ' || etl._in_months('dw.supplement', months, 's')
            || ' USING (ma_ho_so)',
        'pg_temp.derived_new');
    INSERT INTO dw.dossier_derived SELECT * FROM pg_temp.derived_new;
    ANALYZE pg_temp.derived_new;

    -- what they count as now, added
    PERFORM etl._count_dossiers(1, 'pg_temp.derived_new x');
    -- the steps: by the changes where the dossier's unit and class stand,
    -- whole where they moved
    CREATE TEMP TABLE step_moved ON COMMIT DROP AS
    SELECT t.*, coalesce(n.k_unit = o.k_unit
                         AND (n.class <> 'not_received') IS NOT DISTINCT FROM
                             (o.class <> 'not_received'), false) AS stands
    FROM pg_temp.count_set t
    LEFT JOIN pg_temp.derived_new n USING (ma_ho_so)
    LEFT JOIN pg_temp.derived_old o USING (ma_ho_so);
    PERFORM etl._count_steps(1, '(SELECT * FROM pg_temp.step_moved WHERE stands) t
                                 JOIN pg_temp.derived_new x USING (ma_ho_so)
                                 JOIN pg_temp.step_change s USING (ma_ho_so)', 'true', 's.sign');
    DELETE FROM pg_temp.step_moved WHERE stands;
    IF EXISTS (SELECT FROM pg_temp.step_moved) THEN
        ANALYZE pg_temp.step_moved;
        PERFORM etl._count_steps(-1, 'pg_temp.step_moved t JOIN pg_temp.derived_old x USING (ma_ho_so)'
                                     || etl._log_at_home(months));
        PERFORM etl._count_steps(1, 'pg_temp.step_moved t JOIN pg_temp.derived_old x USING (ma_ho_so)'
                                    || ' JOIN pg_temp.step_change s USING (ma_ho_so)',
                                 'true', 's.sign');
        PERFORM etl._count_steps(1, 'pg_temp.step_moved t JOIN pg_temp.derived_new x USING (ma_ho_so)'
                                    || etl._log_at_home(months));
    END IF;
    PERFORM etl._apply_deltas();

    -- the span of the indicators, moved by the touched dossiers
    SELECT * INTO span_from, span_to FROM etl._indicator_span(p_span_from, p_span_to);
END
$$;

-- The derivation, in one mode or the other; then the units, the span and
-- the mart rows to rebuild (kpi.sql, scores.sql).  jit off: the estimates
-- over temporary tables are rough, and compiling costs more than the work
-- of a nightly derivation.  Partition-wise joins and aggregates: the log
-- and the dossiers share their partitions.
CREATE FUNCTION etl._derive(p_as_of timestamptz, p_full boolean) RETURNS void
LANGUAGE plpgsql
SET jit = off SET random_page_cost = 1.1 SET work_mem = '256MB'
SET enable_partitionwise_join = on SET enable_partitionwise_aggregate = on AS $$
DECLARE
    st     dw.state;
    as_of  timestamptz := coalesce(p_as_of, now());
    v_from date;
    v_to   date;
    v_bulk boolean;
BEGIN
    PERFORM etl._create_work();
    SELECT * INTO st FROM dw.state FOR UPDATE;

    v_bulk := p_full OR (SELECT bulk FROM pg_temp.work_state);
    IF NOT v_bulk THEN
        PERFORM etl._touch_from_catalogue();
        v_bulk := etl._bulk_wanted((SELECT count(*) FROM pg_temp.touched_dossier));
    END IF;

    IF v_bulk THEN
        PERFORM etl._derive_all(st.office_close);
        SELECT * INTO v_from, v_to FROM etl._indicator_span(NULL, NULL);
        st.span_from := NULL;
        st.span_to := NULL;
        st.last_as_of := NULL;
    ELSE
        SELECT * INTO v_from, v_to
        FROM etl._derive_touched(st.office_close, st.span_from, st.span_to);
    END IF;

    PERFORM etl._update_units(v_from, v_to);
    IF v_bulk OR v_from IS DISTINCT FROM st.span_from OR v_to IS DISTINCT FROM st.span_to THEN
        PERFORM etl._update_span(st.span_from, st.span_to, v_from, v_to);
    END IF;
    PERFORM etl._touch_periods(v_from, v_to, least(st.last_as_of, as_of));
    PERFORM etl._build_unit_kpi(v_from, v_to, as_of);
    PERFORM etl._build_compliance();
    PERFORM etl._build_step_delay();
    PERFORM etl._form06_derive(v_bulk);
    IF v_bulk THEN
        PERFORM etl._analyze('dw.kpi_unit, mart.unit_kpi, mart.step_delay,
                              mart.compliance_score, mart.compliance_total');
        PERFORM etl._analyze('dw.form06_day, dw.form06_period');
    END IF;

    UPDATE dw.state
    SET derived_at = now(), last_as_of = as_of, span_from = v_from, span_to = v_to;
    PERFORM etl._clear_work();
    UPDATE pg_temp.work_state
    SET derived = CASE WHEN v_bulk THEN 'bulk' ELSE 'incremental' END;
END
$$;

-- Re-derive what the merges of this transaction touched (p_as_of: the start
-- of the run; a period not yet ended is evaluated at that moment).
CREATE FUNCTION etl.derive(p_as_of timestamptz) RETURNS void
LANGUAGE sql AS $$ SELECT etl._derive(p_as_of, false) $$;

-- Re-derive everything from the stored rows.
CREATE FUNCTION etl.rescore(p_as_of timestamptz) RETURNS void
LANGUAGE sql AS $$ SELECT etl._derive(p_as_of, true) $$;

COMMENT ON FUNCTION etl.derive(timestamptz) IS
    're-derives dossiers, indicators and scores touched by the merges of this transaction; p_as_of = start of the run';
COMMENT ON FUNCTION etl.rescore(timestamptz) IS
    're-derives everything from the stored rows; p_as_of = start of the run';
