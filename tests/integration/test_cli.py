"""The command's surface: usage errors, check-config reporting every
problem at once, exit codes an operator's scripts rely on."""
import os
import subprocess

import harness
from common import write_file  # noqa: E402

BIN = harness.BINARY


def test_check_config_reports_three_mistakes_with_lines(ctx):
    conf = write_file(ctx, "bad.conf",
                  "[warehouse]\n"
                  f"dsn = {ctx.dsn}\n"
                  "[extract]\n"
                  "lookback = soon\n"          # line 4
                  "[source a]\n"
                  "url = http://127.0.0.1:9\n"
                  "colour = blue\n"            # line 7
                  "[source b]\n"
                  "url = http://127.0.0.1:9\n"
                  "token_file = /nonexistent/token\n"  # missing token file
                  )
    r = ctx.etl(conf, "check-config")
    assert r.returncode == 2, r
    err = r.stderr
    assert f"{conf}:4: lookback: 'soon' is not a whole number" in err, err
    assert f"{conf}:7: unknown key 'colour'" in err, err
    assert "cannot read token file '/nonexistent/token'" in err, err
    assert "3 errors" in err, err


def test_check_config_accepts_a_good_file(ctx):
    conf = ctx.config([("a", "http://127.0.0.1:9", {})])
    r = ctx.etl(conf, "check-config")
    assert r.returncode == 0, r.stderr
    assert "ok" in r.stdout


def test_usage_errors_exit_2(ctx):
    conf = ctx.config([("a", "http://127.0.0.1:9", {})])
    for args in (["frobnicate"], ["run", "--since", "yesterday"], ["rerun"],
                 ["score", "--format", "xml"], ["score", "--period", "2021-Q5"],
                 ["load-file", "--source", "a", "--entity", "nope", "/dev/null"],
                 ["run", "--source", "missing"]):
        r = ctx.etl(conf, *args)
        assert r.returncode == 2, (args, r.returncode, r.stderr)
        assert r.stderr.strip(), args


def test_help_and_version(ctx):
    r = subprocess.run([BIN, "--help"], capture_output=True, text=True)
    assert r.returncode == 0 and "onestop-etl run" in r.stdout
    for cmd in ("run", "rerun", "load-file", "rescore", "status", "score", "report",
                "migrate", "check-config"):
        r = subprocess.run([BIN, cmd, "--help"], capture_output=True, text=True)
        assert r.returncode == 0 and r.stdout.startswith(f"usage: onestop-etl {cmd}"), cmd
    r = subprocess.run([BIN, "--version"], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.startswith("onestop-etl ")


def test_unreachable_warehouse_exits_3(ctx):
    conf = harness.write_config(os.path.join(ctx.dir, "x.conf"),
                                "host=/nonexistent port=1 dbname=x",
                                [("a", "http://127.0.0.1:9", {})])
    r = ctx.etl(conf, "run")
    assert r.returncode == 3, r.stderr
    assert "cannot connect to the warehouse" in r.stderr


def test_unmigrated_warehouse_exits_3(ctx):
    ctx.cluster.createdb("unmigrated_cli")
    conf = harness.write_config(os.path.join(ctx.dir, "u.conf"),
                                ctx.cluster.dsn("unmigrated_cli"),
                                [("a", "http://127.0.0.1:9", {})])
    r = ctx.etl(conf, "run")
    ctx.cluster.psql("postgres", "DROP DATABASE unmigrated_cli")
    assert r.returncode == 3, r.stderr
    assert "onestop-etl migrate" in r.stderr
