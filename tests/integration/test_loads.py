"""Loads an administrator can trust (issue 4): idempotent, crash-safe, one
at a time, rerunnable, auditable.  Real PostgreSQL, the real binary and the
source simulator; small data, so that the whole file stays fast.

The warehouse is compared as a deterministic dump of the schemas dw and mart
(harness.warehouse_dump: every relation sorted by all its columns, without
the columns harness.DUMP_EXCLUDED_COLUMNS lists and justifies)."""
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "lib"))
import harness  # noqa: E402
from common import assert_counts_add_up, assert_same_as_served, ok  # noqa: E402

NIGHT1 = "20210601000000"
NIGHT2 = "20210701000000"   # the catalogue of the simulator changes on 2021-06-15
ENTITIES = ("donvi", "thutuc", "hoso", "bosung", "quatrinh")
LOCAL = "'Asia/Ho_Chi_Minh'"


# ------------------------------------------------------------------ helpers

def sim_for(ctx, seed=41, dossiers=300, now=NIGHT1, **opts):
    return ctx.sim(seed=seed, dossiers=dossiers, now=now, **opts)


def config_for(ctx, sim, extra="", name="etl.conf", dsn=None, sources=("sim",), **keys):
    src = {"page_size": 10, "retry_delay": 0.05, "retries": 2}
    src.update(keys)
    url = src.pop("url", sim.url)
    return harness.write_config(os.path.join(ctx.dir, name), dsn or ctx.dsn,
                                [(n, url, src) for n in sources], extra)


def dump(ctx, db=None):
    return harness.warehouse_dump(ctx.cluster, db or ctx.db)


def assert_same_dump(got, want, what):
    diff = harness.dump_diff(want, got)
    assert not diff, f"{what}: the warehouse differs:\n{diff[:4000]}"


def reference_dump(ctx, sim, sources=("sim",), extra="", **keys):
    """The warehouse of one uninterrupted load of what the simulator serves
    now, in a database of its own."""
    db = ctx.db[:40] + "_ref"
    ctx.cluster.createdb(db, "onestop_tmpl")
    try:
        keys.setdefault("page_size", 500)
        conf = config_for(ctx, sim, name="ref.conf", dsn=ctx.cluster.dsn(db), sources=sources,
                          extra=extra, **keys)
        ok(ctx.etl(conf, "run"), "reference run")
        ref = dump(ctx, db)
    finally:
        ctx.cluster.psql("postgres", f"DROP DATABASE IF EXISTS {db} WITH (FORCE)", check=False)
    return ref


def last_run(ctx):
    rows = ctx.rows("SELECT run_id, status, coalesce(error, ''), command, mode"
                    " FROM etl.run ORDER BY run_id DESC LIMIT 1")
    return rows[0] if rows else None


def watermarks(ctx):
    return dict(ctx.rows("SELECT entity, to_char(updated_until AT TIME ZONE " + LOCAL +
                         ", 'YYYYMMDDHH24MISS') FROM etl.watermark WHERE source = 'sim'"))


def set_faults(sim, *faults):
    sim.control("faults", {"faults": list(faults)})


def wait_for_fault(sim, proc, kind="stall", timeout=60):
    """Wait until the simulator's log shows a request that got the fault."""
    def seen():
        if proc.poll() is not None:
            raise AssertionError(f"the run ended (exit {proc.returncode}) before the"
                                 f" {kind} fault:\n{proc.output()[-3000:]}")
        return [q for q in sim.control("log")["requests"] if q.get("fault") == kind]
    return harness.wait_until(seen, timeout=timeout, what=f"a request with the {kind} fault")


def kill9(proc):
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    assert proc.returncode == -signal.SIGKILL, proc.returncode


def served_max(sim, entity):
    """The latest CapNhatLuc the simulator serves for an entity."""
    return max(r[-1] for r in sim.control(f"expected?entity={entity}")["rows"])


def query_param(q, name):
    from urllib.parse import parse_qs
    return parse_qs(q.get("query") or "").get(name, [None])[0]


def plain_minus(ts, seconds):
    import calendar as cal
    t = cal.timegm(time.strptime(ts, "%Y%m%d%H%M%S")) - seconds
    return time.strftime("%Y%m%d%H%M%S", time.gmtime(t))


