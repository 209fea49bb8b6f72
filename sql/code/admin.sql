-- admin

-- Moves a watermark forward only: a backfill never moves it back.
CREATE FUNCTION etl.advance_watermark(p_source text, p_entity text,
                                      p_until timestamptz)
RETURNS void LANGUAGE sql AS $$
    INSERT INTO etl.watermark AS w (source, entity, updated_until)
    SELECT p_source, p_entity, p_until
    WHERE p_until IS NOT NULL
    ON CONFLICT (source, entity) DO UPDATE
        SET updated_until = greatest(w.updated_until, EXCLUDED.updated_until);
$$;

