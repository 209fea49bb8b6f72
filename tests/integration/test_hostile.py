"""Hostile input and failure semantics (issue 14): what a real exporter or
network produces at the edges, through the real binary, the simulator (or a
file for load-file) and a real PostgreSQL.

Each test names the defect it proves fixed.  The CSV-level ones also have
seeds in tests/fuzz/corpus (found-*).
"""
import base64
import csv
import io
import os
import re
import sys
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "lib"))
import harness  # noqa: E402
from common import assert_counts_add_up, assert_same_as_served, ok  # noqa: E402
from pgproxy import PgProxy  # noqa: E402
from test_security import find_personal, personal_values, pg_dump  # noqa: E402

FAST = {"page_size": 40, "retry_delay": 0.05, "timeout": 2, "retries": 2}
DW_TABLES = ("dw.unit", "dw.procedure_version", "dw.dossier", "dw.supplement", "dw.log_step")


def config(ctx, sim, dsn=None, extra="", **keys):
    k = dict(FAST)
    k.update(keys)
    return harness.write_config(os.path.join(ctx.dir, "etl.conf"), dsn or ctx.dsn,
                                [("sim", sim.url if sim else "http://127.0.0.1:1", k)], extra)


def faults(sim, *plan):
    sim.control("faults", {"faults": list(plan)})


def dw_rows(ctx):
    return sum(int(ctx.sql(f"SELECT count(*) FROM {t}")) for t in DW_TABLES)


def last_run(ctx):
    return ctx.rows("SELECT status, rows_loaded, coalesce(error, '') FROM etl.run"
                    " ORDER BY run_id DESC LIMIT 1")[0]


def page_of(sim, entity, limit):
    with urllib.request.urlopen(f"{sim.url}/{entity}?limit={limit}", timeout=30) as r:
        return r.read()


def load_file(ctx, conf, path, entity):
    return ctx.etl(conf, "load-file", "--source", "sim", "--entity", entity, path,
                   timeout=300)


# ------------------------------------------------- defect 1: malformed CSV

def check_malformed(ctx, variant, want):
    """A page of that kind of malformed CSV: every time, the run fails
    naming page, line and byte, and nothing is loaded; once, the page is
    fetched again and every row is loaded, none glued to another."""
    sim = ctx.sim(seed=17, dossiers=120)
    conf = config(ctx, sim)
    bad = {"entity": "quatrinh", "kind": "unterminated_quote", "variant": variant, "page": 2}
    faults(sim, bad)
    r = ctx.etl(conf, "run")
    assert r.returncode == 1, r.stderr[-2000:]
    status, _loaded, error = last_run(ctx)
    assert status == "failed" and "/quatrinh: page 2 malformed twice: " in error, error
    assert want in error and want in r.stderr, error
    where = r"line \d+" if variant == "unclosed" else r"line \d+, byte \d+: "
    assert re.search(where, error), error
    assert dw_rows(ctx) == 0, "a failed run changed the warehouse"

    faults(sim, dict(bad, times=1))
    r = ok(ctx.etl(conf, "run"))
    assert "page 2 malformed" in r.stderr and want in r.stderr, r.stderr[-2000:]
    assert_same_as_served(ctx, sim)
    assert_counts_add_up(ctx)


def test_text_after_a_closing_quote_fails_the_page(ctx):
    check_malformed(ctx, "text_after_quote",
                    "'c' after a closing quote (a quote not doubled?)")


def test_a_quote_inside_an_unquoted_field_fails_the_page(ctx):
    check_malformed(ctx, "quote_in_field", "quote inside an unquoted field")


def test_an_unclosed_quote_at_the_end_fails_the_page(ctx):
    check_malformed(ctx, "unclosed", "never closes its quote (the page ends at line")


def test_a_stray_quote_in_a_file_loses_no_row(ctx):
    """The review's case: six log rows, one with text after a closing
    quote, came out as "read 3, loaded 3, rejected 0"."""
    sim = ctx.sim(seed=17, dossiers=20)
    lines = page_of(sim, "quatrinh", 6).split(b"\r\n")
    rows = list(csv.reader(io.StringIO(b"\r\n".join(lines).decode("utf-8"), newline="")))
    department = rows[3][rows[0].index("PhongBanXuLy")].encode("utf-8")
    assert b"," + department + b"," in lines[3], "a value without commas or quotes"
    lines[3] = lines[3].replace(b"," + department + b",",
                                b',"Du dieu kien" chuyen lanh dao,', 1)
    body = b"\r\n".join(lines)
    path = os.path.join(ctx.dir, "quatrinh.csv")
    with open(path, "wb") as f:
        f.write(body)
    at = body.index(b'" chuyen') + 2  # the 'c' after the space
    line = body[:at].count(b"\n") + 1  # a value may hold a line end
    r = load_file(ctx, config(ctx, sim), path, "quatrinh")
    assert r.returncode == 1, r.stderr[-2000:]
    want = f"line {line}, byte {at + 1}: 'c' after a closing quote"
    assert want in r.stderr and want in last_run(ctx)[2], (want, r.stderr[-1500:])
    assert dw_rows(ctx) == 0


