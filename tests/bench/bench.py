#!/usr/bin/env python3
"""make bench: a province-year through onestop-etl, against the floor (issue 7).

    BENCH_DOSSIERS=100000 make bench          # smaller, for development
    python3 tests/bench/bench.py --help

One run on this machine, in this order:

  pages   build (or reuse) the gzip CSV pages of the province-year
          (tests/bench/build_pages.py) and serve them from loopback
          (tests/bench/page_server.py); time plain `curl --compressed` of
          every page, to show the server is not the bottleneck;
  floor   per entity, `curl --compressed` of its pages piped into
          `psql -c "\\copy … FROM STDIN (FORMAT csv, HEADER)"` into a plain,
          unindexed table of text columns: transport and COPY, nothing else;
  full    `onestop-etl run --full` into an empty migrated warehouse, marts
          included, under GNU time (wall time, peak RSS);
  night   `onestop-etl run` after the night's changes (2% of the dossiers,
          20,000 at 1M, with their whole processing log); then the night's
          floor: the floor's curl | psql \\copy of exactly the pages that run
          fetched (updated_since = watermark - lookback, per entity);
  bi      a year's mart.compliance_total for all units, mart.unit_kpi for
          one unit, mart.form06 for the province, and the views by current
          unit, mart.unit_kpi_current and mart.form06_current, for every
          unit (median of several runs, psql \\timing);
  rescore `onestop-etl rescore` of the loaded warehouse, after the night;
  files   the same province-year as export files, one CSV per entity
          (issue 23): the floor `psql \\copy` of the five files into plain
          tables; one `onestop-etl load-file` of the five into an empty
          warehouse (one run: merge, derivation, marts); pgloader on the log
          file, beside the `\\copy` of that file (skipped with a note where
          pgloader is not installed: `make bench` installs it where it can);
  rss     peak RSS of a second full run into another empty warehouse, over
          4x less or 4x more data (--rss): `quarter` (default) serves the
          first quarter of the dossier pages (250,000 dossiers at 1M) and
          reports RSS(1M)/RSS(250k); `x4` serves the pages four times under
          other MaHoSo (4M dossiers at 1M) and reports RSS(4M)/RSS(1M) --
          the issue's literal figure, but four times the full run's time,
          which does not fit the 20 minutes `make bench` has;
  night-x4 the same night on a warehouse of 4x the dossiers (--night-x4,
          on by default with --rss x4, whose 4x load it reuses; otherwise
          off, since it needs a 4x full load of its own) and the ratio
          night(4x)/night(1x).

During each writer (full, night, the 4x night, rescore, files' load-file) a
BI session (tests/lib/bireader.py: onestop_bi, lock_timeout 1s, a read of
mart every 50 ms) reads mart; the slowest read made during it, and the
reads that failed (lock timeouts), are printed beside the writer's time
(issue 22; --bi-reader off leaves it out).

Prints every figure and the ratios full/floor and of the two peak RSS, and
appends one CSV line to build/bench/results.csv.  --profile (BENCH_PROFILE=1)
adds perf for onestop-etl and pg_stat_statements/auto_explain for
PostgreSQL, and appends nothing.

PostgreSQL runs as a throwaway cluster under build/bench/ (on disk, not
tmpfs) configured like an ETL box — shared_buffers=1GB,
maintenance_work_mem=512MB, max_wal_size=8GB, checkpoint_timeout=30min —
and, unlike the test clusters, durable: fsync, synchronous_commit and
full_page_writes stay on.  The floor and the runs share the cluster.
"""

import argparse
import collections
import csv
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))
sys.path.insert(0, HERE)
import bireader  # noqa: E402
import harness  # noqa: E402
import build_pages  # noqa: E402

ENTITIES = ("donvi", "thutuc", "hoso", "bosung", "quatrinh")
BENCH_DIR = os.path.join(ROOT, "build", "bench")
# Where the cluster and the logs of a run go: BENCH_RUN_DIR lets two benches
# share one machine's cached pages without sharing a cluster.
RUN_DIR = os.environ.get("BENCH_RUN_DIR") or BENCH_DIR
BINARY = os.environ.get("ONESTOP_ETL_BIN", os.path.join(ROOT, "build", "onestop-etl"))
PG_SETTINGS = {
    "shared_buffers": "1GB",
    "maintenance_work_mem": "512MB",
    "max_wal_size": "8GB",
    "checkpoint_timeout": "30min",
    # a bulk load waits on a full WAL buffer at the default (16MB here):
    # 66.6 s -> 58.3 s for the full load, the floor unchanged (16.8 s)
    "wal_buffers": os.environ.get("BENCH_WAL_BUFFERS", "128MB"),
    "max_connections": "60",
}
BI_UNIT = "000.12.31.H53"      # the busiest district office of the generator
# What the BI session reads while a writer runs (issue 22): a dashboard's
# reads, cheap at any size (an index range each), so that the slowest read
# is the wait for a writer, not the read's own work.  The dossiers are one
# day's receipts of BI_UNIT (MaHoSo is unit-yymmdd-number).
BI_READS = {
    "mart.unit_kpi": "SELECT count(*), coalesce(sum(received), 0) FROM mart.unit_kpi"
                     " WHERE unit_code = '%s' AND period_kind = 'month'" % BI_UNIT,
    "mart.dossier": "SELECT count(*), count(legal_outcome) FROM mart.dossier"
                    " WHERE ma_ho_so >= '%s-210601' AND ma_ho_so < '%s-210602'"
                    % (BI_UNIT, BI_UNIT),
    "mart.form06": "SELECT count(*), coalesce(sum(received_total), 0) FROM mart.form06"
                   " WHERE unit_code = '%s' AND period_kind = 'report_year'"
                   " AND period_label = '2021'" % BI_UNIT,
}


def say(msg):
    sys.stdout.write(msg + "\n")
    sys.stdout.flush()


class Cluster(harness.PgCluster):
    """harness.PgCluster, started with the ETL box's settings (durable)."""

    def __init__(self, base, settings):
        super().__init__(base=base)
        self.settings = settings

    def _opts(self):
        opts = f"-k {self.sock} -p {self.port} -c listen_addresses=''"
        for k, v in self.settings.items():
            opts += f" -c {k}={v}"
        return opts

    def start(self):
        r = harness.as_postgres([os.path.join(self.bindir, "initdb"), "-D", self.data,
                                 "-A", "trust", "-U", "postgres", "-E", "UTF8",
                                 "--locale=C.UTF-8"], capture_output=True, text=True)
        if r.returncode:
            raise RuntimeError("initdb failed: " + r.stderr)
        self.port = harness.free_port()
        r = harness.as_postgres([os.path.join(self.bindir, "pg_ctl"), "-D", self.data,
                                 "-o", self._opts(), "-l", os.path.join(self.base, "log"),
                                 "-w", "-t", "120", "start"], capture_output=True, text=True)
        if r.returncode:
            raise RuntimeError("pg_ctl start failed: " + r.stderr)
        return self

    def psql_args(self, db):
        return ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", self.sock,
                "-p", str(self.port), "-U", "postgres", "-d", db]


