"""Issue 14, item 9, and the writers' lock: what the program prints is safe
for the terminal it lands on, and no command waits for ever.

A unit name that retitles the terminal (ESC ] 0 ; ... BEL), clears it
(ESC [ 2 J) and carries an 8-bit CSI (U+009B) is served by the simulator;
score (table, CSV, JSON), report and the log show it without a raw control
character, JSON keeps it exactly, CSV does not let it run as a formula.
status shows a file name with the same characters.  A writer gives up on
the lock after lock_wait and names who holds it; readers end on
statement_timeout."""
import csv
import io
import json
import os
import re
import sys
import time
from collections import Counter

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from common import ok  # noqa: E402

HOSTILE = ('=HYPERLINK("http://x.invalid/","Phòng")\x1b]0;pwned\x07\x1b[2J'
           ' Giáo dục\u009b31m Tân\u0085Xã')
# C0 but TAB/LF, DEL, C1: nothing of these may reach a terminal raw
RAW_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f\x80-\x9f]")
LOCK_KEYS = "1869505907, 7630704"  # the writers' lock: "onestop" (pgload.c)


def assert_no_raw_control(text, what):
    m = RAW_CONTROL.search(text)
    assert not m, f"{what}: raw {m.group()!r} at {m.start()}: {text[max(0, m.start() - 60):m.end() + 20]!r}"
    assert "\t" not in text, f"{what}: a raw TAB"


def _busiest_unit_row(sim):
    """The unit with the most dossiers (it has a score), and its row in the
    simulator's donvi page."""
    import urllib.request
    hoso = sim.control("expected?entity=hoso")["rows"]
    unit = Counter(r[1] for r in hoso).most_common(1)[0][0]
    with urllib.request.urlopen(sim.url + "/donvi?limit=1000", timeout=60) as r:
        page = list(csv.DictReader(io.StringIO(r.read().decode())))
    return unit, [u["MaDonVi"] for u in page].index(unit) + 1


def _load_hostile(ctx):
    sim = ctx.sim(seed=21, year=2021, dossiers=400)
    unit, row = _busiest_unit_row(sim)
    sim.control("faults", {"faults": [{"entity": "donvi", "kind": "bad_row", "reason": "too_long",
                                       "request": 1, "column": "TenDonVi", "value": HOSTILE,
                                       "row": row}]})
    conf = ctx.config([("sim", sim.url, {"page_size": 1000})])
    r = ok(ctx.etl(conf, "run"))
    assert_no_raw_control(r.stderr, "run's log")
    got = ctx.sql(f"SELECT unit_name FROM mart.unit WHERE unit_code = '{unit}'").rstrip("\n")
    assert got == HOSTILE, f"the hostile name was not loaded as served: {got!r}"
    return conf, unit


