"""What people read: `score` (table, CSV, JSON) and `report` (one HTML page)
show exactly what mart holds.  A small simulated year is loaded for each test;
every figure printed is compared with mart.compliance_*, mart.unit_kpi and
mart.step_delay, recomputed here from counts where the page sums units."""
import csv
import glob
import html.parser
import io
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import unicodedata
import zlib
from decimal import ROUND_HALF_UP, Decimal

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import ok  # noqa: E402

PERIOD = ("year", "2021-01-01")
WHERE = f"period_kind = '{PERIOD[0]}' AND period_start = '{PERIOD[1]}'"
CHROMIUM = "/usr/bin/chromium"


def _load(ctx, seed=21):
    sim = ctx.sim(seed=seed, year=2021, dossiers=400)
    conf = ctx.config([("sim", sim.url, {"page_size": 1000})])
    ok(ctx.etl(conf, "run"))
    return conf


def _num(s):
    """A number as the warehouse prints it ('' = NULL)."""
    return None if s in ("", None) else Decimal(s)


def _rate(num, den):
    """rules.md: a percentage rounded to 2 decimals half away from zero, NULL on 0."""
    if den == 0:
        return None
    return (Decimal(100) * num / den).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _totals(ctx):
    rows = ctx.rows("SELECT profile, unit_code, points, max_points, score_pct, criteria_met,"
                    f" criteria_applicable FROM mart.compliance_total WHERE {WHERE}")
    return {(r[0], r[1]): r[2:] for r in rows}


def _scores(ctx):
    rows = ctx.rows("SELECT profile, unit_code, criterion, label, metric, value, target,"
                    " max_points, points, CASE met WHEN true THEN 't' WHEN false THEN 'f' END"
                    f" FROM mart.compliance_score WHERE {WHERE}")
    return {(r[0], r[1], r[2]): r[3:] for r in rows}


# ---- score ----------------------------------------------------------------

def _check_csv(out, totals, scores):
    rows = list(csv.DictReader(io.StringIO(out)))
    assert len(rows) == len(scores), (len(rows), len(scores))
    for row in rows:
        key = (row["profile"], row["unit_code"], row["criterion"])
        label, metric, value, target, max_points, points, met = scores[key]
        assert (row["period_kind"], row["period_start"]) == PERIOD
        assert (row["label"], row["metric"], row["met"]) == (label, metric, met), row
        for field, want in (("value", value), ("target", target), ("max_points", max_points),
                            ("points", points)):
            assert _num(row[field]) == _num(want), (key, field, row[field], want)
        t = totals[(row["profile"], row["unit_code"])]
        got = [row[f] for f in ("total_points", "total_max_points", "score_pct", "criteria_met",
                                "criteria_applicable")]
        assert [_num(x) for x in got] == [_num(x) for x in t], (key, got, t)


def _check_json(out, totals, scores):
    units = json.loads(out)
    assert len(units) == len(totals)
    seen = 0
    for u in units:
        t = totals[(u["profile"], u["unit_code"])]
        got = [u["points"], u["max_points"], u["score_pct"], u["criteria_met"],
               u["criteria_applicable"]]
        assert [None if x is None else Decimal(str(x)) for x in got] == \
            [_num(x) for x in t], (u["unit_code"], got, t)
        assert (u["period_kind"], u["period_start"]) == PERIOD
        for c in u["criteria"]:
            label, metric, value, target, max_points, points, met = \
                scores[(u["profile"], u["unit_code"], c["criterion"])]
            assert (c["label"], c["metric"]) == (label, metric)
            assert c["met"] == {"t": True, "f": False, "": None}[met], c
            for field, want in (("value", value), ("target", target),
                                ("max_points", max_points), ("points", points)):
                got_v = None if c[field] is None else Decimal(str(c[field]))
                assert got_v == _num(want), (u["unit_code"], c, field, want)
            seen += 1
    assert seen == len(scores)


RANK_LINE = re.compile(r"^ *(\d+|-)  (\S+)  .*  +(\S+?)%?  +(\S+)/(\S+)  +(\d+)/(\d+)$")
CRIT_LINE = re.compile(r"^  (\S+) +(\S+) +(\S+) +(\S+)  (yes|no |n/a)  +(\S+)/(\S+)  (.*)$")


def _label_matches(shown, label):
    if shown == label:
        return True
    head, sep, tail = shown.partition(" … ")
    return bool(sep) and label.startswith(head) and label.endswith(tail)