# One night run: wall seconds, phases of its -v log, WAL written (MB),
# full-page images, checkpoints during it, and its etl.run_entity rows (what
# it read, loaded, rejected, superseded per entity: the work it was given).
Night = collections.namedtuple("Night", "secs phases wal_mb fpi checkpoints counts")


class PageServer:
    def __init__(self, pages, work, name, *args):
        self.port_file = os.path.join(work, "page-server-%s.port" % name)
        if os.path.exists(self.port_file):
            os.unlink(self.port_file)
        self.log = open(os.path.join(work, "page-server-%s.log" % name), "w")
        self.proc = subprocess.Popen(
            [sys.executable, os.path.join(HERE, "page_server.py"), "--pages", pages,
             "--port-file", self.port_file] + list(args),
            stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 30
        while not os.path.exists(self.port_file):
            if self.proc.poll() is not None or time.time() > deadline:
                raise RuntimeError("page server did not start")
            time.sleep(0.05)
        self.url = "http://127.0.0.1:%d" % int(open(self.port_file).read())

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.log.close()


# ------------------------------------------------------------ measures ----

def page_urls(server, manifest, entity, bare_after_first=False, page_set="full"):
    """The URLs of one entity's pages; page_set "night" asks for them as
    `onestop-etl run` does after the full load: updated_since = its
    watermark - lookback (the night set's start, manifest night_since)."""
    since = ("&updated_since=" + manifest["night_since"][entity]
             if page_set == "night" else "")
    urls = []
    for i, p in enumerate(manifest["sets"][page_set][entity]):
        cur = "&cursor=" + p["name"] if i else ""
        bare = "&bare=1" if bare_after_first and i else ""
        urls.append("%s/%s?limit=%d%s%s%s" % (server.url, entity,
                                              manifest["params"]["page_size"], since, cur,
                                              bare))
    return urls


def curl_config(path, urls, discard=False):
    with open(path, "w") as f:
        for u in urls:
            f.write('url = "%s"\n' % u)
            if discard:
                f.write('output = "/dev/null"\n')
    return path


def measure_curl(server, manifest, work):
    """Plain curl of every page of every entity, decompressed, to /dev/null."""
    total, nbytes = 0.0, 0
    for e in ENTITIES:
        cfg = curl_config(os.path.join(work, "curl-%s.cfg" % e), page_urls(server, manifest, e),
                          discard=True)
        t0 = time.monotonic()
        r = subprocess.run(["curl", "-sS", "--fail", "--compressed", "-K", cfg,
                            "-w", "%{size_download}\n"],
                           capture_output=True, text=True)
        total += time.monotonic() - t0
        if r.returncode:
            raise RuntimeError("curl %s failed: %s" % (e, r.stderr))
        nbytes += sum(int(x) for x in r.stdout.split())
    return total, nbytes


def measure_floor(cluster, server, manifest, work, page_set="full", db="floor"):
    """curl | psql \\copy of one page set (full, or the night's) into plain
    text tables of a new database db; -> (seconds, per entity)."""
    cluster.createdb(db)
    per = {}
    for e in ENTITIES:
        cols = manifest["columns"][e]
        ddl = "CREATE TABLE floor_%s (%s)" % (e, ", ".join('"%s" text' % c for c in cols))
        cluster.psql(db, ddl)
    for e in ENTITIES:
        cfg = curl_config(os.path.join(work, "%s-%s.cfg" % (db, e)),
                          page_urls(server, manifest, e, bare_after_first=True,
                                    page_set=page_set))
        t0 = time.monotonic()
        curl = subprocess.Popen(["curl", "-sS", "--fail", "--compressed", "-K", cfg],
                                stdout=subprocess.PIPE)
        psql = subprocess.run(cluster.psql_args(db) + [
            "-c", "\\copy floor_%s FROM STDIN (FORMAT csv, HEADER)" % e],
            stdin=curl.stdout, capture_output=True, text=True)
        curl.stdout.close()
        crc = curl.wait()
        per[e] = time.monotonic() - t0
        if crc or psql.returncode:
            raise RuntimeError("%s %s failed: curl %d, psql %s" % (db, e, crc, psql.stderr))
        want = sum(p["rows"] for p in manifest["sets"][page_set][e])
        got = int(cluster.psql(db, "SELECT count(*) FROM floor_%s" % e))
        if got != want:
            raise RuntimeError("%s %s: %d rows copied, %d served" % (db, e, got, want))
    return sum(per.values()), per


def write_exports(server, manifest, folder, work):
    """The full set as an office gets it from the export screen: one CSV per
    entity named after it (the floor's bytes: one header, every page's rows).
    {entity: path}."""
    os.makedirs(folder, exist_ok=True)
    paths = {}
    for e in ENTITIES:
        cfg = curl_config(os.path.join(work, "export-%s.cfg" % e),
                          page_urls(server, manifest, e, bare_after_first=True))
        paths[e] = os.path.join(folder, "%s-2021.csv" % e)
        with open(paths[e], "wb") as out:
            r = subprocess.run(["curl", "-sS", "--fail", "--compressed", "-K", cfg],
                               stdout=out, stderr=subprocess.PIPE, text=True)
        if r.returncode:
            raise RuntimeError("export %s failed: %s" % (e, r.stderr))
    return paths


def floor_tables(cluster, db, manifest, entities=ENTITIES):
    cluster.createdb(db)
    for e in entities:
        cols = manifest["columns"][e]
        cluster.psql(db, "CREATE TABLE floor_%s (%s)" % (
            e, ", ".join('"%s" text' % c.lower() for c in cols)))


def measure_files_floor(cluster, manifest, paths):
    """psql \\copy of each export file into a plain text table: (seconds, per entity)."""
    floor_tables(cluster, "floor_files", manifest)
    per = {}
    for e in ENTITIES:
        t0 = time.monotonic()
        r = subprocess.run(cluster.psql_args("floor_files") + [
            "-c", "\\copy floor_%s FROM '%s' (FORMAT csv, HEADER)" % (e, paths[e])],
            capture_output=True, text=True)
        per[e] = time.monotonic() - t0
        if r.returncode:
            raise RuntimeError("floor of %s failed: %s" % (paths[e], r.stderr))
        want = sum(p["rows"] for p in manifest["sets"]["full"][e])
        got = int(cluster.psql("floor_files", "SELECT count(*) FROM floor_%s" % e))
        if got != want:
            raise RuntimeError("floor of %s: %d rows copied, %d served" % (paths[e], got, want))
    cluster.psql("postgres", "DROP DATABASE floor_files")
    return sum(per.values()), per


PGLOADER_COMMAND = """LOAD CSV
    FROM '%(path)s' WITH ENCODING utf-8
    HAVING FIELDS (%(fields)s)
    INTO postgresql://postgres@unix:%(sock)s:%(port)d/pgloader
    TARGET TABLE floor_%(entity)s
    WITH skip header = 1, fields optionally enclosed by '"',
         fields escaped by double-quote, fields terminated by ','
;
"""


def measure_pgloader(cluster, manifest, path, entity, work, timeout):
    """pgloader of one export file into a plain text table, under GNU time:
    (seconds, peak RSS KiB, rows loaded), or None where pgloader is missing."""
    if not shutil.which("pgloader"):
        return None
    floor_tables(cluster, "pgloader", manifest, (entity,))
    cmd_file = os.path.join(work, "pgloader-%s.load" % entity)
    with open(cmd_file, "w") as f:
        f.write(PGLOADER_COMMAND % {
            "path": path, "entity": entity, "sock": cluster.sock, "port": cluster.port,
            "fields": ", ".join(c.lower() for c in manifest["columns"][entity])})
    tv = os.path.join(work, "pgloader.time")
    log = os.path.join(work, "pgloader.log")
    t0 = time.monotonic()
    with open(log, "w") as out:
        r = subprocess.run(["/usr/bin/time", "-v", "-o", tv, "pgloader", "--no-ssl-cert-verification",
                            "--root-dir", os.path.join(work, "pgloader"), cmd_file],
                           stdout=out, stderr=subprocess.STDOUT, timeout=timeout)
    secs = time.monotonic() - t0
    if r.returncode:
        raise RuntimeError("pgloader exited %d: see %s\n%s" % (
            r.returncode, log, open(log).read()[-2000:]))
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", open(tv).read())
    rows = int(cluster.psql("pgloader", "SELECT count(*) FROM floor_%s" % entity))
    cluster.psql("postgres", "DROP DATABASE pgloader")
    return secs, int(m.group(1)) if m else None, rows


def files_config(cluster, db, path):
    """A source without url: it takes files only (interfaces.md)."""
    return harness.write_config(path, cluster.dsn(db), [],
                                extra="[source files]\npage_size = 10000")


def etl_config(cluster, db, server, page_size, path):
    return harness.write_config(
        path, cluster.dsn(db),
        [("bench", server.url, {"page_size": page_size, "timeout": 300,
                                "deadline": 7 * 86400})],
        extra="[extract]\nlookback = %d" % 3600)


def run_etl(config, args, log_path, timeout, timed=True, perf=None):
    """onestop-etl under GNU time -> (seconds, peak RSS KiB, CPU seconds)."""
    tv = log_path + ".time"
    cmd = [BINARY, "-v", "-c", config] + args
    if perf:
        cmd = ["perf", "record", "-q", "-g", "-o", perf, "--"] + cmd
    if timed:
        cmd = ["/usr/bin/time", "-v", "-o", tv] + cmd
    t0 = time.monotonic()
    with open(log_path, "w") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        try:
            rc = proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGTERM)     # time, perf and onestop-etl
            proc.wait()
            raise RuntimeError("onestop-etl %s: still running after %d s (BENCH_TIMEOUT);"
                               " see %s" % (" ".join(args), timeout, log_path))
    secs = time.monotonic() - t0
    if rc:
        raise RuntimeError("onestop-etl %s exited %d: see %s\n%s" % (
            " ".join(args), rc, log_path, open(log_path).read()[-3000:]))
    rss = cpu = None
    if timed:
        text = open(tv).read()
        m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", text)
        rss = int(m.group(1)) if m else None
        cpu = sum(float(x) for x in re.findall(r"(?:User|System) time \(seconds\): ([\d.]+)",
                                                 text))
    return secs, rss, cpu


