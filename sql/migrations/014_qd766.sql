-- 014: Decision 766 as the national portal scores it (reports.md, "Decision
-- 766: the criteria one-stop data feeds, as scored today").  The rules are
-- sql/code's: derive.sql (closing day, in time at a day, end-to-end online),
-- kpi.sql (the columns of unit_kpi), marts.sql (their comments).
--
-- A dossier's progress counts as it stood at the end of a period, so its
-- value depends on the kind of period: dw.unit_month keeps, per receipt
-- month, the dossiers in time at the end of their receipt month, quarter
-- and year.  A period not yet ended is counted again at each run's start
-- from the facts below (etl._build_unit_kpi).
--
-- The new columns of mart.unit_kpi are NULL in a warehouse derived before
-- this migration: etl.after_migrate (admin.sql) then rescores it once.

-- what a dossier's progress is read from (rules: derive.sql)
ALTER TABLE dw.dossier_derived
    ADD COLUMN close_date date,          -- the closing day of form 06; NULL: not closed
    ADD COLUMN due_date date,            -- local date of NgayHenTra
    ADD COLUMN online_full_eligible boolean NOT NULL DEFAULT false;

ALTER TABLE dw.unit_month
    ADD COLUMN progress_in_time_month   bigint NOT NULL DEFAULT 0,
    ADD COLUMN progress_in_time_quarter bigint NOT NULL DEFAULT 0,
    ADD COLUMN progress_in_time_year    bigint NOT NULL DEFAULT 0,
    ADD COLUMN online_full_eligible     bigint NOT NULL DEFAULT 0,
    ADD COLUMN online_full              bigint NOT NULL DEFAULT 0;

ALTER TABLE mart.unit_kpi
    ADD COLUMN progress_total       bigint,
    ADD COLUMN progress_in_time     bigint,
    ADD COLUMN progress_rate        numeric,
    ADD COLUMN online_full_eligible bigint,
    ADD COLUMN online_full          bigint,
    ADD COLUMN online_full_rate     numeric;
