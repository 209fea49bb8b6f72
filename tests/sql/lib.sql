-- Shared fixtures of the SQL tests, included by each tests/sql/test_*.sql
-- (\ir lib.sql) in its own freshly migrated database.  The assertions are
-- pgTAP's (https://pgtap.org): a test file says plan(n), asserts, and ends
-- with finish(); tests/run.py runs it with pg_prove.  pgTAP is created here,
-- in the test database only: the product's migrations never see it.
--
-- pgTAP keeps its count of tests run and failed in temporary tables, so an
-- assertion inside a transaction that is rolled back is forgotten by
-- finish(): take the value out of such a transaction (\gset) and assert
-- after it, or undo the work in a subtransaction (marts_equal_rescore).
--
-- A new test file is one file: tests/sql/test_NAME.sql holding
--     \ir lib.sql
--     SELECT plan(1);
--     SELECT functions_are('etl', ARRAY['advance_watermark', ...]);
--     SELECT * FROM finish();
-- (pg_prove -h SOCKETDIR -p PORT -U postgres -d DB tests/sql/test_NAME.sql
-- runs it by hand against any migrated database.)
\set QUIET on
SET client_min_messages = warning;
SET TIME ZONE 'UTC';
CREATE EXTENSION IF NOT EXISTS pgtap;
-- helpers may name staging tables that exist only inside a transaction
SET check_function_bodies = off;

-- The official 2024 calendar facts used by rules.md, and both default
-- profiles; office_close 17:00.
CREATE FUNCTION pg_temp.rules_2024(p_office_close time DEFAULT '17:00') RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM etl.create_rule_staging();
    INSERT INTO stg_calendar (day, kind, note) VALUES
        ('2024-01-01', 'holiday', 'Tết Dương lịch'),
        ('2024-02-08', 'holiday', 'Tết Nguyên đán'),
        ('2024-02-09', 'holiday', 'Tết Nguyên đán'),
        ('2024-02-12', 'holiday', 'Tết Nguyên đán'),
        ('2024-02-13', 'holiday', 'Tết Nguyên đán'),
        ('2024-02-14', 'holiday', 'Tết Nguyên đán'),
        ('2024-04-18', 'holiday', 'Giỗ Tổ Hùng Vương'),
        ('2024-04-29', 'holiday', 'nghỉ bù 30/4'),
        ('2024-04-30', 'holiday', 'Ngày Chiến thắng'),
        ('2024-05-01', 'holiday', 'Quốc tế Lao động'),
        ('2024-05-04', 'workday', 'làm bù cho 29/4'),
        ('2024-09-02', 'holiday', 'Quốc khánh'),
        ('2024-09-03', 'holiday', 'Quốc khánh');
    INSERT INTO stg_profile (profile, criterion, label, metric, target, max_points, note) VALUES
        ('kh49-2021', '1', 'Tỷ lệ TTHC mức độ 2 trở lên', 'pct_level2plus', 100, 25, NULL),
        ('kh49-2021', '2', 'Tỷ lệ TTHC mức độ 3 trở lên', 'pct_level3plus', 20, 25, NULL),
        ('kh49-2021', '3', 'Tỷ lệ TTHC mức độ 4', 'pct_level4', 10, 25, NULL),
        ('kh49-2021', '4', 'Tỷ lệ hồ sơ xử lý trên phần mềm', 'on_software_rate', 95, 25, NULL),
        ('qd766', '2', 'Tiến độ giải quyết', 'progress_rate', 100, 20, NULL),
        ('qd766', '3', 'Dịch vụ công trực tuyến toàn trình', 'online_full_rate', 80, 12, NULL),
        ('qd766', '5', 'Thanh toán trực tuyến', 'paid_online_rate', 100, 10, NULL);
    RETURN etl.apply_rules(p_office_close, 2024, 2024);
END
$$;

-- A local (Asia/Ho_Chi_Minh) timestamp, as C would stage it.
CREATE FUNCTION pg_temp.lt(t text) RETURNS timestamptz
LANGUAGE sql IMMUTABLE AS $$ SELECT (t::timestamp AT TIME ZONE 'Asia/Ho_Chi_Minh') $$;

-- Stages a random load: p_n dossiers drawn from a pool of 'H0'..'H<p_pool>'
-- (so a later load changes some: another status, unit, procedure or month of
-- receipt, or an older version), their supplements and log steps (some of
-- dossiers not in this load or not yet known), units and p_catalogue
-- catalogue versions,
-- CapNhatLuc between p_upd_from and p_upd_to (local).  Deterministic after
-- setseed().
CREATE FUNCTION pg_temp.stage_random(p_n int, p_pool int, p_upd_from text, p_upd_to text,
                                     p_catalogue int DEFAULT 15)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    lo timestamptz := pg_temp.lt(p_upd_from);
    span interval := pg_temp.lt(p_upd_to) - pg_temp.lt(p_upd_from);
