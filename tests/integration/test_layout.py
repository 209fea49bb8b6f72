"""The SQL layout (issue 16): sql/migrations holds state, sql/code one
current definition of every function and view, and `migrate` brings a
warehouse of release 9 (tests/fixtures/v9, its migrations unchanged) to the
same schema as a new one, its marts untouched."""
import glob
import os
import re

import harness
from common import ok

ROOT = harness.ROOT
FIXTURE = os.path.join(ROOT, "tests", "fixtures", "v9")
CODE_SCHEMAS = ("etl", "dw", "mart")

# Two nights of made-up rows, staged and merged by the warehouse's own
# functions (the names and arguments are the same at release 9 and now): a
# first load (bulk), then changes to some dossiers, their supplements and
# logs, a catalogue version and a unit (incremental), then the rules files
# change (rescore).  Three units, four procedures, 400 dossiers over 2024.
NIGHT1 = """
BEGIN;
SELECT etl.create_staging();
INSERT INTO pg_temp.stg_donvi
SELECT u, 'U' || u, 'Đơn vị ' || u, CASE WHEN u > 1 THEN 'U1' END,
       CASE WHEN u = 1 THEN 'TINH' ELSE 'HUYEN' END, timestamptz '2024-01-01 08:00+07'
FROM generate_series(1, 3) u;
INSERT INTO pg_temp.stg_thutuc
SELECT (u - 1) * 4 + p, 'U' || u, 'P' || p, 'Thủ tục ' || p, 'F' || p % 2, 'Lĩnh vực',
       1 + p % 4, 3 + p * 2, p % 2 = 0, true, timestamptz '2023-12-01 08:00+07'
FROM generate_series(1, 3) u, generate_series(1, 4) p;
INSERT INTO pg_temp.stg_hoso
SELECT g, 'H' || lpad(g::text, 5, '0'), 'U' || (1 + g % 3), 'P' || (1 + g % 5), 1 + g % 3,
       CASE WHEN g % 11 = 0 THEN 1 WHEN g % 7 = 0 THEN 7 WHEN g % 5 = 0 THEN 4
            WHEN g % 13 = 0 THEN 5 ELSE 9 + g % 2 END,
       r - interval '1 hour', CASE WHEN g % 11 = 0 THEN NULL ELSE r END,
       r + (4 + g % 9) * interval '1 day',
       CASE WHEN g % 11 <> 0 AND g % 7 <> 0 AND g % 5 <> 0 AND g % 13 <> 0
            THEN r + (1 + g % 12) * interval '1 day' END,
       NULL, g % 4 = 0, r + interval '20 days'
FROM generate_series(1, 400) g,
     LATERAL (SELECT timestamptz '2024-01-02 07:30+07' + (g * 21 % 360) * interval '1 day'
                     + (g % 10) * interval '1 hour' AS r) x;
INSERT INTO pg_temp.stg_bosung
SELECT g, 'H' || lpad(g::text, 5, '0'), 1, r + interval '1 day',
       CASE WHEN g % 18 <> 0 THEN r + interval '3 days' END, NULL, NULL, 'x', r + interval '5 days'
FROM generate_series(6, 400, 6) g,
     LATERAL (SELECT timestamptz '2024-01-02 07:30+07' + (g * 21 % 360) * interval '1 day' AS r) x;
INSERT INTO pg_temp.stg_quatrinh
SELECT row_number() OVER (), 'H' || lpad(g::text, 5, '0'), s, (ARRAY[2, 4, 4, 9])[s],
       r + s * interval '20 hours', (ARRAY['', 'Một cửa', 'Chuyên môn', 'Lãnh đạo'])[s],
       'cb' || s, NULL, NULL, r + (s - 1) * interval '20 hours',
       CASE WHEN s > 1 THEN r + (s + g % 3 - 1) * interval '20 hours' END, r + interval '6 days'
FROM generate_series(1, 400) g, generate_series(1, 4) s,
     LATERAL (SELECT timestamptz '2024-01-02 07:30+07' + (g * 21 % 360) * interval '1 day' AS r) x
WHERE g % 11 <> 0;
-- a log waiting for its dossier
INSERT INTO pg_temp.stg_quatrinh VALUES
    (9999, 'H99999', 1, 2, '2024-03-01 09:00+07', '', NULL, NULL, NULL, NULL, NULL,
     '2024-03-01 09:00+07');
SELECT count(*) FROM etl.merge_staging(1, 's1', 1, 1);
SELECT etl.derive('2025-01-15 00:00+07');
COMMIT;
"""

