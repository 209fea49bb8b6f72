"""An administrator's first week (issue 15): what the program says and
exits with where a new operator hesitated, through the real binary, the
simulator and a real PostgreSQL.  (The wrapper, install and clocks are in
test_ops.py; check-config's and score's messages in test_cli.py.)
"""
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from common import ok  # noqa: E402
from test_security import psql_as  # noqa: E402

FAST = {"page_size": 200, "retry_delay": 0.05, "timeout": 2, "retries": 2}
README = os.path.join(harness.ROOT, "README.md")


def config(ctx, sim):
    return ctx.config([("soctrang", sim.url, dict(FAST))])


def test_an_unwritable_report_is_exit_5_not_the_warehouse(ctx):
    sim = ctx.sim(seed=3, dossiers=60)
    conf = config(ctx, sim)
    ok(ctx.etl(conf, "run"))
    out = os.path.join(ctx.dir, "no-such-folder", "report.html")
    r = ctx.etl(conf, "report", "--period", "2021", "--out", out)
    assert r.returncode == 5, (r.returncode, r.stderr[-1500:])
    assert f"cannot write '{out}'" in r.stderr and "No such file" in r.stderr, r.stderr
    assert not os.path.exists(os.path.dirname(out))
    # the README's command, into the folder it names, works
    good = os.path.join(ctx.dir, "report-2021.html")
    ok(ctx.etl(conf, "report", "--period", "2021", "--profile", "kh49-2021", "--out", good))
    assert os.path.getsize(good) > 10000
    assert "| 5 | an output file cannot be written" in open(README, encoding="utf-8").read()


def test_status_names_runs_as_they_were(ctx):
    """A first load is a full load; a rerun says whose rerun it is; --last 0
    is refused rather than answered "No runs yet"."""
    sim = ctx.sim(seed=3, dossiers=60)
    conf = config(ctx, sim)
    ok(ctx.etl(conf, "run"))
    sim.control("faults", {"faults": [{"entity": "hoso", "kind": "status", "code": 503,
                                       "times": 10}]})
    sim.control("clock", {"advance": 86400})
    assert ctx.etl(conf, "run").returncode == 1
    sim.control("faults", {"faults": []})
    r = ok(ctx.etl(conf, "rerun", "--failed"))
    assert "run 3 started (rerun of run 2)" in r.stderr, r.stderr[-1500:]
    assert ctx.rows("SELECT run_id, mode, rerun_of FROM etl.run ORDER BY run_id") == [
        ["1", "full", ""], ["2", "nightly", ""], ["3", "nightly", "2"]]
    out = ok(ctx.etl(conf, "status")).stdout
    rows = {m.group(1): m.group(2) for m in
            re.finditer(r"^\s+(\d)\s+soctrang\s+(\S+(?: \d)?)\s", out, re.M)}
    assert rows == {"1": "full", "2": "nightly", "3": "rerun 2"}, out
    r = ctx.etl(conf, "status", "--last", "0")
    assert r.returncode == 2 and "1 or more" in r.stderr, (r.returncode, r.stderr)
    assert "No runs yet" not in r.stdout


def test_run_help_names_every_timestamp_form(ctx):
    r = ok(subprocess.run([harness.BINARY, "run", "--help"], capture_output=True, text=True))
    text = r.stdout + r.stderr
    for form in ("yyyyMMddHHmmss", "2021-06-01T08:00:00", "20210601", "2021-06-01"):
        assert form in text, (form, text)


def test_the_readmes_pg_hba_lines_let_a_bi_login_in(ctx):
    """The BI lines the README gives, put in front of a peer-only
    pg_hba.conf: a member of onestop_bi logs in with its password over the
    socket and reads mart; a non-member with a password is still refused."""
    readme = open(README, encoding="utf-8").read()
    block = re.search(r"# pg_hba.conf: members of onestop_bi, with a password\n(.*?)```",
                      readme, re.S).group(1)
    local = [line for line in block.splitlines() if line.startswith("local")]
    assert local, block
    c = ctx.cluster
    hba = os.path.join(c.data, "pg_hba.conf")
    original = open(hba).read()
    db = "onestop"
    c.psql("postgres", f"DROP DATABASE IF EXISTS {db}")
    c.psql("postgres", f"CREATE DATABASE {db} TEMPLATE {ctx.db}")
    for role in ("metabase", "stranger"):
        c.psql("postgres", f"DROP ROLE IF EXISTS {role}")
    c.psql("postgres", "CREATE ROLE metabase LOGIN PASSWORD 'pw-bi' IN ROLE onestop_bi")
    c.psql("postgres", "CREATE ROLE stranger LOGIN PASSWORD 'pw-x'")
    try:
        with open(hba, "w") as f:
            f.write("\n".join(local) + "\nlocal all postgres trust\nlocal all all peer\n")
        c.psql("postgres", "SELECT pg_reload_conf()")
        r = psql_as(c, "metabase", db, "SELECT count(*) FROM mart.unit_kpi",
                    env={"PGPASSWORD": "pw-bi"})
        assert r.returncode == 0, r.stderr
        r = psql_as(c, "stranger", db, "SELECT 1", env={"PGPASSWORD": "pw-x"})
        assert r.returncode != 0 and "peer" in r.stderr.lower(), r.stderr
    finally:
        with open(hba, "w") as f:
            f.write(original)
        c.psql("postgres", "SELECT pg_reload_conf()", check=False)
        c.psql("postgres", f"DROP DATABASE IF EXISTS {db} WITH (FORCE)", check=False)
        for role in ("metabase", "stranger"):
            c.psql("postgres", f"DROP ROLE IF EXISTS {role}", check=False)
