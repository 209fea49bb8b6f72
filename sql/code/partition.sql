-- partition: where a dossier's rows live (the dossier-keyed tables are
-- partitioned by month: sql/migrations/002_warehouse.sql says why and how)
-- and the tools of a bulk load.  Rules that live here:
--   * a dossier's home month (dw.home_month), and the orphans' home
--     (dw.orphan_month);
--   * which tables are partitioned, and how a partition is made without a
--     lock a reader waits for (dw.partitioned_tables, dw.add_partitions);
--   * how a table is filled in bulk: into partitions no reader sees, then
--     attached (etl._bulk_open, etl._bulk_attach), or, for a table no mart
--     view reads, with its indexes dropped and built again
--     (etl._drop_indexes, etl._create_indexes); statistics taken at once
--     (etl._analyze);
--   * how a derived table is rewritten whole without a lock a reader waits
--     for, writing only what changed (etl._sync, etl._subtract_all);
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

-- A table's partition of a month: its name (TABLE_pYYYYMM) and storage
-- parameters (see dw.add_partitions for the log's).
CREATE FUNCTION dw.partition_name(p_table text, p_month date) RETURNS text
LANGUAGE sql IMMUTABLE AS $$ SELECT p_table || '_p' || to_char(p_month, 'YYYYMM') $$;

CREATE FUNCTION dw.partition_storage(p_table text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN p_table = 'log_step' THEN ' WITH (fillfactor = 85)' ELSE '' END
$$;

-- Creates the monthly partitions of the dossier-keyed tables (all of them
-- unless p_tables names some) that the given months lack (name:
-- TABLE_pYYYYMM).  Each is made beside its table and then attached:
-- CREATE TABLE ... PARTITION OF would lock the whole table ACCESS EXCLUSIVE
-- until the transaction ends, and a night that starts a month would make
-- every read of mart.dossier wait for it; ATTACH PARTITION takes SHARE
-- UPDATE EXCLUSIVE, which no reader waits for.  The log's leave 15% of each
-- page free: a night re-sends the whole log of each changed dossier, every
-- step restamped, so each is a new version to store, and room left on the
-- page lets PostgreSQL write it there (a HOT update, no new index entry).
-- Measured at 1M dossiers, back to back: the night 7.7 -> 6.8 s; the full
-- load about 2 s longer (15% more pages to write).
-- Dynamic: DDL, a partition named at run time.
CREATE FUNCTION dw.add_partitions(p_months date[],
                                  p_tables text[] DEFAULT dw.partitioned_tables())
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    m    date;
    t    text;
    part text;
BEGIN
    FOR m IN SELECT DISTINCT date_trunc('month', x)::date FROM unnest(p_months) x
             WHERE x IS NOT NULL ORDER BY 1 LOOP
        FOREACH t IN ARRAY p_tables LOOP
            part := dw.partition_name(t, m);
            IF to_regclass('dw.' || quote_ident(part)) IS NULL THEN
                EXECUTE format('CREATE TABLE dw.%I (LIKE dw.%I INCLUDING DEFAULTS INCLUDING CONSTRAINTS)%s',
                               part, t, dw.partition_storage(t));
                EXECUTE format('ALTER TABLE dw.%I ATTACH PARTITION dw.%I FOR VALUES FROM (%L) TO (%L)',
                               t, part, m, (m + interval '1 month')::date);
            END IF;
        END LOOP;
    END LOOP;
END
$$;

-- The bulk path of a partitioned table filled whole (a first load, a first
-- derivation).  PostgreSQL loads a table fastest without its indexes, built
-- afterwards in one sort; but dropping an index of a table readers can see
-- locks it ACCESS EXCLUSIVE, and every read of mart would wait for the
-- load.  So the rows go into partitions no reader can see: etl._bulk_open
-- makes a partitioned table of its own (etl.bulk_TABLE, no index) with a
-- partition per month, returns its name for the INSERT, and
-- etl._bulk_attach detaches each partition from it and attaches it to
-- dw.TABLE, which builds its indexes there (the unique ones checking that
-- no key came twice: unique_violation, the caller's cue to take the
-- general path).  A month the table already has (the orphans' month) gets
-- a partition of another name, whose rows are inserted into dw.TABLE at the
-- end.  Each partition carries a CHECK of its month while it is built, so
-- that the attach need not scan it to prove its rows belong.
-- Dynamic: DDL, the tables named at run time.
CREATE FUNCTION etl._bulk_open(p_table text, p_months date[]) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    shadow text := 'bulk_' || p_table;
    m      date;
    part   text;
BEGIN
    EXECUTE format('DROP TABLE IF EXISTS etl.%I', shadow);
    EXECUTE format('CREATE TABLE etl.%I (LIKE dw.%I INCLUDING DEFAULTS INCLUDING CONSTRAINTS)
                    PARTITION BY RANGE (home_month)', shadow, p_table);
    FOR m IN SELECT DISTINCT date_trunc('month', x)::date FROM unnest(p_months) x
             WHERE x IS NOT NULL ORDER BY 1 LOOP
        part := dw.partition_name(p_table, m);
        IF to_regclass('dw.' || quote_ident(part)) IS NULL THEN
            part := 'dw.' || quote_ident(part);
        ELSE
            part := 'etl.' || quote_ident('bulk_' || part);
        END IF;
        EXECUTE format('CREATE TABLE %s PARTITION OF etl.%I FOR VALUES FROM (%L) TO (%L)%s',
                       part, shadow, m, (m + interval '1 month')::date,
                       dw.partition_storage(p_table));
        EXECUTE format('ALTER TABLE %s ADD CONSTRAINT bulk_month
                        CHECK (home_month >= %L AND home_month < %L)',
                       part, m, (m + interval '1 month')::date);
    END LOOP;
    RETURN 'etl.' || quote_ident(shadow);
END
$$;

CREATE FUNCTION etl._bulk_attach(p_table text) RETURNS void
LANGUAGE plpgsql
SET maintenance_work_mem = '512MB' AS $$
DECLARE
    shadow regclass := ('etl.' || quote_ident('bulk_' || p_table))::regclass;
    p      record;
    cols   text;
BEGIN
    SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum) INTO cols
    FROM pg_attribute a
    WHERE a.attrelid = ('dw.' || quote_ident(p_table))::regclass
      AND a.attnum > 0 AND NOT a.attisdropped;
    FOR p IN SELECT c.oid::regclass AS part, n.nspname = 'dw' AS final,
                    pg_get_expr(c.relpartbound, c.oid) AS bound
             FROM pg_inherits i
             JOIN pg_class c ON c.oid = i.inhrelid
             JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE i.inhparent = shadow
             ORDER BY c.relname LOOP
        EXECUTE format('ALTER TABLE %s DETACH PARTITION %s', shadow, p.part);
        IF p.final THEN
            EXECUTE format('ALTER TABLE dw.%I ATTACH PARTITION %s %s', p_table, p.part, p.bound);
            -- the partition is not visible to a reader before this
            -- transaction commits: its lock waits for no one
            EXECUTE format('ALTER TABLE %s DROP CONSTRAINT bulk_month', p.part);
        ELSE
            EXECUTE format('INSERT INTO dw.%I (%s) SELECT %2$s FROM %s', p_table, cols, p.part);
            EXECUTE format('DROP TABLE %s', p.part);
        END IF;
    END LOOP;
    EXECUTE format('DROP TABLE %s', shadow);
END
$$;

-- Makes p_target hold exactly the rows of p_source (a table of the same
-- columns), writing only the differences: the rows whose key is gone
-- deleted, the rows that differ updated, the new ones inserted.  This is
-- how a derivation rewrites a table whole (a rescore, a full run):
-- TRUNCATE would lock it ACCESS EXCLUSIVE, and every read of mart would
-- wait for the whole transaction; and a rescore that changes little
-- writes little.
-- Dynamic: the tables, their columns and keys named at run time.
CREATE FUNCTION etl._sync(p_target regclass, p_source regclass, p_keys text[])
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    cols text;
    sets text;
    olds text;
    news text;
    keys text;
BEGIN
    SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum),
           string_agg(format('%1$I = s.%1$I', a.attname), ', ' ORDER BY a.attnum)
               FILTER (WHERE NOT a.attname = ANY (p_keys)),
           string_agg('t.' || quote_ident(a.attname), ', ' ORDER BY a.attnum)
               FILTER (WHERE NOT a.attname = ANY (p_keys)),
           string_agg('s.' || quote_ident(a.attname), ', ' ORDER BY a.attnum)
               FILTER (WHERE NOT a.attname = ANY (p_keys))
    INTO cols, sets, olds, news
    FROM pg_attribute a
    WHERE a.attrelid = p_target AND a.attnum > 0 AND NOT a.attisdropped;
    SELECT string_agg(format('t.%1$I = s.%1$I', k), ' AND ') INTO keys FROM unnest(p_keys) k;

    EXECUTE format('DELETE FROM %s t WHERE NOT EXISTS (SELECT FROM %s s WHERE %s)',
                   p_target, p_source, keys);
    EXECUTE format('UPDATE %s t SET %s FROM %s s WHERE %s AND ROW(%s) IS DISTINCT FROM ROW(%s)',
                   p_target, sets, p_source, keys, olds, news);
    EXECUTE format('INSERT INTO %1$s (%2$s) SELECT %2$s FROM %3$s s
                    WHERE NOT EXISTS (SELECT FROM %1$s t WHERE %4$s)',
                   p_target, cols, p_source, keys);
END
$$;

-- Adds minus every row of p_table to p_delta (a table of its columns):
-- the counts of a table kept by signed deltas (dw.unit_month,
-- dw.step_month, dw.form06_day), counted again from scratch on top of
-- this, change by the difference only, and only the rows that moved are
-- written (the same reason as etl._sync's).
-- Dynamic: the columns named at run time.
CREATE FUNCTION etl._subtract_all(p_table regclass, p_delta regclass) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    cols text;
    vals text;
BEGIN
    SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum),
           string_agg(CASE WHEN a.atttypid IN ('int2'::regtype, 'int4'::regtype,
                                               'int8'::regtype, 'numeric'::regtype)
                           THEN '-' ELSE '' END || quote_ident(a.attname),
                      ', ' ORDER BY a.attnum)
    INTO cols, vals
    FROM pg_attribute a
    WHERE a.attrelid = p_table AND a.attnum > 0 AND NOT a.attisdropped;
    EXECUTE format('INSERT INTO %s (%s) SELECT %s FROM %s', p_delta, cols, vals, p_table);
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