def _check_table(out, totals, scores):
    lines = out.splitlines()
    for line in lines:
        assert unicodedata.normalize("NFC", line) == line
        assert len(line) <= 100, f"{len(line)} columns: {line!r}"
    profile = unit = None
    ranked, crit_rows = {}, 0
    for line in lines:
        m = re.match(r"^Profile (\S+) · period 2021 · \d+ units?$", line)
        if m:
            profile = m.group(1)
            continue
        m = RANK_LINE.match(line)
        if m and profile and (profile, m.group(2)) in totals:
            t = totals[(profile, m.group(2))]
            pct = None if m.group(3) == "-" else Decimal(m.group(3))
            assert pct == _num(t[2]), (line, t)
            assert (_num(m.group(4)), _num(m.group(5))) == (_num(t[0]), _num(t[1])), (line, t)
            assert (m.group(6), m.group(7)) == (t[3], t[4]), (line, t)
            ranked.setdefault(profile, []).append((m.group(1), pct))
            continue
        m = re.match(r"^(\d+|-)\. (\S+)  ", line)
        if m:
            unit = m.group(2)
            continue
        m = CRIT_LINE.match(line)
        if m and m.group(1) != "crit":
            label, metric, value, target, max_points, points, met = \
                scores[(profile, unit, m.group(1))]
            assert m.group(2) == metric, line
            assert _num(m.group(3).replace("-", "")) == _num(value), (line, value)
            assert _num(m.group(4)) == _num(target), line
            assert m.group(5).strip() == {"t": "yes", "f": "no", "": "n/a"}[met], line
            assert _num(m.group(6).replace("-", "")) == _num(points), line
            assert _num(m.group(7)) == _num(max_points), line
            assert _label_matches(m.group(8), label), (m.group(8), label)
            crit_rows += 1
    assert crit_rows == len(scores), (crit_rows, len(scores))
    assert sum(len(v) for v in ranked.values()) == len(totals)
    for rows in ranked.values():
        scores_seen = [p for _, p in rows if p is not None]
        assert scores_seen == sorted(scores_seen, reverse=True), rows
        assert rows[0][0] == "1"


def test_score_formats_equal_mart(ctx):
    conf = _load(ctx)
    totals, scores = _totals(ctx), _scores(ctx)
    assert totals and scores
    args = ("score", "--period", "2021")
    _check_table(ok(ctx.etl(conf, *args)).stdout, totals, scores)
    _check_csv(ok(ctx.etl(conf, *args, "--format", "csv")).stdout, totals, scores)
    _check_json(ok(ctx.etl(conf, *args, "--format", "json")).stdout, totals, scores)
    # --unit and --profile narrow
    unit = sorted(u for _, u in totals)[0]
    one = json.loads(ok(ctx.etl(conf, *args, "--unit", unit, "--format", "json")).stdout)
    assert {u["unit_code"] for u in one} == {unit}
    assert len(one) == len({p for p, _ in totals})
    kh49 = json.loads(ok(ctx.etl(conf, *args, "--profile", "kh49-2021", "--format", "json")).stdout)
    assert {u["profile"] for u in kh49} == {"kh49-2021"} and len(kh49) == len(totals) // 2
    table = ok(ctx.etl(conf, *args, "--unit", unit, "--profile", "qd766")).stdout
    assert table.startswith("Profile qd766 · period 2021 · 1 unit\n"), table
    # Decision 766's groups one-stop data cannot feed are named under it
    assert "not transparency 18, digitisation 22, satisfaction 18 (58 points)" in table, table
    # qd766 scores unit_kpi's own progress and end-to-end online rates
    kpi = {r[0]: r[1:] for r in ctx.rows("SELECT unit_code, progress_rate, online_full_rate,"
                                         f" paid_online_rate FROM mart.unit_kpi WHERE {WHERE}")}
    crit = {(p, u, c): v for (p, u, c), v in scores.items() if p == "qd766"}
    assert {c for _, _, c in crit} == {"2", "3", "5"}, crit
    for (_, u, c), v in crit.items():
        metric, value = v[1], v[2]
        assert metric == {"2": "progress_rate", "3": "online_full_rate",
                          "5": "paid_online_rate"}[c], (c, metric)
        assert _num(value) == _num(kpi[u][{"2": 0, "3": 1, "5": 2}[c]]), (u, c, value, kpi[u])
    assert any(_num(kpi[u][0]) is not None for u in kpi), "some progress_rate to score"
    assert ok(ctx.etl(conf, "score", "--period", "2019", "--format", "json")).stdout.strip() == "[]"