# ------------------------------------- defect 2: masking of shifted rows

def test_applicant_data_appears_nowhere_when_rows_shift(ctx):
    """Rows shifted right by an unquoted comma and left by a missing field,
    at every column of hoso: no applicant value reaches the warehouse, the
    rejects or the logs (with masking by position, a shifted ChuHoSo or
    DiaChi sat under a public column and was stored in clear)."""
    sim = ctx.sim(seed=66, dossiers=200)
    cols = page_of(sim, "hoso", 1).decode("utf-8").split("\r\n")[0].split(",")
    plan = []
    for i, col in enumerate(cols):
        for j, shift in enumerate(("right", "left")):
            plan.append({"entity": "hoso", "kind": "bad_row", "reason": "field_count",
                         "shift": shift, "column": col, "request": 1 + 2 * i + j})
    faults(sim, *plan)
    conf = config(ctx, sim, extra="[extract]\nmax_reject_pct = 100", page_size=5)
    r = ok(ctx.etl(conf, "-v", "run"))
    logs = [r.stderr]
    for args in (["status"], ["score", "--format", "json"]):
        logs.append(ok(ctx.etl(conf, *args)).stdout)
    n = ctx.sql("SELECT count(*) FROM etl.reject WHERE reason = 'field_count'").strip()
    assert n == str(len(plan)), n
    samples = personal_values(sim)
    assert len(samples) > 500, len(samples)
    dump = pg_dump(ctx.cluster, ctx.db)
    for where, text in (("the warehouse (pg_dump)", dump), ("the logs", "\n".join(logs))):
        found = find_personal(samples, text)
        assert not found, f"applicant data in {where}: {found[:5]}"


# ------------------------------------------ defect 3: a clock in the future

def test_a_row_stamped_in_the_future_does_not_stop_the_source(ctx):
    sim = ctx.sim(seed=5, dossiers=60, now="20211015120000")
    faults(sim, {"entity": "donvi", "kind": "set_value", "column": "CapNhatLuc",
                 "value": "20980101000000", "page": 1, "row": 1})
    conf = config(ctx, sim)
    r = ok(ctx.etl(conf, "run"))
    assert "1 rows of donvi are stamped after the source's clock" in r.stderr, r.stderr[-2000:]
    # loaded all the same, and counted
    assert ctx.sql("SELECT count(*) FROM dw.unit WHERE updated_at > '2090-01-01'").strip() == "1"
    # the watermark stops at the source's clock (its Date header) + 5 minutes
    wm = ctx.sql("SELECT to_char(updated_until AT TIME ZONE 'Asia/Ho_Chi_Minh',"
                 " 'YYYYMMDDHH24MISS') FROM etl.watermark WHERE entity = 'donvi'").strip()
    assert wm == "20211015120500", wm
    # so the next night still asks for what changed since
    sim.control("clock", {"now": "20211016120000"})
    sim.control("log/clear", {})
    ok(ctx.etl(conf, "run"))
    asked = [q["query"] for q in sim.control("log")["requests"] if q["entity"] == "donvi"]
    assert asked and "updated_since=20211015" in asked[0], asked


def test_a_watermark_left_in_the_future_comes_back_to_the_clock(ctx):
    """A warehouse loaded by a version without the cap holds a watermark in
    2098: the source answers nothing after it, so no row can correct it.
    The next run brings it back to the source's clock."""
    sim = ctx.sim(seed=5, dossiers=60, now="20211015120000")
    conf = config(ctx, sim)
    ok(ctx.etl(conf, "run"))
    ctx.sql("UPDATE etl.watermark SET updated_until = '2098-01-01 00:00+07'"
            " WHERE entity = 'donvi'")
    sim.control("clock", {"now": "20211016120000"})
    r = ok(ctx.etl(conf, "run"))
    assert "the watermark was 2098-01-01 00:00:00, after the source's clock" in r.stderr, \
        r.stderr[-2000:]
    wm = ctx.sql("SELECT to_char(updated_until AT TIME ZONE 'Asia/Ho_Chi_Minh',"
                 " 'YYYYMMDDHH24MISS') FROM etl.watermark WHERE entity = 'donvi'").strip()
    assert wm == "20211016120500", wm
    sim.control("log/clear", {})
    ok(ctx.etl(conf, "run"))
    asked = [q["query"] for q in sim.control("log")["requests"] if q["entity"] == "donvi"]
    assert asked and "updated_since=20211016" in asked[0], asked


# -------------------------- defect 4: a big value in an ignored column

