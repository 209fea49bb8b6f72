-- 009: the same warehouse as 008, with less work (issue 7, measured at a
-- province-year: 1M dossiers, 5.6M log steps, a night of 20,000 changed).
--
--   * A bulk derivation reads the log twice, for the facts of each dossier
--     and for the monthly step counts.  Both are now aggregated by CREATE
--     TABLE AS, which PostgreSQL runs with parallel workers (an INSERT ...
--     SELECT never is): on two cores the log facts took 2.7 s instead of
--     5.3 s.
--   * An incremental derivation found the log facts of its dossiers by
--     hashing every log row of the touched months (2.4M rows for 20,000
--     dossiers); now each dossier's log is looked up in its home partition.
--     The log joins of the step counts name the home too, so each lookup
--     visits one partition, not every touched month.
--   * The log's partitions leave 15% of each page free, so that a re-sent
--     step is updated in place (see the end of this file).
--   * A source sends a changed dossier's whole log again.  A staged log step
--     or supplement equal to its stored version (same updated_at, same
--     values) is no longer written again when the source is the only one of
--     its batch: the write would only restamp the lineage columns, and there
--     is no later source of the batch whose tie that stamp could decide
--     (source-api.md, "Keys are national codes").  It still counts as loaded.
SET check_function_bodies = off;

-- What a dossier's log says of it, as aggregates over its steps s: when it
-- was first received in the software, whether it was handled there,
-- whether its finish was logged.  Written once for the bulk and the
-- incremental derivation.
CREATE FUNCTION etl._log_fact_aggregates() RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT 'min(s.done_at) FILTER (WHERE s.status = 2) AS first_receipt_step,
            bool_or(s.status = 4) AS handled,
            bool_or(s.status IN (9, 10)) AS logged_finish'
$$;

