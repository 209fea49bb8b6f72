-- 003: the marts BI tools read (interfaces.md, "what BI tools read").
-- unit_kpi, step_delay, compliance_score and compliance_total are tables kept
-- up to date by etl.derive / etl.rescore; dossier, unit and freshness are
-- views over the warehouse (they run with the owner's rights, so onestop_bi
-- needs nothing outside mart).

CREATE TABLE mart.unit_kpi (
    unit_code              text NOT NULL,
    unit_name              text,
    period_kind            text NOT NULL CHECK (period_kind IN ('month', 'quarter', 'year')),
    period_start           date NOT NULL,
    received               bigint NOT NULL,
    received_direct        bigint NOT NULL,
    received_online        bigint NOT NULL,
    received_postal        bigint NOT NULL,
    online_eligible        bigint NOT NULL,
    online_eligible_online bigint NOT NULL,
    online_rate            numeric,
    resolved               bigint NOT NULL,
    resolved_early         bigint NOT NULL,
    resolved_on_time       bigint NOT NULL,
    resolved_late          bigint NOT NULL,
    ontime_rate            numeric,
    resolved_late_legal    bigint NOT NULL,
    resolved_unknown_legal bigint NOT NULL,
    ontime_rate_legal      numeric,
    masked_late            bigint NOT NULL,
    withdrawn              bigint NOT NULL,
    on_software            bigint NOT NULL,
    on_software_rate       numeric,
    fee_received           bigint NOT NULL,
    paid_online            bigint NOT NULL,
    paid_online_rate       numeric,
    procedures_total       bigint NOT NULL,
    procedures_level2plus  bigint NOT NULL,
    procedures_level3plus  bigint NOT NULL,
    procedures_level4      bigint NOT NULL,
    pct_level2plus         numeric,
    pct_level3plus         numeric,
    pct_level4             numeric,
    PRIMARY KEY (unit_code, period_kind, period_start)
);
CREATE INDEX unit_kpi_period_idx ON mart.unit_kpi (period_kind, period_start);

CREATE TABLE mart.step_delay (
    unit_code    text NOT NULL,
    department   text NOT NULL,
    period_kind  text NOT NULL CHECK (period_kind IN ('month', 'quarter', 'year')),
    period_start date NOT NULL,
    steps        bigint NOT NULL CHECK (steps > 0),
    steps_late   bigint NOT NULL,
    late_rate    numeric,
    PRIMARY KEY (unit_code, period_kind, period_start, department)
);
CREATE INDEX step_delay_period_idx ON mart.step_delay (period_kind, period_start);

CREATE TABLE mart.compliance_score (
    unit_code    text NOT NULL,
    period_kind  text NOT NULL CHECK (period_kind IN ('month', 'quarter', 'year')),
    period_start date NOT NULL,
    profile      text NOT NULL,
    criterion    text NOT NULL,
    label        text NOT NULL,
    metric       text NOT NULL,
    value        numeric,
    target       numeric NOT NULL,
    max_points   numeric NOT NULL,
    points       numeric,
    met          boolean,
    PRIMARY KEY (unit_code, period_kind, period_start, profile, criterion)
);
CREATE INDEX compliance_score_period_idx ON mart.compliance_score (period_kind, period_start);

CREATE TABLE mart.compliance_total (
    unit_code           text NOT NULL,
    period_kind         text NOT NULL CHECK (period_kind IN ('month', 'quarter', 'year')),
    period_start        date NOT NULL,
    profile             text NOT NULL,
    points              numeric NOT NULL,
    max_points          numeric NOT NULL,
    score_pct           numeric,
    criteria_met        int NOT NULL,
    criteria_applicable int NOT NULL,
    PRIMARY KEY (unit_code, period_kind, period_start, profile)
);
CREATE INDEX compliance_total_period_idx ON mart.compliance_total (period_kind, period_start);

COMMENT ON TABLE mart.unit_kpi IS
    'Chỉ số theo đơn vị và kỳ — indicators per unit and period (month, quarter, year); one row per unit code and period of the span';
COMMENT ON TABLE mart.step_delay IS
    'Trễ hạn theo bước xử lý — log steps per unit, department and period, and how many were late';
COMMENT ON TABLE mart.compliance_score IS
    'Điểm theo tiêu chí — compliance points per unit, period, profile and criterion';
COMMENT ON TABLE mart.compliance_total IS
    'Tổng điểm theo bộ tiêu chí — compliance total per unit, period and profile';

-- The BI role: read mart, nothing else; warned about when missing (BI tools
-- will be refused until someone acts).  The views are sql/code/marts.sql's,
-- which grants them again each time it creates them.
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