# ---- report ---------------------------------------------------------------

class Page(html.parser.HTMLParser):
    """Tags, URLs, style text and the data-metric figures of a page."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags, self.urls, self.styles, self.figures = set(), [], [], []
        self.open_fig = None
        self.in_style = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.add(tag)
        for name in ("src", "href", "xlink:href", "action", "poster", "data"):
            if a.get(name):
                self.urls.append(a[name])
        if a.get("style"):
            self.styles.append(a["style"])
        self.in_style = tag == "style"
        if "data-metric" in a:
            assert self.open_fig is None, "nested figures"
            self.open_fig = (tag, {k[5:]: v for k, v in a.items() if k.startswith("data-")}, [])

    def handle_endtag(self, tag):
        if self.open_fig and tag == self.open_fig[0]:
            self.figures.append((self.open_fig[1], "".join(self.open_fig[2]).strip()))
            self.open_fig = None
        if tag == "style":
            self.in_style = False

    def handle_data(self, data):
        if self.open_fig:
            self.open_fig[2].append(data)
        if self.in_style:
            self.styles.append(data)


def _shown(text):
    """A figure as the page writes it (decimal comma, grouped digits, — for NULL)."""
    if text == "—":
        return None
    return Decimal(text.replace("\u202f", "").replace(",", "."))


def _expected(ctx):
    """Every figure the page may show, keyed by its data-* attributes."""
    want = {}
    totals, scores = _totals(ctx), _scores(ctx)
    for (p, u), (points, max_points, pct, met, appl) in totals.items():
        for metric, v in (("total_points", points), ("total_max_points", max_points),
                          ("score_pct", pct), ("criteria_met", met),
                          ("criteria_applicable", appl)):
            want[(metric, p, u, None, None, None)] = _num(v)
    for (p, u, c), (_, _, value, target, max_points, points, _) in scores.items():
        want[("value", p, u, c, None, None)] = _num(value)
        want[("points", p, u, c, None, None)] = _num(points)
        want[("max_points", p, u, c, None, None)] = _num(max_points)
        want[("target", p, None, c, None, None)] = _num(target)
        want[("max_points", p, None, c, None, None)] = _num(max_points)
    # rank: competition ranking by score_pct within a profile
    for p in {p for p, _ in totals}:
        pcts = {u: _num(t[2]) for (q, u), t in totals.items() if q == p}
        for u, s in pcts.items():
            rank = None if s is None else \
                1 + sum(1 for o in pcts.values() if o is not None and o > s)
            want[("rank", p, u, None, None, None)] = rank
    _expected_trend(ctx, want)
    _expected_levels(ctx, want)
    for u, d, steps, late, rate in _delays(ctx)[:10]:
        want[("steps", None, u, None, None, d)] = _num(steps)
        want[("steps_late", None, u, None, None, d)] = _num(late)
        want[("late_rate", None, u, None, None, d)] = _num(rate)
    want[("units", None, None, None, None, None)] = Decimal(ctx.sql(
        f"SELECT count(*) FROM mart.unit_kpi WHERE {WHERE}").strip())
    local = "AT TIME ZONE 'Asia/Ho_Chi_Minh', 'DD/MM/YYYY HH24:MI')"
    derived, mark = ctx.rows(f"SELECT to_char(max(derived_at) {local}, to_char(max(watermark)"
                             f" {local} FROM mart.freshness")[0]
    want[("derived_at", None, None, None, None, None)] = derived
    want[("watermark", None, None, None, None, None)] = mark
    return want


def _sum_rates(rows):
    """Province-level figures from per-unit counts (never an average of rates)."""
    n = [sum(int(r[i]) for r in rows) for i in range(8)]
    resolved, early, on_time, late_legal, unknown_legal, masked, total, in_time = n
    return {"resolved": Decimal(resolved), "masked_late": Decimal(masked),
            "ontime_rate": _rate(early + on_time, resolved),
            "ontime_rate_legal": _rate(resolved - late_legal - unknown_legal,
                                       resolved - unknown_legal),
            "progress_rate": _rate(in_time, total)}


def _expected_trend(ctx, want):
    cols = ("resolved, resolved_early, resolved_on_time, resolved_late_legal,"
            " resolved_unknown_legal, masked_late, progress_total, progress_in_time")
    for m in range(1, 13):
        month = f"2021-{m:02d}"
        rows = ctx.rows(f"SELECT {cols} FROM mart.unit_kpi WHERE period_kind = 'month'"
                        f" AND period_start = '{month}-01'")
        for metric, v in _sum_rates(rows).items():
            want[(metric, None, None, None, month, None)] = v
    rows = ctx.rows(f"SELECT {cols} FROM mart.unit_kpi WHERE {WHERE}")
    for metric, v in _sum_rates(rows).items():
        want[(metric, None, None, None, "all", None)] = v


LEVELS = ("procedures_total", "procedures_level2plus", "procedures_level3plus",
          "procedures_level4", "pct_level2plus", "pct_level3plus", "pct_level4")


def _expected_levels(ctx, want):
    rows = ctx.rows(f"SELECT unit_code, {', '.join(LEVELS)} FROM mart.unit_kpi WHERE {WHERE}")
    for r in rows:
        for metric, v in zip(LEVELS, r[1:]):
            want[(metric, None, r[0], None, None, None)] = _num(v)
    total = [sum(int(r[i]) for r in rows) for i in range(1, 5)]
    for metric, v in zip(LEVELS, total):
        want[(metric, None, "all", None, None, None)] = Decimal(v)
    for i, metric in enumerate(LEVELS[4:]):
        want[(metric, None, "all", None, None, None)] = _rate(total[i + 1], total[0])
    targets = ctx.rows("SELECT DISTINCT metric, target FROM mart.compliance_score"
                       f" WHERE {WHERE} AND profile = 'kh49-2021' AND metric IN"
                       " ('pct_level2plus', 'pct_level3plus', 'pct_level4')")
    for metric, target in targets:
        want[("level_target", "kh49-2021", None, metric, None, None)] = _num(target)


def _delays(ctx):
    rows = ctx.rows("SELECT unit_code, department, steps, steps_late, late_rate"
                    f" FROM mart.step_delay WHERE {WHERE} AND steps_late > 0")
    return sorted(rows, key=lambda r: (-int(r[3]), -Decimal(r[4]), r[0], r[1]))


def _key(attrs):
    return (attrs["metric"], attrs.get("profile"), attrs.get("unit"), attrs.get("criterion"),
            attrs.get("month"), attrs.get("department"))


def _check_self_contained(text, page):
    assert "script" not in page.tags, "the page must not run scripts"
    for tag in ("link", "img", "iframe", "object", "embed", "audio", "video", "base"):
        assert tag not in page.tags, f"<{tag}> may fetch something"
    for url in page.urls:
        assert not re.match(r"\s*([a-z][a-z0-9+.-]*:|//)", url, re.I), f"external URL {url!r}"
    style = "\n".join(page.styles)
    assert not re.search(r"url\s*\(|@import|@font-face", style, re.I), "CSS may fetch something"
    assert not re.search(r"\bhttps?://", re.sub(r'xmlns="[^"]*"', "", text)), "an http(s) URL"


def _check_figures(page, want):
    seen = set()
    for attrs, text in page.figures:
        key = _key(attrs)
        assert key in want, f"figure {attrs} = {text!r} is not a warehouse figure"
        expected = want[key]
        if key[0] in ("derived_at", "watermark"):
            assert text == (expected or "—"), (key, text, expected)
        else:
            assert _shown(text) == expected, (key, text, expected)
        seen.add(key)
    return seen


def _report(ctx, conf, *args):
    out = os.path.join(ctx.dir, "report.html")
    ok(ctx.etl(conf, "report", "--period", "2021", *args, "--out", out))
    assert not glob.glob(out + ".tmp*"), "a temporary file was left behind"
    with open(out, encoding="utf-8") as f:
        return out, f.read()


def test_report_html_equals_mart(ctx):
    conf = _load(ctx, seed=22)
    out, text = _report(ctx, conf)
    assert text.startswith("<!DOCTYPE html>") and '<html lang="vi">' in text
    assert '<meta charset="utf-8">' in text
    for words in ("Bảng điểm tuân thủ", "Xu hướng giải quyết đúng hạn", "Trễ hạn bị che",
                  "Tiến độ giải quyết", "số hóa hồ sơ 22, mức độ hài lòng 18 (58 điểm)",
                  "Mức độ dịch vụ công trực tuyến", "phòng ban", "Compliance scorecard"):
        assert words in text, words
    page = Page()
    page.feed(text)
    page.close()
    _check_self_contained(text, page)
    want = _expected(ctx)
    seen = _check_figures(page, want)
    # everything the brief asks for is on the page
    for key in want:
        metric, profile, unit, criterion, month, department = key
        if metric in ("score_pct", "rank", "value", "points") and unit:
            assert key in seen, f"missing {key}"
        if month:
            assert key in seen, f"missing {key}"
        if metric in LEVELS or metric in ("steps_late", "level_target"):
            assert key in seen, f"missing {key}"
    # units ranked: score order within each profile
    for profile in {k[1] for k in want if k[0] == "score_pct"}:
        order = [_shown(t) for a, t in page.figures
                 if a["metric"] == "score_pct" and a.get("profile") == profile]
        order = [p for p in order if p is not None]
        assert order == sorted(order, reverse=True), (profile, order)
    delays = [(a["unit"], a["department"]) for a, _ in page.figures if a["metric"] == "steps_late"]
    assert delays == [(r[0], r[1]) for r in _delays(ctx)[:10]], delays

    # --unit and --profile narrow the page
    unit = sorted(k[2] for k in want if k[0] == "score_pct")[0]
    _, text = _report(ctx, conf, "--unit", unit, "--profile", "qd766")
    page = Page()
    page.feed(text)
    assert {a.get("unit") for a, _ in page.figures if a.get("unit")} <= {unit}
    assert {a.get("profile") for a, _ in page.figures if a["metric"] == "score_pct"} == {"qd766"}

    # a report that fails half-way leaves the previous file as it was, and no temporary
    with open(out, "w") as f:
        f.write("previous report\n")
    ctx.sql("ALTER TABLE mart.step_delay RENAME TO step_delay_gone")
    r = ctx.etl(conf, "report", "--period", "2021", "--out", out)
    assert r.returncode != 0, r.stderr
    assert open(out).read() == "previous report\n"
    assert not glob.glob(out + ".tmp*"), "a temporary file was left behind"
    r = ctx.etl(conf, "report", "--period", "2021", "--out", os.path.join(ctx.dir, "no", "x.html"))
    assert r.returncode != 0 and "cannot write" in r.stderr, r.stderr


def _with_lineage(ctx, conf, rows):
    """The lineage file of rows (from, to, effective) in [rules], rescored."""
    lineage = os.path.join(ctx.dir, "lineage.csv")
    with open(lineage, "w") as f:
        f.write("from_code,to_code,effective,basis\n")
        for frm, to, effective in rows:
            f.write(f"{frm},{to},{effective},sáp nhập\n")
    text = open(conf).read().replace("[rules]\n", f"[rules]\nlineage = {lineage}\n", 1)
    with open(conf, "w") as f:
        f.write(text)
    ok(ctx.etl(conf, "rescore"), "rescore with a lineage")


def _trend(page):
    """The page's monthly trend: {(metric, month): figure}."""
    return {(a["metric"], a["month"]): _shown(t) for a, t in page.figures
            if a.get("month") and a["month"] != "all"}


