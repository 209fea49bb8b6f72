-- merge: the staging contract and the merge of staged rows into dw
-- (source-api.md, "Keys are national codes ...").  Rules that live here:
--   * which staged row wins: within the staged rows the later updated_at,
--     on a tie the larger row_number; against the stored row, the staged
--     one replaces it when its updated_at is the same or later, except on a
--     tie with a row written by this batch from a source listed earlier
--     (etl._merge_entity, etl._merge_dossiers, etl._merge_children);
--   * where a dossier's rows live, and how they move when its home changes
--     (partition.sql has the home itself; etl._rehome);
--   * when a transaction derives in bulk (etl._bulk_wanted).
-- The winners are decided once, in a set, against the stored row found
-- through the dossier's home (dw.dossier_key); a winner whose home moved is
-- moved with everything under it; the others are an UPDATE (stored) or a
-- plain INSERT (new), never INSERT ... ON CONFLICT.  Into an empty table
-- (the first load of a warehouse) the staged rows go in the way PostgreSQL
-- loads fastest: the table's indexes are dropped, the rows inserted as they
-- come, the indexes built again (one sort per partition instead of an index
-- insertion per row).  The unique indexes then check that no key came twice
-- in the stream; if one did, all of it is undone and the rows go through
-- the general merge, which picks each key's winner.
-- The staging tables are temporary tables that exist only inside a load
-- transaction (etl.create_staging), as are the work tables the merge and
-- the derivation share (etl._create_work): statements on them are bound
-- when they run.  The statements whose columns are read from a staging
-- table, or whose months are written in as constants so that the planner
-- keeps only those partitions (etl._in_months), are built at run time
-- (EXECUTE); each says why.

CREATE FUNCTION etl.entities()
RETURNS TABLE (ord int, entity text, target regclass, keys text[], touch text)
LANGUAGE sql STABLE AS $$
    VALUES
    (1, 'donvi',    'dw.unit'::regclass,              '{unit_code}'::text[],
        'NULL::text, unit_code, NULL::text'),
    (2, 'thutuc',   'dw.procedure_version'::regclass, '{unit_code,procedure_code,updated_at}',
        'NULL::text, unit_code, procedure_code'),
    (3, 'hoso',     'dw.dossier'::regclass,           '{ma_ho_so}',
        'ma_ho_so, unit_code, procedure_code'),
    (4, 'bosung',   'dw.supplement'::regclass,        '{ma_ho_so,seq}',
        'ma_ho_so, NULL::text, NULL::text'),
    (5, 'quatrinh', 'dw.log_step'::regclass,          '{ma_ho_so,seq}',
        'ma_ho_so, NULL::text, NULL::text')
$$;

-- What the merges of this transaction touched, for etl.derive: one row per
-- stored row that a merge wrote.
CREATE FUNCTION etl._create_merged() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF to_regclass('pg_temp.merged') IS NULL THEN
        CREATE TEMP TABLE merged (
            entity         text NOT NULL,
            ma_ho_so       text,
            unit_code      text,
            procedure_code text,
            updated_at     timestamptz
        ) ON COMMIT DROP;
    END IF;
END
$$;

