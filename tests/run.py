#!/usr/bin/env python3
"""The test runner: unit programs, SQL tests and integration tests, all
against real parts.  Its last line is "N passed, N failed" (CI reads it).

  python3 tests/run.py [-k SUBSTRING] [--only unit|sql|integration]

Unit programs (build/san/unit/test_*) print their own "N passed, N failed"
line, which is added up.  SQL tests (tests/sql/test_*.sql) are pgTAP
scripts, each run by pg_prove against a freshly migrated database of its
own; every failing assertion is reported with its diagnostics.
Integration tests are the test_* functions of tests/integration/test_*.py;
each gets a Context with its own fresh database.
"""
import argparse
import glob
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import traceback

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "integration"))
import harness  # noqa: E402

ROOT = harness.ROOT
TEMPLATE = "onestop_tmpl"
passed = failed = 0
failures = []


def report(name, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print(f"ok   {name}", flush=True)
    else:
        failed += 1
        failures.append(name)
        sep = ":" if detail.startswith("\n") else ": "
        print(f"FAIL {name}{sep + detail if detail else ''}", flush=True)


def run_unit(flt):
    for prog in sorted(glob.glob(os.path.join(ROOT, "build", "san", "unit", "test_*"))):
        name = "unit/" + os.path.basename(prog)
        if flt and flt not in name:
            continue
        r = subprocess.run([prog], capture_output=True, text=True, cwd=ROOT, timeout=600)
        m = re.search(r"^(\d+) passed, (\d+) failed\s*$", r.stdout, re.M)
        ok = r.returncode == 0 and m and int(m.group(2)) == 0
        detail = "" if ok else (r.stderr[-3000:] + r.stdout[-1000:])
        report(f"{name} ({m.group(1) if m else '?'} checks)", bool(ok), detail)


class Context:
    """What an integration test gets: a fresh database and a scratch dir."""

    def __init__(self, cluster, name):
        self.cluster = cluster
        self.db = "t_" + re.sub(r"[^a-z0-9_]", "_", name.lower())[-50:]
        cluster.createdb(self.db, TEMPLATE)
        self.dsn = cluster.dsn(self.db)
        self.dir = tempfile.mkdtemp(prefix="onestop-test-")
        self.sims = []

    def sim(self, *args, **opts):
        s = harness.Simulator(*args, **opts)
        self.sims.append(s)
        return s

    def config(self, sources, extra="", name="etl.conf"):
        return harness.write_config(os.path.join(self.dir, name), self.dsn, sources, extra)

    def etl(self, config, *args, **kw):
        return harness.run_etl(config, *args, **kw)

    def sql(self, query):
        return self.cluster.psql(self.db, query)

    def rows(self, query):
        out = self.sql(query)
        return [line.split("\t") for line in out.splitlines()]

    def close(self):
        for s in self.sims:
            s.stop()
        self.cluster.psql("postgres", f"DROP DATABASE IF EXISTS {self.db} WITH (FORCE)",
                          check=False)


def make_template(cluster):
    cluster.createdb(TEMPLATE)
    cfg = harness.write_config(os.path.join(tempfile.mkdtemp(), "m.conf"),
                               cluster.dsn(TEMPLATE), [("x", "http://127.0.0.1:1", {})])
    r = harness.run_etl(cfg, "migrate")
    if r.returncode:
        raise RuntimeError("migrate failed: " + r.stderr)


def tap_failures(tap):
    """The failing assertions of a TAP stream: (line, diagnostics) each.  A
    "not ok" marked "# TODO" is a known gap, not a failure (TAP's rule)."""
    fails, cur = [], None
    for line in tap.splitlines():
        if re.match(r"(not )?ok \d+", line):
            todo = re.search(r"\s#\s*TODO\b", line)
            cur = (line[len("not ok "):], []) if line.startswith("not ") and not todo else None
            if cur:
                fails.append(cur)
        elif line.startswith("#") and cur and not re.match(r"# (Looks like|Failed )", line):
            cur[1].append(line[2:])
    return fails


def run_sql(cluster, flt):
    """Each tests/sql/test_*.sql through pg_prove in a database of its own:
    a line per failing assertion (name and pgTAP's have/want), then one per
    file, failed also by a plan not met or psql stopping on an error."""
    if not shutil.which("pg_prove"):
        report("sql", False, "pg_prove not found (make deps installs "
               "libtap-parser-sourcehandler-pgtap-perl and postgresql-15-pgtap)")
        return
    for path in sorted(glob.glob(os.path.join(ROOT, "tests", "sql", "test_*.sql"))):
        base = os.path.basename(path)[:-4]
        if flt and flt not in "sql/" + base:
            continue
        db = "s_" + base
        cluster.createdb(db, TEMPLATE)
        r = subprocess.run(["pg_prove", "--verbose", "--psql-bin", cluster.psql_bin,
                            "-h", cluster.sock, "-p", str(cluster.port), "-U", "postgres",
                            "-d", db, path], capture_output=True, text=True, timeout=1800)
        checks = len(re.findall(r"^(?:not )?ok \d+", r.stdout, re.M))
        plan = re.search(r"^1\.\.(\d+)$", r.stdout, re.M)
        bad = tap_failures(r.stdout)
        for name, diag in bad:
            report(f"sql/{base}: {name}", False, "\n    ".join([""] + diag))
        for todo in re.findall(r"^not ok (\d+ .*#\s*TODO\b.*)$", r.stdout, re.M):
            print(f"todo sql/{base}: {todo}", flush=True)
        if r.returncode or bad or not checks:
            # pg_prove's summary says why: failed tests, a bad plan, psql's exit
            summary = re.search(r"^-+\n(.*?)^Files=", r.stdout, re.M | re.S)
            why = "\n".join(x for x in (r.stderr.strip()[-2000:],
                                         summary.group(1).strip() if summary else "") if x)
            ran = f"{checks} of {plan.group(1)}" if plan else f"{checks}, no plan,"
            report(f"sql/{base} ({ran} checks ran)", False, why or "no checks ran")
        else:
            report(f"sql/{base} ({checks} checks)", True)
        cluster.psql("postgres", f"DROP DATABASE IF EXISTS {db}", check=False)


def run_integration(cluster, flt):
    for path in sorted(glob.glob(os.path.join(ROOT, "tests", "integration", "test_*.py"))):
        modname = os.path.basename(path)[:-3]
        spec = importlib.util.spec_from_file_location(modname, path)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        for fname in sorted(n for n in dir(mod) if n.startswith("test_")):
            name = f"integration/{modname}.{fname}"
            if flt and flt not in name:
                continue
            ctx = Context(cluster, f"{modname}_{fname}")
            t0 = time.time()
            try:
                getattr(mod, fname)(ctx)
                report(f"{name} ({time.time() - t0:.1f}s)", True)
            except Exception as exc:  # a failed assert or a broken run
                detail = "".join(traceback.format_exception(exc))[-4000:]
                report(name, False, detail)
            finally:
                ctx.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-k", dest="flt")
    ap.add_argument("--only", choices=["unit", "sql", "integration"])
    a = ap.parse_args()
    t0 = time.time()
    if a.only in (None, "unit"):
        run_unit(a.flt)
    if a.only in (None, "sql", "integration"):
        cluster = harness.PgCluster().start()
        try:
            make_template(cluster)
            if a.only in (None, "sql"):
                run_sql(cluster, a.flt)
            if a.only in (None, "integration"):
                run_integration(cluster, a.flt)
        except Exception as exc:
            report("test bench", False, "".join(traceback.format_exception(exc))[-4000:])
        finally:
            cluster.stop()
    print(f"\n{len(failures)} failing: {', '.join(failures)}" if failures else "")
    print(f"took {time.time() - t0:.0f}s")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