def phases(log_path):
    """Seconds of extract per entity and of the commit, from the -v log."""
    stamps = []
    pat = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3})[+-]\d\d:\d\d \w+ (\S+) (\S+) (.*)$")
    for line in open(log_path, encoding="utf-8", errors="replace"):
        m = pat.match(line)
        if m:
            t = time.mktime(time.strptime(m.group(1)[:19], "%Y-%m-%dT%H:%M:%S"))
            stamps.append((t + int(m.group(1)[20:]) / 1000.0, m.group(3), m.group(4)))
    out, prev = {}, None
    for t, entity, msg in stamps:
        if msg.startswith("run ") and "started" in msg:
            prev = t
        elif prev is not None and msg.endswith("rows read") and entity in ENTITIES:
            out[entity] = t - prev
            prev = t
        elif prev is not None and msg.startswith("read ") and "commit" not in out:
            out["commit"] = t - prev
    return out


def check_run(cluster, db, mode, expect):
    """The last run succeeded and read what was served."""
    out = cluster.psql(db, "SELECT entity, rows_read, rows_rejected FROM etl.run_entity"
                       " WHERE run_id = (SELECT max(run_id) FROM etl.run)")
    got = {}
    for line in out.splitlines():
        e, read, rejected = line.split("\t")
        got[e] = (int(read), int(rejected))
    for e, n in expect.items():
        read, rejected = got.get(e, (-1, 0))
        if read != n:
            raise RuntimeError("%s run: %s read %d rows, %d served" % (mode, e, read, n))
        if rejected:
            say("  note: %s run rejected %d %s rows" % (mode, rejected, e))


def measure_bi(cluster, db, repeat):
    """Median ms of the BI queries, psql \\timing, one session."""
    year = "2021-01-01"
    queries = {
        "compliance_total": "SELECT * FROM mart.compliance_total WHERE period_kind = 'year'"
                            " AND period_start = DATE '%s'" % year,
        "unit_kpi": "SELECT * FROM mart.unit_kpi WHERE unit_code = '%s' AND period_start"
                    " >= DATE '%s' AND period_start < DATE '%s' + interval '1 year'"
                    % (BI_UNIT, year, year),
        # form 06 of the province for report year 2021, every unit and field
        "form06": "SELECT * FROM mart.form06 WHERE period_kind = 'report_year'"
                  " AND period_label = '2021'",
        # the same by current unit (rules.md, "Units across reorganisations"):
        # views that sum as they are read, every unit of the province
        "unit_kpi_current": "SELECT * FROM mart.unit_kpi_current WHERE period_kind = 'year'"
                            " AND period_start = DATE '%s'" % year,
        "form06_current": "SELECT * FROM mart.form06_current"
                          " WHERE period_kind = 'report_year' AND period_label = '2021'",
    }
    res = {}
    for name, sql in queries.items():
        script = "\\timing on\n\\o /dev/null\n" + (sql + ";\n") * repeat
        r = subprocess.run(cluster.psql_args(db), input=script, capture_output=True,
                           text=True)
        ms = [float(x) for x in re.findall(r"Time: ([\d.]+) ms", r.stdout + r.stderr)]
        if r.returncode or len(ms) != repeat:
            raise RuntimeError("bi %s failed: %s" % (name, r.stderr))
        rows = int(cluster.psql(db, "SELECT count(*) FROM (%s) q" % sql))
        res[name] = (statistics.median(ms[1:] or ms), rows)
    return res