-- The log facts of a set of dossiers, as a FROM item l (ma_ho_so,
-- first_receipt_step, handled, logged_finish), from p_dossiers: a FROM item
-- t with the dossiers' ma_ho_so, unit_code and home_month.  One lookup per
-- dossier, in its home partition (run-time partition pruning).
CREATE FUNCTION etl._log_facts_of(p_dossiers text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT format($sql$(
        SELECT t.ma_ho_so, f.first_receipt_step, f.handled, f.logged_finish
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

-- 008's _derive_dossiers, but p_log is a FROM item yielding the log facts
-- (etl._log_facts_of, or the table a bulk derivation aggregates) instead of
-- the log itself.
CREATE OR REPLACE FUNCTION etl._derive_dossiers(p_office_close time, p_dossier text,
                                                p_log text, p_supplement text)
RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format($sql$
    INSERT INTO dw.dossier_derived
        (ma_ho_so, unit_code, home_month, class, k_unit, k_channel, k_paid_online,
         receipt_date, finish_date, effective_receipt_day, legal_days, extension_days,
         legal_due_date, declared_outcome, legal_outcome, masked_late, on_software,
         online_eligible, fee_received)
    WITH log_facts AS (
        -- the log: received in the software, handled, finished
        SELECT l.ma_ho_so, l.first_receipt_step, l.handled, l.logged_finish
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
    ), dossier AS (
        SELECT d.ma_ho_so, d.unit_code, d.home_month, d.procedure_code, d.channel,
               d.paid_online, d.received_at, dw.dossier_class(d.status) AS class,
               dw.local_time(d.received_at) AS received_local,
               dw.local_date(d.finished_at) AS finish_local,
               dw.local_date(d.due_at) AS due_local
        FROM %1$s
        OFFSET 0
    ), facts AS (
        SELECT d.ma_ho_so, d.unit_code, d.home_month, d.channel, d.paid_online, d.class,
               d.class <> 'not_received' AS received,
               d.received_local::date AS receipt_local, d.finish_local, d.due_local,
               v.level, v.legal_days, v.fee,
               coalesce(l.first_receipt_step <= d.received_at + interval '24 hours'
                        AND l.handled AND (d.class <> 'resolved' OR l.logged_finish),
                        false) AS on_software,
               coalesce(e.days, 0) AS extension_days,
               -- working-day number of the effective receipt day
               CASE WHEN rc.is_workday AND d.received_local::time < %4$L::time
                    THEN rc.workday_no ELSE rc.workday_no + 1 END AS receipt_no
        FROM dossier d
        LEFT JOIN log_facts l USING (ma_ho_so)
        LEFT JOIN extension e USING (ma_ho_so)
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
               CASE WHEN f.class = 'resolved' THEN dw.outcome(f.finish_local, f.due_local) END
                   AS declared_outcome,
               CASE WHEN f.class <> 'resolved' THEN NULL
                    WHEN due.day IS NULL OR NOT f.received THEN 'unknown'
                    ELSE dw.outcome(f.finish_local, due.day) END AS legal_outcome
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
           CASE WHEN o.class = 'resolved'
                THEN coalesce(o.declared_outcome IN ('early', 'on_time')
                              AND o.legal_outcome = 'late', false) END,
           CASE WHEN o.received THEN o.on_software END,
           o.received AND coalesce(o.level >= 3, false) AND o.channel IN (1, 2),
           o.received AND coalesce(o.fee, false)
    FROM outcome o
    $sql$, p_dossier, p_log, p_supplement, p_office_close);
END
$$;

-- Bulk: 008's, with the two passes over the log run in parallel.
CREATE OR REPLACE FUNCTION etl._derive_all(p_office_close time) RETURNS void
LANGUAGE plpgsql
SET enable_nestloop = off SET enable_mergejoin = off AS $$
DECLARE
    restore text[];
BEGIN
    TRUNCATE dw.dossier_derived, dw.unit_month, dw.step_month, dw.kpi_unit,
             mart.unit_kpi, mart.step_delay, mart.compliance_score, mart.compliance_total;
    TRUNCATE pg_temp.delta_um, pg_temp.delta_sm, pg_temp.touched_dossier, pg_temp.steps_out;
    INSERT INTO pg_temp.touched_unit
    SELECT unit_code FROM dw.unit
    UNION SELECT unit_code FROM dw.procedure_version
    UNION SELECT unit_code FROM dw.dossier_key
    ON CONFLICT DO NOTHING;

    PERFORM etl._refresh_versions(true);
    DROP TABLE IF EXISTS pg_temp.log_facts;
    -- a dossier's log is in one partition: grouped by it, partition-wise
    EXECUTE format('CREATE TEMP TABLE log_facts ON COMMIT DROP AS
                    SELECT s.ma_ho_so, %s
                    FROM dw.log_step s
                    GROUP BY s.ma_ho_so, s.home_month', etl._log_fact_aggregates());

    restore := etl._drop_indexes('dw.dossier_derived');
    PERFORM etl._derive_dossiers(p_office_close, 'dw.dossier d', 'pg_temp.log_facts l',
                                 'dw.supplement s');
    PERFORM etl._create_indexes(restore);
    PERFORM etl._count_dossiers(1, 'dw.dossier_derived x');
    -- every dossier was just counted under its own unit_code, which is the
    -- unit_code of its log's home: the log needs no join to the dossiers,
    -- only the few not received to leave out (and the orphans)
    DROP TABLE IF EXISTS pg_temp.step_counts;
    CREATE TEMP TABLE step_counts ON COMMIT DROP AS
    SELECT s.unit_code, dw.local_month(s.done_at) AS month_start,
           dw.step_department(s.department) AS department,
           count(*) AS steps,
           count(*) FILTER (WHERE dw.local_date(s.done_at) > dw.local_date(s.step_due_at))
               AS steps_late
    FROM dw.log_step s
    WHERE s.step_due_at IS NOT NULL AND s.home_month <> dw.orphan_month()
      AND NOT EXISTS (SELECT FROM dw.dossier_derived x
                      WHERE x.class = 'not_received' AND x.ma_ho_so = s.ma_ho_so)
    GROUP BY 1, 2, 3;
    INSERT INTO pg_temp.delta_sm (unit_code, month_start, department, steps, steps_late)
    SELECT unit_code, month_start, department, steps, steps_late FROM pg_temp.step_counts;
    PERFORM etl._apply_deltas();
    PERFORM etl._analyze('dw.dossier_derived, dw.unit_month, dw.step_month');
END
$$;

-- Incremental: 008's, with the log looked up at each dossier's home.
CREATE OR REPLACE FUNCTION etl._derive_touched(p_office_close time, p_span_from date,
                                               p_span_to date,
                                               OUT span_from date, OUT span_to date)
LANGUAGE plpgsql AS $$
DECLARE
    months  text;
    scope   text;
    v_edge  boolean;
BEGIN
    TRUNCATE pg_temp.count_set;
    INSERT INTO pg_temp.count_set
    SELECT k.ma_ho_so, k.unit_code, k.home_month
    FROM pg_temp.touched_dossier t JOIN dw.dossier_key k USING (ma_ho_so);
    ANALYZE pg_temp.count_set;
    months := etl._months('SELECT home_month FROM pg_temp.count_set');
    scope := 'pg_temp.count_set t JOIN ' || etl._in_months('dw.dossier_derived', months, 'x')
             || ' USING (ma_ho_so)';

    -- what they counted as, subtracted (their log: unless the merge did)
    EXECUTE format('SELECT EXISTS (SELECT FROM %s
                                   WHERE x.receipt_date IN ($1, $2)
                                      OR x.finish_date IN ($1, $2))', scope)
    INTO v_edge USING p_span_from, p_span_to;
    PERFORM etl._count_dossiers(-1, scope);
    PERFORM etl._count_steps(-1, scope || etl._log_at_home(months),
        'NOT EXISTS (SELECT FROM pg_temp.steps_out o WHERE o.ma_ho_so = t.ma_ho_so)');
    EXECUTE format('DELETE FROM dw.dossier_derived x USING pg_temp.count_set t
                    WHERE x.ma_ho_so = t.ma_ho_so AND x.home_month = ANY (%L::date[])',
                   months);

    PERFORM etl._refresh_versions(false);
    PERFORM etl._derive_dossiers(p_office_close,
        'pg_temp.count_set t JOIN ' || etl._in_months('dw.dossier', months, 'd')
            || ' USING (ma_ho_so)',
        etl._log_facts_of('pg_temp.count_set t'),
        'pg_temp.count_set t JOIN ' || etl._in_months('dw.supplement', months, 's')
            || ' USING (ma_ho_so)');

    -- what they count as now, added
    PERFORM etl._count_dossiers(1, scope);
    PERFORM etl._count_steps(1, scope || etl._log_at_home(months));
    PERFORM etl._apply_deltas();

    -- the span moves out with the touched dossiers; it moves in only when a
    -- dossier on its edge changed, which takes a look at every dossier
    IF v_edge OR p_span_from IS NULL THEN
        SELECT * INTO span_from, span_to FROM etl._full_span();
    ELSE
        EXECUTE format('SELECT least($1, min(least(x.receipt_date, x.finish_date))),
                               greatest($2, max(greatest(x.receipt_date, x.finish_date)))
                        FROM %s', scope)
        INTO span_from, span_to USING p_span_from, p_span_to;
    END IF;
END
$$;

-- 008's, counting the stored dossiers only when there are few: the choice
-- needs their order of magnitude, and a night asked for it twice, at 0.1 s
-- a count over a province's million keys.  The statistics a bulk load or
-- autovacuum leaves are close enough.
CREATE OR REPLACE FUNCTION etl._bulk_wanted(p_touched bigint) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    mode   text := coalesce(nullif(current_setting('onestop.derive_mode', true), ''), 'auto');
    stored bigint;
BEGIN
    IF mode NOT IN ('auto', 'bulk', 'incremental') THEN
        RAISE EXCEPTION 'onestop.derive_mode: unknown mode "%"', mode
            USING HINT = 'auto, bulk or incremental';
    END IF;
    IF mode <> 'auto' THEN
        RETURN mode = 'bulk';
    END IF;
    SELECT c.reltuples::bigint INTO stored FROM pg_class c
    WHERE c.oid = 'dw.dossier_key'::regclass;
    IF stored < 100000 THEN         -- few, or never counted (-1)
        SELECT count(*) INTO stored FROM dw.dossier_key;
    END IF;
    -- at a province's million dossiers, a bulk derivation costs what an
    -- incremental one does for about a quarter of them
    RETURN stored = 0 OR p_touched * 4 >= stored;
END
$$;

-- 008's, with p_sole: no other source loads in this batch, so a staged row
-- equal to its stored version need not be written again.
DROP FUNCTION etl._merge_children(text, bigint, text, int, bigint);
CREATE FUNCTION etl._merge_children(p_entity text, p_run_id bigint, p_source text,
                                    p_source_rank int, p_batch_id bigint, p_sole boolean,
                                    OUT rows_loaded bigint, OUT rows_staged bigint,
                                    OUT watermark timestamptz)
LANGUAGE plpgsql AS $$
DECLARE
    stg    text := 'pg_temp.' || quote_ident('stg_' || p_entity);
    target text := CASE p_entity WHEN 'bosung' THEN 'dw.supplement' ELSE 'dw.log_step' END;
    cols   text := (etl._staged_columns(p_entity)).cols;
    c      record := etl._staged_columns(p_entity, 'w.');
    stored text := (etl._staged_columns(p_entity, 's.')).cols;
    v_bulk boolean := (SELECT bulk FROM pg_temp.work_state);
    v_empty boolean;
    months text;
    m      record;
BEGIN
    EXECUTE format('SELECT NOT EXISTS (SELECT FROM %s) AND EXISTS (SELECT FROM %s)',
                   target, stg) INTO v_empty;
    IF v_empty THEN
        -- a first load: one pass over the stream, unless a key comes twice
        m := etl._load_children(p_entity, p_run_id, p_source, p_source_rank, p_batch_id);
        IF m.rows_loaded IS NOT NULL THEN
            rows_loaded := m.rows_loaded;
            rows_staged := m.rows_loaded;
            watermark := m.watermark;
            IF NOT v_bulk THEN
                EXECUTE format('INSERT INTO pg_temp.touched_dossier
                                SELECT DISTINCT ma_ho_so FROM %s ON CONFLICT DO NOTHING', stg);
            END IF;
            RETURN;
        END IF;
    END IF;
    EXECUTE 'ANALYZE ' || stg;
    EXECUTE format('SELECT count(*), max(updated_at) FROM %s', stg) INTO rows_staged, watermark;
    rows_loaded := 0;
    IF rows_staged = 0 THEN
        RETURN;
    END IF;
    -- the winners of the stream under their dossier's home, against their
    -- stored versions, each looked up by its key in the home's partition
    -- (a hash join would read every row of the homes' months: 944,000 log
    -- rows for a night's 132,000); same: equal to the stored row, and not to
    -- be written
    months := etl._months(format('SELECT coalesce(k.home_month, dw.orphan_month())
                                  FROM %s s LEFT JOIN dw.dossier_key k USING (ma_ho_so)',
                                 stg));
    DROP TABLE IF EXISTS pg_temp.win_child;
    EXECUTE format($sql$
        CREATE TEMP TABLE win_child ON COMMIT DROP AS
        WITH staged AS (
            SELECT DISTINCT ON (w.ma_ho_so, w.seq) w.*,
                   coalesce(k.unit_code, '') AS home_unit,
                   coalesce(k.home_month, dw.orphan_month()) AS home_month
            FROM %1$s w
            LEFT JOIN dw.dossier_key k USING (ma_ho_so)
            ORDER BY w.ma_ho_so, w.seq, w.updated_at DESC, w.row_number DESC
        )
        SELECT w.*, s.ma_ho_so IS NOT NULL AS stored,
               coalesce($3 AND ROW(%3$s) IS NOT DISTINCT FROM ROW(%4$s), false) AS same
        FROM staged w
        LEFT JOIN LATERAL (
            SELECT * FROM %2$s s
            WHERE s.ma_ho_so = w.ma_ho_so AND s.seq = w.seq
              AND s.unit_code = w.home_unit AND s.home_month = w.home_month
        ) s ON true
        WHERE s.ma_ho_so IS NULL
           OR w.updated_at > s.updated_at
           OR (w.updated_at = s.updated_at
               AND NOT coalesce(s.batch_id = $1 AND s.source_rank < $2, false))
        $sql$, stg, target, c.cols, stored)
    USING p_batch_id, p_source_rank, p_sole;
    GET DIAGNOSTICS rows_loaded = ROW_COUNT;
    ANALYZE pg_temp.win_child;

    IF p_entity = 'quatrinh' AND NOT v_bulk THEN
        -- the log of these dossiers is about to change: subtract what it
        -- counted as, once per transaction, while it is still stored
        TRUNCATE pg_temp.count_set;
        WITH first_time AS (
            INSERT INTO pg_temp.steps_out
            SELECT DISTINCT ma_ho_so FROM pg_temp.win_child WHERE home_unit <> ''
            ON CONFLICT DO NOTHING
            RETURNING ma_ho_so
        )
        INSERT INTO pg_temp.count_set
        SELECT k.ma_ho_so, k.unit_code, k.home_month
        FROM first_time f JOIN dw.dossier_key k USING (ma_ho_so);
        ANALYZE pg_temp.count_set;
        PERFORM etl._count_steps(-1, 'pg_temp.count_set t JOIN '
            || etl._in_months('dw.dossier_derived', months, 'x')
            || ' USING (ma_ho_so)' || etl._log_at_home(months));
        TRUNCATE pg_temp.count_set;
    END IF;

    EXECUTE format($sql$
        UPDATE %1$s s
        SET %2$s, source = $1, source_rank = $2, batch_id = $3, run_id = $4, loaded_at = now()
        FROM pg_temp.win_child w
        WHERE w.stored AND NOT w.same AND s.ma_ho_so = w.ma_ho_so AND s.seq = w.seq
          AND s.home_month = ANY (%3$L::date[])
        $sql$, target, c.sets, months)
    USING p_source, p_source_rank, p_batch_id, p_run_id;

    EXECUTE format($sql$
        INSERT INTO %1$s (%2$s, unit_code, home_month, source, source_rank, batch_id, run_id)
        SELECT %3$s, w.home_unit, w.home_month, $1, $2, $3, $4
        FROM pg_temp.win_child w
        WHERE NOT w.stored
        $sql$, target, cols, c.cols)
    USING p_source, p_source_rank, p_batch_id, p_run_id;

    IF NOT v_bulk THEN
        INSERT INTO pg_temp.touched_dossier
        SELECT DISTINCT ma_ho_so FROM pg_temp.win_child
        ON CONFLICT DO NOTHING;
    END IF;
END
$$;

-- 008's, with p_sole (see _merge_children); onestop-etl passes true when
-- the batch runs one source.  The staged and winning rows are analyzed on a
-- small sample: the plans need their size and rough distinct counts, and a
-- night's 132,000 log rows took 0.2 s to analyze at the default target.
DROP FUNCTION etl.merge_staging(bigint, text, int, bigint);
CREATE FUNCTION etl.merge_staging(p_run_id bigint, p_source text, p_source_rank int,
                                  p_batch_id bigint, p_sole boolean DEFAULT false)
RETURNS TABLE (entity text, rows_loaded bigint, rows_superseded bigint,
               watermark timestamptz)
LANGUAGE plpgsql
SET work_mem = '256MB' SET jit = off SET random_page_cost = 1.1
SET default_statistics_target = 10 AS $$
DECLARE
    e record;
    m record;
BEGIN
    PERFORM etl._create_work();
    IF NOT (SELECT bulk FROM pg_temp.work_state)
       AND etl._bulk_wanted((SELECT count(*) FROM pg_temp.stg_hoso)) THEN
        UPDATE pg_temp.work_state SET bulk = true;
    END IF;
    FOR e IN SELECT x.entity FROM etl.entities() x ORDER BY x.ord LOOP
        CASE e.entity
            WHEN 'hoso' THEN
                m := etl._merge_dossiers(p_run_id, p_source, p_source_rank, p_batch_id);
            WHEN 'bosung', 'quatrinh' THEN
                m := etl._merge_children(e.entity, p_run_id, p_source, p_source_rank,
                                         p_batch_id, p_sole);
            ELSE
                m := etl._merge_entity(e.entity, p_run_id, p_source, p_source_rank,
                                       p_batch_id);
        END CASE;
        entity := e.entity;
        rows_loaded := m.rows_loaded;
        rows_superseded := m.rows_staged - m.rows_loaded;
        watermark := m.watermark;
        RETURN NEXT;
    END LOOP;
END
$$;

-- A night re-sends the whole log of each changed dossier, every step
-- restamped, so each is a new version to store.  Room left on the log's
-- pages lets PostgreSQL write the new version on the same page (a HOT
-- update, no new index entry).  Measured at 1M dossiers, back to back: the
-- night 7.7 -> 6.8 s; the full load about 2 s longer (15% more pages to
-- write).  Partitions made from now on get it; those that exist keep their
-- full pages and leave room in the pages they fill next.
CREATE OR REPLACE FUNCTION dw.add_partitions(p_months date[]) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    m    date;
    t    text;
    part text;
BEGIN
    FOR m IN SELECT DISTINCT date_trunc('month', x)::date FROM unnest(p_months) x
             WHERE x IS NOT NULL ORDER BY 1 LOOP
        FOREACH t IN ARRAY dw.partitioned_tables() LOOP
            part := t || '_p' || to_char(m, 'YYYYMM');
            IF to_regclass('dw.' || quote_ident(part)) IS NULL THEN
                EXECUTE format('CREATE TABLE dw.%I PARTITION OF dw.%I FOR VALUES FROM (%L) TO (%L)%s',
                               part, t, m, (m + interval '1 month')::date,
                               CASE WHEN t = 'log_step' THEN ' WITH (fillfactor = 85)' END);
            END IF;
        END LOOP;
    END LOOP;
END
$$;

DO $$
DECLARE
    p regclass;
BEGIN
    FOR p IN SELECT inhrelid::regclass FROM pg_inherits
             WHERE inhparent = 'dw.log_step'::regclass LOOP
        EXECUTE format('ALTER TABLE %s SET (fillfactor = 85)', p);
    END LOOP;
END
$$;

RESET check_function_bodies;