def test_score_shows_hostile_names_safely(ctx):
    conf, unit = _load_hostile(ctx)
    base = ("score", "--period", "2021")

    table = ok(ctx.etl(conf, *base)).stdout
    assert_no_raw_control(table, "score table")
    assert "\\x1b]0;pwned\\x07\\x1b[2J" in table, table[:3000]
    assert max(len(line) for line in table.splitlines()) <= 100

    out = ok(ctx.etl(conf, *base, "--format", "json")).stdout
    assert_no_raw_control(out, "score json")
    names = {u["unit_code"]: u["unit_name"] for u in json.loads(out)}
    assert names[unit] == HOSTILE, names[unit]  # escaped, not dropped

    out = ok(ctx.etl(conf, *base, "--format", "csv")).stdout
    assert_no_raw_control(out.replace("\n", ""), "score csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    mine = [r for r in rows if r["unit_code"] == unit]
    assert mine, f"unit {unit} not in the CSV"
    for r in mine:
        # a text cell that starts like a formula is text
        assert r["unit_name"].startswith("'=HYPERLINK("), r["unit_name"]
        assert "\\x1b]0;pwned\\x07\\x1b[2J Giáo dục\\u009b31m Tân\\u0085Xã" in r["unit_name"]
    for r in rows:
        for col in ("value", "target", "points", "max_points", "total_points", "score_pct"):
            assert not r[col].startswith("'"), (col, r[col])  # numbers stay numbers


def test_report_and_log_show_hostile_names_safely(ctx):
    conf, unit = _load_hostile(ctx)
    page = os.path.join(ctx.dir, "report\x1b]0;x\x07.html")
    r = ok(ctx.etl(conf, "report", "--period", "2021", "--unit", unit, "--out", page))
    html = open(page, encoding="utf-8").read()
    assert_no_raw_control(html.replace("\n", ""), "report page")
    assert "Giáo dục" in html and "\\x1b]0;pwned\\x07" in html
    assert_no_raw_control(r.stderr, "report's log")


def test_status_and_log_show_hostile_file_names_safely(ctx):
    sim = ctx.sim(seed=5, dossiers=20)
    conf = ctx.config([("sim", sim.url, {})])
    # a file that fails (a quote never closes): the log and status quote
    # its name in the error, and status names the file
    nasty = "\x1b]0;pwned\x07\x1b[2J\u009b31m\u0085"
    path = os.path.join(ctx.dir, f"donvi {nasty}.csv")
    with open(path, "w", encoding="utf-8") as f:
        f.write('MaDonVi,TenDonVi,CapNhatLuc\r\nX.1,"never closed,20210101000000\r\n')
    r = ctx.etl(conf, "load-file", "--source", "sim", "--entity", "donvi", path)
    assert r.returncode == 1, f"exit {r.returncode}:\n{r.stderr[-2000:]}"
    assert_no_raw_control(r.stderr, "load-file's log")
    assert "donvi \\x1b]0;pwned\\x07\\x1b[2J\\u009b31m\\u0085.csv' is malformed" in r.stderr, \
        r.stderr
    out = ok(ctx.etl(conf, "status"), "status").stdout
    assert_no_raw_control(out, "status")
    assert "donvi \\x1b]0;pwned\\x07\\x1b[2J\\u009b31m\\u0085.csv" in out, out


# ------------------------------------------------------- no endless waits

def _hold_lock(ctx, name):
    holder = harness.PsqlSession(ctx.cluster, ctx.db)
    holder.run(f"SET application_name = '{name}'")
    holder.run(f"SELECT pg_advisory_lock({LOCK_KEYS})")
    return holder, holder.run("SELECT pg_backend_pid()").strip()


def test_lock_wait_gives_up_naming_the_holder(ctx):
    sim = ctx.sim(seed=5, dossiers=20)
    conf = ctx.config([("sim", sim.url, {})], extra="[warehouse]\nlock_wait = 2")
    holder, pid = _hold_lock(ctx, "stuck-nightly")
    try:
        for args in (("run",), ("rescore",), ("migrate",)):
            t0 = time.time()
            r = ctx.etl(conf, *args)
            took = time.time() - t0
            assert r.returncode == 4, f"{args}: exit {r.returncode}:\n{r.stderr[-2000:]}"
            assert 2 <= took < 10, f"{args} gave up after {took:.1f}s, lock_wait is 2"
            assert "after 2 s (lock_wait)" in r.stderr, r.stderr
            assert f"pid {pid} (application 'stuck-nightly'" in r.stderr, r.stderr
        # 0: do not wait at all, as --no-wait
        now = ctx.config([("sim", sim.url, {})], extra="[warehouse]\nlock_wait = 0",
                         name="now.conf")
        for conf_, args in ((now, ("run",)), (conf, ("run", "--no-wait"))):
            t0 = time.time()
            r = ctx.etl(conf_, *args)
            assert r.returncode == 4 and time.time() - t0 < 5, (r.returncode, r.stderr)
            assert f"held by pid {pid}" in r.stderr, r.stderr
        assert ctx.sql("SELECT count(*) FROM etl.run").strip() == "0"
        # within lock_wait, the writer waits, known by its application_name
        waiting = ctx.config([("sim", sim.url, {})], extra="[warehouse]\nlock_wait = 60",
                             name="wait.conf")
        proc = harness.start_etl(waiting, "run")
        try:
            harness.wait_until(lambda: ctx.sql(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'advisory'"
                " AND application_name = 'onestop-etl'").strip() == "1",
                what="the run to wait for the lock as 'onestop-etl'")
            holder.run(f"SELECT pg_advisory_unlock({LOCK_KEYS})")
            assert proc.wait(60) == 0, proc.output()[-3000:]
        finally:
            if proc.poll() is None:
                proc.kill()
    finally:
        holder.close()
    for bad, msg in (("lock_wait = -1", "out of range"), ("lock_wait = 6h", "whole number"),
                     ("statement_timeout = 86401", "out of range")):
        c = ctx.config([("sim", sim.url, {})], extra=f"[warehouse]\n{bad}", name="bad.conf")
        r = ctx.etl(c, "check-config")
        assert r.returncode == 2 and msg in r.stderr, (bad, r.stderr)


def test_readers_end_on_statement_timeout(ctx):
    sim = ctx.sim(seed=5, dossiers=20)
    conf = ctx.config([("sim", sim.url, {})], extra="[warehouse]\nstatement_timeout = 1")
    holder = harness.PsqlSession(ctx.cluster, ctx.db)
    try:
        holder.run("BEGIN")
        holder.run("LOCK TABLE etl.run, mart.compliance_total IN ACCESS EXCLUSIVE MODE")
        for args in (("status",), ("score", "--period", "2021"),
                     ("report", "--period", "2021", "--out", os.path.join(ctx.dir, "r.html"))):
            t0 = time.time()
            r = ctx.etl(conf, *args, timeout=60)
            took = time.time() - t0
            assert r.returncode == 3, f"{args}: exit {r.returncode}:\n{r.stderr[-2000:]}"
            assert "statement timeout" in r.stderr, r.stderr
            assert took < 10, f"{args} took {took:.1f}s with statement_timeout = 1"
    finally:
        holder.close()