-- The five staging tables C streams binary COPY into (first column
-- row_number, the row's number in the response stream; the other columns
-- are the stored columns' names), the codes compared byte for byte like
-- the tables they are merged into (partition.sql).
CREATE FUNCTION etl.create_staging() RETURNS void
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

-- The temporary tables of one transaction's merges and derivation: what the
-- merges touched, and the signed contributions waiting for etl.derive.
-- Created by merge_staging and derive, never by create_staging: "LIKE
-- dw.unit_month" locks dw.unit_month until the transaction ends, and a
-- source still extracting must hold no lock that another source's merge
-- waits for.
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
    -- the log steps the merges of quatrinh changed, signed: -1 for what a
    -- stored step counted as, +1 for what its new version counts as (the
    -- columns the step-delay rule reads; etl._derive_touched)
    CREATE TEMP TABLE step_change (ma_ho_so text COLLATE "C", sign int, done_at timestamptz,
                                   department text, step_due_at timestamptz) ON COMMIT DROP;
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

-- The SQL functions below and in derive.sql, kpi.sql and scores.sql name
-- these temporary tables: made here, in the transaction that applies the
-- code (they go at its commit), they let check_function_bodies check those
-- functions against the real columns.
SELECT etl.create_staging();
SELECT etl._create_work();

CREATE FUNCTION etl._clear_work() RETURNS void
LANGUAGE sql AS $$
    UPDATE pg_temp.work_state SET bulk = false;
    TRUNCATE pg_temp.merged, pg_temp.touched_dossier, pg_temp.step_change, pg_temp.count_set,
             pg_temp.touched_unit, pg_temp.touched_um, pg_temp.touched_sm,
             pg_temp.touched_kpi, pg_temp.touched_step, pg_temp.delta_um, pg_temp.delta_sm;
$$;

-- Whether n touched dossiers of the stored ones call for a bulk derivation
-- (setting onestop.derive_mode: 'auto', 'bulk', 'incremental').  The
-- stored dossiers are counted only when there are few: the choice needs
-- their order of magnitude, and a night asked for it twice, at 0.1 s a
-- count over a province's million keys.  The statistics a bulk load or
-- autovacuum leaves are close enough.
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

-- A row's content: the entity's staged columns but row_number and
-- updated_at, as a list with a prefix.  A row that comes again with the
-- content it is stored with (a new CapNhatLuc only) is loaded and stamped,
-- and derives nothing again (etl._merge_entity, etl._merge_children).
CREATE FUNCTION etl._content_columns(p_entity text, p_prefix text) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT string_agg(p_prefix || quote_ident(a.attname), ', ' ORDER BY a.attnum)
    FROM pg_attribute a
    WHERE a.attrelid = ('pg_temp.' || quote_ident('stg_' || p_entity))::regclass
      AND a.attnum > 0 AND NOT a.attisdropped
      AND a.attname NOT IN ('row_number', 'updated_at')
$$;

-- Merge one entity's staged rows into its stored table.  Within the staged
-- rows the later updated_at wins, on a tie the larger row_number.  Against
-- the stored row: replace when the staged updated_at is the same or later,
-- except a tie with a row written by this batch from a source listed earlier
-- (smaller rank); otherwise the staged row is superseded.
CREATE FUNCTION etl._merge_entity(p_entity text, p_run_id bigint, p_source text,
                                  p_source_rank int, p_batch_id bigint,
                                  OUT rows_loaded bigint, OUT rows_staged bigint,
                                  OUT watermark timestamptz)
LANGUAGE plpgsql AS $$
DECLARE
    e      record;
    stg    text := 'pg_temp.' || quote_ident('stg_' || p_entity);
    cols   text;
    keys   text;
    sets   text;
    -- CapNhatLuc is a key column of the catalogue's versions, and so
    -- compared there
    content_s text := etl._content_columns(p_entity, 's.');
    content_t text := etl._content_columns(p_entity, 't.');
BEGIN
    SELECT * INTO STRICT e FROM etl.entities() x WHERE x.entity = p_entity;
    SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum),
           string_agg(format('%1$I = EXCLUDED.%1$I', a.attname), ', ' ORDER BY a.attnum)
             FILTER (WHERE NOT a.attname = ANY (e.keys))
    INTO cols, sets
    FROM pg_attribute a
    WHERE a.attrelid = stg::regclass AND a.attnum > 0 AND NOT a.attisdropped
      AND a.attname <> 'row_number';
    SELECT string_agg(quote_ident(k), ', ') INTO keys FROM unnest(e.keys) k;

    -- dynamic: one statement for donvi and thutuc, its table, key and
    -- columns those of the entity's staging table.  A row that comes again
    -- as it is stored (but its CapNhatLuc) is written, and touches nothing
    -- to derive: a night re-sends the catalogue's latest version, and it
    -- took every dossier of its procedure with it (952 at 1M, four times
    -- as many at 4M, make bench).
    EXECUTE 'ANALYZE ' || stg;
    EXECUTE format($sql$
        WITH staged AS (
            SELECT DISTINCT ON (%2$s) *
            FROM %1$s
            ORDER BY %2$s, updated_at DESC, row_number DESC
        ), moved AS (
            SELECT ROW(%2$s) AS k FROM staged s
            WHERE NOT EXISTS (SELECT FROM %3$s t
                              WHERE ROW(%8$s) = ROW(%9$s)
                                AND ROW(%10$s) IS NOT DISTINCT FROM ROW(%11$s))
        ), up (ma_ho_so, unit_code, procedure_code, updated_at, k) AS (
            INSERT INTO %3$s AS t (%4$s, source, source_rank, batch_id, run_id)
            SELECT %4$s, $1, $2, $3, $4 FROM staged
            ON CONFLICT (%2$s) DO UPDATE
            SET %5$s, source = EXCLUDED.source, source_rank = EXCLUDED.source_rank,
                batch_id = EXCLUDED.batch_id, run_id = EXCLUDED.run_id,
                loaded_at = EXCLUDED.loaded_at
            WHERE EXCLUDED.updated_at > t.updated_at
               OR (EXCLUDED.updated_at = t.updated_at
                   AND NOT coalesce(t.batch_id = EXCLUDED.batch_id
                                    AND t.source_rank < EXCLUDED.source_rank, false))
            RETURNING %6$s, updated_at, ROW(%2$s) AS k
        ), touched AS (
            INSERT INTO pg_temp.merged (entity, ma_ho_so, unit_code, procedure_code, updated_at)
            SELECT %7$L, up.ma_ho_so, up.unit_code, up.procedure_code, up.updated_at
            FROM up WHERE up.k IN (SELECT k FROM moved)
        )
        SELECT (SELECT count(*) FROM up), (SELECT count(*) FROM %1$s),
               (SELECT max(updated_at) FROM %1$s)
        $sql$, stg, keys, e.target, cols, sets, e.touch, p_entity,
               (SELECT string_agg('t.' || quote_ident(k), ', ') FROM unnest(e.keys) k),
               (SELECT string_agg('s.' || quote_ident(k), ', ') FROM unnest(e.keys) k),
               content_t, content_s)
    INTO rows_loaded, rows_staged, watermark
    USING p_source, p_source_rank, p_batch_id, p_run_id;
