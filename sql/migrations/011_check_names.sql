-- 011: three CHECK constraints of a warehouse made by release 9 carry a
-- "1" (its 007 created the partitioned tables while version 6's, holding
-- the plain names, still existed).  They take the plain names that a new
-- warehouse gives them (002); the partitions follow their parent.
DO $$
DECLARE
    c record;
BEGIN
    FOR c IN
        SELECT conrelid::regclass AS rel, conname
        FROM pg_constraint
        WHERE conrelid IN ('dw.dossier'::regclass, 'dw.log_step'::regclass)
          AND conname IN ('dossier_channel_check1', 'dossier_status_check1',
                          'log_step_status_check1')
    LOOP
        EXECUTE format('ALTER TABLE %s RENAME CONSTRAINT %I TO %I',
                       c.rel, c.conname, left(c.conname, -1));
    END LOOP;
END
$$;
