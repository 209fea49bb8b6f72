"""Hostile rules input (issue 14, items 10 and 11): what check-config
accepts, the next run accepts; configuration numbers that would switch a
guard off or overflow a cast are refused; calendar edges that rules.md
allows are accepted."""
import os
import re
import sys

import harness
from common import write_file, ok

ROOT = harness.ROOT
SHIPPED_CALENDAR = f"{ROOT}/config/calendar-vn.csv"
SHIPPED_PROFILES = f"{ROOT}/config/profiles.csv"
PROFILE_HEADER = "profile,criterion,label,metric,target,max_points,note\n"


def _config(ctx, url="http://127.0.0.1:9", calendar=SHIPPED_CALENDAR,
            profiles=SHIPPED_PROFILES, extract="", name="etl.conf", lineage=""):
    return write_file(ctx, name,
                  "[warehouse]\n"
                  f"dsn = {ctx.dsn}\n"
                  "[rules]\n"
                  f"calendar = {calendar}\n"
                  f"profiles = {profiles}\n"
                  + (f"lineage = {lineage}\n" if lineage else "") +
                  "[extract]\n"
                  f"{extract}"
                  "[source sim]\n"
                  f"url = {url}\n"
                  "page_size = 1000\n")


def _bad_profiles(ctx):
    return write_file(ctx, "profiles.csv",
                  PROFILE_HEADER +
                  "p,1,Đúng hạn,ontime_rate,100,20,\n"
                  "p,2,Typo,ontime,100,20,\n"            # line 3
                  "p,3,Letters,online_rate,abc,5,\n"     # line 4
                  "p,1,Again,online_rate,50,5,\n")       # line 5


def test_check_config_refuses_what_the_run_refuses(ctx):
    profiles = _bad_profiles(ctx)
    conf = _config(ctx, profiles=profiles)
    r = ctx.etl(conf, "check-config")
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    err = r.stderr
    assert f"{profiles}:3: unknown metric 'ontime'" in err, err
    assert f"{profiles}:4: target: 'abc' is not a number >= 0" in err, err
    assert f"{profiles}:5: criterion '1' of profile 'p' is given twice (first on line 2)" \
        in err, err
    assert "3 errors in the rules files" in err, err
    assert "ok" not in r.stdout, r.stdout
    # the run refuses the same file, the same way, before it touches data
    r = ctx.etl(conf, "rescore")
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert f"{profiles}:3: unknown metric 'ontime'" in r.stderr, r.stderr


def test_check_config_reads_the_calendar_too(ctx):
    calendar = write_file(ctx, "calendar.csv",
                      "# covers: 2024-2024\n"
                      "date,kind,note\n"
                      "2024-02-30,holiday,x\n")
    profiles = _bad_profiles(ctx)
    r = ctx.etl(_config(ctx, calendar=calendar, profiles=profiles), "check-config")
    assert r.returncode == 2, r
    # both files' errors in one go
    assert f"{calendar}:3: bad date '2024-02-30'" in r.stderr, r.stderr
    assert f"{profiles}:3: unknown metric" in r.stderr, r.stderr
    assert "4 errors in the rules files" in r.stderr, r.stderr


def test_check_config_reads_the_lineage_with_the_others(ctx):
    """A duplicate, a cycle and a bad date of the lineage file, with the
    profiles' errors, in one go; the run refuses the same file."""
    lineage = write_file(ctx, "lineage.csv",
                         "from_code,to_code,effective,basis\n"
                         "A,B,2025-07-01,\n"          # line 2
                         "B,A,2025-07-01,\n"          # line 3
                         "C,D,2025-07-01,\n"          # line 4
                         "C,E,2025-07-01,\n"          # line 5
                         "F,G,2025-13-01,\n")         # line 6
    profiles = _bad_profiles(ctx)
    conf = _config(ctx, profiles=profiles, lineage=lineage)
    r = ctx.etl(conf, "check-config")
    assert r.returncode == 2, r
    assert f"{profiles}:3: unknown metric" in r.stderr, r.stderr
    assert f"{lineage}:2: a cycle: 'A' -> 'B' -> 'A' (lines 2, 3)" in r.stderr, r.stderr
    assert f"{lineage}:5: from_code 'C' is given twice (first on line 4)" in r.stderr, r.stderr
    assert f"{lineage}:6: bad effective date '2025-13-01'" in r.stderr, r.stderr
    assert "6 errors in the rules files" in r.stderr, r.stderr
    r = ctx.etl(conf, "rescore")
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert f"{lineage}:2: a cycle" in r.stderr, r.stderr
    shipped = f"{ROOT}/config/unit-lineage.csv"
    r = ctx.etl(_config(ctx, lineage=shipped), "check-config")
    assert r.returncode == 0, r


