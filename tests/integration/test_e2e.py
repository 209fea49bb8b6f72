"""The first end-to-end load: what the simulator serves is what the
warehouse holds, over several pages, with gzip on and off."""
import sys
import os

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import assert_counts_add_up, assert_same_as_served, ok  # noqa: E402


def _load(ctx, sim, page_size=100):
    conf = ctx.config([("sim", sim.url, {"page_size": page_size, "retry_delay": 0.05})])
    r = ok(ctx.etl(conf, "run"))
    return conf, r


def test_full_load_equals_served_gzip(ctx):
    sim = ctx.sim(seed=7, dossiers=400, always_gzip=True)
    _load(ctx, sim)
    assert_same_as_served(ctx, sim)
    assert_counts_add_up(ctx)
    log = sim.control("log")["requests"]
    hoso_pages = [q for q in log if q["entity"] == "hoso"]
    assert len(hoso_pages) > 3, "the load should have taken several pages"
    assert all("gzip" in (q.get("accept_encoding") or "") for q in log)


def test_full_load_equals_served_plain(ctx):
    sim = ctx.sim(seed=8, dossiers=300, never_gzip=True)
    _load(ctx, sim, page_size=57)
    assert_same_as_served(ctx, sim)
    assert_counts_add_up(ctx)


def test_run_audit_counts(ctx):
    sim = ctx.sim(seed=9, dossiers=200)
    _load(ctx, sim, page_size=1000)
    runs = ctx.rows("SELECT status, rows_read, rows_loaded, rows_rejected FROM etl.run")
    assert len(runs) == 1 and runs[0][0] == "succeeded", runs
    served = sum(sim.control(f"expected?entity={e}")["count"]
                 for e in ("donvi", "thutuc", "hoso", "bosung", "quatrinh"))
    assert int(runs[0][2]) == served, (runs, served)
    assert int(runs[0][3]) == 0
    marks = ctx.rows("SELECT entity FROM etl.watermark ORDER BY entity")
    assert [m[0] for m in marks] == sorted(["donvi", "thutuc", "hoso", "bosung", "quatrinh"])


def test_second_night_reads_only_changes(ctx):
    sim = ctx.sim(seed=10, dossiers=200, now="20210701000000")
    conf, _ = _load(ctx, sim)
    sim.control("clock", {"now": "20210801000000"})
    sim.control("log/clear", {})
    ok(ctx.etl(conf, "run"))
    assert_same_as_served(ctx, sim)
    log = sim.control("log")["requests"]
    assert all("updated_since" in (q.get("query") or "") for q in log), \
        "the second night must ask only for changes since the watermark"


def test_warns_when_dossiers_fall_outside_the_calendar(ctx):
    # rules.md: outside the calendar's covered years, Monday to Friday "with a warning"
    sim = ctx.sim(seed=11, dossiers=60, year=2018)
    conf = ctx.config([("sim", sim.url, {"page_size": 1000})])
    r = ok(ctx.etl(conf, "run"))
    assert "but the calendar covers 2019-2026" in r.stderr, r.stderr[-2000:]
    sim2 = ctx.sim(seed=11, dossiers=60, year=2021)
    ctx.sql("TRUNCATE dw.dossier, dw.supplement, dw.log_step")
    ok(ctx.etl(conf, "rescore"))
    conf2 = ctx.config([("sim", sim2.url, {"page_size": 1000})], name="b.conf")
    r = ok(ctx.etl(conf2, "run", "--full"))
    assert "calendar covers" not in r.stderr, r.stderr[-2000:]


def test_progress_line_only_on_a_terminal(ctx):
    import subprocess
    import harness
    sim = ctx.sim(seed=12, dossiers=300)
    conf = ctx.config([("sim", sim.url, {"page_size": 20})])
    r = ok(ctx.etl(conf, "run"))
    assert "\r" not in r.stderr and "\033[K" not in r.stderr, "progress drawn on a pipe"
    # under a pseudo-terminal (script(1)) the line is drawn and erased
    tty = subprocess.run(["script", "-qec", f"{harness.BINARY} -c {conf} run --full", "/dev/null"],
                         capture_output=True, text=True, timeout=300)
    assert tty.returncode == 0, tty.stdout[-2000:]
    assert "rows" in tty.stdout and "MB/s" in tty.stdout and "\033[K" in tty.stdout, \
        tty.stdout[-2000:]
