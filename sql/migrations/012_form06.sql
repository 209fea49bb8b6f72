-- 012: form 06 (reports.md, "Form 06"): the state it is kept in.  The
-- functions that fill it are sql/code/form06.sql, the view and function BI
-- reads sql/code/marts.sql.  A warehouse that already holds dossiers gets
-- its rows from etl.after_migrate (sql/code/admin.sql), once the code is
-- in place.
--
-- A received dossier is one interval of days, from its receipt day to its
-- closing day.  What it counts as is written once, as signed events on days
-- (dw.form06_events): +1 received online on its receipt day, +1 pending in
-- time from its receipt day and -1 the day that stops, and so on.  Summed
-- per unit, field and day they are dw.form06_day; a count at the end of a
-- day is the running sum of the events up to it, and a period's flows are
-- the difference of two running sums.  A night subtracts its touched
-- dossiers' old events and adds their new ones, as it does for
-- dw.unit_month.

-- What each received dossier counts as in form 06, kept so that a
-- re-derivation can subtract exactly what it had added.
CREATE TABLE dw.form06_fact (
    ma_ho_so         text COLLATE "C" PRIMARY KEY,
    unit_code        text COLLATE "C" NOT NULL,
    field_code       text NOT NULL,      -- trimmed MaLinhVuc in force at receipt, or '(không rõ)'
    channel          smallint NOT NULL,
    receipt_day      date NOT NULL,
    close_day        date,               -- NULL: not closed; never before receipt_day
    closed_as        text CHECK (closed_as IN ('resolved', 'withdrawn')),
    declared_outcome text,
    legal_outcome    text,
    masked_late      boolean,
    due_day          date,               -- local date of NgayHenTra
    legal_due_date   date,
    legal_stops      datemultirange      -- days at whose end a supplement is outstanding
);
CREATE INDEX form06_fact_receipt_idx ON dw.form06_fact (receipt_day);
CREATE INDEX form06_fact_close_idx ON dw.form06_fact (close_day);

-- The events of the dossiers, summed per unit, field and day.  The first
-- nine are flows (counted on their day), the last three stocks (+1 the day
-- a dossier enters the count, -1 the day it leaves it).
CREATE TABLE dw.form06_day (
    unit_code              text COLLATE "C" NOT NULL,
    field_code             text NOT NULL,
    day                    date NOT NULL,
    received_online        int NOT NULL DEFAULT 0,
    received_offline       int NOT NULL DEFAULT 0,
    resolved_early         int NOT NULL DEFAULT 0,
    resolved_on_time       int NOT NULL DEFAULT 0,
    resolved_late          int NOT NULL DEFAULT 0,
    withdrawn              int NOT NULL DEFAULT 0,
    resolved_late_legal    int NOT NULL DEFAULT 0,
    resolved_unknown_legal int NOT NULL DEFAULT 0,
    masked_late            int NOT NULL DEFAULT 0,
    pending_in_time        int NOT NULL DEFAULT 0,
    pending_overdue        int NOT NULL DEFAULT 0,
    pending_overdue_legal  int NOT NULL DEFAULT 0,
    PRIMARY KEY (unit_code, field_code, day)
);

-- The rows of mart.form06, without the field's name (dw.form06_field):
-- a catalogue that renames a field changes one row there, not every
-- period's.
CREATE TABLE dw.form06_period (
    unit_code              text COLLATE "C" NOT NULL,
    field_code             text NOT NULL,
    period_kind            text NOT NULL CHECK (period_kind IN ('report_month', 'report_quarter',
                                                                'report_half', 'report_year')),
    period_label           text NOT NULL,
    first_day              date NOT NULL,
    last_day               date NOT NULL,
    received_total         int NOT NULL,
    received_online        int NOT NULL,
    received_offline       int NOT NULL,
    carried_over           int NOT NULL,
    resolved_total         int NOT NULL,
    resolved_early         int NOT NULL,
    resolved_on_time       int NOT NULL,
    resolved_late          int NOT NULL,
    pending_total          int NOT NULL,
    pending_in_time        int NOT NULL,
    pending_overdue        int NOT NULL,
    of_which_withdrawn     int NOT NULL,
    resolved_late_legal    int NOT NULL,
    resolved_unknown_legal int NOT NULL,
    masked_late            int NOT NULL,
    pending_overdue_legal  int NOT NULL,
    PRIMARY KEY (unit_code, field_code, period_kind, first_day)
);
-- a province's form for one period: every unit's rows of it
CREATE INDEX form06_period_label_idx ON dw.form06_period (period_kind, period_label);

-- Each field code's name: the trimmed TenLinhVuc of its latest catalogue
-- version.
CREATE TABLE dw.form06_field (
    field_code text PRIMARY KEY,
    field_name text NOT NULL
);

-- The span of dw.form06_period: the earliest and the latest receipt or
-- closing day of a received dossier, as the marts were last derived.  One
-- row, written by the first derivation (an empty warehouse has none).
CREATE TABLE dw.form06_state (
    id        boolean PRIMARY KEY DEFAULT true CHECK (id),
    span_from date,
    span_to   date
);