def test_a_changed_lineage_is_applied_once(ctx):
    """The writer stores the lineage with each code's current unit; the
    same file again changes nothing, an edited one is applied."""
    rows = ("from_code,to_code,effective,basis\n"
            "A,B,2023-01-01,\n"
            "B,C,2025-07-01,NQ 1668\n")
    lineage = write_file(ctx, "lineage.csv", rows)
    conf = _config(ctx, lineage=lineage)
    ok(ctx.etl(conf, "rescore"), "rescore with a lineage")
    assert ctx.sql("SELECT string_agg(from_code || '>' || current_code, ' ' ORDER BY from_code)"
                   " FROM dw.unit_lineage").strip() == "A>C B>C"
    r = ok(ctx.etl(conf, "rescore"), "the same lineage")
    assert "unit lineage changed" not in r.stderr, r.stderr
    write_file(ctx, "lineage.csv", rows + "C,D,2026-01-01,\n")
    r = ok(ctx.etl(conf, "rescore"), "an edited lineage")
    assert "unit lineage changed: 3 rows applied" in r.stderr, r.stderr
    assert ctx.sql("SELECT string_agg(from_code || '>' || current_code, ' ' ORDER BY from_code)"
                   " FROM dw.unit_lineage").strip() == "A>D B>D C>D"


def test_dossiers_under_an_ended_code_are_loaded_and_reported_per_code(ctx):
    """rules.md: a dossier received on or after its unit code's end is
    loaded as sent and counted as recorded; the run's log warns once per
    such code with their number and the current unit, and status lists the
    same.  The simulator's reorganisation (--reorg) moves most of an ended
    office's dossiers to its successor but not all; two more codes end in
    the file while the source goes on using them."""
    sys.path.insert(0, os.path.join(ROOT, "tests", "sim"))
    import gen
    # seed 22: the reorganisation leaves 3 dossiers under the old code
    sim = ctx.sim(seed=22, year=2021, dossiers=1500, reorg=True)
    ended = {gen.REORG_FROM: ("2021-10-01", gen.REORG_TO),
             "000.12.41.H53": ("2021-11-01", "000.12.31.H53"),
             "000.12.40.H53": ("2021-12-01", "000.12.41.H53")}   # a chain: on to .31
    lineage = write_file(ctx, "lineage.csv", gen.reorg_lineage(2021)
                         + "000.12.41.H53,000.12.31.H53,2021-11-01,\n"
                         + "000.12.40.H53,000.12.41.H53,2021-12-01,giải thể\n")
    conf = _config(ctx, url=sim.url, lineage=lineage)
    r = ok(ctx.etl(conf, "run"), "run with a lineage")
    served = sim.control("expected?entity=hoso")["count"]
    assert int(ctx.sql("SELECT count(*) FROM mart.dossier")) == served, "not all loaded"

    want = {}
    for code, (day, _) in ended.items():
        n = int(ctx.sql(f"SELECT count(*) FROM mart.dossier WHERE unit_code = '{code}'"
                        f" AND received_at >= '{day} 00:00+07'"))
        if n:
            want[code] = (day, n)
    assert set(want) == set(ended), ("every ended code is still used", want)
    warned = {}
    for line in r.stderr.splitlines():
        m = re.search(r" warn sim hoso (\d+) dossiers recorded under unit '([^']+)' on or after"
                      r" (\S+), when it had ended \(its current unit is '([^']+)'\)$", line)
        if m:
            assert m.group(2) not in warned, f"a second warning for {m.group(2)}: {r.stderr}"
            warned[m.group(2)] = (m.group(3), int(m.group(1)))
            assert m.group(4) == ("000.12.31.H53" if m.group(2) != gen.REORG_FROM
                                  else gen.REORG_TO), line
    assert warned == want, (warned, want, r.stderr)
    # counted as recorded: the ended code keeps them in its own counts
    for code, (day, n) in want.items():
        got = int(ctx.sql(f"SELECT sum(received) FROM mart.unit_kpi WHERE unit_code = '{code}'"
                          f" AND period_kind = 'month' AND period_start >= '{day}'"))
        assert got == n, (code, got, n)

    r = ok(ctx.etl(conf, "status"), "status")
    shown = {}
    for line in r.stdout.split("Recorded under a unit code on or after the day it ended")[1] \
            .splitlines()[2:]:
        if not line.strip():
            break
        code, day, current, n = line.split()
        shown[code] = (day, int(n))
        assert current == ("000.12.31.H53" if code != gen.REORG_FROM else gen.REORG_TO), line
    assert shown == want, (shown, r.stdout)


