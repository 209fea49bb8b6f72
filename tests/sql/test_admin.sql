-- Rules files, the BI role, comments, the etl tables.
\ir lib.sql
SELECT plan(30);

-- apply_rules: validation
SELECT throws_ok($$
    SELECT etl.create_rule_staging();
    INSERT INTO stg_profile VALUES ('p', '1', 'Nhãn', 'ontime_ratio', 100, 20, NULL);
    SELECT etl.apply_rules('17:00', NULL, NULL)$$,
    'profiles: unknown metric "ontime_ratio" (profile p, criterion 1)',
    'apply_rules names a bad metric');
SELECT throws_ok($$
    SELECT etl.create_rule_staging();
    INSERT INTO stg_calendar VALUES ('2024-05-04', 'makeup', NULL);
    SELECT etl.apply_rules('17:00', NULL, NULL)$$,
    'calendar: bad row (date 2024-05-04, kind makeup)',
    'apply_rules refuses an unknown kind');
SELECT throws_ok($$
    SELECT etl.create_rule_staging();
    INSERT INTO stg_calendar VALUES ('2024-05-04', 'workday', NULL), ('2024-05-04', 'holiday', NULL);
    SELECT etl.apply_rules('17:00', NULL, NULL)$$,
    'calendar: date 2024-05-04 is listed more than once',
    'apply_rules refuses a date listed twice');

-- apply_rules: change detection
SELECT is(pg_temp.rules_2024(), true, 'first rules: changed');
SELECT is(pg_temp.rules_2024(), false, 'same rules: unchanged');
SELECT is(pg_temp.rules_2024('17:30'), true, 'office_close changed');
SELECT is(pg_temp.rules_2024('17:30'), false, 'office_close unchanged');

BEGIN;
SELECT etl.create_staging();
INSERT INTO stg_thutuc (row_number, unit_code, procedure_code, procedure_name, level, legal_days, fee, in_force, updated_at)
VALUES (1, 'U1', 'P', 'TTHC', 2, 3, false, true, pg_temp.lt('2024-01-01 00:00'));
INSERT INTO stg_hoso (row_number, ma_ho_so, unit_code, procedure_code, channel, status,
                      received_at, due_at, finished_at, paid_online, updated_at) VALUES
    (1, 'H', 'U1', 'P', 1, 9, pg_temp.lt('2024-05-03 17:05'), pg_temp.lt('2024-05-07 17:00'),
     pg_temp.lt('2024-05-07 10:00'), false, pg_temp.lt('2024-05-07 10:00'));
SELECT count(*) FROM etl.merge_staging(1, 's', 1, 1);
SELECT etl.derive('2025-01-01');
COMMIT;
SELECT results_eq($$SELECT legal_due_date FROM mart.dossier WHERE ma_ho_so = 'H'$$,
                  $$VALUES (date '2024-05-07')$$, 'office_close 17:30: Friday 17:05 counts Friday');
SELECT results_eq($$SELECT legal_outcome FROM mart.dossier WHERE ma_ho_so = 'H'$$,
                  $$VALUES ('on_time')$$, 'office_close 17:30: on time');
SELECT is(pg_temp.rules_2024('17:00'), true, 'back to 17:00: changed');
SELECT etl.rescore('2025-01-01');
SELECT results_eq($$SELECT legal_due_date FROM mart.dossier WHERE ma_ho_so = 'H'$$,
                  $$VALUES (date '2024-05-08')$$, 'rescore after the change: due 8 May');
SELECT results_eq($$SELECT legal_outcome FROM mart.dossier WHERE ma_ho_so = 'H'$$,
                  $$VALUES ('early')$$, 'rescore moves the outcome (on_time at 17:30, early at 17:00)');
-- a calendar without the make-up Saturday
BEGIN;
SELECT etl.create_rule_staging();
INSERT INTO stg_calendar VALUES ('2024-04-29', 'holiday', NULL), ('2024-04-30', 'holiday', NULL),
                                ('2024-05-01', 'holiday', NULL);
INSERT INTO stg_profile SELECT * FROM (VALUES ('qd766', '2', 'Tiến độ giải quyết', 'progress_rate', 100::numeric, 20::numeric, NULL)) x;
SELECT is(etl.apply_rules('17:00', 2024, 2024), true, 'calendar changed');
COMMIT;
SELECT etl.rescore('2025-01-01');
SELECT results_eq($$SELECT legal_due_date FROM mart.dossier WHERE ma_ho_so = 'H'$$,
                  $$VALUES (date '2024-05-09')$$, 'no make-up Saturday: due 9 May');
SELECT is(count(DISTINCT profile)::int, 1, 'rescore drops the scores of a removed profile')
FROM mart.compliance_score;

