-- partition: where a dossier's rows live (the dossier-keyed tables are
-- partitioned by month: sql/migrations/002_warehouse.sql says why and how)
-- and the tools of a bulk load.  Rules that live here:
--   * a dossier's home month (dw.home_month), and the orphans' home
--     (dw.orphan_month);
--   * which tables are partitioned, and how a partition is made
--     (dw.partitioned_tables, dw.add_partitions);
--   * how a table is filled in bulk: indexes dropped and built again
--     (etl._drop_indexes, etl._create_indexes), statistics taken at once
--     (etl._analyze);
--   * how a statement names the few partitions it needs (etl._months,
--     etl._in_months).

-- The month a dossier version is stored under: the local month of
-- NgayTiepNhan, else of NgayNopHoSo, else of CapNhatLuc.
CREATE FUNCTION dw.home_month(received_at timestamptz, submitted_at timestamptz,
                              updated_at timestamptz) RETURNS date
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT dw.local_month(coalesce(received_at, submitted_at, updated_at)) $$;

-- The home of supplement and log rows whose dossier is not (yet) known.
CREATE FUNCTION dw.orphan_month() RETURNS date
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT date '0001-01-01' $$;

-- The tables partitioned by their dossier's home month.
CREATE FUNCTION dw.partitioned_tables() RETURNS text[]
LANGUAGE sql IMMUTABLE AS $$
    SELECT ARRAY['dossier', 'dossier_derived', 'supplement', 'log_step']
$$;

-- Creates the monthly partitions of every dossier-keyed table that the
-- given months lack (name: TABLE_pYYYYMM).  The log's leave 15% of each
-- page free: a night re-sends the whole log of each changed dossier, every
-- step restamped, so each is a new version to store, and room left on the
-- page lets PostgreSQL write it there (a HOT update, no new index entry).
-- Measured at 1M dossiers, back to back: the night 7.7 -> 6.8 s; the full
-- load about 2 s longer (15% more pages to write).
-- Dynamic: DDL, a partition named at run time.
CREATE FUNCTION dw.add_partitions(p_months date[]) RETURNS void
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

-- Drops the indexes (and the primary key) of a table about to be filled in
-- bulk; returns the statements that build them again, for
-- etl._create_indexes.  A partitioned table's indexes go with its
-- partitions' and come back on every partition.
-- Dynamic: DDL of the indexes found.
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

-- Runs the statements of etl._drop_indexes, with the memory an index
-- build of a province's partitions wants.
-- Dynamic: the statements etl._drop_indexes returned.
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
-- Dynamic: ANALYZE of the tables named.
CREATE FUNCTION etl._analyze(p_tables text) RETURNS void
LANGUAGE plpgsql
SET default_statistics_target = 10 AS $$
BEGIN
    EXECUTE 'ANALYZE ' || p_tables;
END
$$;

-- The distinct months a query yields, as an array literal, and a
-- dossier-keyed table restricted to such months, as a FROM item: written into
-- a statement as constants, they let the planner keep the partitions of those
-- months only (a night touches two or three; a parameterized join would probe
-- them all).  Within them, rows are joined on their source key alone: a
-- dossier's rows are all under its one home, and the planner, taking
-- (ma_ho_so, unit_code, home_month) for independent columns, would expect a
-- handful of matches where there are thousands.
-- Dynamic: p_query is the caller's.
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