BEGIN
    PERFORM etl.create_staging();
    INSERT INTO stg_donvi (row_number, unit_code, unit_name, level, updated_at)
    SELECT g, 'U' || (random() * 12)::int, 'Đơn vị ' || g, 'XA', lo + random() * span
    FROM generate_series(1, 4) g;
    INSERT INTO stg_thutuc (row_number, unit_code, procedure_code, procedure_name, level,
                            legal_days, fee, in_force, updated_at)
    SELECT g, 'U' || (random() * 12)::int, 'P' || (random() * 5)::int, 'TTHC',
           1 + (random() * 3)::int, (random() * 10)::int, random() < 0.5, random() < 0.9,
           lo - interval '200 days' + random() * (span + interval '200 days')
    FROM generate_series(1, p_catalogue) g;
    INSERT INTO stg_hoso (row_number, ma_ho_so, unit_code, procedure_code, channel, status,
                          submitted_at, received_at, due_at, finished_at, paid_online,
                          updated_at)
    SELECT g, k, u, p, ch, st,
           CASE WHEN random() < 0.5 THEN r - interval '3 hours' END,
           CASE WHEN st NOT IN (1, 3) OR random() < 0.5 THEN r END,
           CASE WHEN st NOT IN (1, 3, 7) THEN r + (random() * 15)::int * interval '1 day' END,
           CASE WHEN st IN (9, 10) OR (st = 7 AND random() < 0.5)
                THEN r + (random() * 20)::int * interval '1 day' + random() * interval '10 hours' END,
           random() < 0.3, upd
    FROM (SELECT g, 'H' || (random() * p_pool)::int AS k, 'U' || (random() * 12)::int AS u,
                 'P' || (random() * 6)::int AS p, 1 + (random() * 2)::int AS ch,
                 1 + (random() * 9)::int AS st,
                 lo - interval '60 days' + random() * span + random() * interval '23 hours' AS r,
                 lo - interval '30 days' + random() * (span + interval '30 days') AS upd
          FROM generate_series(1, p_n) g) x;
    INSERT INTO stg_bosung (row_number, ma_ho_so, seq, requested_at, returned_at, updated_at)
    SELECT g, 'H' || (random() * p_pool * 1.1)::int, 1 + (random() * 2)::int, q,
           CASE WHEN random() < 0.8 THEN q + (random() * 6)::int * interval '1 day' END,
           lo + random() * span
    FROM (SELECT g, lo - interval '40 days' + random() * span AS q
          FROM generate_series(1, p_n / 4) g) x;
    INSERT INTO stg_quatrinh (row_number, ma_ho_so, seq, status, done_at, department,
                              step_due_at, updated_at)
    SELECT g, 'H' || (random() * p_pool * 1.1)::int, 1 + (random() * 4)::int,
           (ARRAY[2, 4, 4, 9, 10, 7])[1 + (random() * 5)::int], t,
           (ARRAY['Một cửa', 'Chuyên môn', NULL])[1 + (random() * 2)::int],
           CASE WHEN random() < 0.8 THEN t + (random() * 4 - 2)::int * interval '1 day' END,
           lo + random() * span
    FROM (SELECT g, lo - interval '40 days' + random() * span AS t
          FROM generate_series(1, p_n * 3) g) x;
END
$$;

-- A digest of the warehouse as harness.warehouse_dump sees it (every
-- relation of dw and mart through partition parents, without the columns
-- that record when and by which run a row was written): one line per
-- relation, "name md5".
CREATE FUNCTION pg_temp.warehouse_digest() RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    r record;
    h text;
    out text := '';
BEGIN
    FOR r IN
        SELECT c.oid::regclass AS rel
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname IN ('dw', 'mart') AND c.relkind IN ('r', 'p', 'v')
          AND NOT c.relispartition
        ORDER BY 1::text
    LOOP
        EXECUTE format($q$
            SELECT md5(coalesce(string_agg(x, E'\n' ORDER BY x), ''))
            FROM (SELECT (to_jsonb(t) - 'loaded_at' - 'run_id' - 'batch_id'
                          - 'rules_applied_at' - 'derived_at' - 'last_as_of')::text AS x
                  FROM %s t) s$q$, r.rel)
        INTO h;
        out := out || r.rel || ' ' || h || E'\n';
    END LOOP;
    RETURN out;
END
$$;

-- The relations whose digests differ (NULL: none).
CREATE FUNCTION pg_temp.digest_diff(a text, b text) RETURNS text
LANGUAGE sql AS $$
    SELECT string_agg(split_part(x, ' ', 1), ', ' ORDER BY x)
    FROM (SELECT unnest(string_to_array(a, E'\n')) EXCEPT
          SELECT unnest(string_to_array(b, E'\n'))) d (x)
$$;

-- The relations whose digests differ between the marts as they are and
-- what etl.rescore gives from the stored rows (NULL: none).  The rescore is
-- undone (a subtransaction rolled back) so that the assertion on the result
-- need not sit in a transaction that rolls back.
CREATE FUNCTION pg_temp.marts_equal_rescore(p_as_of timestamptz) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    before text := pg_temp.warehouse_digest();
    diff text;
BEGIN
    BEGIN
        PERFORM etl.rescore(p_as_of);
        diff := pg_temp.digest_diff(before, pg_temp.warehouse_digest());
        RAISE EXCEPTION USING ERRCODE = 'TUNDO';
    EXCEPTION WHEN SQLSTATE 'TUNDO' THEN
        NULL;
    END;
    RETURN diff;
END
$$;