def two_nights(ctx, sources=("sim",), extra="", **keys):
    """Night 1 loaded, clock at night 2: (sim, conf, dump after night 1).
    conf reads pages of 10 rows, so that night 2 takes several: room for a
    fault on a later page."""
    sim = sim_for(ctx)
    ok(ctx.etl(config_for(ctx, sim, name="night1.conf", page_size=500, sources=sources,
                          extra=extra), "run"), "night 1")
    conf = config_for(ctx, sim, sources=sources, extra=extra, **keys)
    before = dump(ctx)
    sim.control("clock", {"now": NIGHT2})
    sim.control("log/clear", {})
    return sim, conf, before


# ------------------------------------------------------ identical warehouse

def test_same_night_twice_backfill_and_full_change_nothing(ctx):
    sim, conf, before = two_nights(ctx)
    ok(ctx.etl(conf, "run"), "night 2")
    night = dump(ctx)
    assert harness.dump_diff(before, night), "night 2 should change the warehouse"
    marks = watermarks(ctx)
    assert night["dw.dossier"] and night["mart.unit_kpi"], "the warehouse should not be empty"

    ok(ctx.etl(conf, "run"), "night 2 again")
    assert_same_dump(dump(ctx), night, "the same night twice")

    big = config_for(ctx, sim, name="big.conf", page_size=500)
    ok(ctx.etl(big, "run", "--since", "20210301000000", "--until", "20210615000000"),
       "backfill of a loaded window")
    assert_same_dump(dump(ctx), night, "a backfill of a window already loaded")
    assert watermarks(ctx) == marks

    ok(ctx.etl(big, "run", "--full"), "full")
    assert_same_dump(dump(ctx), night, "run --full after nightly runs")
    assert watermarks(ctx) == marks

    assert_same_dump(night, reference_dump(ctx, sim), "two nights against one load")
    assert_same_as_served(ctx, sim)
    assert_counts_add_up(ctx)


# ---------------------------------------------------------------- crashes

def _interrupted_then_completed(ctx, sim, conf, before, killed_run):
    """After a killed run: the warehouse as before it, its row 'running'
    until the next writer marks it failed 'interrupted', and a normal run
    gives the warehouse of an uninterrupted one."""
    assert_same_dump(dump(ctx), before, "after the kill")
    status = ctx.rows(f"SELECT status, coalesce(error, '') FROM etl.run WHERE run_id = {killed_run}")
    assert status == [["running", ""]], status
    set_faults(sim)
    ok(ctx.etl(conf, "run"), "the run after the kill")
    status = ctx.rows(f"SELECT status, error, finished_at IS NOT NULL FROM etl.run"
                      f" WHERE run_id = {killed_run}")
    assert status == [["failed", "interrupted", "t"]], status
    assert last_run(ctx)[1] == "succeeded"
    ref = reference_dump(ctx, sim)
    assert harness.dump_diff(before, ref), "the killed run had something to change"
    assert_same_dump(dump(ctx), ref, "the run after the kill")
    assert_same_as_served(ctx, sim)
    assert_counts_add_up(ctx)


def _kill_during_stall(ctx, entity, page):
    sim, conf, before = two_nights(ctx)
    set_faults(sim, {"entity": entity, "page": page, "kind": "stall", "seconds": 30,
                     "fraction": 0.5})
    proc = harness.start_etl(conf, "run")
    try:
        wait_for_fault(sim, proc)
        run_id = harness.wait_until(
            lambda: ctx.sql("SELECT max(run_id) FROM etl.run WHERE status = 'running'").strip(),
            what="the run's row")
    finally:
        kill9(proc)
    # the kill left the server to notice the dead client; the lock must go
    harness.wait_until(lambda: ctx.sql(
        "SELECT count(*) = 0 FROM pg_locks WHERE locktype = 'advisory'").strip() == "t",
        what="the advisory lock to be released")
    _interrupted_then_completed(ctx, sim, conf, before, run_id)


def test_sigkill_during_first_page(ctx):
    _kill_during_stall(ctx, "hoso", 1)


def test_sigkill_after_some_pages(ctx):
    # donvi, thutuc, hoso and bosung are staged, quatrinh is on its third page
    _kill_during_stall(ctx, "quatrinh", 3)


