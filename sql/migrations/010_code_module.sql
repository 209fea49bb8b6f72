-- 010: the code modules (sql/code/*.sql) and the hash of each as last
-- applied.  `onestop-etl migrate` applies the migrations it lacks, then,
-- in the same transaction, drops every function and view of etl, dw and
-- mart and applies the code modules again when any hash differs from the
-- program's (etl/pgload.c, pg_migrate).
CREATE TABLE etl.code_module (
    name       text PRIMARY KEY,
    hash       text NOT NULL,     -- cksum of the file as embedded: CRC-SIZE
    applied_at timestamptz NOT NULL DEFAULT now()
);
