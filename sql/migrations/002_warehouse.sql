-- 002: the warehouse.  Stored rows keep the columns of the staging contract,
-- plus where they came from (source, source_rank, batch_id, run_id) for the
-- merge rules of source-api.md, plus derived columns written only by
-- etl.derive / etl.rescore.  Every unit-level table leads its key with
-- unit_code so that a later distribution by unit does not fight it.

-- Units (donvi).
CREATE TABLE dw.unit (
    unit_code   text PRIMARY KEY,
    unit_name   text,
    parent_code text,
    level       text CHECK (level IN ('TINH', 'HUYEN', 'XA')),
    updated_at  timestamptz NOT NULL,
    source      text NOT NULL,
    source_rank int NOT NULL,
    batch_id    bigint,
    run_id      bigint,
    loaded_at   timestamptz NOT NULL DEFAULT now()
);

-- Catalogue (thutuc): every version seen, identified by updated_at.
CREATE TABLE dw.procedure_version (
    unit_code      text NOT NULL,
    procedure_code text NOT NULL,
    updated_at     timestamptz NOT NULL,
    procedure_name text,
    field_code     text,
    field_name     text,
    level          smallint NOT NULL DEFAULT 1 CHECK (level BETWEEN 1 AND 4),
    legal_days     int NOT NULL CHECK (legal_days >= 0),
    fee            boolean NOT NULL DEFAULT false,
    in_force       boolean NOT NULL DEFAULT true,
    source         text NOT NULL,
    source_rank    int NOT NULL,
    batch_id       bigint,
    run_id         bigint,
    loaded_at      timestamptz NOT NULL DEFAULT now(),
    -- derived: the next version's updated_at (NULL: none) and whether this
    -- is the earliest version, so "the version in force at T" is a join:
    -- (updated_at <= T OR is_first) AND (valid_to > T OR valid_to IS NULL)
    valid_to       timestamptz,
    is_first       boolean NOT NULL DEFAULT true,
    PRIMARY KEY (unit_code, procedure_code, updated_at)
);

-- The scale shape (issue 4, README "Growing past one machine").
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

-- The home of supplement and log rows whose dossier is not (yet) known
-- (dw.orphan_month); the other months' partitions are made by the merge.
CREATE TABLE dw.dossier_p000101 PARTITION OF dw.dossier
    FOR VALUES FROM ('0001-01-01') TO ('0001-02-01');
CREATE TABLE dw.dossier_derived_p000101 PARTITION OF dw.dossier_derived
    FOR VALUES FROM ('0001-01-01') TO ('0001-02-01');
CREATE TABLE dw.supplement_p000101 PARTITION OF dw.supplement
    FOR VALUES FROM ('0001-01-01') TO ('0001-02-01');
-- room for a re-sent step's new version on its page (dw.add_partitions)
CREATE TABLE dw.log_step_p000101 PARTITION OF dw.log_step
    FOR VALUES FROM ('0001-01-01') TO ('0001-02-01') WITH (fillfactor = 85);

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

-- The calendar: one row per day, with the cumulative number of working days
-- up to and including the day, so that workday_add is an index lookup.
CREATE TABLE dw.calendar (
    day        date PRIMARY KEY,
    is_workday boolean NOT NULL,
    workday_no int NOT NULL,
    kind       text CHECK (kind IN ('holiday', 'workday')),   -- from the file
    note       text
);
CREATE UNIQUE INDEX calendar_workday_no_idx ON dw.calendar (workday_no) WHERE is_workday;

-- Until the first etl.apply_rules: Monday to Friday.
INSERT INTO dw.calendar (day, is_workday, workday_no)
SELECT day, wd, count(*) FILTER (WHERE wd) OVER (ORDER BY day)
FROM (SELECT g::date AS day, extract(isodow FROM g) < 6 AS wd
      FROM generate_series(timestamp '2000-01-01', timestamp '2100-12-31',
                           interval '1 day') g) d;

-- Scoring profiles (the profiles file).
CREATE TABLE dw.profile_criterion (
    profile    text NOT NULL,
    criterion  text NOT NULL,
    label      text NOT NULL,
    metric     text NOT NULL,
    target     numeric NOT NULL CHECK (target >= 0),
    max_points numeric NOT NULL CHECK (max_points >= 0),
    note       text,
    PRIMARY KEY (profile, criterion)
);

-- Rule state and derivation state: a single row.
CREATE TABLE dw.state (
    id             boolean PRIMARY KEY DEFAULT true CHECK (id),
    calendar_hash  text,
    profiles_hash  text,
    office_close   time NOT NULL DEFAULT '17:00',
    covers_from    int,
    covers_to      int,
    rules_applied_at timestamptz,
    derived_at     timestamptz,      -- when the marts were last derived
    last_as_of     timestamptz,      -- p_as_of of that derivation
    span_from      date,             -- indicator span then in the marts
    span_to        date
);
INSERT INTO dw.state DEFAULT VALUES;

-- Every unit code found in donvi, thutuc or hoso: the units of mart.unit_kpi.
CREATE TABLE dw.kpi_unit (
    unit_code text PRIMARY KEY
);

-- Dossier counts per unit and local month, kept by adding what each
-- re-derived dossier counts as now and subtracting what it counted as before;
-- quarters and years are sums of months.
CREATE TABLE dw.unit_month (
    unit_code              text NOT NULL,
    month_start            date NOT NULL,
    received               bigint NOT NULL DEFAULT 0,
    received_direct        bigint NOT NULL DEFAULT 0,
    received_online        bigint NOT NULL DEFAULT 0,
    received_postal        bigint NOT NULL DEFAULT 0,
    online_eligible        bigint NOT NULL DEFAULT 0,
    online_eligible_online bigint NOT NULL DEFAULT 0,
    withdrawn              bigint NOT NULL DEFAULT 0,
    on_software            bigint NOT NULL DEFAULT 0,
    fee_received           bigint NOT NULL DEFAULT 0,
    paid_online            bigint NOT NULL DEFAULT 0,
    resolved               bigint NOT NULL DEFAULT 0,
    resolved_early         bigint NOT NULL DEFAULT 0,
    resolved_on_time       bigint NOT NULL DEFAULT 0,
    resolved_late          bigint NOT NULL DEFAULT 0,
    resolved_late_legal    bigint NOT NULL DEFAULT 0,
    resolved_unknown_legal bigint NOT NULL DEFAULT 0,
    masked_late            bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (unit_code, month_start)
);

-- Log steps per unit, local month and department.
CREATE TABLE dw.step_month (
    unit_code   text NOT NULL,
    month_start date NOT NULL,
    department  text NOT NULL,
    steps       bigint NOT NULL,
    steps_late  bigint NOT NULL,
    PRIMARY KEY (unit_code, month_start, department)
);
