-- 001: schemas and the administrators' tables (interfaces.md, "what
-- administrators read").  etl = bookkeeping, dw = warehouse, mart = BI.

CREATE SCHEMA IF NOT EXISTS etl;
CREATE SCHEMA IF NOT EXISTS dw;
CREATE SCHEMA IF NOT EXISTS mart;

-- One id per invocation of a writing command: the rows of every source loaded
-- by that invocation carry it, for the cross-source tie rule.
CREATE SEQUENCE etl.batch_seq;

CREATE TABLE etl.run (
    run_id        bigserial PRIMARY KEY,
    source        text,                       -- NULL for rescore
    command       text NOT NULL
                  CHECK (command IN ('run', 'rerun', 'load-file', 'rescore')),
    started_at    timestamptz NOT NULL DEFAULT now(),
    finished_at   timestamptz,
    status        text NOT NULL DEFAULT 'running'
                  CHECK (status IN ('running', 'succeeded', 'failed')),
    window_from   timestamptz,
    window_to     timestamptz,
    rows_read     bigint NOT NULL DEFAULT 0,
    rows_loaded   bigint NOT NULL DEFAULT 0,
    rows_rejected bigint NOT NULL DEFAULT 0,
    error         text,
    batch_id      bigint,
    mode          text CHECK (mode IN ('nightly', 'backfill', 'full', 'file')),
    file_name     text,
    rerun_of      bigint REFERENCES etl.run (run_id),
    pid           int
);
CREATE INDEX run_source_started_idx ON etl.run (source, started_at DESC);
CREATE INDEX run_status_idx ON etl.run (status) WHERE status <> 'succeeded';
CREATE INDEX run_batch_idx ON etl.run (batch_id);

CREATE TABLE etl.run_entity (
    run_id          bigint NOT NULL REFERENCES etl.run (run_id) ON DELETE CASCADE,
    entity          text NOT NULL
                    CHECK (entity IN ('donvi', 'thutuc', 'hoso', 'bosung', 'quatrinh')),
    rows_read       bigint NOT NULL DEFAULT 0,
    rows_loaded     bigint NOT NULL DEFAULT 0,
    rows_rejected   bigint NOT NULL DEFAULT 0,
    rows_superseded bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (run_id, entity),
    CHECK (rows_read = rows_loaded + rows_rejected + rows_superseded)
);

CREATE TABLE etl.reject (
    reject_id   bigserial PRIMARY KEY,
    run_id      bigint NOT NULL REFERENCES etl.run (run_id) ON DELETE CASCADE,
    source      text NOT NULL,
    entity      text NOT NULL
                CHECK (entity IN ('donvi', 'thutuc', 'hoso', 'bosung', 'quatrinh')),
    row_number  bigint,
    reason      text NOT NULL,
    column_name text,
    raw         text                          -- personal fields masked as ***
);
CREATE INDEX reject_run_idx ON etl.reject (run_id);

CREATE TABLE etl.watermark (
    source        text NOT NULL,
    entity        text NOT NULL
                  CHECK (entity IN ('donvi', 'thutuc', 'hoso', 'bosung', 'quatrinh')),
    updated_until timestamptz NOT NULL,
    PRIMARY KEY (source, entity)
);

COMMENT ON SCHEMA etl IS 'onestop-etl bookkeeping: runs, rejects, watermarks';
COMMENT ON SCHEMA dw IS 'onestop-etl warehouse: stored source rows, rules, derived state';
COMMENT ON SCHEMA mart IS 'Kho dữ liệu một cửa — one-stop marts read by BI tools';
