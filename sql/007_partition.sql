-- 007: the scale shape (issue 4, README "Growing past one machine").
--
-- dw.dossier, dw.supplement and dw.log_step are partitioned by month, and
-- keyed so that Citus can distribute all three, co-located, on the unit.
--
-- Where a dossier lives: its "home", (unit_code, home_month).
--   unit_code   the dossier's MaDonVi, as its stored version says;
--   home_month  the local month of NgayTiepNhan; for a dossier not received
--               (status 1 or 3, NgayTiepNhan empty) the month of
--               NgayNopHoSo, else of CapNhatLuc (dw.home_month).
-- The home is a function of the stored version only, so two load histories
-- that end with the same rows store them in the same place (the integration
-- tests compare a night-by-night warehouse with a single load, byte for byte).
--
-- The catch, and how it is met:
--   * A primary key on a partitioned table must hold the partition key, and a
--     Citus key the distribution column: every key below is
--     (source key, unit_code, home_month).  Uniqueness of the source key
--     alone is kept by dw.dossier_key (ma_ho_so -> current home), which the
--     merge reads to find the stored version of a row and updates when a
--     dossier moves; in Citus it is a table distributed by ma_ho_so.
--   * The home can change between versions (NgayTiepNhan set after status 1,
--     corrected to another month; MaDonVi corrected): the merge then moves the
--     dossier and everything stored under it (its derived row, supplements and
--     log steps) to the new home, delete + insert, in the same transaction.
--     This is rare (a receipt changes month, a unit is corrected): the common
--     case, a new version in the same home, is an UPDATE in one partition.
--   * Supplements and log steps do not name the unit: they carry their
--     dossier's home (unit_code, home_month), written by the merge from
--     dw.dossier_key.  A row whose dossier is not yet known (sources lag) waits
--     under the home ('', 0001-01-01); when the dossier arrives it is moved
--     to the dossier's home.
--
-- Why the log is partitioned by its dossier's month and not by ThoiDiemXuLy:
-- every derivation reads a dossier's log as a whole (on the software: the
-- receipt, handling and result steps; step delays under the dossier's unit),
-- and the merge must find the stored version of each (MaHoSo, ThuTu).  Under
-- the dossier's home both are one partition (pruned, partition-wise joins);
-- under the step's own month they would probe every month's index, since
-- PostgreSQL has no global index.  A dossier's steps fall in its month of
-- receipt or the next few, so "a night touches recent partitions only" holds
-- all the same, and detaching an old month takes whole dossiers with their
-- logs.
--
-- Derived columns leave dw.dossier for dw.dossier_derived (same home, same
-- partitions): a full derivation writes them once, as an INSERT, instead of
-- updating every dossier; the log keeps no derived columns at all (a step's
-- contribution to dw.step_month is a function of the step and of its dossier's
-- derived row).  mart.dossier joins the two.
--
-- Partitions are created on demand, by the merge, one per month that holds a
-- home (dw.add_partitions).
--
-- The codes that key these tables (ma_ho_so, unit_code, procedure_code) are
-- compared byte for byte (COLLATE "C"): they are ASCII identifiers, and a
-- linguistic collation makes every sort and index build of a bulk load about
-- twice as slow.  Against a column of the default collation the "C" side
-- wins, so joins with the other tables need no COLLATE clause.

-- The month a dossier version is stored under.
CREATE FUNCTION dw.home_month(received_at timestamptz, submitted_at timestamptz,
                              updated_at timestamptz) RETURNS date
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT date_trunc('month', coalesce(received_at, submitted_at, updated_at)
                               AT TIME ZONE 'Asia/Ho_Chi_Minh')::date
$$;

-- The home of supplement and log rows whose dossier is not (yet) known.
CREATE FUNCTION dw.orphan_month() RETURNS date
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT date '0001-01-01' $$;

CREATE FUNCTION dw.partitioned_tables() RETURNS text[]
LANGUAGE sql IMMUTABLE AS $$
    SELECT ARRAY['dossier', 'dossier_derived', 'supplement', 'log_step']
$$;

-- Creates the monthly partitions of every dossier-keyed table that the given
-- months lack (name: TABLE_pYYYYMM).
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
                EXECUTE format('CREATE TABLE dw.%I PARTITION OF dw.%I FOR VALUES FROM (%L) TO (%L)',
                               part, t, m, (m + interval '1 month')::date);
            END IF;
        END LOOP;
    END LOOP;