def test_sigkill_during_merge(ctx):
    sim, conf, before = two_nights(ctx)
    holder = harness.PsqlSession(ctx.cluster, ctx.db)
    proc = None
    try:
        holder.run("BEGIN; LOCK TABLE dw.dossier IN ACCESS EXCLUSIVE MODE")
        proc = harness.start_etl(conf, "run")
        waiting = harness.wait_until(lambda: ctx.rows(
            "SELECT pid, query FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
            " AND datname = current_database()"), what="the run to wait for dw.dossier")
        assert "merge_staging" in waiting[0][1], waiting
        run_id = ctx.sql("SELECT max(run_id) FROM etl.run").strip()
        kill9(proc)
    finally:
        if proc and proc.poll() is None:
            proc.kill()
        holder.run("ROLLBACK")
        holder.close()
    # the orphaned backend finishes its statement, cannot answer, and ends
    harness.wait_until(lambda: ctx.sql(
        "SELECT count(*) = 0 FROM pg_stat_activity WHERE query LIKE '%merge_staging%'"
        " AND pid <> pg_backend_pid()").strip() == "t", what="the orphaned merge to end")
    _interrupted_then_completed(ctx, sim, conf, before, run_id)


def test_postgres_restart_mid_load(ctx):
    # two sources, one after the other: the second starts after the restart,
    # when this run no longer holds the writers' lock, and must not commit
    sources, extra = ("sim", "sim2"), "[extract]\nparallel = 1"
    sim, conf, before = two_nights(ctx, sources=sources, extra=extra)
    set_faults(sim, {"entity": "hoso", "request": 2, "kind": "stall", "seconds": 4})
    proc = harness.start_etl(conf, "run")
    wait_for_fault(sim, proc)
    run_id = ctx.sql("SELECT max(run_id) FROM etl.run").strip()
    # the bench runs with synchronous_commit off: make what is committed
    # durable, as it is on a production server, before pulling the plug
    ctx.sql("CHECKPOINT")
    ctx.cluster.restart(mode="immediate")
    try:
        proc.wait(60)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise AssertionError("the run hangs after a PostgreSQL restart:\n" + proc.output())
    out = proc.output()
    assert proc.returncode == 1, f"exit {proc.returncode}:\n{out[-3000:]}"
    assert "ERROR: AddressSanitizer" not in out and "runtime error" not in out, out[-3000:]
    assert "warehouse" in out and "connection" in out, out[-3000:]
    assert_same_dump(dump(ctx), before, "after the restart")
    status = ctx.rows(f"SELECT source, status, coalesce(error, '') FROM etl.run"
                      f" WHERE run_id >= {run_id} ORDER BY run_id")
    assert len(status) == 2, status
    assert status[0][:2] == ["sim", "failed"] and "connection" in status[0][2], (status, out)
    assert status[1][:2] == ["sim2", "failed"] and "lock" in status[1][2], (status, out)
    set_faults(sim)
    ok(ctx.etl(conf, "run"), "the run after the restart")
    assert_same_dump(dump(ctx), reference_dump(ctx, sim, sources=sources, extra=extra),
                     "the run after the restart")
    assert_same_as_served(ctx, sim)


# ------------------------------------------------------------ concurrency

def _locked_out(ctx, conf, *args):
    t0 = time.time()
    r = ctx.etl(conf, *args)
    assert r.returncode == 4, f"{args} exited {r.returncode}, not 4:\n{r.stderr[-2000:]}"
    assert "lock" in r.stderr, r.stderr
    assert time.time() - t0 < 10, f"{args} took {time.time() - t0:.1f}s to give up"


