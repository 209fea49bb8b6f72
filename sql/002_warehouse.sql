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

-- Dossiers (hoso) and their derived columns (rules.md).
CREATE TABLE dw.dossier (
    ma_ho_so         text PRIMARY KEY,
    unit_code        text NOT NULL,
    procedure_code   text NOT NULL,
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
    -- derived (etl.derive).  class, the k_ columns, receipt_date, finish_date
    -- and the flags below are what the dossier is counted as in dw.unit_month:
    -- a re-derivation subtracts them before it recounts the dossier.
    class            text CHECK (class IN ('not_received', 'in_progress', 'paused',
                                           'withdrawn', 'resolved')),
    k_unit           text,
    k_channel        smallint,
    k_paid_online    boolean,
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
    online_eligible  boolean,
    fee_received     boolean
);
CREATE INDEX dossier_receipt_idx ON dw.dossier (receipt_date);
CREATE INDEX dossier_finish_idx ON dw.dossier (finish_date);
CREATE INDEX dossier_procedure_idx ON dw.dossier (unit_code, procedure_code, received_at);

-- Supplement requests (bosung).
CREATE TABLE dw.supplement (
    ma_ho_so     text NOT NULL,
    seq          int NOT NULL,
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
    PRIMARY KEY (ma_ho_so, seq)
);

-- Processing log (quatrinh).
CREATE TABLE dw.log_step (
    ma_ho_so      text NOT NULL,
    seq           int NOT NULL,
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
    -- derived: counted (or not) in dw.step_month under (k_unit, month of
    -- done_date, k_department)
    k_unit        text,
    k_department  text,
    done_date     date,
    counted       boolean NOT NULL DEFAULT false,
    late          boolean,
    PRIMARY KEY (ma_ho_so, seq)
);

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

-- Small pure helpers.
CREATE FUNCTION dw.local_date(t timestamptz) RETURNS date
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT (t AT TIME ZONE 'Asia/Ho_Chi_Minh')::date $$;

-- First day of the period of the given kind holding d.
CREATE FUNCTION dw.period_of(kind text, d date) RETURNS date
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT date_trunc(kind, d::timestamp)::date $$;

-- First day after the period of the given kind starting at s.
CREATE FUNCTION dw.period_end(kind text, s date) RETURNS date
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT (s + CASE kind WHEN 'month' THEN interval '1 month'
                         WHEN 'quarter' THEN interval '3 months'
                         ELSE interval '1 year' END)::date $$;

-- Every month, quarter and year from the one holding p_from to the one
-- holding p_to; no rows when either is NULL.
CREATE FUNCTION dw.periods(p_from date, p_to date)
RETURNS TABLE (period_kind text, period_start date, period_end date)
LANGUAGE sql IMMUTABLE AS $$
    SELECT k.kind, g::date, dw.period_end(k.kind, g::date)
    FROM (VALUES ('month', interval '1 month'), ('quarter', interval '3 months'),
                 ('year', interval '1 year')) k (kind, step)
    CROSS JOIN LATERAL generate_series(date_trunc(k.kind, p_from::timestamp),
                                       date_trunc(k.kind, p_to::timestamp),
                                       k.step) g
    WHERE p_from IS NOT NULL AND p_to IS NOT NULL
$$;

-- A percentage rounded half away from zero; NULL on a zero denominator.
CREATE FUNCTION dw.pct(num bigint, den bigint) RETURNS numeric
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT CASE WHEN den = 0 THEN NULL ELSE round(100::numeric * num / den, 2) END $$;

CREATE FUNCTION dw.is_workday(d date) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT coalesce((SELECT c.is_workday FROM dw.calendar c WHERE c.day = d),
                    extract(isodow FROM d) < 6)
$$;

-- k = 0: d itself; k >= 1: the k-th working day after d.
CREATE FUNCTION dw.workday_add(d date, k int) RETURNS date
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN k = 0 THEN d
                WHEN k > 0 THEN (SELECT n.day FROM dw.calendar c
                                 JOIN dw.calendar n ON n.workday_no = c.workday_no + k
                                                   AND n.is_workday
                                 WHERE c.day = d)
           END
$$;