END
$$;

-- The tables of version 6 make way.
DROP VIEW mart.dossier;
ALTER TABLE dw.dossier RENAME TO dossier_v6;
ALTER TABLE dw.supplement RENAME TO supplement_v6;
ALTER TABLE dw.log_step RENAME TO log_step_v6;
ALTER TABLE dw.dossier_v6 DROP CONSTRAINT dossier_pkey;
ALTER TABLE dw.supplement_v6 DROP CONSTRAINT supplement_pkey;
ALTER TABLE dw.log_step_v6 DROP CONSTRAINT log_step_pkey;
DROP INDEX dw.dossier_receipt_idx, dw.dossier_finish_idx, dw.dossier_procedure_idx;

-- Where each known dossier lives.
CREATE TABLE dw.dossier_key (
    ma_ho_so   text COLLATE "C" PRIMARY KEY,
    unit_code  text COLLATE "C" NOT NULL,
    home_month date NOT NULL
);

-- Dossiers (hoso): the stored version, under its home.
CREATE TABLE dw.dossier (
    ma_ho_so         text COLLATE "C" NOT NULL,
    unit_code        text COLLATE "C" NOT NULL,
    home_month       date NOT NULL,
    procedure_code   text COLLATE "C" NOT NULL,
    channel          smallint NOT NULL CHECK (channel BETWEEN 1 AND 3),
    status           smallint NOT NULL CHECK (status BETWEEN 1 AND 10),
    submitted_at     timestamptz,
    received_at      timestamptz,
    due_at           timestamptz,
    finished_at      timestamptz,
    returned_at      timestamptz,
    paid_online      boolean NOT NULL DEFAULT false,
    updated_at       timestamptz NOT NULL,
    source           text NOT NULL,
    source_rank      int NOT NULL,
    batch_id         bigint,
    run_id           bigint,
    loaded_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (ma_ho_so, unit_code, home_month)
) PARTITION BY RANGE (home_month);
-- the dossiers a catalogue version applies to
CREATE INDEX dossier_procedure_idx ON dw.dossier (unit_code, procedure_code, received_at);

-- What a dossier counts as (rules.md), written only by etl.derive /
-- etl.rescore.  class, the k_ columns, receipt_date, finish_date and the
-- flags are what it is counted as in dw.unit_month and, with its log, in
-- dw.step_month: a re-derivation subtracts them before it recounts it.
CREATE TABLE dw.dossier_derived (
    ma_ho_so         text COLLATE "C" NOT NULL,
    unit_code        text COLLATE "C" NOT NULL,
    home_month       date NOT NULL,
    class            text NOT NULL CHECK (class IN ('not_received', 'in_progress', 'paused',
                                                    'withdrawn', 'resolved')),
    k_unit           text NOT NULL,
    k_channel        smallint NOT NULL,
    k_paid_online    boolean NOT NULL,
    receipt_date     date,     -- local date of received_at, class <> not_received
    finish_date      date,     -- local date of finished_at, class <> not_received
    effective_receipt_day date,
    legal_days       int,
    extension_days   int,
    legal_due_date   date,
    declared_outcome text CHECK (declared_outcome IN ('early', 'on_time', 'late')),
    legal_outcome    text CHECK (legal_outcome IN ('early', 'on_time', 'late', 'unknown')),
    masked_late      boolean,
    on_software      boolean,
    online_eligible  boolean NOT NULL,
    fee_received     boolean NOT NULL,
    PRIMARY KEY (ma_ho_so, unit_code, home_month)
) PARTITION BY RANGE (home_month);

-- Supplement requests (bosung), under their dossier's home.
CREATE TABLE dw.supplement (
    ma_ho_so     text COLLATE "C" NOT NULL,
    seq          int NOT NULL,
    unit_code    text COLLATE "C" NOT NULL,
    home_month   date NOT NULL,
    requested_at timestamptz NOT NULL,
    returned_at  timestamptz,
    prev_due_at  timestamptz,
    new_due_at   timestamptz,
    state        text,
    updated_at   timestamptz NOT NULL,
    source       text NOT NULL,
    source_rank  int NOT NULL,
    batch_id     bigint,
    run_id       bigint,
    loaded_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (ma_ho_so, seq, unit_code, home_month)
) PARTITION BY RANGE (home_month);

