"""Export files as a first-class source (issue 23): every file of one
load-file invocation in one run, in dependency order; the later file of
an entity wins a tie; a bad file fails the run and leaves the warehouse as
it was; directories; names refused before anything is read; sources that
take files only; orphans counted in the log and in status.

The exports are what the simulator serves, one entity a file."""
import os
import sys
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "lib"))
import harness  # noqa: E402
from common import ENTITIES, assert_counts_add_up, assert_same_as_served, ok  # noqa: E402

HOSO_HEADER = "MaHoSo,MaDonVi,MaTTHC,KenhThucHien,TrangThaiHoSo,NgayTiepNhan,NgayHenTra,CapNhatLuc\r\n"


def config(ctx, sim, name="etl.conf", dsn=None, extra=""):
    return harness.write_config(os.path.join(ctx.dir, name), dsn or ctx.dsn,
                                [("sim", sim.url, {"page_size": 500})], extra)


def export(ctx, sim, entity, name=None, folder=None):
    """The simulator's whole entity as one export file; its path."""
    with urllib.request.urlopen(f"{sim.url}/{entity}?limit=10000", timeout=60) as r:
        assert "X-Next-Cursor" not in r.headers, "one page expected"
        body = r.read()
    path = os.path.join(folder or ctx.dir, name or f"{entity}-export.csv")
    with open(path, "wb") as f:
        f.write(body)
    return path


def write(path, text):
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return path


def served(sim, entity):
    return len(sim.control(f"expected?entity={entity}")["rows"])


def load(ctx, conf, *args, source="sim"):
    return ctx.etl(conf, "load-file", "--source", source, *args)


def runs(ctx):
    return ctx.rows("SELECT run_id, command, mode, status, coalesce(error, '') FROM etl.run"
                    " ORDER BY run_id")


def run_entities(ctx, run_id):
    return {r[0]: tuple(int(x) for x in r[1:]) for r in ctx.rows(
        "SELECT entity, rows_read, rows_loaded, rows_rejected, rows_superseded"
        f" FROM etl.run_entity WHERE run_id = {run_id}")}


def test_five_files_in_reverse_order_are_one_run(ctx):
    sim = ctx.sim(seed=23, dossiers=200)
    conf = config(ctx, sim)
    files = [export(ctx, sim, e) for e in reversed(ENTITIES)]
    r = ok(load(ctx, conf, *files), "load-file of five files")
    rows = runs(ctx)
    assert len(rows) == 1 and rows[0][1:4] == ["load-file", "file", "succeeded"], rows
    counts = run_entities(ctx, rows[0][0])
    for e in ENTITIES:
        n = served(sim, e)
        assert counts[e] == (n, n, 0, 0), (e, counts[e], n)
    assert_same_as_served(ctx, sim)
    assert_counts_add_up(ctx)
    # one transaction, one derivation: one run started, in dependency order
    log = r.stderr
    assert log.count(" started (file)") == 1, log
    order = [log.index(f"{e}-export.csv': ") for e in ENTITIES]
    assert order == sorted(order), log
    # a new warehouse's first rules are recorded, not "changed"
    assert "re-deriving all history" not in log, log
    assert "orphans" not in log, log
    assert ctx.sql("SELECT count(*) FROM mart.unit_kpi WHERE received > 0").strip() != "0"
    # no watermark moves; status names the files
    assert ctx.sql("SELECT count(*) FROM etl.watermark").strip() == "0"
    out = ok(ctx.etl(conf, "status")).stdout
    assert "file" in out and "orphans" not in out, out


