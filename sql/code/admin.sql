-- admin: the administrators' bookkeeping (interfaces.md, "what
-- administrators read"; the tables are sql/migrations/001_admin.sql's).
-- The rule that lives here is the watermark rule: how far the next night
-- asks a source for changes (etl.advance_watermark, etl.watermark_cap).
-- onestop-etl calls it after each source's merge (etl/pipeline.c); the
-- tests call it as it is.

-- How far past the source's clock a watermark may go (interfaces.md): the
-- clock plus five minutes, so that rows stamped by a clock running ahead
-- do not make every later night ask for nothing.
CREATE FUNCTION etl.watermark_cap(p_clock timestamptz) RETURNS timestamptz
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT p_clock + interval '5 minutes' $$;

-- The watermark rule.  A source's watermark for an entity moves forward
-- only, to the latest CapNhatLuc loaded (p_until), never past
-- etl.watermark_cap of the source's clock (p_clock; NULL: no cap).  With
-- nothing loaded (p_until NULL) a watermark already past the cap (stored
-- by a version without it) comes back to it: no row would ever come to
-- correct it, and reading again is safe.  A backfill window starting at
-- p_window_from moves only a watermark already at or past that start, and
-- sets none: the changes between the two would never be asked for, and no
-- watermark means "ask for everything".  Returns the watermark that the
-- cap brought back, NULL when it did not.
CREATE FUNCTION etl.advance_watermark(p_source text, p_entity text, p_until timestamptz,
                                      p_clock timestamptz DEFAULT NULL,
                                      p_window_from timestamptz DEFAULT NULL)
RETURNS timestamptz
LANGUAGE plpgsql AS $$
DECLARE
    cap timestamptz := etl.watermark_cap(p_clock);
    was timestamptz;
BEGIN
    SELECT w.updated_until INTO was FROM etl.watermark w
    WHERE w.source = p_source AND w.entity = p_entity
    FOR UPDATE;
    IF p_until IS NOT NULL AND (p_window_from IS NULL OR was >= p_window_from) THEN
        -- least() passes over a NULL cap
        INSERT INTO etl.watermark AS w (source, entity, updated_until)
        VALUES (p_source, p_entity, least(p_until, cap))
        ON CONFLICT (source, entity) DO UPDATE
            SET updated_until = least(greatest(w.updated_until, EXCLUDED.updated_until), cap);
        RETURN NULL;
    END IF;
    IF p_until IS NULL AND was > cap THEN
        UPDATE etl.watermark w SET updated_until = cap
        WHERE w.source = p_source AND w.entity = p_entity;
        RETURN was;
    END IF;
    RETURN NULL;
END
$$;

COMMENT ON FUNCTION etl.advance_watermark(text, text, timestamptz, timestamptz, timestamptz) IS
    'moves a source/entity watermark forward (never back) to p_until, at most to the source clock p_clock + 5 minutes; see sql/code/admin.sql';

-- What a migration needs done once the current code is in place (pgload.c
-- runs it at the end of every migrate, in its transaction): a migration
-- holds state only, so a new derived table of a warehouse that already
-- holds dossiers is filled here.  Each step does nothing when it is not
-- needed, so running it again is harmless.
CREATE FUNCTION etl.after_migrate() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    -- 014, 016: a warehouse derived before a column of the derivation
    -- existed (014: Decision 766's, NULL in unit_kpi; 016: form 06's field
    -- and supplement stops in dw.dossier_derived): everything derived
    -- again, as the start of this migrate sees it.  Form 06 is filled by
    -- it too.
    IF EXISTS (SELECT FROM mart.unit_kpi WHERE progress_total IS NULL)
       OR EXISTS (SELECT FROM dw.dossier_derived
                  WHERE class <> 'not_received' AND receipt_date IS NOT NULL
                    AND field_code IS NULL) THEN
        PERFORM etl.rescore(now());
    END IF;
END
$$;