def test_metric_list_is_the_warehouses(ctx):
    """The C reader's list and dw.metric_names() of the migrated warehouse
    are one list: the binary names its list in the unknown-metric error."""
    r = ctx.etl(_config(ctx, profiles=_bad_profiles(ctx)), "check-config")
    m = re.search(r"metric is one of ([a-z0-9_, ]+)\)", r.stderr)
    assert m, r.stderr
    binary = m.group(1).split(", ")
    warehouse = ctx.sql("SELECT array_to_string(dw.metric_names(), ',')").strip().split(",")
    assert binary == warehouse, (binary, warehouse)


def test_non_finite_and_huge_numbers_are_refused(ctx):
    """max_reject_pct = nan used to pass and switch the reject guard off;
    1e300 reached a cast to long."""
    conf = _config(ctx, extract="max_reject_pct = nan\n"      # line 7
                                "lookback = 1e300\n"          # line 8
                                "min_rejects = inf\n")        # line 9
    for cmd in ("check-config", "run"):
        r = ctx.etl(conf, cmd)
        assert r.returncode == 2, (cmd, r.returncode, r.stderr)
        assert f"{conf}:7: max_reject_pct: 'nan' is not a finite number" in r.stderr, r.stderr
        assert f"{conf}:8: lookback: '1e300' is out of range (0 to 31622400)" in r.stderr, \
            r.stderr
        assert f"{conf}:9: min_rejects: 'inf' is not a finite number" in r.stderr, r.stderr
        assert "3 errors" in r.stderr, r.stderr


def _shipped_calendar_text():
    with open(SHIPPED_CALENDAR) as f:
        return f.read()


def _due_dates(ctx):
    return ctx.rows("SELECT ma_ho_so, legal_due_date FROM mart.dossier"
                    " WHERE legal_due_date IS NOT NULL ORDER BY ma_ho_so COLLATE \"C\"")


def test_a_holiday_on_a_weekend_is_accepted_and_changes_nothing(ctx):
    """rules.md lets a holiday fall on a Saturday (1 May 2021 did); the
    reader refused it and stopped every writing command.  The day was off
    anyway: no legal due date moves."""
    sim = ctx.sim(seed=21, dossiers=300)
    ok(ctx.etl(_config(ctx, url=sim.url), "run"))
    before = _due_dates(ctx)
    assert len(before) > 100, len(before)
    calendar = write_file(ctx, "calendar.csv", _shipped_calendar_text() +
                      "2021-05-01,holiday,Quốc tế Lao động (thứ Bảy)\n"
                      "2021-05-02,holiday,a Sunday named too\n")
    conf = _config(ctx, url=sim.url, calendar=calendar, name="weekend.conf")
    r = ok(ctx.etl(conf, "check-config"), "check-config")
    assert "ok" in r.stdout, r.stdout
    r = ok(ctx.etl(conf, "run"))
    assert "calendar, profiles or office_close changed" in r.stderr, r.stderr[-2000:]
    assert ctx.rows("SELECT is_workday FROM dw.calendar WHERE day = '2021-05-01'") == [["f"]]
    assert _due_dates(ctx) == before
    ok(ctx.etl(conf, "rescore"), "rescore")
    assert _due_dates(ctx) == before


def test_missing_covers_line_warning_says_what_is_true(ctx):
    """Without '# covers:' the file's dates still apply; the warnings said
    'every year is Monday to Friday' and 'the calendar covers 0-0'."""
    text = _shipped_calendar_text()
    assert "# covers: 2019-2026\n" in text
    text = text.replace("# covers: 2019-2026\n", "")
    dates = sum(1 for line in text.splitlines() if line[:2] == "20")
    calendar = write_file(ctx, "calendar.csv", text)
    sim = ctx.sim(seed=22, dossiers=100)
    conf = _config(ctx, url=sim.url, calendar=calendar)
    want = (f"calendar '{calendar}' has no '# covers:' line: its {dates} dates apply,"
            " and every other day counts Monday to Friday")
    r = ok(ctx.etl(conf, "check-config"), "check-config")
    assert want in r.stderr, r.stderr
    r = ok(ctx.etl(conf, "run"))
    assert want in r.stderr, r.stderr[-3000:]
    assert re.search(r"dossiers reach 2021-20\d\d but the calendar names no years it covers: "
                     "its dates apply", r.stderr), r.stderr[-3000:]
    assert "0-0" not in r.stderr and "every year is Monday to Friday" not in r.stderr, \
        r.stderr[-3000:]
    assert ctx.rows("SELECT covers_from IS NULL AND covers_to IS NULL FROM dw.state") == [["t"]]
    # the file's rows apply: 1 January 2021 (a Friday) is off
    assert ctx.rows("SELECT is_workday FROM dw.calendar WHERE day = '2021-01-01'") == [["f"]]
