-- lineage: units across reorganisations (rules.md, "Units across
-- reorganisations").  Rules that live here:
--   * what a lineage file may say (etl._check_lineage_staging; onestop-etl
--     checks the file first, etl/lineage.c, and names the lines);
--   * the current unit of a code: the end of its chain of rows, whatever
--     their dates (etl.apply_lineage keeps it in dw.unit_lineage.current_code;
--     dw.current_unit reads it);
--   * the catalogue counts of a unit at the end of a period, across a
--     reorganisation (dw.catalogue_counts, which kpi.sql's procedures_*
--     read): an ended unit counts none, a successor's catalogue begins
--     when it was published;
--   * dossiers recorded under a code on or after its end: counted as
--     recorded, and reported per code (dw.recorded_after_end);
--   * the file's hash, and what a change of it re-derives
--     (etl.apply_lineage: the catalogue counts and scores of the units its
--     changed rows name, etl._relineage_kpi).
-- The staging table is a temporary table of the applying transaction,
-- filled by etl/pipeline.c beside the calendar and profiles.

CREATE FUNCTION etl.create_lineage_staging() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF to_regclass('pg_temp.stg_lineage') IS NOT NULL THEN
        DROP TABLE pg_temp.stg_lineage;
    END IF;
    CREATE TEMP TABLE stg_lineage (
        from_code text,
        to_code   text,
        effective date,
        basis     text,
        line      int
    ) ON COMMIT DROP;
END
$$;

-- The checks of etl/lineage.c again, for rows that did not come through it.
CREATE FUNCTION etl._check_lineage_staging() RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    bad record;
BEGIN
    SELECT * INTO bad FROM pg_temp.stg_lineage
    WHERE from_code IS NULL OR from_code = '' OR to_code IS NULL OR to_code = ''
       OR effective IS NULL OR from_code = to_code LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'lineage: bad row (line %, from_code %, to_code %, effective %)',
            bad.line, bad.from_code, bad.to_code, bad.effective
            USING HINT = 'from_code, to_code and effective are required, and from_code <> to_code';
    END IF;
    SELECT from_code, string_agg(line::text, ', ' ORDER BY line) AS lines INTO bad
    FROM pg_temp.stg_lineage GROUP BY from_code HAVING count(*) > 1 LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'lineage: from_code % is given more than once (lines %)',
            bad.from_code, bad.lines;
    END IF;
    WITH RECURSIVE walk (from_code, at) AS (
        SELECT from_code, to_code FROM pg_temp.stg_lineage
        UNION ALL
        SELECT w.from_code, s.to_code
        FROM walk w JOIN pg_temp.stg_lineage s ON s.from_code = w.at
    ) CYCLE at SET looped USING trail
    SELECT from_code INTO bad FROM walk WHERE looped LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'lineage: the chain from % is a cycle', bad.from_code;
    END IF;
END
$$;

-- The catalogue rows of a unit in force (DangApDung = 1) at p_cut, the
-- moment just after the end of a period (the end of its last day, or just
-- after the run's start for a period not ended): each procedure's latest
-- version before p_cut, else its earliest (rules.md, "Catalogue
-- history"); but
--   * a unit whose code ended on or before the local date of the end of
--     the period counts none;
--   * a unit that a lineage row names as to_code counts only procedures
--     with a version before p_cut: no earliest-version fallback, as its
--     catalogue begins when it was published.
-- One SELECT, so that the planner inlines it in etl._build_unit_kpi.
CREATE FUNCTION dw.catalogue_counts(p_unit text, p_cut timestamptz)
RETURNS TABLE (total bigint, level2plus bigint, level3plus bigint, level4 bigint)
LANGUAGE sql STABLE AS $$
    SELECT count(*) FILTER (WHERE v.in_force),
           count(*) FILTER (WHERE v.in_force AND v.level >= 2),
           count(*) FILTER (WHERE v.in_force AND v.level >= 3),
           count(*) FILTER (WHERE v.in_force AND v.level = 4)
    FROM dw.procedure_version v
    WHERE v.unit_code = p_unit
      AND (v.updated_at < p_cut
           OR (v.is_first AND NOT EXISTS (SELECT FROM dw.unit_lineage l
                                          WHERE l.to_code = p_unit)))
      AND (v.valid_to >= p_cut OR v.valid_to IS NULL)
      AND NOT EXISTS (SELECT FROM dw.unit_lineage l
                      WHERE l.from_code = p_unit
                        AND l.effective <= dw.local_date(p_cut - interval '1 microsecond'))
$$;

-- The units whose catalogue counts a change of the lineage may move: both
-- codes of every row added, removed or changed (its code, successor or
-- date; not its basis), as pg_temp.touched_kpi rows of every period of
-- mart.unit_kpi; then those rows and their scores rebuilt, at the moment
-- the marts were last derived at, so that nothing else in them moves.
-- Nothing derived yet (last_as_of NULL): nothing to rebuild.
CREATE FUNCTION etl._relineage_kpi() RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    st dw.state;
BEGIN
    SELECT * INTO st FROM dw.state;
    IF st.last_as_of IS NULL THEN
        RETURN;
    END IF;
    PERFORM etl._create_work();
    WITH changed AS (
        (SELECT from_code, to_code, effective FROM dw.unit_lineage
         EXCEPT SELECT from_code, to_code, effective FROM pg_temp.stg_lineage)
        UNION
        (SELECT from_code, to_code, effective FROM pg_temp.stg_lineage
         EXCEPT SELECT from_code, to_code, effective FROM dw.unit_lineage)
    ), named AS (
        SELECT from_code AS unit_code FROM changed
        UNION SELECT to_code FROM changed
    )
    INSERT INTO pg_temp.touched_kpi
    SELECT k.unit_code, k.period_kind, k.period_start
    FROM mart.unit_kpi k JOIN named USING (unit_code)
    ON CONFLICT DO NOTHING;
END
$$;

-- Apply the staged lineage when its hash changed; true when it did.  The
-- hash covers what the rules read (codes and dates, basis too, as it is
-- shown), not the lines: moving a row changes nothing.  What depends on
-- the lineage is re-derived here: the catalogue counts and scores of the
-- units it names (mart.unit and the marts by current unit read it as
-- they are asked).
CREATE FUNCTION etl.apply_lineage() RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    v_hash text;
    st     dw.state;
BEGIN
    PERFORM etl._check_lineage_staging();
    SELECT md5(coalesce(string_agg(format('%s,%s,%s,%s', from_code, to_code, effective,
                                          nullif(basis, '')),
                                   E'\n' ORDER BY from_code), ''))
    INTO v_hash FROM pg_temp.stg_lineage;
    IF v_hash = (SELECT lineage_hash FROM dw.lineage_state FOR UPDATE) THEN
        RETURN false;
    END IF;
    SELECT * INTO st FROM dw.state FOR UPDATE;
    PERFORM etl._relineage_kpi();

    DELETE FROM dw.unit_lineage;
    -- each row with the end of its chain: its longest walk
    INSERT INTO dw.unit_lineage (from_code, to_code, effective, basis, current_code, line)
    WITH RECURSIVE walk (from_code, at, depth) AS (
        SELECT s.from_code, s.to_code, 1 FROM pg_temp.stg_lineage s
        UNION ALL
        SELECT w.from_code, s.to_code, w.depth + 1
        FROM walk w JOIN pg_temp.stg_lineage s ON s.from_code = w.at
    ), chain_end AS (
        SELECT DISTINCT ON (from_code) from_code, at
        FROM walk ORDER BY from_code, depth DESC
    )
    SELECT s.from_code, s.to_code, s.effective, nullif(s.basis, ''), e.at, s.line
    FROM pg_temp.stg_lineage s JOIN chain_end e USING (from_code);
    UPDATE dw.lineage_state SET lineage_hash = v_hash;

    IF st.last_as_of IS NOT NULL THEN
        PERFORM etl._build_unit_kpi(st.span_from, st.span_to, st.last_as_of);
        PERFORM etl._build_compliance();
        PERFORM etl._clear_work();
    END IF;
    RETURN true;
END
$$;

-- The current unit of a code: the end of its chain, the code itself
-- without a row.
CREATE FUNCTION dw.current_unit(p_code text) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT coalesce((SELECT current_code FROM dw.unit_lineage WHERE from_code = p_code),
                    p_code)
$$;

-- The SELECT of a relation of mart (mart.unit_kpi, mart.form06) by
-- current unit, for marts.sql to make a view of: the rows of every unit
-- whose current unit is the same summed, grouped by p_keys (the period,
-- the field); unit_code is the current unit, unit_name (if the relation
-- has one) its donvi name.  The columns are the relation's, in its order:
-- what it gains, its roll-up gains.  A whole-number column is summed (in
-- its type); a rate is recomputed from the sums by its one definition,
-- dw.kpi_rates; any other column is an error, not a guess.
CREATE FUNCTION etl._by_current_unit_sql(p_rel regclass, p_keys text[]) RETURNS text
LANGUAGE plpgsql STABLE AS $$
DECLARE
    a      record;
    r      record;
    sums   text := '';
    rates  text := '';
    outer_ text := '';
BEGIN
    FOR a IN
        SELECT attname::text AS name, format_type(atttypid, atttypmod) AS typ
        FROM pg_attribute
        WHERE attrelid = p_rel AND attnum > 0 AND NOT attisdropped
        ORDER BY attnum
    LOOP
        IF a.name = 'unit_code' THEN
            outer_ := outer_ || ', r.current_code AS unit_code';
        ELSIF a.name = 'unit_name' THEN
            outer_ := outer_ || ', n.unit_name';
        ELSIF a.name = ANY (p_keys) THEN
            outer_ := outer_ || format(', r.%I', a.name);
        ELSIF a.typ IN ('smallint', 'integer', 'bigint') THEN
            sums := sums || format(', sum(k.%I)::%s AS %I', a.name, a.typ, a.name);
            outer_ := outer_ || format(', r.%I', a.name);
        ELSE
            SELECT * INTO r FROM dw.kpi_rates() d WHERE d.rate = a.name;
            IF NOT FOUND THEN
                RAISE EXCEPTION '%.%: no roll-up for a % column that is not a rate of dw.kpi_rates()',
                    p_rel, a.name, a.typ;
            END IF;
            rates := rates || format(', dw.pct((%s)::bigint, (%s)::bigint)::%s AS %I',
                                     r.numerator, r.denominator, a.typ, a.name);
            outer_ := outer_ || format(', r.%I', a.name);
        END IF;
    END LOOP;
    RETURN format(
        'SELECT %s
         FROM (SELECT s.* %s
               FROM (SELECT coalesce(l.current_code, k.unit_code) AS current_code, %s %s
                     FROM %s k
                     LEFT JOIN dw.unit_lineage l ON l.from_code = k.unit_code
                     GROUP BY 1, %s) s) r
         LEFT JOIN dw.unit n ON n.unit_code = r.current_code',
        substr(outer_, 3), rates,
        (SELECT string_agg(format('k.%I', x), ', ') FROM unnest(p_keys) x), sums,
        p_rel,
        (SELECT string_agg(format('k.%I', x), ', ') FROM unnest(p_keys) x));
END
$$;

-- The column comments of a view by current unit: its relation's, but for
-- unit_code and unit_name, which name the current unit.
CREATE FUNCTION etl._comment_by_current_unit(p_view regclass, p_rel regclass) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    a record;
BEGIN
    FOR a IN
        SELECT v.attname, CASE v.attname
            WHEN 'unit_code' THEN 'Mã đơn vị hiện nay — the current unit (mart.unit.current_code) whose own and predecessors'' rows are summed'
            WHEN 'unit_name' THEN 'Tên đơn vị hiện nay — the current unit''s name (TenDonVi); NULL where donvi lacks it'
            ELSE col_description(p_rel, b.attnum) END AS txt
        FROM pg_attribute v
        JOIN pg_attribute b ON b.attrelid = p_rel AND b.attname = v.attname
        WHERE v.attrelid = p_view AND v.attnum > 0
    LOOP
        EXECUTE format('COMMENT ON COLUMN %s.%I IS %L', p_view, a.attname, a.txt);
    END LOOP;
END
$$;

-- Dossiers recorded under a code on or after the day it ended: loaded and
-- counted as recorded (rules.md), but the source still uses a code that
-- no longer exists, and the run's log and status say so, per code.  Of
-- the dossiers whose current version came from p_source (NULL: every
-- source).  Without a lineage, nothing to join: no cost.
CREATE FUNCTION dw.recorded_after_end(p_source text)
RETURNS TABLE (unit_code text, ended_on date, current_code text, dossiers bigint)
LANGUAGE sql STABLE AS $$
    SELECT l.from_code, l.effective, l.current_code, count(*)
    FROM dw.unit_lineage l
    JOIN dw.dossier d
      ON d.unit_code = l.from_code
     AND d.received_at >= (l.effective::timestamp AT TIME ZONE 'Asia/Ho_Chi_Minh')
    WHERE p_source IS NULL OR d.source = p_source
    GROUP BY l.from_code, l.effective, l.current_code
    ORDER BY l.from_code
$$;

COMMENT ON FUNCTION etl.create_lineage_staging() IS
    'creates temp table stg_lineage(from_code, to_code, effective, basis, line), ON COMMIT DROP';
COMMENT ON FUNCTION etl.apply_lineage() IS
    'applies the staged lineage file when its hash changed (dw.unit_lineage, dw.lineage_state); true when it changed';
COMMENT ON FUNCTION dw.catalogue_counts(text, timestamptz) IS
    'procedures_total and its levels of a unit at p_cut (just after the end of a period), across reorganisations';
COMMENT ON FUNCTION dw.recorded_after_end(text) IS
    'per unit code that ended: the dossiers of a source (NULL: all) recorded under it on or after the day it ended';
COMMENT ON FUNCTION dw.current_unit(text) IS
    'the current unit of a unit code: the end of its lineage chain, else the code itself';
