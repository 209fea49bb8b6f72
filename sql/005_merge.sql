-- 005: staging and merge (the staging contract; source-api.md, "Keys are
-- national codes ...").  The five entities differ only by the table below and
-- by their staging columns, which are also the stored columns' names.

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

-- The five staging tables C streams COPY text into (first column row_number,
-- the row's number in the response stream).
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
        ma_ho_so       text NOT NULL,
        unit_code      text NOT NULL,
        procedure_code text NOT NULL,
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
        ma_ho_so     text NOT NULL,
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
        ma_ho_so      text NOT NULL,
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

    EXECUTE 'ANALYZE ' || stg;
    EXECUTE format($sql$
        WITH staged AS (
            SELECT DISTINCT ON (%2$s) *
            FROM %1$s
            ORDER BY %2$s, updated_at DESC, row_number DESC
        ), up AS (
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
            RETURNING %6$s, updated_at
        ), touched AS (
            INSERT INTO pg_temp.merged (entity, ma_ho_so, unit_code, procedure_code, updated_at)
            SELECT %7$L, up.* FROM up
        )
        SELECT (SELECT count(*) FROM up), (SELECT count(*) FROM %1$s),
               (SELECT max(updated_at) FROM %1$s)
        $sql$, stg, keys, e.target, cols, sets, e.touch, p_entity)
    INTO rows_loaded, rows_staged, watermark
    USING p_source, p_source_rank, p_batch_id, p_run_id;
END
$$;

CREATE FUNCTION etl.merge_staging(p_run_id bigint, p_source text, p_source_rank int,
                                  p_batch_id bigint)
RETURNS TABLE (entity text, rows_loaded bigint, rows_superseded bigint,
               watermark timestamptz)
LANGUAGE plpgsql AS $$
DECLARE
    e record;
    m record;
BEGIN
    PERFORM etl._create_merged();
    FOR e IN SELECT x.entity FROM etl.entities() x ORDER BY x.ord LOOP
        m := etl._merge_entity(e.entity, p_run_id, p_source, p_source_rank, p_batch_id);
        entity := e.entity;
        rows_loaded := m.rows_loaded;
        rows_superseded := m.rows_staged - m.rows_loaded;
        watermark := m.watermark;
        RETURN NEXT;
    END LOOP;
END
$$;