-- BI role
SELECT ok(has_schema_privilege('onestop_bi', 'mart', 'USAGE'), 'onestop_bi: usage on mart');
SELECT is(has_schema_privilege('onestop_bi', 'dw', 'USAGE'), false, 'onestop_bi: nothing in dw');
SELECT is(has_schema_privilege('onestop_bi', 'etl', 'USAGE'), false, 'onestop_bi: nothing in etl');
SELECT ok(bool_and(has_table_privilege('onestop_bi', c.oid, 'SELECT')), 'onestop_bi: select on every mart relation')
FROM pg_class c WHERE c.relnamespace = 'mart'::regnamespace AND c.relkind IN ('r', 'v');
SELECT is(bool_or(has_table_privilege('onestop_bi', c.oid, 'INSERT')), false, 'onestop_bi: read-only')
FROM pg_class c WHERE c.relnamespace = 'mart'::regnamespace AND c.relkind IN ('r', 'v');
SET ROLE onestop_bi;
SELECT is(count(*), 1::bigint, 'onestop_bi reads mart.dossier (a view over dw)') FROM mart.dossier;
SELECT ok(count(*) > 0, 'onestop_bi reads mart.unit_kpi') FROM mart.unit_kpi;
RESET ROLE;

-- comments and names
SELECT is_empty($$
    SELECT c.relname, a.attname
    FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
    WHERE c.relnamespace = 'mart'::regnamespace AND c.relkind IN ('r', 'v') AND a.attnum > 0
      AND NOT a.attisdropped AND col_description(c.oid, a.attnum) IS NULL$$,
    'every mart column has a comment');
SELECT is_empty($$
    SELECT c.relname FROM pg_class c
    WHERE c.relnamespace = 'mart'::regnamespace AND c.relkind IN ('r', 'v')
      AND obj_description(c.oid, 'pg_class') IS NULL$$,
    'every mart relation has a comment');
SELECT is(string_agg(relname, ',' ORDER BY relname),
          'compliance_score,compliance_total,dossier,form06,form06_current,freshness,step_delay,unit,'
          'unit_kpi,unit_kpi_current',
          'mart relations')
FROM pg_class WHERE relnamespace = 'mart'::regnamespace AND relkind IN ('r', 'v');
SELECT is(string_agg(attname, ',' ORDER BY attnum),
    'unit_code,unit_name,period_kind,period_start,received,received_direct,received_online,received_postal,online_eligible,online_eligible_online,online_rate,resolved,resolved_early,resolved_on_time,resolved_late,ontime_rate,resolved_late_legal,resolved_unknown_legal,ontime_rate_legal,masked_late,withdrawn,on_software,on_software_rate,fee_received,paid_online,paid_online_rate,procedures_total,procedures_level2plus,procedures_level3plus,procedures_level4,pct_level2plus,pct_level3plus,pct_level4,progress_total,progress_in_time,progress_rate,online_full_eligible,online_full,online_full_rate',
    'mart.unit_kpi columns')
FROM pg_attribute WHERE attrelid = 'mart.unit_kpi'::regclass AND attnum > 0 AND NOT attisdropped;
SELECT is(string_agg(attname, ',' ORDER BY attnum),
    'ma_ho_so,source,unit_code,procedure_code,channel,status,class,received_at,due_at,finished_at,returned_at,legal_days,extension_days,legal_due_date,declared_outcome,legal_outcome,masked_late,on_software,paid_online,updated_at',
    'mart.dossier columns')
FROM pg_attribute WHERE attrelid = 'mart.dossier'::regclass AND attnum > 0 AND NOT attisdropped;

-- etl tables
INSERT INTO etl.run (source, command, mode, batch_id) VALUES ('s', 'run', 'nightly', nextval('etl.batch_seq'));
SELECT throws_like($$
    INSERT INTO etl.run_entity (run_id, entity, rows_read, rows_loaded, rows_rejected, rows_superseded)
    SELECT max(run_id), 'hoso', 10, 5, 2, 2 FROM etl.run$$, '%run_entity_check%',
    'run_entity: read = loaded + rejected + superseded');
SELECT etl.advance_watermark('s', 'hoso', '2024-05-01 00:00+00');
SELECT etl.advance_watermark('s', 'hoso', '2024-04-01 00:00+00');
SELECT results_eq($$SELECT updated_until FROM etl.watermark WHERE source = 's' AND entity = 'hoso'$$,
                  $$VALUES ('2024-05-01 00:00+00'::timestamptz)$$, 'a watermark never moves back');
SELECT results_eq($$SELECT watermark FROM mart.freshness WHERE source = 's' AND entity = 'hoso'$$,
                  $$VALUES ('2024-05-01 00:00+00'::timestamptz)$$, 'mart.freshness shows the watermark');
SELECT * FROM finish();