NIGHT2 = """
BEGIN;
SELECT etl.create_staging();
INSERT INTO pg_temp.stg_donvi VALUES
    (1, 'U3', 'Đơn vị ba', 'U1', 'XA', '2025-01-16 08:00+07');
INSERT INTO pg_temp.stg_thutuc VALUES
    (1, 'U2', 'P2', 'Thủ tục 2', 'F0', 'Lĩnh vực', 4, 2, true, true, '2024-06-01 10:00+07');
INSERT INTO pg_temp.stg_hoso
SELECT g, ma_ho_so, unit_code, procedure_code, channel, 10, submitted_at, received_at, due_at,
       coalesce(finished_at, received_at + interval '30 days'), NULL, paid_online,
       timestamptz '2025-01-16 09:00+07'
FROM dw.dossier d, LATERAL (SELECT substr(d.ma_ho_so, 2)::int AS g) x
WHERE g % 17 = 0;
-- one dossier moves to another unit, and the orphan's dossier arrives
INSERT INTO pg_temp.stg_hoso VALUES
    (900, 'H00034', 'U3', 'P1', 2, 9, '2024-02-01 08:00+07', '2024-02-01 09:00+07',
     '2024-02-09 17:00+07', '2024-02-07 10:00+07', NULL, false, '2025-01-16 09:30+07'),
    (901, 'H99999', 'U1', 'P3', 1, 4, '2024-03-01 08:00+07', '2024-03-01 08:30+07',
     '2024-03-12 17:00+07', NULL, NULL, false, '2025-01-16 09:30+07');
INSERT INTO pg_temp.stg_quatrinh
SELECT row_number() OVER (), ma_ho_so, seq, status, done_at + interval '2 days', department,
       handler, handler_title, content, started_at, step_due_at, timestamptz '2025-01-16 09:00+07'
FROM dw.log_step WHERE ma_ho_so LIKE '%3';
SELECT count(*) FROM etl.merge_staging(2, 's1', 1, 2);
SELECT etl.derive('2025-01-16 12:00+07');
COMMIT;
BEGIN;
SELECT etl.create_rule_staging();
INSERT INTO pg_temp.stg_calendar VALUES
    ('2024-04-29', 'holiday', 'Nghỉ bù'), ('2024-04-30', 'holiday', '30/4'),
    ('2024-05-01', 'holiday', '1/5'), ('2024-05-04', 'workday', 'Làm bù');
INSERT INTO pg_temp.stg_profile VALUES
    ('p', 'a', 'Đúng hạn', 'ontime_rate', 90, 40, NULL),
    ('p', 'b', 'Trên phần mềm', 'on_software_rate', 95, 60, 'ghi chú');
SELECT etl.apply_rules('17:00', 2024, 2024);
SELECT etl.rescore('2025-01-16 13:00+07');
COMMIT;
"""


def conf_for(ctx, db, name):
    return ctx.config([("x", "http://127.0.0.1:1", {})], name=name) if db == ctx.db else \
        harness.write_config(os.path.join(ctx.dir, name), ctx.cluster.dsn(db),
                             [("x", "http://127.0.0.1:1", {})])