END
$$;

-- Moves what is stored under the homes listed in pg_temp.rehome (ma_ho_so,
-- old_unit, old_month, new_unit, new_month) to the new homes: the derived
-- row, the supplements and the log (the dossier row itself is replaced by
-- the merge).
-- Dynamic: each table's columns, and the old months as constants.
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
-- loaded) when a key came twice in the stream.  The dossiers go in by the
-- bulk path (partition.sql); dw.dossier_key, which no mart view reads,
-- with its index dropped and built again.
-- Dynamic: the columns are the staging table's.
CREATE FUNCTION etl._load_dossiers(p_run_id bigint, p_source text, p_source_rank int,
                                   p_batch_id bigint) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    cols    text := (etl._staged_columns('hoso')).cols;
    restore text[];
    bulk    text;
    n       bigint;
BEGIN
    BEGIN
        bulk := etl._bulk_open('dossier', ARRAY(
            SELECT DISTINCT dw.home_month(received_at, submitted_at, updated_at)
            FROM pg_temp.stg_hoso));
        restore := etl._drop_indexes('dw.dossier_key');
        EXECUTE format($sql$
            INSERT INTO %2$s (%1$s, home_month, source, source_rank, batch_id, run_id)
            SELECT %1$s, dw.home_month(received_at, submitted_at, updated_at), $1, $2, $3, $4
            FROM pg_temp.stg_hoso
            $sql$, cols, bulk)
        USING p_source, p_source_rank, p_batch_id, p_run_id;
        GET DIAGNOSTICS n = ROW_COUNT;
        EXECUTE format('INSERT INTO dw.dossier_key (ma_ho_so, unit_code, home_month)
                        SELECT ma_ho_so, unit_code, home_month FROM %s', bulk);
        PERFORM etl._create_indexes(restore);
        PERFORM etl._bulk_attach('dossier');
        PERFORM etl._analyze('dw.dossier_key, dw.dossier');
        RETURN n;
    EXCEPTION WHEN unique_violation THEN
        RETURN NULL;
    END;
END
$$;

-- Merges the staged dossiers (hoso).
-- Dynamic: the columns are the staging table's, the stored
-- dossiers' months constants.
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
-- dossier's home, by the bulk path (partition.sql): the number of rows and
-- the latest updated_at, or NULLs (and nothing loaded) when a key came
-- twice.
-- Dynamic: one statement for bosung and quatrinh, its columns the
-- staging table's.
CREATE FUNCTION etl._load_children(p_entity text, p_run_id bigint, p_source text,
                                   p_source_rank int, p_batch_id bigint,
                                   OUT rows_loaded bigint, OUT watermark timestamptz)
LANGUAGE plpgsql
SET enable_nestloop = off SET enable_mergejoin = off AS $$
DECLARE
    target  text := CASE p_entity WHEN 'bosung' THEN 'supplement' ELSE 'log_step' END;
    cols    text := (etl._staged_columns(p_entity)).cols;
    bulk    text;
BEGIN
    BEGIN
        bulk := etl._bulk_open(target, ARRAY(
            SELECT DISTINCT home_month FROM dw.dossier_key
            UNION ALL SELECT dw.orphan_month()));
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
            $sql$, bulk, cols, (etl._staged_columns(p_entity, 'w.')).cols, 'stg_' || p_entity)
        INTO rows_loaded, watermark
        USING p_source, p_source_rank, p_batch_id, p_run_id;
        PERFORM etl._bulk_attach(target);
        PERFORM etl._analyze('dw.' || target);
    EXCEPTION WHEN unique_violation THEN
        rows_loaded := NULL;
        watermark := NULL;
    END;