# ------------------------------------------------------------- profile ----

PROFILE_SETTINGS = {
    "shared_preload_libraries": "'pg_stat_statements,auto_explain'",
    "pg_stat_statements.track": "all",
    "auto_explain.log_min_duration": os.environ.get("BENCH_EXPLAIN_MS", "2000"),
    "auto_explain.log_analyze": "on",
    "auto_explain.log_buffers": "on",
    "auto_explain.log_timing": "off",
    "auto_explain.log_nested_statements": "on",
}


def pgss_reset(cluster, db):
    cluster.psql(db, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
    cluster.psql(db, "SELECT pg_stat_statements_reset()")


def pgss_top(cluster, db, path, n=15):
    """The statements that took the time (nested ones included)."""
    out = cluster.psql(db, "SELECT round((total_exec_time / 1000)::numeric, 1), calls, rows,"
                       " toplevel, regexp_replace(left(query, 160), '\\s+', ' ', 'g')"
                       " FROM pg_stat_statements ORDER BY total_exec_time DESC LIMIT 60")
    with open(path, "w") as f:
        f.write("seconds\tcalls\trows\ttoplevel\tquery\n" + out)
    lines = [ln for ln in out.splitlines() if ln.split("\t")[3] == "f"][:n]
    return "\n".join("    %7s s %6s calls  %s" % (ln.split("\t")[0], ln.split("\t")[1],
                                                   ln.split("\t")[4]) for ln in lines)


def perf_top(data, n=20):
    r = subprocess.run(["perf", "report", "-i", data, "--no-children", "--stdio",
                        "-g", "none", "--percent-limit", "0.7"],
                       capture_output=True, text=True)
    lines = [ln for ln in r.stdout.splitlines() if ln.strip() and not ln.startswith("#")]
    return "\n".join("    " + ln.strip() for ln in lines[:n])


# ---------------------------------------------------------------- main ----

def env_int(name, default):
    v = os.environ.get(name)
    return int(v) if v not in (None, "") else default


def parse_args(argv):
    ap = argparse.ArgumentParser(
        description="make bench (issue 7); every option has a BENCH_* variable")
    ap.add_argument("--dossiers", type=int, default=env_int("BENCH_DOSSIERS", 1000000))
    ap.add_argument("--page-size", type=int, default=env_int("BENCH_PAGE_SIZE", 10000))
    ap.add_argument("--night", type=int, default=env_int("BENCH_NIGHT", -1),
                    help="dossiers changed for the night run (default 2%% of --dossiers)")
    ap.add_argument("--rss", choices=("quarter", "x4", "off"),
                    default=os.environ.get("BENCH_RSS") or "quarter",
                    help="the second memory run: a quarter of the dossiers (default),"
                    " or four times them (same pages under other MaHoSo; long), or none")
    ap.add_argument("--files", choices=("on", "off"), default=os.environ.get("BENCH_FILES") or "on",
                    help="the export files: their \\copy floor, one load-file of the five,"
                    " pgloader on the log file (default on)")
    ap.add_argument("--night-x4", choices=("on", "off"),
                    default=os.environ.get("BENCH_NIGHT_X4") or None,
                    help="the same night again on a warehouse of 4x the dossiers, and the"
                    " ratio of the two nights (default on with --rss x4, whose 4x load it"
                    " reuses; otherwise off: on costs a 4x full load)")
    ap.add_argument("--bi-repeat", type=int, default=env_int("BENCH_BI_REPEAT", 7))
    ap.add_argument("--bi-reader", choices=("on", "off"),
                    default=os.environ.get("BENCH_BI_READER") or "on",
                    help="a BI session (onestop_bi, lock_timeout 1s) reading mart every 50 ms"
                    " during each writer, its slowest read printed beside the writer's time"
                    " (default on; issue 22)")
    ap.add_argument("--timeout", type=int, default=env_int("BENCH_TIMEOUT", 3600),
                    help="seconds one onestop-etl run may take")
    ap.add_argument("--profile", action="store_true", default=bool(os.environ.get("BENCH_PROFILE")),
                    help="perf record the full run, pg_stat_statements and auto_explain"
                    " in PostgreSQL (figures not appended: profiling costs time)")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--keep", action="store_true", default=bool(os.environ.get("BENCH_KEEP")),
                    help="leave the cluster running at the end")
    ap.add_argument("--results", default=os.path.join(BENCH_DIR, "results.csv"))
    a = ap.parse_args(argv)
    if a.night < 0:
        a.night = a.dossiers // 50
    if a.night_x4 is None:
        a.night_x4 = "on" if a.rss == "x4" else "off"
    return a


def build(a):
    ba = argparse.Namespace(dossiers=a.dossiers, seed=42, year=2021, units=200,
                            procedures=3000, page_size=a.page_size, night=a.night,
                            lookback=3600, gzip_level=6, jobs=a.jobs)
    out = build_pages.default_out(ba)
    t0 = time.monotonic()
    manifest = build_pages.build(ba, out, log=lambda m: say("  " + m))
    return out, manifest, time.monotonic() - t0


def rows_of(manifest, s):
    return {e: sum(p["rows"] for p in manifest["sets"][s][e]) for e in ENTITIES}


def fresh_cluster(profile):
    base = os.path.join(RUN_DIR, "pg")
    if os.path.exists(os.path.join(base, "data", "postmaster.pid")):
        harness.as_postgres([os.path.join(harness.pg_bindir(), "pg_ctl"), "-D",
                             os.path.join(base, "data"), "-m", "immediate", "-w", "stop"],
                            capture_output=True)
    shutil.rmtree(base, ignore_errors=True)
    settings = dict(PG_SETTINGS)
    if profile:
        settings.update(PROFILE_SETTINGS)
    return Cluster(base, settings).start()