-- Processing log (quatrinh), under its dossier's home.
CREATE TABLE dw.log_step (
    ma_ho_so      text COLLATE "C" NOT NULL,
    seq           int NOT NULL,
    unit_code     text COLLATE "C" NOT NULL,
    home_month    date NOT NULL,
    status        smallint NOT NULL CHECK (status BETWEEN 1 AND 10),
    done_at       timestamptz NOT NULL,
    department    text,
    handler       text,
    handler_title text,
    content       text,
    started_at    timestamptz,
    step_due_at   timestamptz,
    updated_at    timestamptz NOT NULL,
    source        text NOT NULL,
    source_rank   int NOT NULL,
    batch_id      bigint,
    run_id        bigint,
    loaded_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (ma_ho_so, seq, unit_code, home_month)
) PARTITION BY RANGE (home_month);

COMMENT ON TABLE dw.dossier_key IS
    'where each known dossier is stored: its home (unit_code, home_month) in dw.dossier, dw.dossier_derived, dw.supplement, dw.log_step';
COMMENT ON COLUMN dw.dossier.home_month IS
    'partition month: local month of received_at, else submitted_at, else updated_at (dw.home_month)';
COMMENT ON COLUMN dw.supplement.unit_code IS
    'the home of the dossier: its unit_code; empty while the dossier is not known';
COMMENT ON COLUMN dw.supplement.home_month IS
    'the home of the dossier: its home_month; 0001-01-01 while the dossier is not known';
COMMENT ON COLUMN dw.log_step.unit_code IS
    'the home of the dossier: its unit_code; empty while the dossier is not known';
COMMENT ON COLUMN dw.log_step.home_month IS
    'the home of the dossier: its home_month; 0001-01-01 while the dossier is not known';

-- The rows of version 6, moved in.
INSERT INTO dw.dossier_key (ma_ho_so, unit_code, home_month)
SELECT ma_ho_so, unit_code, dw.home_month(received_at, submitted_at, updated_at)
FROM dw.dossier_v6;

SELECT dw.add_partitions(array_append(ARRAY(SELECT DISTINCT home_month FROM dw.dossier_key),
                                      dw.orphan_month()));

INSERT INTO dw.dossier
SELECT d.ma_ho_so, d.unit_code, k.home_month, d.procedure_code, d.channel, d.status,
       d.submitted_at, d.received_at, d.due_at, d.finished_at, d.returned_at, d.paid_online,
       d.updated_at, d.source, d.source_rank, d.batch_id, d.run_id, d.loaded_at
FROM dw.dossier_v6 d JOIN dw.dossier_key k USING (ma_ho_so);

INSERT INTO dw.dossier_derived
SELECT d.ma_ho_so, d.unit_code, k.home_month, d.class, d.k_unit, d.k_channel, d.k_paid_online,
       d.receipt_date, d.finish_date, d.effective_receipt_day, d.legal_days,
       d.extension_days, d.legal_due_date, d.declared_outcome, d.legal_outcome,
       d.masked_late, d.on_software, d.online_eligible, d.fee_received
FROM dw.dossier_v6 d JOIN dw.dossier_key k USING (ma_ho_so)
WHERE d.class IS NOT NULL;

INSERT INTO dw.supplement
SELECT s.ma_ho_so, s.seq, coalesce(k.unit_code, ''), coalesce(k.home_month, dw.orphan_month()),
       s.requested_at, s.returned_at, s.prev_due_at, s.new_due_at, s.state, s.updated_at,
       s.source, s.source_rank, s.batch_id, s.run_id, s.loaded_at
FROM dw.supplement_v6 s LEFT JOIN dw.dossier_key k USING (ma_ho_so);

INSERT INTO dw.log_step
SELECT s.ma_ho_so, s.seq, coalesce(k.unit_code, ''), coalesce(k.home_month, dw.orphan_month()),
       s.status, s.done_at, s.department, s.handler, s.handler_title, s.content,
       s.started_at, s.step_due_at, s.updated_at, s.source, s.source_rank, s.batch_id,
       s.run_id, s.loaded_at