def test_later_file_wins_a_tie(ctx):
    sim = ctx.sim(seed=24, dossiers=20)
    conf = config(ctx, sim)
    row = "{},000.00.23.H53,1.001,1,{},20210105080000,20210110080000,{}\r\n"
    first = write(os.path.join(ctx.dir, "hoso-1.csv"), HOSO_HEADER
                  + row.format("TIE", 2, "20210105080000")
                  + row.format("NEWER-IN-FIRST", 4, "20210106080000")
                  + row.format("ONLY-FIRST", 2, "20210105080000"))
    second = write(os.path.join(ctx.dir, "hoso-2.csv"), HOSO_HEADER
                   + row.format("TIE", 4, "20210105080000")
                   + row.format("NEWER-IN-FIRST", 2, "20210105090000"))
    ok(load(ctx, conf, first, second))

    def statuses():
        return dict(ctx.rows("SELECT ma_ho_so, status FROM dw.dossier"))
    assert statuses() == {"TIE": "4", "NEWER-IN-FIRST": "4", "ONLY-FIRST": "2"}, statuses()
    run_id = runs(ctx)[-1][0]
    assert run_entities(ctx, run_id)["hoso"] == (5, 3, 0, 2), run_entities(ctx, run_id)
    # the other order: on the tie the later file wins again, against the
    # stored row too; the newer CapNhatLuc wins whatever the order
    ok(load(ctx, conf, second, first))
    assert statuses() == {"TIE": "2", "NEWER-IN-FIRST": "4", "ONLY-FIRST": "2"}, statuses()
    assert_counts_add_up(ctx)


def test_a_bad_file_among_five_fails_the_run(ctx):
    sim = ctx.sim(seed=25, dossiers=150)
    conf = config(ctx, sim, extra="[extract]\nmax_reject_pct = 5\nmin_rejects = 10")
    half = os.path.join(ctx.dir, "first")
    os.mkdir(half)
    ok(load(ctx, conf, export(ctx, sim, "donvi", folder=half),
            export(ctx, sim, "thutuc", folder=half)), "the catalogue first")
    before = harness.warehouse_dump(ctx.cluster, ctx.db)
    files = [export(ctx, sim, e) for e in ENTITIES]
    # a second log file whose rows lack ThoiDiemXuLy: given first, its
    # rows are numbered in it; over the entity's two files, over 5%
    nlog = served(sim, "quatrinh")
    nbad = nlog // 10 + 20
    bad = write(os.path.join(ctx.dir, "quatrinh-late.csv"),
                "MaHoSo,ThuTu,TrangThai,ThoiDiemXuLy,CapNhatLuc\n"
                + "".join(f"X{i},1,4,,20210105080000\n" for i in range(nbad)))
    r = load(ctx, conf, bad, *files)
    assert r.returncode == 1, r.stderr
    assert "quatrinh: %d of %d rows rejected" % (nbad, nlog + nbad) in r.stderr, r.stderr
    after = harness.warehouse_dump(ctx.cluster, ctx.db)
    assert not harness.dump_diff(before, after), harness.dump_diff(before, after)[:3000]
    run_id, command, mode, status, error = runs(ctx)[-1]
    assert (command, mode, status) == ("load-file", "file", "failed") and "rejected" in error
    rejects = ctx.rows(f"SELECT file, row_number, reason, column_name FROM etl.reject"
                       f" WHERE run_id = {run_id} ORDER BY row_number")
    assert rejects == [[bad, str(i), "missing_field", "ThoiDiemXuLy"]
                       for i in range(1, nbad + 1)], rejects[:5]
    out = ok(ctx.etl(conf, "status")).stdout
    assert "cannot be rerun" in out and "quatrinh-late.csv" in out, out
    r = ctx.etl(conf, "rerun", "--run", run_id)
    assert r.returncode == 2 and "cannot be rerun" in r.stderr, r.stderr
    # a malformed file among good ones: the same, and the error names it
    broken = write(os.path.join(ctx.dir, "bosung-broken.csv"),
                   "MaHoSo,ThuTu,NgayBoSung,CapNhatLuc\nH1,1,\"20210105,20210105080000\n")
    r = load(ctx, conf, *files, broken)
    assert r.returncode == 1 and "bosung-broken.csv' is malformed" in r.stderr, r.stderr
    after = harness.warehouse_dump(ctx.cluster, ctx.db)
    assert not harness.dump_diff(before, after), harness.dump_diff(before, after)[:3000]
    assert [x[3] for x in runs(ctx)] == ["succeeded", "failed", "failed"], runs(ctx)


def test_a_directory_loads_its_export_files(ctx):
    sim = ctx.sim(seed=26, dossiers=120)
    conf = config(ctx, sim)
    folder = os.path.join(ctx.dir, "exports")
    os.mkdir(folder)
    for e in ENTITIES:
        export(ctx, sim, e, name=f"{e}_2021.csv", folder=folder)
    os.mkdir(os.path.join(folder, "hoso-old.csv"))       # a directory: not a file
    write(os.path.join(folder, "README.txt"), "not an export")
    write(os.path.join(folder, "hoso.csv.bak"), "not an export either")
    ok(load(ctx, conf, folder), "load-file of a directory")
    assert len(runs(ctx)) == 1, runs(ctx)
    assert_same_as_served(ctx, sim)
    names = ctx.sql("SELECT file_name FROM etl.run").strip()
    assert names.startswith(os.path.join(folder, "donvi_2021.csv") + ", "), names