class Bench:
    def __init__(self, a):
        self.a = a
        self.work = os.path.join(RUN_DIR, "work")
        self.fig = {"date": time.strftime("%Y-%m-%dT%H:%M:%S"), "dossiers": a.dossiers,
                    "page_size": a.page_size, "night_dossiers": a.night}
        self.servers = []
        self.cluster = None
        self.x4 = None          # (db, server, seconds, dossiers) of a 4x full load
        self.bi_lines = {}

    def server(self, name, *args):
        s = PageServer(self.pages, self.work, name, *args)
        self.servers.append(s)
        return s

    def etl(self, db, server, name, args, timed=True, perf=None):
        conf = etl_config(self.cluster, db, server, self.a.page_size,
                          os.path.join(self.work, "%s.conf" % name))
        return run_etl(conf, args, os.path.join(self.work, name + ".log"),
                       self.a.timeout, timed, perf)

    def bi_during(self, db, key, writer):
        """writer() with a BI session reading db (tests/lib/bireader.py:
        onestop_bi, lock_timeout 1s, BI_READS every 50 ms) from before it
        starts to after it ends; the reads started during it go into the
        figures KEY_reads, KEY_read_max_ms, KEY_read_errors and
        KEY_read_timeouts, and the lines say_bi(KEY) prints.  Returns
        writer()'s value."""
        if self.a.bi_reader == "off":
            return writer()
        reader = bireader.BiReader(self.cluster, db, BI_READS).start()
        try:
            t0 = time.time()
            got = writer()
            t1 = time.time()
        finally:
            reader.stop()
        reads = reader.between(t0, t1)
        errors = reader.errors(reads)
        slowest = reader.slowest(reads)
        fig = self.fig
        fig[key + "_reads"] = len(reads)
        fig[key + "_read_max_ms"] = round(slowest.ms, 1) if slowest else None
        fig[key + "_read_errors"] = len(errors)
        fig[key + "_read_timeouts"] = sum(
            1 for r in errors if r.error.startswith(bireader.LOCK_TIMEOUT))
        self.bi_lines[key] = ["  BI reads during it: %d, slowest %s; %d failed (%d lock timeouts)"
                              % (len(reads), slowest.describe(t0) if slowest else "-",
                                 len(errors), fig[key + "_read_timeouts"])]
        self.bi_lines[key] += ["    failed: " + r.describe(t0) for r in errors[:3]]
        return got

    def say_bi(self, key):
        for line in self.bi_lines.get(key, ()):
            say(line)

    def stage_pages(self):
        say("bench: pages for %d dossiers" % self.a.dossiers)
        self.pages, self.manifest, self.fig["pages_s"] = build(self.a)
        self.full_rows = rows_of(self.manifest, "full")
        self.fig.update({"rows_%s" % e: n for e, n in self.full_rows.items()})
        self.main = self.server("main")
        self.fig["curl_s"], nbytes = measure_curl(self.main, self.manifest, self.work)
        self.fig["gzip_mb"] = round(nbytes / 1e6, 1)
        say("bench: curl of every page: %.1f s (%.0f MB gzip)" % (self.fig["curl_s"],
                                                                  nbytes / 1e6))

    def stage_floor(self):
        self.cluster = fresh_cluster(self.a.profile)
        self.fig["floor_s"], per = measure_floor(self.cluster, self.main, self.manifest,
                                                 self.work)
        say("bench: floor (curl | psql \\copy): %.1f s  (%s)" % (
            self.fig["floor_s"], ", ".join("%s %.1f" % (e, s) for e, s in per.items())))
        self.cluster.psql("postgres", "DROP DATABASE floor")
        self.cluster.psql("postgres", "CHECKPOINT")

    def stage_full(self):
        c, fig = self.cluster, self.fig
        c.createdb("onestop")
        self.etl("onestop", self.main, "migrate", ["migrate"], timed=False)
        if self.a.profile:
            pgss_reset(c, "onestop")
        perf = os.path.join(self.work, "perf-full.data") if self.a.profile else None
        fig["full_s"], fig["rss_kib"], fig["full_cpu_s"] = self.bi_during(
            "onestop", "full", lambda: self.etl("onestop", self.main, "full", ["run", "--full"],
                                                perf=perf))
        check_run(c, "onestop", "full", self.full_rows)
        ph = phases(os.path.join(self.work, "full.log"))
        fig["full_commit_s"] = round(ph.get("commit", 0), 1)
        say("bench: full: %.1f s, peak RSS %.1f MiB, onestop-etl CPU %.1f s"
            "  (extract %s; merge+derive %.1f)" % (
                fig["full_s"], fig["rss_kib"] / 1024, fig["full_cpu_s"],
                ", ".join("%s %.1f" % (e, ph[e]) for e in ENTITIES if e in ph),
                ph.get("commit", 0)))
        self.say_bi("full")
        fig["ratio_full_floor"] = round(fig["full_s"] / fig["floor_s"], 2)
        if self.a.profile:
            say("  profile: PostgreSQL statements of the full run (nested):\n"
                + pgss_top(c, "onestop", os.path.join(self.work, "pgss-full.txt")))
            say("  profile: onestop-etl (perf, self time):\n" + perf_top(perf))

    def wal_counters(self):
        """(WAL bytes, full-page images, checkpoints) so far."""
        out = self.cluster.psql("postgres", (
            "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint, w.wal_fpi,"
            " b.checkpoints_timed + b.checkpoints_req"
            " FROM pg_stat_wal w, pg_stat_bgwriter b"))
        return [int(float(x)) for x in out.strip().split("\t")]

    def night_run(self, db, server, name):
        """`onestop-etl run` (the night) into db, BI session beside it -> a
        Night; the figures and lines of the BI session go under key name
        with "-" as "_"."""
        c = self.cluster
        if self.a.profile:
            pgss_reset(c, db)
        # A production night comes long after the last checkpoint, so every
        # page it touches first costs a full-page image; right after a full
        # load none does, unless a checkpoint falls inside the night (the 4x
        # night's did, after its 4x load: 74,396 of them, 608 MB of WAL,
        # where the 1x night wrote 51 MB).  Both nights start the same way.
        c.psql("postgres", "CHECKPOINT")
        wal0 = self.wal_counters()
        secs, _, _ = self.bi_during(db, name.replace("-", "_"),
                                    lambda: self.etl(db, server, name, ["run"]))
        wal1 = self.wal_counters()
        check_run(c, db, name, rows_of(self.manifest, "night"))
        counts = c.psql(db, "SELECT entity, rows_read, rows_loaded, rows_rejected,"
                        " rows_superseded FROM etl.run_entity"
                        " WHERE run_id = (SELECT max(run_id) FROM etl.run) ORDER BY entity")
        return Night(secs, phases(os.path.join(self.work, name + ".log")),
                     round((wal1[0] - wal0[0]) / 1e6), wal1[1] - wal0[1], wal1[2] - wal0[2],
                     counts)

    def say_night(self, db, name, label, night):
        ph = night.phases
        say("bench: %s: %.2f s  (extract %.2f; merge+derive %.2f)"
            % (label, night.secs, sum(v for k, v in ph.items() if k in ENTITIES),
               ph.get("commit", 0)))
        self.say_bi(name.replace("-", "_"))
        say("  %s's WAL: %.0f MB, %d full-page images; checkpoints during it: %d"
            % (name, night.wal_mb, night.fpi, night.checkpoints))
        if self.a.profile:
            say("  profile: PostgreSQL statements of the %s run (nested):\n" % name
                + pgss_top(self.cluster, db, os.path.join(self.work, "pgss-%s.txt" % name)))

    def stage_night(self):
        c, fig = self.cluster, self.fig
        self.night = self.night_run("onestop", self.main, "night")
        fig["night_s"] = self.night.secs
        fig["night_wal_mb"], fig["night_fpi"] = self.night.wal_mb, self.night.fpi
        self.say_night("onestop", "night", "night (%d dossiers changed)" % self.a.night,
                       self.night)
        # The night's floor, after it so that the night runs as it always has.
        # Its database stays: a DROP DATABASE forces a checkpoint, after which
        # the rescore would pay full-page images the runs before it did not.
        fig["night_floor_s"], per = measure_floor(c, self.main, self.manifest, self.work,
                                                  "night", "floor_night")
        fig["ratio_night_floor"] = round(fig["night_s"] / fig["night_floor_s"], 2)
        say("bench: night's floor (curl | psql \\copy of the night's pages): %.2f s  (%s);"
            " night/floor %.2f" % (fig["night_floor_s"],
                                   ", ".join("%s %.2f" % (e, t) for e, t in per.items()),
                                   fig["ratio_night_floor"]))

    def stage_bi(self):
        c, fig = self.cluster, self.fig
        bi = measure_bi(c, "onestop", self.a.bi_repeat)
        fig["bi_compliance_total_ms"], n1 = bi["compliance_total"]
        fig["bi_unit_kpi_ms"], n2 = bi["unit_kpi"]
        fig["bi_form06_ms"], n3 = bi["form06"]
        fig["bi_unit_kpi_current_ms"], n4 = bi["unit_kpi_current"]
        fig["bi_form06_current_ms"], n5 = bi["form06_current"]
        say("bench: BI: compliance_total, a year, all units: %.2f ms (%d rows);"
            " unit_kpi, one unit, a year: %.2f ms (%d rows);"
            " form06, the province, report year 2021: %.2f ms (%d rows);"
            " unit_kpi_current, year 2021, all units: %.2f ms (%d rows);"
            " form06_current, report year 2021, all units: %.2f ms (%d rows)"
            % (fig["bi_compliance_total_ms"], n1, fig["bi_unit_kpi_ms"], n2,
               fig["bi_form06_ms"], n3, fig["bi_unit_kpi_current_ms"], n4,
               fig["bi_form06_current_ms"], n5))
        fig["db_mb"] = round(int(c.psql("onestop", "SELECT pg_database_size('onestop')")) / 1e6)

    def stage_rescore(self):
        """`onestop-etl rescore` of the loaded warehouse, after the night:
        every dossier's derivation and every mart again (issue 22's fourth
        writer)."""
        fig = self.fig
        fig["rescore_s"], _, _ = self.bi_during(
            "onestop", "rescore", lambda: self.etl("onestop", self.main, "rescore", ["rescore"]))
        say("bench: rescore: %.2f s" % fig["rescore_s"])
        self.say_bi("rescore")

    def stage_files(self):
        """The province-year as five export files: \\copy floor, one
        load-file invocation, pgloader on the log file; the files are
        removed at the end (about 3 GB at 1M dossiers)."""
        c, fig = self.cluster, self.fig
        if self.a.files == "off":
            return
        folder = os.path.join(RUN_DIR, "exports")
        shutil.rmtree(folder, ignore_errors=True)
        try:
            paths = write_exports(self.main, self.manifest, folder, self.work)
            fig["files_mb"] = round(sum(os.path.getsize(p) for p in paths.values()) / 1e6)
            fig["files_floor_s"], per = measure_files_floor(c, self.manifest, paths)
            fig["files_floor_log_s"] = per["quatrinh"]
            say("bench: files (%d MB of CSV): floor (psql \\copy of the five): %.1f s  (%s)" % (
                fig["files_mb"], fig["files_floor_s"],
                ", ".join("%s %.1f" % (e, t) for e, t in per.items())))
            c.psql("postgres", "CHECKPOINT")
            c.createdb("files")
            conf = files_config(c, "files", os.path.join(self.work, "files.conf"))
            run_etl(conf, ["migrate"], os.path.join(self.work, "migrate-files.log"),
                    self.a.timeout, timed=False)
            log = os.path.join(self.work, "load-file.log")
            fig["files_load_s"], fig["files_rss_kib"], _ = self.bi_during(
                "files", "files", lambda: run_etl(
                    conf, ["load-file", "--source", "files", folder], log, self.a.timeout))
            check_run(c, "files", "load-file", self.full_rows)
            ph = phases(log)
            fig["ratio_files_floor"] = round(fig["files_load_s"] / fig["files_floor_s"], 2)
            say("bench: files: one load-file of the five: %.1f s, peak RSS %.1f MiB"
                "  (extract %s; merge+derive %.1f)" % (
                    fig["files_load_s"], fig["files_rss_kib"] / 1024,
                    ", ".join("%s %.1f" % (e, ph[e]) for e in ENTITIES if e in ph),
                    ph.get("commit", 0)))
            self.say_bi("files")
            c.psql("postgres", "DROP DATABASE files")
            self.stage_pgloader(paths["quatrinh"])
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def stage_pgloader(self, path):
        fig = self.fig
        got = measure_pgloader(self.cluster, self.manifest, path, "quatrinh", self.work,
                               self.a.timeout)
        if got is None:
            fig["pgloader_note"] = "not installed"
            say("bench: pgloader: skipped, not installed (make bench installs the Debian"
                " package pgloader where apt-get can)")
            return
        fig["pgloader_s"], fig["pgloader_rss_kib"], rows = got
        fig["ratio_pgloader_floor"] = round(fig["pgloader_s"] / fig["files_floor_log_s"], 2)
        want = self.full_rows["quatrinh"]
        if rows != want:
            fig["pgloader_note"] = "loaded %d of %d rows" % (rows, want)
        say("bench: pgloader, log file: %.1f s, peak RSS %.1f MiB%s" % (
            fig["pgloader_s"], (fig["pgloader_rss_kib"] or 0) / 1024,
            "; " + fig["pgloader_note"] if fig.get("pgloader_note") else ""))

    def load_scaled(self, db, mode, *server_args):
        """`onestop-etl run --full` into a new, migrated db from a page server
        run with server_args (mode names it and its logs) -> (server,
        seconds, peak RSS KiB, dossiers in the warehouse)."""
        c = self.cluster
        srv = self.server(mode, *server_args)
        c.createdb(db)
        self.etl(db, srv, "migrate-" + mode, ["migrate"], timed=False)
        secs, rss, _ = self.etl(db, srv, "full-" + mode, ["run", "--full"])
        return srv, secs, rss, int(c.psql(db, "SELECT count(*) FROM dw.dossier"))

    def stage_rss(self):
        c, fig, mode = self.cluster, self.fig, self.a.rss
        if mode == "off":
            return
        if not self.a.keep:
            c.psql("postgres", "DROP DATABASE onestop")
        scale = 4 if mode == "x4" else 0.25
        srv, secs, rss, hoso = self.load_scaled(
            "onestop_rss", mode, *(("--copies", "4") if mode == "x4" else ("--fraction", "0.25")))
        if mode == "x4":        # the 4x night's warehouse, if it is asked for
            self.x4 = ("onestop_rss", srv, secs, hoso)
        fig["rss_mode"] = mode
        fig["rss_2_dossiers"] = hoso
        fig["rss_2_kib"] = rss
        fig["full_2_s"] = round(secs, 1)
        big, small = (rss, fig["rss_kib"]) if scale > 1 else (fig["rss_kib"], rss)
        fig["ratio_rss"] = round(big / small, 2)
        say("bench: full at %d dossiers: %.1f s, peak RSS %.1f MiB" % (hoso, secs, rss / 1024))

    def stage_night_x4(self):
        """The same night after four times the data (issue 21): the full set
        served four times, copies 2-4 under other MaHoSo (page_server.py
        --copies 4), then the night's pages, which the server sends once and
        unrenamed: the same changed dossiers, rows and lookback re-sends as
        the night after the province-year, so the same work, on a warehouse
        four times larger.  The memory stage's warehouse with --rss x4;
        otherwise a 4x full load of its own, like the first one right after
        a checkpoint, and dropped after the night."""
        c, fig = self.cluster, self.fig
        if self.a.night_x4 == "off":
            return
        own = self.x4 is None
        if own:
            if not self.a.keep:
                for db in ("onestop", "onestop_rss"):
                    c.psql("postgres", "DROP DATABASE IF EXISTS " + db)
            c.psql("postgres", "CHECKPOINT")
            srv, secs, rss, hoso = self.load_scaled("onestop_x4", "x4", "--copies", "4")
            self.x4 = ("onestop_x4", srv, secs, hoso)
            say("bench: full at %d dossiers: %.1f s, peak RSS %.1f MiB (for the 4x night)"
                % (hoso, secs, rss / 1024))
        db, srv, secs, hoso = self.x4
        if hoso != 4 * self.full_rows["hoso"]:
            raise RuntimeError("the 4x warehouse holds %d dossiers, not 4 x %d"
                               % (hoso, self.full_rows["hoso"]))
        night = self.night_run(db, srv, "night-x4")
        if night.counts != self.night.counts:
            raise RuntimeError("the 4x night did other work than the night: %r, then %r"
                               % (self.night.counts, night.counts))
        fig["night_x4_s"], fig["night_x4_dossiers"] = night.secs, hoso
        fig["night_x4_full_s"] = round(secs, 1)
        fig["night_x4_wal_mb"], fig["night_x4_fpi"] = night.wal_mb, night.fpi
        fig["ratio_night_x4"] = round(night.secs / fig["night_s"], 2)
        self.say_night(db, "night-x4", "night after 4x the data (%d dossiers, the same %d"
                       " changed)" % (hoso, self.a.night), night)
        say("  night(4x)/night(1x): %.2f" % fig["ratio_night_x4"])
        if own and not self.a.keep:
            c.psql("postgres", "DROP DATABASE onestop_x4")

    def run(self):
        shutil.rmtree(self.work, ignore_errors=True)
        os.makedirs(self.work)
        t0 = time.monotonic()
        failed = None
        try:
            for stage in (self.stage_pages, self.stage_floor, self.stage_full,
                          self.stage_night, self.stage_bi, self.stage_rescore,
                          self.stage_rss, self.stage_night_x4, self.stage_files):
                stage()
        except Exception as e:  # report what was measured, then the failure
            failed = "%s: %s" % (stage.__name__[6:], e)
        finally:
            for s in self.servers:
                s.stop()
            if self.cluster is not None:
                if self.a.profile:
                    shutil.copy(os.path.join(self.cluster.base, "log"),
                                os.path.join(self.work, "postgresql.log"))
                if self.a.keep:
                    say("bench: cluster kept: psql -h %s -p %s -U postgres onestop" % (
                        self.cluster.sock, self.cluster.port))
                else:
                    self.cluster.stop()
        self.fig["total_s"] = round(time.monotonic() - t0)
        self.fig["loadavg"] = round(os.getloadavg()[0], 1)
        self.fig["failed"] = failed or ""
        report(self.fig, self.a)
        if failed:
            say("bench: FAILED at " + failed)
            return 1
        return 0