def test_report_by_current_unit(ctx):
    """report --units current: two districts merged on 1 July; the current
    unit's trend holds its predecessor's months before the cut-over, each
    month the rates of the counts summed over both; the ended code is
    refused, naming its current unit."""
    conf = _load(ctx, seed=24)
    # the two districts with the most dossiers resolved before July: the
    # first ends, the second carries it on
    busy = ctx.rows("SELECT k.unit_code FROM mart.unit_kpi k JOIN mart.unit u USING (unit_code)"
                    " WHERE u.level = 'HUYEN' AND k.period_kind = 'month'"
                    " AND k.period_start < '2021-07-01' GROUP BY 1"
                    " ORDER BY sum(k.resolved) DESC, 1 LIMIT 2")
    assert len(busy) == 2, busy
    ended, kept = busy[0][0], busy[1][0]
    _with_lineage(ctx, conf, [(ended, kept, "2021-07-01")])

    _, text = _report(ctx, conf, "--units", "current", "--unit", kept)
    page = Page()
    page.feed(text)
    page.close()
    assert {a.get("unit") for a, _ in page.figures if a.get("unit")} <= {kept}, "other units"
    trend = _trend(page)
    cols = ("resolved, resolved_early, resolved_on_time, resolved_late_legal,"
            " resolved_unknown_legal, masked_late, progress_total, progress_in_time")
    before = 0
    for m in range(1, 13):
        month = f"2021-{m:02d}"
        both = ctx.rows(f"SELECT {cols} FROM mart.unit_kpi WHERE period_kind = 'month'"
                        f" AND period_start = '{month}-01' AND unit_code IN ('{ended}', '{kept}')")
        for metric, v in _sum_rates(both).items():
            assert trend.get((metric, month)) == v, (metric, month, trend.get((metric, month)), v)
        own = ctx.rows(f"SELECT resolved FROM mart.unit_kpi WHERE period_kind = 'month'"
                       f" AND period_start = '{month}-01' AND unit_code = '{ended}'")
        if m < 7 and own and int(own[0][0]) > 0:
            before += 1
    assert before > 0, "the predecessor resolved nothing before the cut-over: no test"
    # the scorecard on the page is the one of score --units current
    r = ok(ctx.etl(conf, "score", "--period", "2021", "--units", "current", "--unit", kept,
                   "--format", "csv"), "score --units current")
    want = {(x["profile"], x["criterion"]): _num(x["value"])
            for x in csv.DictReader(io.StringIO(r.stdout))}
    got = {(a["profile"], a["criterion"]): _shown(t) for a, t in page.figures
           if a["metric"] == "value"}
    assert got == want and got, (got, want)

    # every unit: the ended code is nowhere, the units are the current ones
    _, text = _report(ctx, conf, "--units", "current")
    page = Page()
    page.feed(text)
    page.close()
    assert ended not in {a.get("unit") for a, _ in page.figures}, "an ended code on the page"
    units = [t for a, t in page.figures if a["metric"] == "units"]
    assert units == [ctx.sql(f"SELECT count(*) FROM mart.unit_kpi_current WHERE {WHERE}").strip()]
    assert units[0] == str(int(ctx.sql(f"SELECT count(*) FROM mart.unit_kpi WHERE {WHERE}")) - 1)
    # recorded, the default, still shows the ended code
    _, text = _report(ctx, conf, "--units", "recorded")
    assert f"data-unit=\"{ended}\"" in text

    r = ctx.etl(conf, "report", "--period", "2021", "--units", "current", "--unit", ended,
                "--out", os.path.join(ctx.dir, "ended.html"))
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert f"unit '{ended}' ended on 2021-07-01; by current unit it is '{kept}'" in r.stderr, \
        r.stderr
    assert not os.path.exists(os.path.join(ctx.dir, "ended.html"))
    r = ctx.etl(conf, "report", "--period", "2021", "--units", "sideways", "--out",
                os.path.join(ctx.dir, "x.html"))
    assert r.returncode == 2 and "'sideways' is not recorded or current" in r.stderr, r.stderr


