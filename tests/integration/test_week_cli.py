"""An administrator's first week (issue 15, items 4, 5 and 8), through the
real binary: a mistyped profile or unit is an error that lists the known
ones, not an empty scorecard; a permission warning says it is one and how
to fix it; a mistyped section or key is reported once, with the name it
probably meant."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import write_file, ok  # noqa: E402

import harness  # noqa: E402


def _units(ctx):
    return [r[0] for r in ctx.rows("SELECT unit_code FROM mart.unit"
                                   " UNION SELECT unit_code FROM dw.unit ORDER BY 1")]


# ---- item 4: an unknown profile or unit is an error -----------------------

def test_score_and_report_refuse_an_unknown_profile_or_unit(ctx):
    sim = ctx.sim(seed=15, year=2021, dossiers=60)
    conf = ctx.config([("sim", sim.url, {"page_size": 1000})])
    ok(ctx.etl(conf, "run"))
    units = _units(ctx)
    assert len(units) > 10, units

    r = ctx.etl(conf, "score", "--period", "2021", "--profile", "kh49")
    assert r.returncode == 2, r
    assert "unknown profile 'kh49'" in r.stderr, r.stderr
    assert "known: kh49-2021, qd766" in r.stderr, r.stderr
    assert "did you mean 'kh49-2021'" in r.stderr, r.stderr
    assert "no scores" not in r.stdout, r.stdout

    r = ctx.etl(conf, "score", "--period", "2021", "--unit", "999")
    assert r.returncode == 2, r
    assert "unknown unit '999'" in r.stderr, r.stderr
    # at most ten listed, and how many more
    assert units[0] in r.stderr and units[10] not in r.stderr, r.stderr
    assert f"and {len(units) - 10} more" in r.stderr, r.stderr

    # one character off: the unit it probably meant
    typo = units[3][:-1]
    r = ctx.etl(conf, "score", "--period", "2021", "--unit", typo, "--format", "json")
    assert r.returncode == 2, r
    assert f"did you mean '{units[3]}'" in r.stderr, r.stderr
    assert r.stdout == "", r.stdout

    page = os.path.join(ctx.dir, "page.html")
    for args in (["--profile", "nope"], ["--unit", "999"]):
        r = ctx.etl(conf, "report", "--period", "2021", *args, "--out", page)
        assert r.returncode == 2, (args, r)
        assert "unknown" in r.stderr, r.stderr
        assert os.listdir(ctx.dir) == ["etl.conf"], os.listdir(ctx.dir)

    # known names still work, and a known profile with no data is no error
    r = ok(ctx.etl(conf, "score", "--period", "2021", "--profile", "qd766", "--unit", units[0]))
    assert r.stdout.startswith("Profile qd766 · period 2021 · 1 unit"), r.stdout
    r = ok(ctx.etl(conf, "score", "--period", "2019", "--profile", "kh49-2021"))
    assert r.stdout.startswith("no scores for period 2019"), r.stdout
    ok(ctx.etl(conf, "report", "--period", "2021", "--profile", "kh49-2021", "--out", page))
    assert os.path.exists(page)


def test_an_empty_warehouse_still_says_no_scores(ctx):
    conf = ctx.config([("a", "http://127.0.0.1:9", {})])
    r = ok(ctx.etl(conf, "score", "--period", "2021", "--profile", "kh49-2021"))
    assert r.stdout.startswith("no scores for period 2021"), r.stdout
    # once the rules are applied, the profiles are known though no unit is
    ok(ctx.etl(conf, "rescore"))
    r = ok(ctx.etl(conf, "score", "--period", "2021", "--profile", "qd766"))
    assert r.stdout.startswith("no scores for period 2021"), r.stdout
    r = ctx.etl(conf, "score", "--period", "2021", "--profile", "kh49")
    assert r.returncode == 2 and "known: kh49-2021, qd766" in r.stderr, r


# ---- item 5: a permission warning is labelled and says the fix -------------

def test_group_readable_files_draw_labelled_warnings_with_the_fix(ctx):
    token = write_file(ctx, "a.token", "secret\n", 0o644)
    conf = ctx.config([("a", "https://motcua.example.vn/api", {"token_file": token})])
    os.chmod(conf, 0o640)
    r = ok(ctx.etl(conf, "check-config"))
    warnings = [line for line in r.stderr.splitlines() if "readable by group" in line]
    assert len(warnings) == 2, r.stderr
    for line, path in zip(warnings, (conf, token)):
        assert line.startswith("warning: "), line
        assert line.endswith(f"run: chmod 600 '{path}'"), line
    assert "ok, 1 source" in r.stdout


def test_the_example_configuration_header_agrees_with_the_check(ctx):
    example = open(os.path.join(harness.ROOT, "config", "onestop-etl.conf.example")).read()
    header = example.split("\n\n")[0]
    assert "640" not in header, header
    assert "mode 600" in header, header


# ---- item 8: configuration errors that say what was meant ------------------

def test_a_mistyped_section_is_one_error_with_a_suggestion(ctx):
    conf = write_file(ctx, "typo.conf",
                  "[warehouse]\n"
                  f"dsn = {ctx.dsn}\n"
                  "[extrakt]\n"                # line 3
                  "lookback = 3600\n"
                  "max_reject_pct = 5\n"
                  "min_rejects = 10\n"
                  "parallel = 4\n"
                  "personal_columns =\n"
                  "[source a]\n"
                  "url = http://127.0.0.1:9\n"
                  "page_sise = 100\n"          # line 11
                  )
    r = ctx.etl(conf, "check-config")
    assert r.returncode == 2, r
    lines = [line for line in r.stderr.splitlines() if line.startswith(conf + ":")]
    assert lines == [
        f"{conf}:3: unknown section '[extrakt]'; did you mean '[extract]'?",
        f"{conf}:11: unknown key 'page_sise' in [source a]; did you mean 'page_size'?",
    ], r.stderr
    assert "outside a section" not in r.stderr, r.stderr
    assert "2 errors" in r.stderr, r.stderr