def main(argv=None):
    a = parse_args(argv)
    if not os.access(BINARY, os.X_OK):
        say("bench: %s missing: make all first" % BINARY)
        return 2
    os.makedirs(BENCH_DIR, exist_ok=True)
    os.makedirs(RUN_DIR, exist_ok=True)
    os.chmod(RUN_DIR, 0o755)        # the cluster under it runs as postgres
    return Bench(a).run()


COLUMNS = ["date", "dossiers", "rows_hoso", "rows_quatrinh", "rows_bosung", "page_size",
           "pages_s", "gzip_mb", "curl_s", "floor_s", "full_s", "full_cpu_s", "full_commit_s",
           "ratio_full_floor", "night_dossiers", "night_s", "rss_kib", "rss_mode",
           "rss_2_dossiers", "rss_2_kib", "ratio_rss", "full_2_s",
           "bi_compliance_total_ms", "bi_unit_kpi_ms", "db_mb", "total_s", "loadavg",
           "commit", "failed", "files_mb", "files_floor_s", "files_floor_log_s", "files_load_s",
           "files_rss_kib", "ratio_files_floor", "pgloader_s", "pgloader_rss_kib",
           "ratio_pgloader_floor", "pgloader_note", "bi_form06_ms",
           "full_reads", "full_read_max_ms", "full_read_errors", "full_read_timeouts",
           "night_reads", "night_read_max_ms", "night_read_errors", "night_read_timeouts",
           "rescore_s", "rescore_reads", "rescore_read_max_ms", "rescore_read_errors",
           "rescore_read_timeouts",
           "files_reads", "files_read_max_ms", "files_read_errors", "files_read_timeouts",
           "bi_unit_kpi_current_ms", "bi_form06_current_ms",
           "night_floor_s", "ratio_night_floor", "night_wal_mb", "night_fpi",
           "night_x4_s", "ratio_night_x4", "night_x4_dossiers", "night_x4_full_s",
           "night_x4_wal_mb", "night_x4_fpi"]