def _png_size(path):
    with open(path, "rb") as f:
        head = f.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return struct.unpack(">II", head[16:24])


def _png_ink(path):
    """The share of image bytes that are not white: a blank page scores ~0."""
    data, idat = open(path, "rb").read(), b""
    i = 8
    while i < len(data):
        length, kind = struct.unpack(">I4s", data[i:i + 8])
        if kind == b"IDAT":
            idat += data[i + 8:i + 8 + length]
        i += 12 + length
    raw = zlib.decompress(idat)
    return sum(1 for b in raw[::7] if b != 0xFF) / max(1, len(raw[::7]))


def test_report_screenshot(ctx):
    if not os.path.exists(CHROMIUM):
        print(f"note: {CHROMIUM} is missing (Debian package chromium): no screenshot taken")
        return
    conf = _load(ctx, seed=23)
    out, _ = _report(ctx, conf)
    png = os.path.join(ctx.dir, "report.png")
    profile = tempfile.mkdtemp(prefix="onestop-chromium-")
    try:
        subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
                        "--disable-quic", "--no-first-run", "--disable-background-networking",
                        "--disable-component-update", "--disable-sync",
                        f"--user-data-dir={profile}", f"--screenshot={png}",
                        "--window-size=1280,2000", "file://" + out],
                       capture_output=True, timeout=90)
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    assert os.path.exists(png), "chromium wrote no screenshot"
    assert _png_size(png) == (1280, 2000), _png_size(png)
    assert os.path.getsize(png) > 50_000, os.path.getsize(png)
    assert _png_ink(png) > 0.02, "the screenshot is (nearly) blank"
    print(f"screenshot: {png}")
