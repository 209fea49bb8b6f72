-- interfaces.md, "what BI tools read": the names of the mart schema are a
-- contract.  A relation or function added, dropped or renamed there must
-- change this list and interfaces.md with it.  (That every function of
-- etl, dw and mart is defined once, in sql/code, is
-- tests/integration/test_layout.py's.)
\ir lib.sql
SELECT plan(4);

SELECT tables_are('mart', ARRAY['unit_kpi', 'step_delay', 'compliance_score', 'compliance_total'],
                  'mart tables');
SELECT views_are('mart', ARRAY['dossier', 'unit', 'freshness', 'form06', 'unit_kpi_current',
                           'form06_current'], 'mart views');
SELECT functions_are('mart', ARRAY['form06_range'], 'mart functions');
SELECT function_privs_are('mart', 'form06_range', ARRAY['date', 'date'], 'onestop_bi',
                          ARRAY['EXECUTE'], 'onestop_bi may run form06_range');

SELECT * FROM finish();