def fmt(fig, key, spec, unit=""):
    v = fig.get(key)
    return (spec % v) + unit if isinstance(v, (int, float)) else "-"


def csv_value(v):
    if isinstance(v, float):
        return round(v, 2)
    if isinstance(v, str):
        return v.splitlines()[0][:200] if v else v
    return v


def bi_read_line(fig, key):
    """Under a writer's line: the slowest read of the BI session during it."""
    if fig.get(key + "_reads") is None:
        return
    timeouts = fig[key + "_read_timeouts"]
    say("    BI read, slowest %10s   (target <= 1 s, aim 100 ms; %d reads, %d failed, %d"
        " lock timeouts%s)" % (
            fmt(fig, key + "_read_max_ms", "%.0f", " ms"), fig[key + "_reads"],
            fig[key + "_read_errors"], timeouts, ": waits cut at 1 s" if timeouts else ""))


def report(fig, a):
    say("")
    say("onestop-etl bench: %d dossiers, %s log steps, %s supplements (%s)" % (
        fig["dossiers"], fig.get("rows_quatrinh", "?"), fig.get("rows_bosung", "?"),
        fig["date"]))
    say("  curl, every page   %10s" % fmt(fig, "curl_s", "%.1f", " s"))
    say("  floor              %10s" % fmt(fig, "floor_s", "%.1f", " s"))
    say("  full               %10s   full/floor %s   (target <= 2.0, aim 1.3)"
        % (fmt(fig, "full_s", "%.1f", " s"), fmt(fig, "ratio_full_floor", "%.2f")))
    bi_read_line(fig, "full")
    say("  night              %10s   (floor %s, night/floor %s; target <= 3 s; %d dossiers"
        " changed)" % (fmt(fig, "night_s", "%.2f", " s"), fmt(fig, "night_floor_s", "%.2f", " s"),
                       fmt(fig, "ratio_night_floor", "%.2f"), fig["night_dossiers"]))
    bi_read_line(fig, "night")
    if fig.get("night_x4_s"):
        say("  night after 4x     %10s   night(4x)/night(1x) %s   (target <= 1.2; %d dossiers,"
            " the same changes)" % (fmt(fig, "night_x4_s", "%.2f", " s"),
                                    fmt(fig, "ratio_night_x4", "%.2f"), fig["night_x4_dossiers"]))
        bi_read_line(fig, "night_x4")
    elif a.night_x4 == "off":
        say("  night after 4x              -   (off: BENCH_NIGHT_X4=on adds a 4x full load,"
            " BENCH_RSS=x4 shares its own)")
    if fig.get("rescore_s"):
        say("  rescore            %10s   (the loaded warehouse, after the night)"
            % fmt(fig, "rescore_s", "%.2f", " s"))
        bi_read_line(fig, "rescore")
    say("  peak RSS           %10s   (target <= 64 MiB)"
        % (fmt(fig, "rss_kib", "%.0f", " KiB")))
    if fig.get("rss_2_kib"):
        say("  peak RSS at %-7d%10s   RSS(%s)/RSS(%s) %.2f   (target <= 1.2)"
            % (fig["rss_2_dossiers"], fmt(fig, "rss_2_kib", "%.0f", " KiB"),
               "4x" if fig["rss_mode"] == "x4" else "1x",
               "1x" if fig["rss_mode"] == "x4" else "x/4", fig["ratio_rss"]))
    if fig.get("files_load_s"):
        say("  files: \\copy floor%10s   (the log file alone %s)"
            % (fmt(fig, "files_floor_s", "%.1f", " s"), fmt(fig, "files_floor_log_s", "%.1f", " s")))
        say("  files: load-file  %10s   load-file/floor %s   (target <= 2.0; one invocation,"
            " five files)" % (fmt(fig, "files_load_s", "%.1f", " s"),
                              fmt(fig, "ratio_files_floor", "%.2f")))
        bi_read_line(fig, "files")
    if fig.get("pgloader_s"):
        say("  pgloader, log file %10s   pgloader/floor %s%s"
            % (fmt(fig, "pgloader_s", "%.1f", " s"), fmt(fig, "ratio_pgloader_floor", "%.2f"),
               "   (" + fig["pgloader_note"] + ")" if fig.get("pgloader_note") else ""))
    elif fig.get("pgloader_note"):
        say("  pgloader, log file          -   (%s)" % fig["pgloader_note"])
    say("  BI compliance_total%10s   (target < 50 ms)"
        % fmt(fig, "bi_compliance_total_ms", "%.2f", " ms"))
    say("  BI unit_kpi        %10s   (target < 50 ms)" % fmt(fig, "bi_unit_kpi_ms", "%.2f", " ms"))
    say("  BI form06          %10s   (report year, the province; target < 50 ms)"
        % fmt(fig, "bi_form06_ms", "%.2f", " ms"))
    say("  BI unit_kpi_current%10s   (year 2021, every current unit; target < 50 ms)"
        % fmt(fig, "bi_unit_kpi_current_ms", "%.2f", " ms"))
    say("  BI form06_current  %10s   (report year 2021, every current unit; target < 50 ms)"
        % fmt(fig, "bi_form06_current_ms", "%.2f", " ms"))
    say("  whole bench        %10s   (load average %.1f at the end: other work on"
        " the machine skews every figure)" % (fmt(fig, "total_s", "%d", " s"), fig["loadavg"]))
    if a.profile:
        say("  (profiling run: figures not appended)")
        return
    r = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                       capture_output=True, text=True)
    dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--", "etl", "sql"],
                           capture_output=True, text=True).stdout.strip()
    fig["commit"] = (r.stdout.strip() or "?") + ("-dirty" if dirty else "")
    if os.path.abspath(BINARY) != os.path.join(ROOT, "build", "onestop-etl"):
        fig["commit"] = BINARY          # ONESTOP_ETL_BIN: another build
    new = not os.path.exists(a.results)
    with open(a.results, "a", newline="") as f:
        w = csv.writer(f)
        if new:
            w.writerow(COLUMNS)
        w.writerow([csv_value(fig.get(c, "")) for c in COLUMNS])
    say("  appended to %s" % os.path.relpath(a.results, ROOT))


if __name__ == "__main__":
    sys.exit(main())