def test_a_megabyte_in_an_extra_column_is_one_too_long_reject(ctx):
    sim = ctx.sim(seed=9, dossiers=40)
    lines = page_of(sim, "hoso", 30).rstrip(b"\r\n").split(b"\r\n")
    attachment = base64.b64encode(os.urandom(900 * 1024))  # 1.2 MB of base64
    rows = [lines[0] + b",FileDinhKem"]
    for i, line in enumerate(lines[1:], 1):
        rows.append(line + b"," + (attachment if i == 7 else b""))
    path = os.path.join(ctx.dir, "hoso.csv")
    with open(path, "wb") as f:
        f.write(b"\r\n".join(rows) + b"\r\n")
    r = ok(load_file(ctx, config(ctx, sim), path, "hoso"))
    rej = ctx.rows("SELECT row_number, reason, column_name, length(raw) < 64000"
                   " FROM etl.reject")
    assert rej == [["7", "too_long", "FileDinhKem", "t"]], rej
    assert ctx.sql("SELECT count(*) FROM dw.dossier").strip() == "29", r.stderr[-1000:]
    assert_counts_add_up(ctx)


# ------------------------------------- defect 5: a header name not UTF-8

def test_a_header_name_not_in_utf8_keeps_the_rejects(ctx):
    sim = ctx.sim(seed=9, dossiers=40)
    lines = page_of(sim, "quatrinh", 20).rstrip(b"\r\n").split(b"\r\n")
    rows = [lines[0] + b",Ghi ch\xfa"]
    for i, line in enumerate(lines[1:], 1):
        rows.append(line + b"," + (b"y" * 5000 if i == 3 else b"ok"))
    path = os.path.join(ctx.dir, "quatrinh.csv")
    with open(path, "wb") as f:
        f.write(b"\r\n".join(rows) + b"\r\n")
    ok(load_file(ctx, config(ctx, sim), path, "quatrinh"))
    rej = ctx.rows("SELECT row_number, reason, column_name FROM etl.reject")
    assert rej == [["3", "too_long", "Ghi ch\\xfa"]], rej
    assert ctx.rows("SELECT rows_read, rows_rejected FROM etl.run") == [["20", "1"]]


# --------------------------------------- defect 6: an error body not UTF-8

def test_an_error_body_not_in_utf8_is_stored_with_the_failure(ctx):
    sim = ctx.sim(seed=9, dossiers=40)
    faults(sim, {"entity": "hoso", "kind": "status", "code": 400, "times": 1,
                 "body": "Tham s\u00f4 updated_since kh\u00f4ng h\u01a1p l\u00ea",
                 "charset": "cp1258"})
    r = ctx.etl(config(ctx, sim), "run")
    assert r.returncode == 1, r.stderr[-2000:]
    status, _loaded, error = last_run(ctx)
    assert status == "failed", (status, error)
    assert "HTTP 400" in error and "Tham s\\x" in error, error
    # the next writer finds nothing "interrupted" to clean up
    ok(ctx.etl(config(ctx, sim), "run"))
    assert "interrupted" not in ctx.sql("SELECT string_agg(coalesce(error, ''), '|')"
                                        " FROM etl.run")


# ------------------------------------------- defect 7: a lost COMMIT reply

def test_a_lost_commit_reply_does_not_unmake_a_committed_run(ctx):
    sim = ctx.sim(seed=9, dossiers=60)
    proxy = PgProxy(ctx.cluster)
    try:
        proxy.drop_commit_reply_after(b"etl.merge_staging")
        r = ctx.etl(config(ctx, sim, dsn=proxy.dsn(ctx.db)), "run")
        assert proxy.dropped == 1, r.stderr[-2000:]
    finally:
        proxy.stop()
    assert "reply to its COMMIT was lost" in r.stderr, r.stderr[-2000:]
    assert r.returncode == 0, r.stderr[-2000:]
    status, loaded, error = last_run(ctx)
    assert (status, error) == ("succeeded", "") and int(loaded) > 0, (status, loaded, error)
    assert_same_as_served(ctx, sim)
    assert ctx.sql("SELECT count(*) FROM etl.watermark").strip() == "5"


# ------------------------------------------ defect 8: no SAVEPOINT per page

def test_a_page_fetched_again_needs_no_subtransaction(ctx):
    sim = ctx.sim(seed=9, dossiers=120)
    faults(sim, {"entity": "hoso", "kind": "unterminated_quote", "page": 2, "times": 1},
           {"entity": "quatrinh", "kind": "reset", "page": 3, "times": 1})
    proxy = PgProxy(ctx.cluster)
    try:
        r = ok(ctx.etl(config(ctx, sim, dsn=proxy.dsn(ctx.db), page_size=20), "run"))
        sent = proxy.sent()
    finally:
        proxy.stop()
    assert "fetching page 2 again" in r.stderr and "fetching page 3 again" in r.stderr
    assert b"COPY stg_hoso" in sent, "the proxy saw the load"
    assert b"SAVEPOINT" not in sent.upper()
    assert_same_as_served(ctx, sim)
    assert_counts_add_up(ctx)
