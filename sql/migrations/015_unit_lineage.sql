-- 015: the unit lineage (rules.md, "Units across reorganisations"): the
-- rows of the lineage file ([rules] lineage) as last applied, each with
-- the end of its chain, and the file's hash beside the calendar's and the
-- profiles'.  The functions that fill and read them are
-- sql/code/lineage.sql.  Stored rows keep the code they were recorded
-- under: nothing here rewrites them.
CREATE TABLE dw.unit_lineage (
    from_code    text PRIMARY KEY,
    to_code      text NOT NULL CHECK (to_code <> from_code),
    effective    date NOT NULL,      -- the first day without from_code
    basis        text,               -- the act; NULL when the file leaves it empty
    current_code text NOT NULL,      -- the end of the chain from from_code
    line         int NOT NULL        -- its line in the file, for messages
);
CREATE INDEX unit_lineage_current ON dw.unit_lineage (current_code);

COMMENT ON TABLE dw.unit_lineage IS
    'the lineage file as last applied: a unit code that ended, who carried it on, and the current unit at the end of its chain';

-- The lineage file's hash, beside dw.state's of the calendar and profiles
-- (a table of its own: dw.state's columns are release 9's).  An empty
-- lineage (no file, or one without rows) hashes as md5(''): a warehouse
-- upgraded without a lineage file has nothing to re-derive.
CREATE TABLE dw.lineage_state (
    id           boolean PRIMARY KEY DEFAULT true CHECK (id),
    lineage_hash text NOT NULL DEFAULT md5('')
);
INSERT INTO dw.lineage_state DEFAULT VALUES;
