-- 008: merge and derivation over the partitioned layout of 007, in two
-- modes that give the same warehouse:
--
--   incremental  what a night's merge touched is re-derived: the touched
--                dossiers' old contributions to dw.unit_month and
--                dw.step_month are subtracted, their derived rows rewritten
--                and their new contributions added (006's scheme, per home);
--   bulk         everything is derived again as set-based work: a few large
--                INSERT ... SELECT with hash joins and aggregates over whole
--                tables, no per-key index lookups, no per-row bookkeeping.
--
-- etl.rescore is always bulk.  A merge into an empty warehouse, or of
-- dossiers a quarter as many as those stored, marks the transaction bulk:
-- the merge then keeps no record of what it touched and etl.derive derives
-- everything; etl.derive also goes bulk when the dossiers it would re-derive
-- are a quarter of those stored.  The setting onestop.derive_mode ('auto',
-- 'bulk', 'incremental') overrides the choice, for tests and for an
-- administrator who knows better.
--
-- The merge keeps the rules of 005 (source-api.md, "Keys are national
-- codes"): within the staged rows the later updated_at wins, on a tie the
-- larger row_number; against the stored row, the staged one replaces it when
-- its updated_at is the same or later, except on a tie with a row written by
-- this batch from a source listed earlier.  What changes is how: the winners
-- are decided once, in a set, against the stored row found through the
-- dossier's home (dw.dossier_key); a winner whose home moved is moved with
-- everything under it (007); the others are an UPDATE (stored) or a plain
-- INSERT (new), never INSERT ... ON CONFLICT.
--
-- Into an empty table (the first load of a warehouse) the staged rows go in
-- the way PostgreSQL loads fastest: the table's indexes are dropped, the rows
-- inserted as they come, the indexes built again (one sort per partition
-- instead of an index insertion per row).  The unique indexes then check
-- that no key came twice in the stream; if one did, all of it is undone and
-- the rows go through the general merge, which picks each key's winner.
-- A bulk derivation writes dw.dossier_derived the same way.
SET check_function_bodies = off;

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

CREATE OR REPLACE FUNCTION dw.local_date(t timestamptz) RETURNS date
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT dw.local_time(t)::date $$;

CREATE FUNCTION dw.local_month(t timestamptz) RETURNS date
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT date_trunc('month', dw.local_time(t))::date $$;

CREATE OR REPLACE FUNCTION dw.home_month(received_at timestamptz, submitted_at timestamptz,
                                         updated_at timestamptz) RETURNS date
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT dw.local_month(coalesce(received_at, submitted_at, updated_at)) $$;

-- Small pure helper of the log's contribution to dw.step_month.
CREATE FUNCTION dw.step_department(department text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT coalesce(nullif(department, ''), '(không rõ)') $$;

-- ------------------------------------------------------------ work tables

-- The temporary tables of one transaction's merges and derivation: what the
-- merges touched, and the signed contributions waiting for etl.derive.
-- Created by merge_staging and derive, never by create_staging: "LIKE
-- dw.unit_month" locks dw.unit_month until the transaction ends, and a
-- source still extracting must hold no lock that another source's merge
-- (TRUNCATE in a bulk derivation) waits for.
CREATE FUNCTION etl._create_work() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM etl._create_merged();
    IF to_regclass('pg_temp.work_state') IS NOT NULL THEN
        RETURN;
    END IF;
    -- bulk: this transaction derives in bulk; derived: how the last
    -- derivation of the transaction went ('bulk', 'incremental'; for tests)
    CREATE TEMP TABLE work_state (bulk boolean NOT NULL, derived text) ON COMMIT DROP;
    INSERT INTO pg_temp.work_state VALUES (false, NULL);
    CREATE TEMP TABLE touched_dossier (ma_ho_so text COLLATE "C" PRIMARY KEY) ON COMMIT DROP;
    -- dossiers whose log contribution the merge of quatrinh already subtracted
    CREATE TEMP TABLE steps_out (ma_ho_so text COLLATE "C" PRIMARY KEY) ON COMMIT DROP;
    -- the dossiers being counted, at their home
    CREATE TEMP TABLE count_set (ma_ho_so text COLLATE "C", unit_code text COLLATE "C",
                                 home_month date,
                                 PRIMARY KEY (ma_ho_so, unit_code, home_month)) ON COMMIT DROP;
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
END
$$;

CREATE FUNCTION etl._clear_work() RETURNS void
LANGUAGE sql AS $$
    UPDATE pg_temp.work_state SET bulk = false;
    TRUNCATE pg_temp.merged, pg_temp.touched_dossier, pg_temp.steps_out, pg_temp.count_set,
             pg_temp.touched_unit, pg_temp.touched_um, pg_temp.touched_sm,
             pg_temp.touched_kpi, pg_temp.touched_step, pg_temp.delta_um, pg_temp.delta_sm;
$$;

-- Whether n touched dossiers of the stored ones call for a bulk derivation.
CREATE FUNCTION etl._bulk_wanted(p_touched bigint) RETURNS boolean
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
    SELECT count(*) INTO stored FROM dw.dossier_key;
    -- at a province's million dossiers, a bulk derivation costs what an
    -- incremental one does for about a quarter of them
    RETURN stored = 0 OR p_touched * 4 >= stored;
END
$$;

-- Drops the indexes (and the primary key) of a table about to be filled in
-- bulk; returns the statements that build them again, for
-- etl._create_indexes.  A partitioned table's indexes go with its
-- partitions' and come back on every partition.
CREATE FUNCTION etl._drop_indexes(p_table regclass) RETURNS text[]
LANGUAGE plpgsql AS $$
DECLARE
    i       record;
    restore text[] := '{}';
BEGIN
    FOR i IN
        SELECT x.indexrelid::regclass AS index_name, c.conname,
               pg_get_constraintdef(c.oid) AS condef, pg_get_indexdef(x.indexrelid) AS indexdef
        FROM pg_index x
        LEFT JOIN pg_constraint c ON c.conrelid = x.indrelid AND c.conindid = x.indexrelid
        WHERE x.indrelid = p_table
        ORDER BY x.indexrelid
    LOOP
        IF i.conname IS NOT NULL THEN
            restore := restore || format('ALTER TABLE %s ADD CONSTRAINT %I %s',
                                         p_table, i.conname, i.condef);
            EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', p_table, i.conname);
        ELSE
            restore := restore || replace(i.indexdef, ' ON ONLY ', ' ON ');
            EXECUTE format('DROP INDEX %s', i.index_name);
        END IF;
    END LOOP;
    RETURN restore;
END
$$;

CREATE FUNCTION etl._create_indexes(p_statements text[]) RETURNS void
LANGUAGE plpgsql
SET maintenance_work_mem = '512MB' AS $$
DECLARE
    stmt text;
BEGIN
    FOREACH stmt IN ARRAY p_statements LOOP
        EXECUTE stmt;
    END LOOP;
END
$$;

-- Statistics for tables just filled in bulk: autovacuum would take its time
-- and never analyzes a partitioned table as a whole, and the next night's
-- plans need them.  A small sample (the planner needs row counts and rough
-- distinct counts here) costs a second at a million dossiers, not ten.
CREATE FUNCTION etl._analyze(p_tables text) RETURNS void
LANGUAGE plpgsql
SET default_statistics_target = 10 AS $$
BEGIN
    EXECUTE 'ANALYZE ' || p_tables;
END
$$;

-- ---------------------------------------------------------------- merge

-- The staged columns of an entity (its staging table's, without row_number),
-- as a list, with a prefix, and as "col = w.col" assignments of all but the
-- source key.
CREATE FUNCTION etl._staged_columns(p_entity text, p_prefix text DEFAULT '',
                                    OUT cols text, OUT sets text)
LANGUAGE sql STABLE AS $$
    SELECT string_agg(p_prefix || quote_ident(a.attname), ', ' ORDER BY a.attnum),
           string_agg(format('%1$I = w.%1$I', a.attname), ', ' ORDER BY a.attnum)
               FILTER (WHERE a.attname NOT IN ('ma_ho_so', 'seq'))
    FROM pg_attribute a
    WHERE a.attrelid = ('pg_temp.' || quote_ident('stg_' || p_entity))::regclass
      AND a.attnum > 0 AND NOT a.attisdropped AND a.attname <> 'row_number'
$$;

-- The distinct months a query yields, as an array literal, and a
-- dossier-keyed table restricted to such months, as a FROM item: written into
-- a statement as constants, they let the planner keep the partitions of those
-- months only (a night touches two or three; a parameterized join would probe
-- them all).  Within them, rows are joined on their source key alone: a
-- dossier's rows are all under its one home, and the planner, taking
-- (ma_ho_so, unit_code, home_month) for independent columns, would expect a
-- handful of matches where there are thousands.
CREATE FUNCTION etl._months(p_query text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    months date[];
BEGIN
    EXECUTE format('SELECT coalesce(array_agg(DISTINCT m), ''{}'') FROM (%s) q (m)', p_query)
    INTO months;
    RETURN months::text;
END
$$;

CREATE FUNCTION etl._in_months(p_table text, p_months text, p_alias text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT format('(SELECT * FROM %s WHERE home_month = ANY (%L::date[])) %s',
                  p_table, p_months, p_alias)
$$;

-- Moves what is stored under the homes listed in pg_temp.rehome (ma_ho_so,
-- old_unit, old_month, new_unit, new_month) to the new homes: the derived
-- row, the supplements and the log (the dossier row itself is replaced by
-- the merge).
CREATE FUNCTION etl._rehome() RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    months text;
    t    text;
    cols text;
    vals text;
BEGIN
    months := etl._months('SELECT old_month FROM pg_temp.rehome');
    EXECUTE format('DELETE FROM dw.dossier d USING pg_temp.rehome r
                    WHERE d.ma_ho_so = r.ma_ho_so AND d.unit_code = r.old_unit
                      AND d.home_month = r.old_month AND d.home_month = ANY (%L::date[])',
                   months);
    FOREACH t IN ARRAY ARRAY['dossier_derived', 'supplement', 'log_step'] LOOP
        SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum),
               string_agg(CASE a.attname WHEN 'unit_code' THEN 'g.new_unit'
                                         WHEN 'home_month' THEN 'g.new_month'
                                         ELSE 'g.' || quote_ident(a.attname) END,
                          ', ' ORDER BY a.attnum)
        INTO cols, vals
        FROM pg_attribute a
        WHERE a.attrelid = ('dw.' || t)::regclass AND a.attnum > 0 AND NOT a.attisdropped;
        EXECUTE format($sql$
            WITH g AS (
                DELETE FROM dw.%1$I x USING pg_temp.rehome r
                WHERE x.ma_ho_so = r.ma_ho_so AND x.unit_code = r.old_unit
                  AND x.home_month = r.old_month AND x.home_month = ANY (%4$L::date[])
                RETURNING x.*, r.new_unit, r.new_month
            )
            INSERT INTO dw.%1$I (%2$s) SELECT %3$s FROM g g
            $sql$, t, cols, vals, months);
    END LOOP;
END
$$;

-- Loads the staged dossiers into an empty warehouse; NULL (and nothing
-- loaded) when a key came twice in the stream.
CREATE FUNCTION etl._load_dossiers(p_run_id bigint, p_source text, p_source_rank int,
                                   p_batch_id bigint) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    cols    text := (etl._staged_columns('hoso')).cols;
    restore text[];
    n       bigint;
BEGIN
    PERFORM dw.add_partitions(ARRAY(
        SELECT DISTINCT dw.home_month(received_at, submitted_at, updated_at)
        FROM pg_temp.stg_hoso));
    BEGIN
        restore := etl._drop_indexes('dw.dossier') || etl._drop_indexes('dw.dossier_key');
        EXECUTE format($sql$
            INSERT INTO dw.dossier (%1$s, home_month, source, source_rank, batch_id, run_id)
            SELECT %1$s, dw.home_month(received_at, submitted_at, updated_at), $1, $2, $3, $4
            FROM pg_temp.stg_hoso
            $sql$, cols)
        USING p_source, p_source_rank, p_batch_id, p_run_id;
        GET DIAGNOSTICS n = ROW_COUNT;
        INSERT INTO dw.dossier_key (ma_ho_so, unit_code, home_month)
        SELECT ma_ho_so, unit_code, home_month FROM dw.dossier;
        PERFORM etl._create_indexes(restore);
        PERFORM etl._analyze('dw.dossier_key, dw.dossier');
        RETURN n;
    EXCEPTION WHEN unique_violation THEN
        RETURN NULL;
    END;
END
$$;

-- Merges the staged dossiers (hoso).
CREATE FUNCTION etl._merge_dossiers(p_run_id bigint, p_source text, p_source_rank int,
                                    p_batch_id bigint, OUT rows_loaded bigint,
                                    OUT rows_staged bigint, OUT watermark timestamptz)
LANGUAGE plpgsql AS $$
DECLARE
    c      record;
    months text;
    v_bulk boolean := (SELECT bulk FROM pg_temp.work_state);
BEGIN
    ANALYZE pg_temp.stg_hoso;
    SELECT count(*), max(updated_at) INTO rows_staged, watermark FROM pg_temp.stg_hoso;
    rows_loaded := 0;
    IF rows_staged = 0 THEN
        RETURN;
    END IF;
    -- an empty warehouse (no log or supplement waiting for its dossier either)
    IF NOT EXISTS (SELECT FROM dw.dossier_key) AND NOT EXISTS (SELECT FROM dw.dossier)
       AND NOT EXISTS (SELECT FROM dw.log_step WHERE home_month = dw.orphan_month())
       AND NOT EXISTS (SELECT FROM dw.supplement WHERE home_month = dw.orphan_month()) THEN
        rows_loaded := etl._load_dossiers(p_run_id, p_source, p_source_rank, p_batch_id);
        IF rows_loaded IS NOT NULL THEN
            IF NOT v_bulk THEN
                INSERT INTO pg_temp.touched_dossier SELECT ma_ho_so FROM dw.dossier_key;
                INSERT INTO pg_temp.touched_unit SELECT DISTINCT unit_code FROM dw.dossier_key;
            END IF;
            RETURN;
        END IF;
    END IF;
    c := etl._staged_columns('hoso', 'w.');

    -- the winners, with the home of their stored version (key_unit and
    -- key_month NULL: a new dossier; stored false: a key left without its row)
    months := etl._months('SELECT k.home_month FROM pg_temp.stg_hoso s
                           JOIN dw.dossier_key k USING (ma_ho_so)');
    DROP TABLE IF EXISTS pg_temp.win_hoso;
    EXECUTE format($sql$
        CREATE TEMP TABLE win_hoso ON COMMIT DROP AS
        SELECT w.*, dw.home_month(w.received_at, w.submitted_at, w.updated_at) AS new_month,
               k.unit_code AS key_unit, k.home_month AS key_month,
               d.ma_ho_so IS NOT NULL AS stored
        FROM (SELECT DISTINCT ON (ma_ho_so) *
              FROM pg_temp.stg_hoso
              ORDER BY ma_ho_so, updated_at DESC, row_number DESC) w
        LEFT JOIN dw.dossier_key k USING (ma_ho_so)
        LEFT JOIN %1$s
               ON d.ma_ho_so = w.ma_ho_so
        WHERE d.ma_ho_so IS NULL
           OR w.updated_at > d.updated_at
           OR (w.updated_at = d.updated_at
               AND NOT coalesce(d.batch_id = $1 AND d.source_rank < $2, false))
        $sql$, etl._in_months('dw.dossier', months, 'd'))
    USING p_batch_id, p_source_rank;
    GET DIAGNOSTICS rows_loaded = ROW_COUNT;
    ANALYZE pg_temp.win_hoso;

    PERFORM dw.add_partitions(ARRAY(SELECT DISTINCT new_month FROM pg_temp.win_hoso));

    -- homes that change: a stored dossier that moved, a new one whose
    -- supplements or log waited as orphans
    DROP TABLE IF EXISTS pg_temp.rehome;
    CREATE TEMP TABLE rehome ON COMMIT DROP AS
    SELECT ma_ho_so, key_unit AS old_unit, key_month AS old_month,
           unit_code AS new_unit, new_month
    FROM pg_temp.win_hoso
    WHERE (key_unit, key_month) <> (unit_code, new_month)
    UNION ALL
    SELECT ma_ho_so, '', dw.orphan_month(), unit_code, new_month
    FROM pg_temp.win_hoso
    WHERE key_unit IS NULL
      AND ma_ho_so IN (SELECT ma_ho_so FROM dw.log_step
                       WHERE unit_code = '' AND home_month = dw.orphan_month()
                       UNION
                       SELECT ma_ho_so FROM dw.supplement
                       WHERE unit_code = '' AND home_month = dw.orphan_month());
    IF EXISTS (SELECT FROM pg_temp.rehome) THEN
        PERFORM etl._rehome();
    END IF;

    -- a stored dossier in the same home: updated in place
    EXECUTE format($sql$
        UPDATE dw.dossier d
        SET %1$s, source = $1, source_rank = $2, batch_id = $3, run_id = $4, loaded_at = now()
        FROM pg_temp.win_hoso w
        WHERE w.stored AND w.key_unit = w.unit_code AND w.key_month = w.new_month
          AND d.ma_ho_so = w.ma_ho_so AND d.home_month = ANY (%2$L::date[])
        $sql$, c.sets, months)
    USING p_source, p_source_rank, p_batch_id, p_run_id;

    -- a new dossier, or one in a new home: inserted
    EXECUTE format($sql$
        INSERT INTO dw.dossier (%1$s, home_month, source, source_rank, batch_id, run_id)
        SELECT %2$s, w.new_month, $1, $2, $3, $4
        FROM pg_temp.win_hoso w
        WHERE NOT (w.stored AND w.key_unit = w.unit_code AND w.key_month = w.new_month)
        $sql$, (etl._staged_columns('hoso')).cols, c.cols)
    USING p_source, p_source_rank, p_batch_id, p_run_id;

    INSERT INTO dw.dossier_key (ma_ho_so, unit_code, home_month)
    SELECT ma_ho_so, unit_code, new_month FROM pg_temp.win_hoso WHERE key_unit IS NULL;
    UPDATE dw.dossier_key k SET unit_code = w.unit_code, home_month = w.new_month
    FROM pg_temp.win_hoso w
    WHERE k.ma_ho_so = w.ma_ho_so AND (w.key_unit, w.key_month) <> (w.unit_code, w.new_month);

    IF NOT v_bulk THEN
        INSERT INTO pg_temp.touched_dossier
        SELECT ma_ho_so FROM pg_temp.win_hoso
        ON CONFLICT DO NOTHING;
        INSERT INTO pg_temp.touched_unit
        SELECT DISTINCT unit_code FROM pg_temp.win_hoso
        ON CONFLICT DO NOTHING;
    END IF;
END
$$;

-- Loads the staged supplements or log steps into an empty table, under their
-- dossier's home: the number of rows and the latest updated_at, or NULLs (and
-- nothing loaded) when a key came twice.
CREATE FUNCTION etl._load_children(p_entity text, p_run_id bigint, p_source text,
                                   p_source_rank int, p_batch_id bigint,
                                   OUT rows_loaded bigint, OUT watermark timestamptz)
LANGUAGE plpgsql
SET enable_nestloop = off SET enable_mergejoin = off AS $$
DECLARE
    target  regclass := CASE p_entity WHEN 'bosung' THEN 'dw.supplement'
                                      ELSE 'dw.log_step' END;
    cols    text := (etl._staged_columns(p_entity)).cols;
    restore text[];
BEGIN
    BEGIN
        restore := etl._drop_indexes(target);
        EXECUTE format($sql$
            WITH loaded AS (
                INSERT INTO %1$s (%2$s, unit_code, home_month, source, source_rank, batch_id,
                                  run_id)
                SELECT %3$s, coalesce(k.unit_code, ''),
                       coalesce(k.home_month, dw.orphan_month()), $1, $2, $3, $4
                FROM pg_temp.%4$I w
                LEFT JOIN dw.dossier_key k USING (ma_ho_so)
                RETURNING updated_at
            )
            SELECT count(*), max(updated_at) FROM loaded
            $sql$, target, cols, (etl._staged_columns(p_entity, 'w.')).cols, 'stg_' || p_entity)
        INTO rows_loaded, watermark
        USING p_source, p_source_rank, p_batch_id, p_run_id;
        PERFORM etl._create_indexes(restore);
        PERFORM etl._analyze(target::text);
    EXCEPTION WHEN unique_violation THEN
        rows_loaded := NULL;
        watermark := NULL;
    END;
END
$$;

-- Merges the staged supplements (bosung) or log steps (quatrinh), under
-- their dossier's home.
CREATE FUNCTION etl._merge_children(p_entity text, p_run_id bigint, p_source text,
                                    p_source_rank int, p_batch_id bigint,
                                    OUT rows_loaded bigint, OUT rows_staged bigint,
                                    OUT watermark timestamptz)
LANGUAGE plpgsql AS $$
DECLARE
    stg    text := 'pg_temp.' || quote_ident('stg_' || p_entity);
    target text := CASE p_entity WHEN 'bosung' THEN 'dw.supplement' ELSE 'dw.log_step' END;
    cols   text := (etl._staged_columns(p_entity)).cols;
    c      record := etl._staged_columns(p_entity, 'w.');
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
    -- the winners of the stream under their dossier's home, against the
    -- stored rows of their dossiers (found dossier by dossier in the homes'
    -- partitions)
    months := etl._months(format('SELECT coalesce(k.home_month, dw.orphan_month())
                                  FROM %s s LEFT JOIN dw.dossier_key k USING (ma_ho_so)',
                                 stg));
    DROP TABLE IF EXISTS pg_temp.win_child;
    EXECUTE format($sql$
        CREATE TEMP TABLE win_child ON COMMIT DROP AS
        WITH staged AS (
            SELECT DISTINCT ON (ma_ho_so, seq) *
            FROM %1$s
            ORDER BY ma_ho_so, seq, updated_at DESC, row_number DESC
        ), stored AS (
            SELECT s.ma_ho_so, s.seq, s.updated_at, s.batch_id, s.source_rank
            FROM (SELECT DISTINCT ma_ho_so FROM %1$s) d
            JOIN %2$s USING (ma_ho_so)
        )
        SELECT w.*, coalesce(k.unit_code, '') AS home_unit,
               coalesce(k.home_month, dw.orphan_month()) AS home_month,
               s.ma_ho_so IS NOT NULL AS stored
        FROM staged w
        LEFT JOIN dw.dossier_key k USING (ma_ho_so)
        LEFT JOIN stored s ON s.ma_ho_so = w.ma_ho_so AND s.seq = w.seq
        WHERE s.ma_ho_so IS NULL
           OR w.updated_at > s.updated_at
           OR (w.updated_at = s.updated_at
               AND NOT coalesce(s.batch_id = $1 AND s.source_rank < $2, false))
        $sql$, stg, etl._in_months(target, months, 's'))
    USING p_batch_id, p_source_rank;
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
            || ' USING (ma_ho_so) JOIN '
            || etl._in_months('dw.log_step', months, 's')
            || ' USING (ma_ho_so)');
        TRUNCATE pg_temp.count_set;
    END IF;

    EXECUTE format($sql$
        UPDATE %1$s s
        SET %2$s, source = $1, source_rank = $2, batch_id = $3, run_id = $4, loaded_at = now()
        FROM pg_temp.win_child w
        WHERE w.stored AND s.ma_ho_so = w.ma_ho_so AND s.seq = w.seq
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

-- The staging contract of 005, its codes compared byte for byte like the
-- tables they are merged into (007): the same columns, the same COPY text.
CREATE OR REPLACE FUNCTION etl.create_staging() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF to_regclass('pg_temp.stg_donvi') IS NOT NULL THEN
        DROP TABLE pg_temp.stg_donvi, pg_temp.stg_thutuc, pg_temp.stg_hoso,
                   pg_temp.stg_bosung, pg_temp.stg_quatrinh;
    END IF;
    CREATE TEMP TABLE stg_donvi (
        row_number  bigint NOT NULL,
        unit_code   text NOT NULL,
        unit_name   text,
        parent_code text,
        level       text,
        updated_at  timestamptz NOT NULL
    ) ON COMMIT DROP;
    CREATE TEMP TABLE stg_thutuc (
        row_number     bigint NOT NULL,
        unit_code      text NOT NULL,
        procedure_code text NOT NULL,
        procedure_name text,
        field_code     text,
        field_name     text,
        level          smallint NOT NULL DEFAULT 1,
        legal_days     int NOT NULL,
        fee            boolean NOT NULL DEFAULT false,
        in_force       boolean NOT NULL DEFAULT true,
        updated_at     timestamptz NOT NULL
    ) ON COMMIT DROP;
    CREATE TEMP TABLE stg_hoso (
        row_number     bigint NOT NULL,
        ma_ho_so       text COLLATE "C" NOT NULL,
        unit_code      text COLLATE "C" NOT NULL,
        procedure_code text COLLATE "C" NOT NULL,
        channel        smallint NOT NULL,
        status         smallint NOT NULL,
        submitted_at   timestamptz,
        received_at    timestamptz,
        due_at         timestamptz,
        finished_at    timestamptz,
        returned_at    timestamptz,
        paid_online    boolean NOT NULL DEFAULT false,
        updated_at     timestamptz NOT NULL
    ) ON COMMIT DROP;
    CREATE TEMP TABLE stg_bosung (
        row_number   bigint NOT NULL,
        ma_ho_so     text COLLATE "C" NOT NULL,
        seq          int NOT NULL,
        requested_at timestamptz NOT NULL,
        returned_at  timestamptz,
        prev_due_at  timestamptz,
        new_due_at   timestamptz,
        state        text,
        updated_at   timestamptz NOT NULL
    ) ON COMMIT DROP;
    CREATE TEMP TABLE stg_quatrinh (
        row_number    bigint NOT NULL,
        ma_ho_so      text COLLATE "C" NOT NULL,
        seq           int NOT NULL,
        status        smallint NOT NULL,
        done_at       timestamptz NOT NULL,
        department    text,
        handler       text,
        handler_title text,
        content       text,
        started_at    timestamptz,
        step_due_at   timestamptz,
        updated_at    timestamptz NOT NULL
    ) ON COMMIT DROP;
    PERFORM etl._create_merged();
END
$$;

-- The staging contract is 005's; the merge is this file's.  work_mem: the
-- sorts and hashes of a province's initial load fit in memory;
-- random_page_cost: a night's keys are looked up in indexes that are in
-- memory, not found by hashing whole tables.
CREATE OR REPLACE FUNCTION etl.merge_staging(p_run_id bigint, p_source text,
                                             p_source_rank int, p_batch_id bigint)
RETURNS TABLE (entity text, rows_loaded bigint, rows_superseded bigint,
               watermark timestamptz)
LANGUAGE plpgsql
SET work_mem = '256MB' SET jit = off SET random_page_cost = 1.1 AS $$
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
                                         p_batch_id);
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

-- ------------------------------------------------------------ derivation

-- Adds p_sign times what the derived rows of p_scope (a FROM clause naming
-- dw.dossier_derived x) count as to pg_temp.delta_um, and their units to
-- pg_temp.touched_unit.
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
               0, 0, 0, 0, 0, 0, 0
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
               %2$s * count(*) FILTER (WHERE x.masked_late)
        FROM %1$s
        WHERE x.finish_date IS NOT NULL AND x.class = 'resolved'
        GROUP BY 1, 2
        $sql$, p_scope, p_sign);
END
$$;

-- Adds p_sign times what the log steps of p_scope (a FROM clause naming
-- dw.dossier_derived x and dw.log_step s) that meet p_where count as to
-- pg_temp.delta_sm: steps with a deadline of their own, of a received
-- dossier, under the unit the dossier is counted under.
CREATE FUNCTION etl._count_steps(p_sign int, p_scope text, p_where text DEFAULT 'true')
RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format($sql$
        INSERT INTO pg_temp.delta_sm
        SELECT x.k_unit, dw.local_month(s.done_at), dw.step_department(s.department),
               %2$s * count(*),
               %2$s * count(*) FILTER (WHERE dw.local_date(s.done_at) > dw.local_date(s.step_due_at))
        FROM %1$s
        WHERE x.class <> 'not_received' AND s.step_due_at IS NOT NULL AND (%3$s)
        GROUP BY 1, 2, 3
        $sql$, p_scope, p_sign, p_where);
END
$$;

-- Writes the derived rows of the dossiers of p_dossier (a FROM clause naming
-- dw.dossier d), whose log and supplements p_log and p_supplement name
-- (dw.log_step s, dw.supplement s): rules.md, in one set-based statement.
-- Each layer (OFFSET 0: not flattened) computes its values once per dossier.
CREATE FUNCTION etl._derive_dossiers(p_office_close time, p_dossier text, p_log text,
                                     p_supplement text)
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
        SELECT s.ma_ho_so,
               min(s.done_at) FILTER (WHERE s.status = 2) AS first_receipt_step,
               bool_or(s.status = 4) AS handled,
               bool_or(s.status IN (9, 10)) AS logged_finish
        FROM %2$s
        GROUP BY s.ma_ho_so, s.home_month    -- a dossier's log is in one partition
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

-- The span of the indicators: the earliest and latest local date of any
-- receipt or finish of a received dossier.
CREATE FUNCTION etl._full_span(OUT span_from date, OUT span_to date)
LANGUAGE sql STABLE AS $$
    SELECT min(least(receipt_date, finish_date)), max(greatest(receipt_date, finish_date))
    FROM dw.dossier_derived
$$;

-- Bulk: every dossier derived again, the monthly counts summed from scratch.
-- Hash joins and sequential scans only: the partitions a first load has just
-- filled have no statistics yet, and nothing here wants an index.
CREATE FUNCTION etl._derive_all(p_office_close time) RETURNS void
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
    restore := etl._drop_indexes('dw.dossier_derived');
    PERFORM etl._derive_dossiers(p_office_close, 'dw.dossier d', 'dw.log_step s',
                                 'dw.supplement s');
    PERFORM etl._create_indexes(restore);
    PERFORM etl._count_dossiers(1, 'dw.dossier_derived x');
    -- every dossier was just counted under its own unit_code, which is the
    -- unit_code of its log's home: the log needs no join to the dossiers,
    -- only the few not received to leave out (and the orphans)
    INSERT INTO pg_temp.delta_sm
    SELECT s.unit_code, dw.local_month(s.done_at), dw.step_department(s.department),
           count(*),
           count(*) FILTER (WHERE dw.local_date(s.done_at) > dw.local_date(s.step_due_at))
    FROM dw.log_step s
    WHERE s.step_due_at IS NOT NULL AND s.home_month <> dw.orphan_month()
      AND NOT EXISTS (SELECT FROM dw.dossier_derived x
                      WHERE x.class = 'not_received' AND x.ma_ho_so = s.ma_ho_so)
    GROUP BY 1, 2, 3;
    PERFORM etl._apply_deltas();
    PERFORM etl._analyze('dw.dossier_derived, dw.unit_month, dw.step_month');
END
$$;

-- Incremental: the touched dossiers derived again; returns the new span.
CREATE FUNCTION etl._derive_touched(p_office_close time, p_span_from date, p_span_to date,
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
    PERFORM etl._count_steps(-1, scope || ' JOIN ' || etl._in_months('dw.log_step', months, 's')
                                 || ' USING (ma_ho_so)',
        'NOT EXISTS (SELECT FROM pg_temp.steps_out o WHERE o.ma_ho_so = t.ma_ho_so)');
    EXECUTE format('DELETE FROM dw.dossier_derived x USING pg_temp.count_set t
                    WHERE x.ma_ho_so = t.ma_ho_so AND x.home_month = ANY (%L::date[])',
                   months);

    PERFORM etl._refresh_versions(false);
    PERFORM etl._derive_dossiers(p_office_close,
        'pg_temp.count_set t JOIN ' || etl._in_months('dw.dossier', months, 'd')
            || ' USING (ma_ho_so)',
        'pg_temp.count_set t JOIN ' || etl._in_months('dw.log_step', months, 's')
            || ' USING (ma_ho_so)',
        'pg_temp.count_set t JOIN ' || etl._in_months('dw.supplement', months, 's')
            || ' USING (ma_ho_so)');

    -- what they count as now, added
    PERFORM etl._count_dossiers(1, scope);
    PERFORM etl._count_steps(1, scope || ' JOIN ' || etl._in_months('dw.log_step', months, 's')
                                || ' USING (ma_ho_so)');
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

-- Step 5 of 006: the compliance rows of the touched unit_kpi rows; the
-- totals grouped in one pass (006 looked them up key by key).
CREATE OR REPLACE FUNCTION etl._build_compliance() RETURNS void
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

-- jit off: the estimates over temporary tables are rough, and compiling
-- costs more than the work of a nightly derivation.  Partition-wise joins
-- and aggregates: the log and the dossiers share their partitions.
CREATE OR REPLACE FUNCTION etl._derive(p_as_of timestamptz, p_full boolean) RETURNS void
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
        SELECT * INTO v_from, v_to FROM etl._full_span();
        st.span_from := NULL;
        st.span_to := NULL;
        st.last_as_of := NULL;
    ELSE
        SELECT * INTO v_from, v_to
        FROM etl._derive_touched(st.office_close, st.span_from, st.span_to);
    END IF;

    PERFORM etl._update_units(v_from, v_to);
    IF v_from IS DISTINCT FROM st.span_from OR v_to IS DISTINCT FROM st.span_to THEN
        PERFORM etl._update_span(st.span_from, st.span_to, v_from, v_to);
    END IF;
    PERFORM etl._touch_periods(v_from, v_to, least(st.last_as_of, as_of));
    PERFORM etl._build_unit_kpi(v_from, v_to, as_of);
    PERFORM etl._build_compliance();
    PERFORM etl._build_step_delay();
    IF v_bulk THEN
        PERFORM etl._analyze('dw.kpi_unit, mart.unit_kpi, mart.step_delay,
                              mart.compliance_score, mart.compliance_total');
    END IF;

    UPDATE dw.state
    SET derived_at = now(), last_as_of = as_of, span_from = v_from, span_to = v_to;
    PERFORM etl._clear_work();
    UPDATE pg_temp.work_state
    SET derived = CASE WHEN v_bulk THEN 'bulk' ELSE 'incremental' END;
END
$$;

-- 006's per-row derivation, replaced by the functions above.
DROP FUNCTION etl._touch_from_merges();
DROP FUNCTION etl._count_touched(int);
DROP FUNCTION etl._derive_dossiers(time);
DROP FUNCTION etl._derive_steps();
DROP FUNCTION etl._create_derive_work();

RESET check_function_bodies;