END
$$;

-- Merges the staged supplements (bosung) or log steps (quatrinh), under
-- their dossier's home.  p_sole: no other source loads in this batch, so a
-- staged row equal to its stored version (same updated_at, same values) is
-- not written again: the write would only restamp the lineage columns, and
-- no later source of the batch has a tie that stamp could decide.  It still
-- counts as loaded.  (A source sends a changed dossier's whole log again.)
-- Dynamic: one statement for bosung and quatrinh, its columns the
-- staging table's, the homes' months constants.
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
    content_w text := etl._content_columns(p_entity, 'w.');
    content_s text := etl._content_columns(p_entity, 's.');
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
                -- every step is new: all of them count in, at a home (the
                -- dossiers may be stored and derived already, their log
                -- coming later: the derivation moves their counts by these)
                IF p_entity = 'quatrinh' THEN
                    INSERT INTO pg_temp.step_change
                    SELECT ma_ho_so, 1, done_at, department, step_due_at
                    FROM dw.log_step WHERE home_month <> dw.orphan_month();
                END IF;
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
    -- stored versions, found by each dossier's key in the home's partition
    -- (a hash join would read every row of the homes' months: 944,000 log
    -- rows for a night's 132,000); same: equal to the stored row, and not to
    -- be written; moved: new, or its content (all but CapNhatLuc) changed.
    -- Each staged dossier's home first, looked up once (a night's 132,000
    -- steps are 20,000 dossiers).
    DROP TABLE IF EXISTS pg_temp.win_child, pg_temp.child_home, pg_temp.child_staged,
                         pg_temp.child_stored;
    EXECUTE format($sql$
        CREATE TEMP TABLE child_home ON COMMIT DROP AS
        SELECT s.ma_ho_so, coalesce(k.unit_code, '') AS home_unit,
               coalesce(k.home_month, dw.orphan_month()) AS home_month
        FROM (SELECT DISTINCT ma_ho_so FROM %1$s) s
        LEFT JOIN dw.dossier_key k USING (ma_ho_so)
        $sql$, stg);
    ANALYZE pg_temp.child_home;
    months := etl._months('SELECT home_month FROM pg_temp.child_home');
    EXECUTE format($sql$
        CREATE TEMP TABLE child_staged ON COMMIT DROP AS
        SELECT DISTINCT ON (w.ma_ho_so, w.seq) w.*, h.home_unit, h.home_month
        FROM %1$s w
        JOIN pg_temp.child_home h USING (ma_ho_so)
        ORDER BY w.ma_ho_so, w.seq, w.updated_at DESC, w.row_number DESC
        $sql$, stg);
    ANALYZE pg_temp.child_staged;
    -- what is stored of the staged rows' dossiers, each dossier's rows
    -- looked up once, at its home, in key order: a night re-sends whole
    -- logs, and one lookup per step cost 3.9 s of a night at 1M; a table
    -- with its statistics, so that the join below is planned for its real
    -- size
    EXECUTE format($sql$
        CREATE TEMP TABLE child_stored ON COMMIT DROP AS
        SELECT s.*
        FROM (SELECT * FROM pg_temp.child_home ORDER BY home_month, ma_ho_so) k
        CROSS JOIN LATERAL (
            SELECT * FROM %1$s s
            WHERE s.ma_ho_so = k.ma_ho_so AND s.unit_code = k.home_unit
              AND s.home_month = k.home_month
        ) s
        $sql$, target);
    ANALYZE pg_temp.child_stored;
    EXECUTE format($sql$
        CREATE TEMP TABLE win_child ON COMMIT DROP AS
        SELECT w.*, s.ma_ho_so IS NOT NULL AS stored,
               coalesce($3 AND ROW(%1$s) IS NOT DISTINCT FROM ROW(%2$s), false) AS same,
               s.ma_ho_so IS NULL OR ROW(%3$s) IS DISTINCT FROM ROW(%4$s) AS moved
        FROM pg_temp.child_staged w
        LEFT JOIN pg_temp.child_stored s ON s.ma_ho_so = w.ma_ho_so AND s.seq = w.seq
        WHERE s.ma_ho_so IS NULL
           OR w.updated_at > s.updated_at
           OR (w.updated_at = s.updated_at
               AND NOT coalesce(s.batch_id = $1 AND s.source_rank < $2, false))
        $sql$, c.cols, stored, content_w, content_s)
    USING p_batch_id, p_source_rank, p_sole;
    GET DIAGNOSTICS rows_loaded = ROW_COUNT;
    ANALYZE pg_temp.win_child;
    -- a first load makes a table's partitions only for the months it loads
    PERFORM dw.add_partitions(ARRAY(SELECT DISTINCT w.home_month FROM pg_temp.win_child w
                                    WHERE NOT w.stored),
                              ARRAY[substr(target, 4)]);

    IF p_entity = 'quatrinh' AND NOT v_bulk THEN
        -- what the changed steps counted as and count as now, signed, from
        -- the rows at hand: the step counts move by these alone while the
        -- dossier's unit and class stand (etl._derive_touched), and a step
        -- sent again with only a new CapNhatLuc moves nothing.  Before, the
        -- whole log of every such dossier was counted out here and in again
        -- after the derivation: two more lookups of 132,000 rows a night.
        -- Orphans count for nothing until their dossier comes.
        INSERT INTO pg_temp.step_change
        SELECT x.*
        FROM pg_temp.win_child w
        LEFT JOIN pg_temp.child_stored s ON s.ma_ho_so = w.ma_ho_so AND s.seq = w.seq
        CROSS JOIN LATERAL (VALUES (w.ma_ho_so, 1, w.done_at, w.department, w.step_due_at),
                                   (s.ma_ho_so, -1, s.done_at, s.department, s.step_due_at)) x
        WHERE w.home_unit <> '' AND x.column1 IS NOT NULL
          AND ROW(w.done_at, w.department, w.step_due_at)
              IS DISTINCT FROM ROW(s.done_at, s.department, s.step_due_at);
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

    -- a dossier whose rows came again as they were (but their CapNhatLuc)
    -- derives as it did
    IF NOT v_bulk THEN
        INSERT INTO pg_temp.touched_dossier
        SELECT DISTINCT ma_ho_so FROM pg_temp.win_child WHERE moved
        ON CONFLICT DO NOTHING;
    END IF;
END
$$;

-- Merges the staged rows of the five entities into dw (the rules at the top
-- of this file); one row per entity: rows_loaded, rows_superseded, and
-- watermark, the latest staged updated_at.  p_sole: the batch runs this
-- source alone (etl._merge_children); onestop-etl passes true when it does.
-- work_mem: the sorts and hashes of a province's initial load fit in
-- memory; random_page_cost: a night's keys are looked up in indexes that
-- are in memory, not found by hashing whole tables; the staged and winning
-- rows are analyzed on a small sample: the plans need their size and rough
-- distinct counts, and a night's 132,000 log rows took 0.2 s to analyze at
-- the default target.
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

COMMENT ON FUNCTION etl.create_staging() IS
    'creates the five temp staging tables stg_donvi .. stg_quatrinh (binary COPY, first column row_number), ON COMMIT DROP';
COMMENT ON FUNCTION etl.merge_staging(bigint, text, int, bigint, boolean) IS
    'merges the staged rows into dw (source-api.md merge rules); one row per entity: rows_loaded, rows_superseded, watermark = max staged updated_at';
