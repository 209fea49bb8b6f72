-- Test helpers, loaded before each tests/sql/test_*.sql (psql -X -At).
-- A test prints one line per check: "ok NAME" or "not ok NAME: got X want Y".
\set QUIET on
SET client_min_messages = warning;
SET TIME ZONE 'UTC';
-- helpers may name staging tables that exist only inside a transaction
SET check_function_bodies = off;

CREATE FUNCTION pg_temp.is(got anyelement, want anyelement, name text) RETURNS text
LANGUAGE sql AS $$
    SELECT CASE WHEN got IS NOT DISTINCT FROM want THEN 'ok ' || name
                ELSE 'not ok ' || name || ': got ' || coalesce(got::text, 'NULL')
                     || ' want ' || coalesce(want::text, 'NULL') END
$$;

-- Text-typed variant, for literals of unknown type.
CREATE FUNCTION pg_temp.is(got text, want text, name text) RETURNS text
LANGUAGE sql AS $$
    SELECT CASE WHEN got IS NOT DISTINCT FROM want THEN 'ok ' || name
                ELSE 'not ok ' || name || ': got ' || coalesce(got, 'NULL')
                     || ' want ' || coalesce(want, 'NULL') END
$$;

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
        ('qd766', '2.1', 'Tỷ lệ hồ sơ giải quyết đúng hạn', 'ontime_rate', 100, 20, NULL),
        ('qd766', '3.1', 'Tỷ lệ TTHC trực tuyến một phần, toàn trình', 'pct_level3plus', 80, 4, NULL),
        ('qd766', '3.3', 'Tỷ lệ hồ sơ nộp trực tuyến', 'online_rate', 50, 8, NULL),
        ('qd766', '3.6', 'Tỷ lệ thanh toán trực tuyến', 'paid_online_rate', 100, 6, NULL);
    RETURN etl.apply_rules(p_office_close, 2024, 2024);
END
$$;

-- A local (Asia/Ho_Chi_Minh) timestamp, as C would stage it.
CREATE FUNCTION pg_temp.lt(t text) RETURNS timestamptz
LANGUAGE sql IMMUTABLE AS $$ SELECT (t::timestamp AT TIME ZONE 'Asia/Ho_Chi_Minh') $$;