FROM dw.log_step_v6 s LEFT JOIN dw.dossier_key k USING (ma_ho_so);

DROP TABLE dw.dossier_v6, dw.supplement_v6, dw.log_step_v6;

-- mart.dossier: the stored version with what it counts as.
CREATE VIEW mart.dossier AS
SELECT d.ma_ho_so, d.source, d.unit_code, d.procedure_code, d.channel, d.status, x.class,
       d.received_at, d.due_at, d.finished_at, d.returned_at, x.legal_days, x.extension_days,
       x.legal_due_date, x.declared_outcome, x.legal_outcome, x.masked_late, x.on_software,
       d.paid_online, d.updated_at
FROM dw.dossier d
LEFT JOIN dw.dossier_derived x USING (ma_ho_so, unit_code, home_month);

COMMENT ON VIEW mart.dossier IS
    'Hồ sơ — one row per dossier, with its legal due date and outcomes';
DO $$
DECLARE
    c record;
BEGIN
    -- the same words as 003 gave the columns of version 6's view
    FOR c IN
        SELECT * FROM (VALUES
        ('ma_ho_so', 'Mã hồ sơ — dossier code (MaHoSo), national key'),
        ('source', 'Nguồn — the configured source the current version came from'),
        ('unit_code', 'Mã đơn vị — unit code (MaDonVi)'),
        ('procedure_code', 'Mã thủ tục hành chính — procedure code (MaTTHC)'),
        ('channel', 'Kênh thực hiện — channel (KenhThucHien): 1 in person, 2 online, 3 postal'),
        ('status', 'Trạng thái hồ sơ — dossier status (TrangThaiHoSo) 1..10'),
        ('class', 'Nhóm trạng thái — dossier class: not_received, in_progress, paused, withdrawn, resolved'),
        ('received_at', 'Ngày tiếp nhận — received (NgayTiepNhan)'),
        ('due_at', 'Ngày hẹn trả — appointment the software shows now (NgayHenTra)'),
        ('finished_at', 'Ngày kết thúc xử lý — processing finished, result ready (NgayKetThucXuLy)'),
        ('returned_at', 'Ngày trả kết quả — result delivered (NgayTra)'),
        ('legal_days', 'Thời hạn giải quyết — N, legal processing time in working days of the catalogue version in force at receipt'),
        ('extension_days', 'Số ngày bổ sung — working days the clock stopped for returned supplements'),
        ('legal_due_date', 'Hạn giải quyết theo quy định — legal due date (local date); NULL when the procedure is not in the catalogue'),
        ('declared_outcome', 'Kết quả theo ngày hẹn — outcome against the appointment: early, on_time, late; NULL unless resolved'),
        ('legal_outcome', 'Kết quả theo quy định — outcome against the legal due date: early, on_time, late, unknown; NULL unless resolved'),
        ('masked_late', 'Trễ hạn bị che — declared early or on time but legally late; NULL unless resolved'),
        ('on_software', 'Xử lý trên phần mềm — processed on the software; NULL for not_received'),
        ('paid_online', 'Thanh toán trực tuyến — the source''s flag DuocThanhToanTrucTuyen'),
        ('updated_at', 'Cập nhật lúc — last change at the source (CapNhatLuc)')) v (col, txt)
    LOOP
        EXECUTE format('COMMENT ON COLUMN mart.dossier.%I IS %L', c.col, c.txt);
    END LOOP;
END
$$;

-- The BI role: read mart, nothing else (003's block again, now warning when
-- the role is missing: BI tools will be refused until someone acts).
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'onestop_bi') THEN
        IF (SELECT rolcreaterole OR rolsuper FROM pg_roles
            WHERE rolname = current_user) THEN
            CREATE ROLE onestop_bi NOLOGIN;
        ELSE
            RAISE WARNING 'role onestop_bi is missing and % cannot create it: skipping its grants',
                current_user
                USING HINT = 'create the role as a superuser, then grant it: see README, "The warehouse and its roles"';
            RETURN;
        END IF;
    END IF;
    GRANT USAGE ON SCHEMA mart TO onestop_bi;
    GRANT SELECT ON ALL TABLES IN SCHEMA mart TO onestop_bi;
    ALTER DEFAULT PRIVILEGES IN SCHEMA mart GRANT SELECT ON TABLES TO onestop_bi;
END
$$;