def build_v9(ctx, db):
    """A warehouse as release 9's migrate left it: its migrations, each
    recorded in etl.schema_migration (table made as its pgload.c did)."""
    ctx.cluster.createdb(db)
    ctx.cluster.psql(db, "CREATE SCHEMA IF NOT EXISTS etl; "
                         "CREATE TABLE IF NOT EXISTS etl.schema_migration ("
                         " version int PRIMARY KEY, name text NOT NULL,"
                         " applied_at timestamptz NOT NULL DEFAULT now())")
    for path in sorted(glob.glob(os.path.join(FIXTURE, "0*.sql"))):
        r = ctx.cluster.psql_file(db, path)
        assert r.returncode == 0, (path, r.stderr)
        name = os.path.basename(path)
        ctx.cluster.psql(db, f"INSERT INTO etl.schema_migration VALUES "
                             f"({int(name[:3])}, '{name}')")


def load(ctx, db, script):
    r = harness.subprocess.run(
        [ctx.cluster.psql_bin, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", ctx.cluster.sock,
         "-p", str(ctx.cluster.port), "-U", "postgres", "-d", db],
        input="SET client_min_messages = warning;\n" + script, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def schema_dump(ctx, db):
    """pg_dump --schema-only, less the lines pg_dump makes random on every
    call (\\restrict's key)."""
    r = harness.subprocess.run(
        [os.path.join(ctx.cluster.bindir, "pg_dump"), "--schema-only", "-h", ctx.cluster.sock,
         "-p", str(ctx.cluster.port), "-U", "postgres", db], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return "".join(l for l in r.stdout.splitlines(keepends=True)
                   if not l.startswith(("\\restrict ", "\\unrestrict ")))


def first_difference(a, b):
    import difflib
    return "\n".join(list(difflib.unified_diff(a.splitlines(), b.splitlines(),
                                               "new", "upgraded", lineterm="", n=2))[:60])


# The columns sql/migrations/014_qd766.sql adds to tables release 9 had.
ADDED_BY_014 = ("close_date", "due_date", "online_full_eligible", "progress_in_time_month",
                "progress_in_time_quarter", "progress_in_time_year", "online_full",
                "progress_total", "progress_in_time", "progress_rate", "online_full_rate")
ADDED_BY_015 = ("successor_code", "current_code", "ended_on")
ADDED_BY_016 = ("dw.dossier_derived.field_code", "dw.dossier_derived.legal_stops")


def test_v9_warehouse_upgrades_to_the_new_schema(ctx):
    old = ctx.db[:40] + "_v9"
    try:
        build_v9(ctx, old)
        for db in (ctx.db, old):
            load(ctx, db, NIGHT1)
            load(ctx, db, NIGHT2)
        assert ctx.sql("SELECT count(*) FROM mart.unit_kpi").strip() != "0"
        before = harness.warehouse_dump(ctx.cluster, old)
        r = ok(ctx.etl(conf_for(ctx, old, "v9.conf"), "migrate"), "migrate of release 9")
        assert "applied migration 010_code_module.sql" in r.stderr, r.stderr
        assert "applied migration 001" not in r.stderr, r.stderr
        # the one writer BI readers wait for says so before it starts
        # (interfaces.md), ahead of the first migration it applies
        warn = r.stderr.find("readers of mart wait until it commits")
        assert 0 <= warn < r.stderr.find("applied migration 010"), r.stderr
        after = harness.warehouse_dump(ctx.cluster, old)
        # what release 9 held is unchanged; what it lacked (form 06, the
        # columns of 014, the lineage's of mart.unit, form 06's of
        # dw.dossier_derived) is filled by the upgrade, as the new code
        # fills it below
        older = dict(harness.DUMP_EXCLUDED_COLUMNS, **{c: "added since release 9" for c in
                                                       ADDED_BY_014 + ADDED_BY_015
                                                       + ADDED_BY_016})
        kept = {rel: text for rel, text in
                harness.warehouse_dump(ctx.cluster, old, exclude=older).items() if rel in before}
        assert before == kept, harness.dump_diff(before, kept)
        assert after["mart.form06"].strip(), "the upgrade fills form 06"
        # the same rows, loaded by the new code, give the same warehouse
        new = harness.warehouse_dump(ctx.cluster, ctx.db)
        assert new == after, harness.dump_diff(new, after)
        a, b = schema_dump(ctx, ctx.db), schema_dump(ctx, old)
        assert "dossier_p202401" in a and "log_step_p000101" in a
        assert a == b, first_difference(a, b)
        assert_due_dates_are_workday_add(ctx, ctx.db)
        # and the upgraded warehouse goes on loading and deriving
        ok(ctx.etl(conf_for(ctx, old, "v9.conf"), "rescore"), "rescore after the upgrade")
    finally:
        ctx.cluster.psql("postgres", f"DROP DATABASE IF EXISTS {old} WITH (FORCE)", check=False)


def test_a_warehouse_before_release_9_is_refused(ctx):
    old = ctx.db[:40] + "_v5"
    try:
        ctx.cluster.createdb(old)
        ctx.cluster.psql(old, "CREATE SCHEMA etl; CREATE TABLE etl.schema_migration ("
                              " version int PRIMARY KEY, name text NOT NULL,"
                              " applied_at timestamptz NOT NULL DEFAULT now());"
                              " INSERT INTO etl.schema_migration VALUES (5, '005_merge.sql')")
        r = ctx.etl(conf_for(ctx, old, "v5.conf"), "migrate")
        assert r.returncode == 3 and "release 9" in r.stderr, (r.returncode, r.stderr)
    finally:
        ctx.cluster.psql("postgres", f"DROP DATABASE IF EXISTS {old} WITH (FORCE)", check=False)


CREATE = re.compile(r"\bCREATE\s+(?:OR\s+REPLACE\s+)?(FUNCTION|PROCEDURE|VIEW|"
                    r"MATERIALIZED\s+VIEW)\s+([a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*)", re.I)


def created_names(paths):
    """{schema.name: [file, ...]} for every CREATE of a function or view,
    comments left out."""
    out = {}
    for path in paths:
        text = re.sub(r"--[^\n]*", "", open(path).read())
        for m in CREATE.finditer(text):
            out.setdefault(m.group(2).lower(), []).append(os.path.relpath(path, ROOT))
    return out


def twice(names):
    return {n: files for n, files in names.items() if len(files) > 1}


def test_every_function_and_view_is_created_once(ctx):
    code = sorted(glob.glob(os.path.join(ROOT, "sql", "code", "*.sql")))
    migrations = sorted(glob.glob(os.path.join(ROOT, "sql", "migrations", "*.sql")))
    assert code and migrations
    names = created_names(code + migrations)
    assert not twice(names), f"created more than once: {twice(names)}"
    in_migrations = created_names(migrations)
    assert not in_migrations, f"migrations hold code: {in_migrations}"
    # the check itself finds a second CREATE, with or without OR REPLACE
    probe = os.path.join(ctx.dir, "probe.sql")
    with open(probe, "w") as f:
        f.write("CREATE FUNCTION dw.f() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$;\n"
                "-- CREATE VIEW mart.v AS SELECT 1;\n"
                "create or replace function DW.F() RETURNS int LANGUAGE sql AS $$ SELECT 2 $$;\n")
    assert list(twice(created_names([probe]))) == ["dw.f"]
    # and what a migrated warehouse holds is what sql/code creates, no more
    held = ctx.rows(f"""
        SELECT n.nspname || '.' || p.proname FROM pg_proc p
        JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname IN {CODE_SCHEMAS}
        UNION ALL
        SELECT n.nspname || '.' || c.relname FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname IN {CODE_SCHEMAS} AND c.relkind IN ('v', 'm')""")
    held = sorted(r[0] for r in held)
    assert held == sorted(created_names(code)), (
        set(held) ^ set(created_names(code)))


def code_state(ctx):
    return ctx.sql("SELECT string_agg(oid::text, ',' ORDER BY oid) FROM pg_proc"
                   f" WHERE pronamespace::regnamespace::text IN {CODE_SCHEMAS}")


def test_migrate_applies_code_only_when_it_changed(ctx):
    conf = conf_for(ctx, ctx.db, "etl.conf")
    before = code_state(ctx)
    r = ok(ctx.etl(conf, "migrate"), "second migrate")
    assert "applied" not in r.stderr and "readers of mart" not in r.stderr, r.stderr
    assert code_state(ctx) == before
    # a module that changed (here: its recorded hash) brings every module
    # back, and what no module defines any more goes
    ctx.sql("CREATE FUNCTION dw.gone() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$;"
            " CREATE VIEW mart.gone AS SELECT 1 AS one;"
            " REVOKE SELECT ON mart.dossier FROM onestop_bi;"
            " UPDATE etl.code_module SET hash = 'x' WHERE name = 'kpi.sql'")
    r = ctx.etl(conf, "status")
    assert r.returncode == 3 and "run 'onestop-etl migrate'" in r.stderr, (r.returncode, r.stderr)
    r = ok(ctx.etl(conf, "migrate"), "migrate after a change")
    assert "applied the" in r.stderr, r.stderr
    assert code_state(ctx) != before
    assert ctx.sql("SELECT to_regproc('dw.gone') IS NULL AND to_regclass('mart.gone') IS NULL"
                   ).strip() == "t"
    # the views came back with their grants and comments
    assert ctx.sql("SELECT has_table_privilege('onestop_bi', 'mart.dossier', 'SELECT')"
                   " AND col_description('mart.dossier'::regclass, 1) IS NOT NULL"
                   ).strip() == "t"
    ok(ctx.etl(conf, "status"), "status after the code came back")


# (d, k, d + k working days) with the shipped calendar: the cases that
# etl/calendar.c's own workday_add was tested with before it went (the
# warehouse's is the one the derivation uses).
WORKDAY_ADD = [
    ("2024-05-04", 3, "2024-05-08"),   # rules.md example 1
    ("2024-05-03", 1, "2024-05-04"),   # the make-up Saturday
    ("2024-04-26", 1, "2024-05-02"),
    ("2024-10-01", 9, "2024-10-14"),   # example 2
    ("2024-03-04", 5, "2024-03-11"),   # example 4
    ("2024-03-09", 0, "2024-03-09"),   # k = 0: the day itself
    ("2024-03-08", 1, "2024-03-11"), ("2024-03-09", 1, "2024-03-11"),
    ("2024-02-07", 1, "2024-02-15"),   # Tết 2024
    ("2022-04-29", 1, "2022-05-04"),   # 30/4 and 1/5 on a weekend, then two days off
    ("2025-01-24", 1, "2025-02-03"), ("2025-02-14", 1, "2025-02-17"),
]


def test_working_day_arithmetic_is_the_warehouse_s(ctx):
    conf = conf_for(ctx, ctx.db, "etl.conf")
    ok(ctx.etl(conf, "rescore"), "rescore (applies the shipped calendar)")
    got = ctx.rows("SELECT d, k, dw.workday_add(d::date, k) FROM (VALUES "
                   + ", ".join(f"('{d}', {k})" for d, k, _ in WORKDAY_ADD) + ") v (d, k)")
    assert got == [[d, str(k), want] for d, k, want in WORKDAY_ADD], got
    # the break runs past each year's Tết
    assert ctx.sql("SELECT bool_and(dw.workday_add(d - 3, 1) > d) FROM unnest("
                   "'{2019-02-05,2020-01-25,2021-02-12,2022-02-01,2023-01-22,2024-02-10,"
                   "2025-01-29,2026-02-17}'::date[]) d").strip() == "t"


def assert_due_dates_are_workday_add(ctx, db):
    """The derivation's legal due dates (set-based joins on workday_no) are
    dw.workday_add of the effective receipt day, every one."""
    bad = ctx.cluster.psql(db, """
        SELECT count(*) FILTER (WHERE legal_due_date IS DISTINCT FROM
                                dw.workday_add(effective_receipt_day, legal_days + extension_days)),
               count(*) FILTER (WHERE legal_due_date IS NOT NULL)
        FROM dw.dossier_derived WHERE legal_days IS NOT NULL""").split()
    assert bad[0] == "0" and int(bad[1]) > 100, bad
