#!/usr/bin/env python3
"""make demo: a local PostgreSQL cluster (kept in var/demo, reused next
time), the simulator serving a year of the sample province (Sở GDĐT Sóc
Trăng and its district offices) with a reorganisation in it (two district
offices merged on 1 October, and the lineage file that says so), the
nightly job, the scorecard as recorded and by current unit, and form 06 of
the last full report quarter as the workbook an office sends."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "sim"))
import harness  # noqa: E402
import gen  # noqa: E402

ROOT = harness.ROOT
VAR = os.path.join(ROOT, "var", "demo")
BIN = os.path.join(ROOT, "build", "onestop-etl")
DOSSIERS = int(os.environ.get("DEMO_DOSSIERS", "12000"))


def cluster():
    os.makedirs(VAR, exist_ok=True)
    pg = harness.PgCluster(base=os.path.join(VAR, "pg"), keep=True) \
        if os.path.isdir(os.path.join(VAR, "pg")) else None
    if pg is None:
        os.makedirs(os.path.join(VAR, "pg"))
        pg = harness.PgCluster(base=os.path.join(VAR, "pg"), keep=True)
    port_file = os.path.join(VAR, "port")
    if os.path.exists(os.path.join(pg.data, "postmaster.pid")) and os.path.exists(port_file):
        pg.port = int(open(port_file).read())
        if subprocess.run(["pg_isready", "-q", "-h", pg.sock, "-p", str(pg.port)]).returncode == 0:
            return pg
        harness.as_postgres([os.path.join(pg.bindir, "pg_ctl"), "-D", pg.data, "-m", "fast",
                             "stop"], capture_output=True)
    pg.start()
    open(port_file, "w").write(str(pg.port))
    return pg


def main():
    pg = cluster()
    if pg.psql("postgres", "SELECT 1 FROM pg_database WHERE datname = 'onestop'").strip() != "1":
        pg.psql("postgres", "CREATE DATABASE onestop")
    sim = harness.Simulator(seed=49, year=2021, dossiers=DOSSIERS, token="demo-token",
                            reorg=True)
    token = os.path.join(VAR, "demo.token")
    with open(token, "w") as f:
        f.write("demo-token\n")
    os.chmod(token, 0o600)
    conf = harness.write_config(os.path.join(VAR, "onestop-etl.conf"), pg.dsn("onestop"),
                                [("soctrang-sgddt", sim.url,
                                  {"token_file": token, "page_size": 2000})],
                                "[report]\nrecipient = Văn phòng UBND tỉnh Sóc Trăng")
    # the lineage of the sample's reorganisation, shipped with the demo
    lineage = os.path.join(VAR, "unit-lineage.csv")
    with open(lineage, "w") as f:
        f.write(gen.reorg_lineage(2021))
    with open(conf) as f:
        text = f.read()
    with open(conf, "w") as f:
        f.write(text.replace("[rules]\n", f"[rules]\nlineage = {lineage}\n", 1))
    env = dict(os.environ)

    def etl(*args):
        print("$ onestop-etl " + " ".join(args), flush=True)
        r = subprocess.run([BIN, "-c", conf] + list(args), env=env)
        if r.returncode not in (0,):
            print(f"onestop-etl {args[0]} exited {r.returncode}", file=sys.stderr)
            sim.stop()
            sys.exit(r.returncode)

    etl("migrate")
    etl("run")
    print("\nRows in the warehouse against what the simulator served:")
    tables = {"donvi": "dw.unit", "thutuc": "dw.procedure_version", "hoso": "dw.dossier",
              "bosung": "dw.supplement", "quatrinh": "dw.log_step"}
    ok = True
    for entity, table in tables.items():
        want = sim.control(f"expected?entity={entity}")["count"]
        got = int(pg.psql("onestop", f"SELECT count(*) FROM {table}").strip())
        ok &= want == got
        print(f"  {entity:9} {got:8d} loaded, {want:8d} served  {'ok' if want == got else 'DIFFERENT'}")
    print()
    etl("status", "--last", "3")
    print()
    report = os.path.join(VAR, "report-2021.html")
    etl("report", "--period", "2021", "--out", report)
    report_current = os.path.join(VAR, "report-2021-current.html")
    etl("report", "--period", "2021", "--units", "current", "--out", report_current)
    # the last report quarter (15th to 14th) that ended within the data
    quarter = pg.psql("onestop", """
        SELECT p.period_label FROM dw.form06_state s,
               dw.report_periods(s.span_from, s.span_to) p
        WHERE p.period_kind = 'report_quarter' AND p.last_day <= s.span_to
        ORDER BY p.last_day DESC LIMIT 1""").strip()
    workbook = os.path.join(VAR, f"form06-{quarter}.xlsx")
    if quarter:
        etl("form06", "--period", quarter, "--format", "xlsx", "--out", workbook)
    sim.stop()
    print(f"The scorecard as a page: {report} (open it in a browser; prints to PDF)")
    print(f"The same page by current unit: {report_current}")
    if quarter:
        print(f"Form 06 of report quarter {quarter}: {workbook} (the official workbook)")
    print(f"The warehouse stays up: psql -h {pg.sock} -p {pg.port} -U postgres onestop")
    print(f"Configuration: {conf}\n")
    etl("score", "--profile", "kh49-2021", "--period", "2021")
    print(f"\nThe same scorecard by current unit: {gen.REORG_FROM} merged into {gen.REORG_TO}"
          f" on 2021-10-01 ({lineage})")
    etl("score", "--profile", "kh49-2021", "--period", "2021", "--units", "current")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