def test_one_writer_at_a_time(ctx):
    sim, conf, _ = two_nights(ctx)
    donvi = os.path.join(ctx.dir, "donvi.csv")
    with open(donvi, "w") as f:
        f.write("MaDonVi,TenDonVi,CapNhatLuc\r\nX.1,Đơn vị thử,20210101000000\r\n")
    set_faults(sim, {"entity": "hoso", "request": 1, "kind": "stall", "seconds": 5})
    first = harness.start_etl(conf, "run")
    waiters = []
    try:
        wait_for_fault(sim, first)
        runs_before = ctx.sql("SELECT count(*) FROM etl.run").strip()
        _locked_out(ctx, conf, "run", "--no-wait")
        _locked_out(ctx, conf, "rerun", "--failed", "--no-wait")
        _locked_out(ctx, conf, "rescore", "--no-wait")
        _locked_out(ctx, conf, "load-file", "--source", "sim", "--entity", "donvi",
                    "--no-wait", donvi)
        assert ctx.sql("SELECT count(*) FROM etl.run").strip() == runs_before, \
            "a writer that did not get the lock must not touch etl.run"
        # without --no-wait they wait for the lock: a run, and migrate
        waiters = [harness.start_etl(conf, "run"), harness.start_etl(conf, "migrate")]
        harness.wait_until(lambda: ctx.sql(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'advisory'").strip() == "2",
            what="the run and migrate to wait for the lock")
        assert first.poll() is None, "the first run should still hold the lock"
        assert first.wait(60) == 0, first.output()[-3000:]
        for w in waiters:
            assert w.wait(60) == 0, w.output()[-3000:]
        assert "waiting" in waiters[0].output(), waiters[0].output()
    finally:
        for p in [first] + waiters:
            if p.poll() is None:
                p.kill()
    runs = ctx.rows("SELECT run_id, status, started_at, finished_at FROM etl.run ORDER BY run_id")
    assert [r[1] for r in runs] == ["succeeded"] * 3, runs
    for a, b in zip(runs[1:], runs[2:]):
        assert ctx.sql(f"SELECT '{b[2]}'::timestamptz >= '{a[3]}'::timestamptz").strip() == "t", \
            f"runs {a[0]} and {b[0]} overlap: {runs}"
    assert_same_as_served(ctx, sim)


# ------------------------------------------------------------------ reruns

OUTAGE = {"entity": "*", "request": 1, "times": 100000, "kind": "status", "code": 503}


def test_rerun_failed_after_an_outage_loads_what_was_missed(ctx):
    sim, conf, before = two_nights(ctx)
    marks = watermarks(ctx)
    set_faults(sim, OUTAGE)
    r = ctx.etl(conf, "run")
    assert r.returncode == 1, r.stderr
    failed = last_run(ctx)
    assert failed[1] == "failed" and "503" in failed[2], failed
    assert_same_dump(dump(ctx), before, "a failed night")
    assert watermarks(ctx) == marks

    r = ctx.etl(conf, "rerun", "--failed")      # the outage goes on
    assert r.returncode == 1, r.stderr
    again = last_run(ctx)
    assert again[1:4] == ["failed", again[2], "rerun"] and "503" in again[2], again

    set_faults(sim)
    sim.control("log/clear", {})
    r = ok(ctx.etl(conf, "rerun", "--failed"), "rerun --failed")
    rerun = ctx.rows("SELECT run_id, status, command, mode, rerun_of FROM etl.run"
                     " ORDER BY run_id DESC LIMIT 1")[0]
    assert rerun[1:4] == ["succeeded", "rerun", "nightly"], rerun
    assert rerun[4] in (failed[0], again[0]), rerun
    assert ctx.sql("SELECT count(*) FROM etl.run WHERE command = 'rerun' AND status = 'succeeded'"
                   ).strip() == "1", "two failed nights need one rerun"
    # exactly what was missed: changes since the watermark, less the lookback
    for q in sim.control("log")["requests"]:
        if not query_param(q, "cursor"):
            assert query_param(q, "updated_since") == plain_minus(marks[q["entity"]], 3600), q
            assert query_param(q, "updated_until") is None, q
    assert_same_as_served(ctx, sim)
    assert_same_dump(dump(ctx), reference_dump(ctx, sim), "the rerun")
    assert_counts_add_up(ctx)

    out = ok(ctx.etl(conf, "status"), "status").stdout
    lines = out.splitlines()
    assert any(failed[0] in l.split()[:1] and "failed" in l for l in lines), out
    assert any(rerun[0] in l.split()[:1] and "succeeded" in l for l in lines), out
    assert "503" in out, out

    n = ctx.sql("SELECT count(*) FROM etl.run").strip()
    r = ok(ctx.etl(conf, "rerun", "--failed"), "rerun --failed with nothing to rerun")
    assert "nothing to rerun" in r.stderr, r.stderr
    assert ctx.sql("SELECT count(*) FROM etl.run").strip() == n


def test_rerun_of_a_backfill_repeats_its_window(ctx):
    sim = sim_for(ctx, now=NIGHT2)
    conf = config_for(ctx, sim, page_size=500)
    ok(ctx.etl(conf, "run", "--until", "20210301000000"), "backfill")
    done = last_run(ctx)[0]
    set_faults(sim, OUTAGE)
    r = ctx.etl(conf, "run", "--since", "2021-03-01", "--until", "2021-04-01T00:00:00")
    assert r.returncode == 1, r.stderr
    failed = last_run(ctx)[0]
    set_faults(sim)
    sim.control("log/clear", {})
    ok(ctx.etl(conf, "rerun", "--run", failed), "rerun --run")
    rerun = ctx.rows("SELECT r.command, r.mode, r.status, r.rerun_of,"
                     " r.window_from = f.window_from, r.window_to = f.window_to FROM etl.run r,"
                     f" (SELECT window_from, window_to FROM etl.run WHERE run_id = {failed}) f"
                     " ORDER BY r.run_id DESC LIMIT 1")[0]
    assert rerun == ["rerun", "backfill", "succeeded", failed, "t", "t"], rerun
    for q in sim.control("log")["requests"]:
        assert query_param(q, "updated_since") == "20210301000000", q
        assert query_param(q, "updated_until") == "20210401000000", q
    loaded = ctx.sql("SELECT count(*) FROM dw.dossier").strip()
    served = sum(1 for r in sim.control("expected?entity=hoso")["rows"]
                 if r[-1] < "20210401000000")
    assert int(loaded) == served, (loaded, served)

    # a run that did not fail is not rerun; nothing to do after the rerun
    r = ctx.etl(conf, "rerun", "--run", done)
    assert r.returncode == 2 and "did not fail" in r.stderr, r.stderr
    r = ok(ctx.etl(conf, "rerun", "--failed"))
    assert "nothing to rerun" in r.stderr, r.stderr


def test_a_failed_load_file_cannot_be_rerun(ctx):
    sim = sim_for(ctx)
    conf = config_for(ctx, sim, page_size=500)
    bad = os.path.join(ctx.dir, "hoso-export.csv")
    with open(bad, "w") as f:   # no MaTTHC column: the entity fails
        f.write("MaHoSo,MaDonVi,KenhThucHien,TrangThaiHoSo,NgayTiepNhan,NgayHenTra,CapNhatLuc\r\n"
                "H1,000.00.23.H53,1,2,20210105080000,20210110080000,20210105080000\r\n")
    r = ctx.etl(conf, "load-file", "--source", "sim", "--entity", "hoso", bad)
    assert r.returncode == 1, r.stderr
    run_id, status, error, command, mode = last_run(ctx)
    assert (status, command, mode) == ("failed", "load-file", "file") and "MaTTHC" in error, \
        last_run(ctx)
    r = ctx.etl(conf, "rerun", "--run", run_id)
    assert r.returncode == 2, r.stderr
    assert "load-file" in r.stderr and "hoso-export.csv" in r.stderr, r.stderr
    out = ok(ctx.etl(conf, "status")).stdout
    assert "cannot be rerun" in out and "hoso-export.csv" in out, out
    # rerun --failed skips it, says why, and does the rest
    r = ok(ctx.etl(conf, "rerun", "--failed"), "rerun --failed past a failed load-file")
    assert "cannot be rerun" in r.stderr, r.stderr
    assert last_run(ctx)[0] == run_id, "nothing was to be rerun"


# ------------------------------------------------------ changes between nights

def test_a_row_updated_between_nights_appears_once_in_its_new_state(ctx):
    sim = sim_for(ctx)
    first = {r[0]: r for r in sim.control("expected?entity=hoso")["rows"]}
    sim, conf, _ = sim, config_for(ctx, sim, page_size=500), None
    ok(ctx.etl(conf, "run"), "night 1")
    cat_key = "unit_code = '000.00.23.H53' AND procedure_code = '1.004831'"
    assert ctx.sql(f"SELECT count(*) FROM dw.procedure_version WHERE {cat_key}").strip() == "1"
    sim.control("clock", {"now": NIGHT2})
    second = {r[0]: r for r in sim.control("expected?entity=hoso")["rows"]}
    changed = sorted(k for k in first if second[k] != first[k])
    assert changed, "the simulator should change some dossiers between the nights"
    ok(ctx.etl(conf, "run"), "night 2")
    for key in changed:
        rows = ctx.rows("SELECT status, to_char(updated_at AT TIME ZONE " + LOCAL +
                        f", 'YYYYMMDDHH24MISS') FROM dw.dossier WHERE ma_ho_so = '{key}'")
        assert rows == [[second[key][4], second[key][-1]]], (key, rows, second[key])
    versions = ctx.rows("SELECT level, legal_days, to_char(updated_at AT TIME ZONE " + LOCAL +
                        f", 'YYYYMMDDHH24MISS') FROM dw.procedure_version WHERE {cat_key}"
                        " ORDER BY updated_at")
    assert len(versions) == 2 and versions[1][2] == "20210615100000", versions
    assert versions[0][0] != versions[1][0], versions
    assert_same_as_served(ctx, sim)
    assert_counts_add_up(ctx)


# -------------------------------------------------------------- watermarks

def test_unchanged_rows_and_ties_across_sources(ctx):
    """source-api.md, "Keys are national codes": on a tie the source listed
    first wins.  A sole source does not write a row again when it comes back
    unchanged; with two sources in the batch it must, or the second would
    win the tie."""
    sim = sim_for(ctx)
    one = config_for(ctx, sim, name="one.conf", sources=("a",), page_size=500)
    ok(ctx.etl(one, "run"), "a alone")
    first = ctx.sql("SELECT max(run_id) FROM etl.run")
    ok(ctx.etl(one, "run", "--full"), "a alone, everything again")
    again = ctx.rows("SELECT count(*) FILTER (WHERE run_id <> " + first + "), count(*)"
                     " FROM dw.log_step")
    assert again[0][0] == "0" and int(again[0][1]) > 0, \
        f"a sole source rewrote unchanged log steps: {again}"
    assert_counts_add_up(ctx)

    # a and b serve the same rows: b ties with a on every one of them
    two = config_for(ctx, sim, name="two.conf", sources=("a", "b"), page_size=500,
                     extra="[extract]\nparallel = 1")
    ok(ctx.etl(two, "run", "--full"), "a then b")
    for table in ("dw.log_step", "dw.supplement", "dw.dossier"):
        got = ctx.rows(f"SELECT source, count(*) FROM {table} GROUP BY 1")
        assert [r[0] for r in got] == ["a"], f"{table}: the tie went to the later source: {got}"
    superseded = ctx.rows("SELECT e.entity, e.rows_superseded, e.rows_read FROM etl.run_entity e"
                          " JOIN etl.run r USING (run_id)"
                          " WHERE r.source = 'b' AND e.entity = 'quatrinh'")
    assert superseded and superseded[0][1] == superseded[0][2], superseded
    assert_counts_add_up(ctx)


def test_watermark_is_the_sources_clock_and_lookback_rereads(ctx):
    sim = sim_for(ctx)
    conf = config_for(ctx, sim, page_size=500, extra="[extract]\nlookback = 7200")
    ok(ctx.etl(conf, "run"), "night 1")
    marks = watermarks(ctx)
    assert marks == {e: served_max(sim, e) for e in ENTITIES}, marks
    sim.control("clock", {"now": NIGHT2})
    sim.control("log/clear", {})
    ok(ctx.etl(conf, "run"), "night 2")
    for q in sim.control("log")["requests"]:
        assert query_param(q, "updated_since") == plain_minus(marks[q["entity"]], 7200), q
    # the lookback re-read rows already loaded: read, not doubled
    reread = ctx.rows("SELECT entity, rows_read FROM etl.run_entity WHERE run_id ="
                      " (SELECT max(run_id) FROM etl.run) AND entity = 'quatrinh'")
    assert int(reread[0][1]) > sum(1 for r in sim.control("expected?entity=quatrinh")["rows"]
                                   if r[-1] > marks["quatrinh"]), reread
    assert watermarks(ctx) == {e: served_max(sim, e) for e in ENTITIES}
    assert_same_as_served(ctx, sim)
    assert_counts_add_up(ctx)


def test_a_row_on_the_boundary_is_neither_missed_nor_doubled(ctx):
    sim = sim_for(ctx, now=NIGHT2)
    conf = config_for(ctx, sim, page_size=500, extra="[extract]\nlookback = 0")
    served = {e: sim.control(f"expected?entity={e}")["rows"] for e in ENTITIES}
    cut = sorted(r[-1] for r in served["hoso"])[len(served["hoso"]) // 2]
    # two backfill windows that meet at a dossier's CapNhatLuc: half-open
    ok(ctx.etl(conf, "run", "--until", cut), "window before the cut")
    ok(ctx.etl(conf, "run", "--since", cut, "--until", "20990101000000"), "window after it")
    read = ctx.rows("SELECT r.run_id, e.entity, e.rows_read FROM etl.run r"
                    " JOIN etl.run_entity e USING (run_id) ORDER BY 1, 2")
    for e in ENTITIES:
        per_run = [int(x[2]) for x in read if x[1] == e]
        want = [sum(1 for r in served[e] if r[-1] < cut), sum(1 for r in served[e] if r[-1] >= cut)]
        assert per_run == want, (e, per_run, want)
    assert_same_as_served(ctx, sim)
    # a nightly run after: asks from the watermark itself (lookback 0), so a
    # row stamped exactly at the watermark is read again, and stored once
    marks = watermarks(ctx)
    sim.control("log/clear", {})
    ok(ctx.etl(conf, "run"), "nightly")
    for q in sim.control("log")["requests"]:
        if q["entity"] in marks:
            assert query_param(q, "updated_since") == marks[q["entity"]], q
    at_mark = ctx.rows("SELECT rows_read, rows_loaded + rows_superseded FROM etl.run_entity"
                       " WHERE run_id = (SELECT max(run_id) FROM etl.run) AND entity = 'hoso'")
    assert at_mark and int(at_mark[0][0]) >= 1, at_mark
    assert_same_as_served(ctx, sim)
    assert_counts_add_up(ctx)


def test_backfills_never_move_a_watermark_back_nor_over_a_gap(ctx):
    sim = sim_for(ctx)
    conf = config_for(ctx, sim, page_size=500)
    # a first backfill that does not start at the beginning sets no watermark:
    # the nightly run after it must still ask for everything
    ok(ctx.etl(conf, "run", "--since", "20210301000000", "--until", "20210401000000"))
    assert watermarks(ctx) == {}, watermarks(ctx)
    sim.control("log/clear", {})
    ok(ctx.etl(conf, "run"), "night 1")
    assert all(query_param(q, "updated_since") is None for q in sim.control("log")["requests"])
    w1 = watermarks(ctx)
    assert w1 == {e: served_max(sim, e) for e in ENTITIES}, w1

    ok(ctx.etl(conf, "run", "--since", "20210101000000", "--until", "20210301000000"))
    assert watermarks(ctx) == w1, "a backfill moved a watermark back"
    ok(ctx.etl(conf, "run", "--full"))
    assert watermarks(ctx) == w1

    sim.control("clock", {"now": NIGHT2})
    # a window after the watermark leaves a gap: the watermark stays
    ok(ctx.etl(conf, "run", "--since", "20210620000000", "--until", "20210625000000"))
    assert watermarks(ctx) == w1, "a backfill past a gap moved the watermark"
    # one that starts at or before it carries it forward to what it loaded
    ok(ctx.etl(conf, "run", "--since", plain_minus(w1["hoso"], 86400), "--until", "20210610000000"))
    hoso = [r[-1] for r in sim.control("expected?entity=hoso")["rows"] if r[-1] < "20210610000000"]
    assert watermarks(ctx)["hoso"] == max(hoso), watermarks(ctx)
    w2 = watermarks(ctx)
    sim.control("log/clear", {})
    ok(ctx.etl(conf, "run"), "night 2")
    for q in sim.control("log")["requests"]:
        if not query_param(q, "cursor"):
            assert query_param(q, "updated_since") == plain_minus(w2[q["entity"]], 3600), q
    assert_same_as_served(ctx, sim)
    assert watermarks(ctx) == {e: served_max(sim, e) for e in ENTITIES}


# ------------------------------------------------------- status, exit codes

def test_status_fits_a_terminal_and_says_what_happened(ctx):
    sim = sim_for(ctx, now=NIGHT2)
    conf = config_for(ctx, sim, page_size=500)
    ok(ctx.etl(conf, "run"), "night")
    # a source whose address makes the error far wider than a terminal
    far = config_for(ctx, sim, name="far.conf", page_size=500,
                     url=sim.url + "/api/" + "xuất-khẩu-dữ-liệu/" * 12)
    set_faults(sim, OUTAGE)
    r = ctx.etl(far, "run", "--since", "20210301000000", "--until", "20210401000000")
    assert r.returncode == 1, r.stderr
    set_faults(sim)
    runs = ctx.rows("SELECT run_id, status, rows_read, rows_loaded, length(error) FROM etl.run"
                    " ORDER BY run_id")
    assert [x[1] for x in runs] == ["succeeded", "failed"] and int(runs[1][4]) > 200, runs

    out = ok(ctx.etl(conf, "status"), "status").stdout
    lines = out.splitlines()
    wide = [l for l in lines if len(l) > 100]
    assert not wide, "status is wider than 100 columns:\n" + "\n".join(wide)
    row = [l.split() for l in lines if l.split()[:1] == [runs[0][0]]][0]
    assert "succeeded" in row and runs[0][2] in row and runs[0][3] in row, (row, out)
    assert any(l.split()[:1] == [runs[1][0]] and "failed" in l for l in lines), out
    assert "503" in out and "…" in out, out
    assert "rerun --run " + runs[1][0] in out, out
    assert "2021-03-01 00:00:00+07 .. 2021-04-01 00:00:00+07" in out, out
    for e in ENTITIES:
        ts = served_max(sim, e)
        shown = f"{ts[:4]}-{ts[4:6]}-{ts[6:8]} {ts[8:10]}:{ts[10:12]}:{ts[12:]}+07"
        assert any(e in l and shown in l for l in lines), (e, shown, out)
    superseded = [l for l in lines if "superseded" in l]
    assert superseded, out

    one = ok(ctx.etl(conf, "status", "--last", "1")).stdout
    assert not any(l.split()[:1] == [runs[0][0]] for l in one.splitlines()), one
    r = ctx.etl(conf, "status", "--last", "many")
    assert r.returncode == 2, r


def test_exit_codes(ctx):
    sim = sim_for(ctx, dossiers=60)
    conf = config_for(ctx, sim, page_size=500)
    empty = ctx.db[:40] + "_empty"
    ctx.cluster.createdb(empty)
    try:
        bare = config_for(ctx, sim, name="bare.conf", dsn=ctx.cluster.dsn(empty))
        # a database without the schema: 3, and the message says what to do
        for args in (["status"], ["run"], ["rescore"], ["rerun", "--failed"], ["score"],
                     ["load-file", "--source", "sim", "--entity", "donvi", conf]):
            r = ctx.etl(bare, *args)
            assert r.returncode == 3 and "migrate" in r.stderr, (args, r.returncode, r.stderr)
        ok(ctx.etl(bare, "migrate"), "migrate")
        r = ok(ctx.etl(bare, "status"), "status of a new warehouse")
        assert "No runs yet" in r.stdout, r.stdout
        # a warehouse newer than the program
        ctx.cluster.psql(empty, "INSERT INTO etl.schema_migration (version, name) VALUES (999, 'future')")
        for args in (["status"], ["run"], ["migrate"]):
            r = ctx.etl(bare, *args)
            assert r.returncode == 3, (args, r.returncode, r.stderr)
    finally:
        ctx.cluster.psql("postgres", f"DROP DATABASE IF EXISTS {empty} WITH (FORCE)", check=False)
    # no warehouse at all
    down = config_for(ctx, sim, name="down.conf", dsn="host=/nonexistent port=1 dbname=x")
    for args in (["status"], ["run"], ["migrate"]):
        r = ctx.etl(down, *args)
        assert r.returncode == 3 and "cannot connect" in r.stderr, (args, r.returncode, r.stderr)
    # usage and configuration errors: 2, before anything is touched
    for args in (["run", "--since", "yesterday"],
                 ["run", "--since", "20210701000000", "--until", "20210601000000"],
                 ["run", "--full", "--since", "20210101000000"],
                 ["run", "--source", "nowhere"],
                 ["run", "extra"],
                 ["rerun"], ["rerun", "--run", "x1"], ["rerun", "--run", "1", "--failed"],
                 ["rerun", "--run", "999"],
                 ["load-file", "--source", "sim", "--entity", "dossiers", conf],
                 ["status", "--last", "-1"], ["frobnicate"]):
        r = ctx.etl(conf, *args)
        assert r.returncode == 2, (args, r.returncode, r.stderr)
    bad = os.path.join(ctx.dir, "bad.conf")
    with open(conf) as f, open(bad, "w") as g:
        g.write(f.read() + "\n[extract]\nlookbak = 10\n")
    os.chmod(bad, 0o600)
    r = ctx.etl(bad, "run")
    assert r.returncode == 2 and "lookbak" in r.stderr, r.stderr
    calendar = os.path.join(ctx.dir, "calendar.csv")
    with open(calendar, "w") as f:
        f.write("date,kind,note\n2021-13-01,holiday,no such day\n")
    with open(conf) as f, open(bad, "w") as g:
        g.write(f.read().replace(f"{harness.ROOT}/config/calendar-vn.csv", calendar))
    r = ctx.etl(bad, "run")
    assert r.returncode == 2 and "calendar" in r.stderr, (r.returncode, r.stderr)
    assert ctx.sql("SELECT count(*) FROM etl.run").strip() == "0"
    ok(ctx.etl(conf, "run"), "run")
    assert ok(ctx.etl(conf, "--help")).stdout