def test_a_name_that_is_no_entity_is_refused_before_anything_is_read(ctx):
    sim = ctx.sim(seed=27, dossiers=20)
    conf = config(ctx, sim)
    good = export(ctx, sim, "donvi")
    misnamed = export(ctx, sim, "hoso", name="dossiers-2021.csv")
    r = load(ctx, conf, good, misnamed)
    assert r.returncode == 2, r.stderr
    assert "dossiers-2021.csv': the name does not start with an entity" in r.stderr, r.stderr
    assert ctx.sql("SELECT count(*) FROM etl.run").strip() == "0"
    assert ctx.sql("SELECT count(*) FROM dw.unit").strip() == "0"
    # not even the warehouse is asked: a configuration whose warehouse is down
    down = config(ctx, sim, name="down.conf", dsn="host=/nonexistent port=1 dbname=x")
    r = load(ctx, down, good, misnamed)
    assert r.returncode == 2 and "cannot connect" not in r.stderr, r.stderr
    for args in ([os.path.join(ctx.dir, "hoso-missing.csv")],
                 ["--entity", "dossier", misnamed], []):
        r = load(ctx, conf, *args)
        assert r.returncode == 2, (args, r.stderr)
    # with --entity, any name
    ok(load(ctx, conf, "--entity", "hoso", misnamed))
    assert ctx.sql("SELECT count(*) FROM dw.dossier").strip() == str(served(sim, "hoso"))


def test_a_source_without_url_takes_files_only(ctx):
    sim = ctx.sim(seed=28, dossiers=30)
    conf = config(ctx, sim, extra="[source archive]\npage_size = 100")
    r = ok(ctx.etl(conf, "check-config"), "check-config")
    assert "2 sources" in r.stdout, r.stdout
    r = ok(ctx.etl(conf, "run"), "run with a file-only source")
    skipped = [ln for ln in r.stderr.splitlines() if "archive" in ln]
    assert len(skipped) == 1 and "files only" in skipped[0], r.stderr
    assert [x[1:4] for x in runs(ctx)] == [["run", "full", "succeeded"]], runs(ctx)
    r = ctx.etl(conf, "run", "--source", "archive")
    assert r.returncode == 2 and "has no url" in r.stderr, r.stderr
    ok(load(ctx, conf, export(ctx, sim, "donvi"), source="archive"))
    assert ctx.sql("SELECT source FROM etl.run ORDER BY run_id DESC LIMIT 1").strip() == "archive"


def test_orphans_are_counted_in_the_log_and_status(ctx):
    sim = ctx.sim(seed=29, dossiers=60)
    conf = config(ctx, sim)
    steps, supplements = served(sim, "quatrinh"), served(sim, "bosung")
    dossiers = len({r[0] for r in sim.control("expected?entity=quatrinh")["rows"]})
    assert supplements > 0, "the seed must give supplements"
    r = ok(load(ctx, conf, export(ctx, sim, "quatrinh"), export(ctx, sim, "bosung")))
    assert f"{steps} log steps wait for {dossiers} dossiers not loaded yet (orphans)" in r.stderr, \
        r.stderr
    assert f"{supplements} supplements wait for" in r.stderr, r.stderr
    out = ok(ctx.etl(conf, "status")).stdout
    assert "orphans" in out, out
    table = out[out.index("orphans"):].splitlines()[1:4]
    assert table[1].split()[:2] == ["bosung", str(supplements)], table
    assert table[2].split()[:3] == ["quatrinh", str(steps), str(dossiers)], table
    # the dossiers come: nobody waits any more
    r = ok(load(ctx, conf, export(ctx, sim, "hoso")))
    assert "orphans" not in r.stderr and "orphans" not in ok(ctx.etl(conf, "status")).stdout
    assert ctx.sql("SELECT count(*) FROM dw.log_step WHERE unit_code <> ''").strip() == str(steps)
