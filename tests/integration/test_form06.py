"""Form 06 over the demo warehouse (make demo's simulated year): the books
balance on every row of mart.form06 (tests/sql/form06_checks.sql), and the
workbook, read back with openpyxl, is the official layout holding exactly
what mart.form06 holds, every count a number.  Also the table, the CSV and
the usage errors of `form06`."""
import csv
import io
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import ok  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CHECKS = os.path.join(ROOT, "tests", "sql", "form06_checks.sql")
# Debian's python3-openpyxl is importable by the system interpreter only
SYSTEM_PYTHON = "/usr/bin/python3"
QUARTER = "2021-Q4"
COUNTS = ["received_total", "received_online", "received_offline", "carried_over",
          "resolved_total", "resolved_early", "resolved_on_time", "resolved_late",
          "pending_total", "pending_in_time", "pending_overdue", "of_which_withdrawn",
          "resolved_late_legal", "resolved_unknown_legal", "masked_late",
          "pending_overdue_legal"]
LEVELS = {"TINH": "Cấp tỉnh", "HUYEN": "Cấp huyện", "XA": "Cấp xã", "": "Đơn vị chưa rõ cấp"}


def _demo(ctx):
    """The demo's year: seed 49, its 12,000 dossiers (tests/demo.py)."""
    sim = ctx.sim(seed=49, year=2021, dossiers=12000)
    conf = ctx.config([("sim", sim.url, {"page_size": 2000})],
                      extra="[report]\nrecipient = Văn phòng UBND tỉnh")
    ok(ctx.etl(conf, "run"))
    sim.stop()
    return conf


def _books(ctx):
    """(unbalanced rows, unchained periods) of mart.form06."""
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as f:
        f.write("SELECT pg_temp.unbalanced(), pg_temp.unchained(), count(*) FROM mart.form06;\n")
    r = ctx.cluster.psql_file(ctx.db, CHECKS, f.name)
    os.unlink(f.name)
    assert r.returncode == 0, r.stderr
    return [int(x) for x in r.stdout.strip().splitlines()[-1].split("|")]


def _expected(ctx):
    """mart.form06 of the quarter: {unit name: (level, sums, {field name: counts})}."""
    rows = ctx.rows("SELECT coalesce(u.unit_name, f.unit_code), coalesce(u.level, ''),"
                    " f.field_name, " + ", ".join(COUNTS) +
                    " FROM mart.form06 f LEFT JOIN mart.unit u USING (unit_code)"
                    f" WHERE period_kind = 'report_quarter' AND period_label = '{QUARTER}'")
    units = {}
    for r in rows:
        level, sums, fields = units.setdefault(r[0], (r[1], [0] * 16, {}))
        counts = [int(x) for x in r[3:]]
        assert r[2] not in fields, f"two fields named {r[2]} in {r[0]}"
        fields[r[2]] = counts
        for i, v in enumerate(counts):
            sums[i] += v
    return units


READER = r"""
import json, sys, openpyxl
wb = openpyxl.load_workbook(sys.argv[1])
out = {"sheets": wb.sheetnames}
for name in wb.sheetnames:
    ws = wb[name]
    out[name] = {
        "merged": sorted(str(m) for m in ws.merged_cells.ranges),
        "freeze": ws.freeze_panes,
        "landscape": ws.page_setup.orientation,
        "paper": ws.page_setup.paperSize,
        "fit_width": ws.page_setup.fitToWidth,
        "fit_page": ws.sheet_properties.pageSetUpPr.fitToPage if ws.sheet_properties.pageSetUpPr else None,
        "cells": [[c.value for c in row] for row in ws.iter_rows()],
        "types": [[c.data_type for c in row] for row in ws.iter_rows()],
    }
json.dump(out, sys.stdout, ensure_ascii=False, default=str)
"""


def _read_workbook(path):
    r = subprocess.run([SYSTEM_PYTHON, "-c", READER, path], capture_output=True, text=True)
    assert r.returncode == 0, "openpyxl: " + r.stderr[-2000:]
    return json.loads(r.stdout)


def _lines(sheet, first_row, ncounts):
    """The data lines: (STT, name, counts, count cell types), to the total."""
    lines = []
    for cells, types in zip(sheet["cells"][first_row:], sheet["types"][first_row:]):
        lines.append((str(cells[0] or ""), cells[1], cells[2:2 + ncounts], types[2:2 + ncounts]))
        if cells[1] == "Tổng cộng":
            break
    return lines


def _check_form(book, units):
    form = book["Biểu 06"]
    merged = set(form["merged"])
    for rng in ["A7:A9", "B7:B9", "C7:F7", "G7:J7", "K7:M7", "C8:C9", "D8:E8", "F8:F9",
                "G8:G9", "H8:H9", "I8:I9", "J8:J9", "K8:K9", "L8:L9", "M8:M9"]:
        assert rng in merged, f"header cells {rng} not merged: {sorted(merged)}"
    cells = form["cells"]
    assert cells[6][2] == "Số hồ sơ nhận giải quyết" and cells[6][6] == "Số hồ sơ đã giải quyết" \
        and cells[6][10] == "Số hồ sơ đang giải quyết", cells[6]
    assert cells[7][3] == "Trong kỳ" and cells[8][3] == "Trực tuyến" \
        and cells[8][4] == "Trực tiếp, dịch vụ bưu chính" and cells[7][5] == "Từ kỳ trước", cells[7:9]
    assert cells[9][:13] == [f"({i})" for i in range(1, 14)], cells[9]
    assert cells[0][0] == "Biểu số 06/VPCP/KSTT" and "01/2020/TT-VPCP" in cells[1][0]
    assert cells[4][0].startswith("Kỳ báo cáo: Quý IV/2021 (từ ngày 15/9/2021 đến ngày 14/12/2021)"), \
        cells[4][0]
    assert form["freeze"] == "C11", form["freeze"]
    assert form["landscape"] == "landscape" and str(form["paper"]) == "9" and form["fit_page"] \
        and str(form["fit_width"]) in ("1", "None"), \
        (form["landscape"], form["paper"], form["fit_page"], form["fit_width"])
    _check_lines(_lines(form, 10, 11), units, 0, 11)
    withdrawn = sum(s[11] for _, s, _ in units.values())
    assert any(r[0] == f"(*) Cột (9) gồm cả {withdrawn} hồ sơ xin rút." for r in cells), \
        "footnote"
    assert any("Người lập biểu" in (r[0] or "") for r in cells)
    assert any("Thủ trưởng đơn vị" in str(c or "") for r in cells for c in r)


def _check_lines(lines, units, first, n):
    """The lines are levels, units with their sums, fields, and the total,
    every count a number equal to mart.form06's."""
    seen, total = set(), [0] * n
    unit = None
    for stt, name, values, types in lines:
        assert all(t == "n" and isinstance(v, int) for v, t in zip(values, types)), \
            f"a count of '{name}' is not a number: {values} {types}"
        if name == "Tổng cộng":
            assert values == total, f"total {values} != {total}"
            continue
        if name in LEVELS.values() and "." not in stt and not stt.isdigit():
            continue
        if "." not in stt:
            assert name in units, f"unit '{name}' not in mart.form06"
            unit = name
            seen.add(name)
            assert values == units[name][1][first:first + n], f"subtotal of {name}"
            total = [a + b for a, b in zip(total, values)]
            continue
        assert values == units[unit][2][name][first:first + n], f"{unit} / {name}"
    assert seen == set(units), f"units missing: {set(units) - seen}"


def test_form06_demo(ctx):
    conf = _demo(ctx)
    unbalanced, unchained, rows = _books(ctx)
    assert rows > 500, f"only {rows} rows in mart.form06"
    assert unbalanced == 0, f"{unbalanced} rows with col 3 != col 7 + col 11"
    assert unchained == 0, f"{unchained} periods whose col 11 is not the next one's col 6"

    units = _expected(ctx)
    assert len(units) > 5
    path = os.path.join(ctx.dir, f"form06-{QUARTER}.xlsx")
    r = ctx.etl(conf, "form06", "--period", QUARTER, "--format", "xlsx", "--out", path)
    ok(r, "form06 --format xlsx")
    assert not [f for f in os.listdir(ctx.dir) if f.endswith(".tmp")], "temporary file left"
    book = _read_workbook(path)
    assert book["sheets"] == ["Biểu 06", "Theo luật", "Ghi chú"], book["sheets"]
    _check_form(book, units)
    _check_lines(_lines(book["Theo luật"], 4, 5), units, 11, 5)
    notes = book["Ghi chú"]["cells"]
    assert any(r[0] == "Số liệu tính đến" and r[1] for r in notes), "freshness in Ghi chú"

    # the table fits 100 columns and ends with the same total
    r = ctx.etl(conf, "form06", "--period", QUARTER)
    ok(r, "form06 table")
    width = max(len(line) for line in r.stdout.splitlines())
    assert width <= 100, f"table {width} columns wide"
    total = next(line for line in r.stdout.splitlines() if "Tổng cộng" in line)
    sums = [sum(s[i] for _, s, _ in units.values()) for i in range(11)]
    assert [int(x) for x in total.split()[2:]] == sums, (total, sums)

    # the CSV: a header of the column names, one line per mart.form06 row
    r = ctx.etl(conf, "form06", "--period", QUARTER, "--format", "csv")
    ok(r, "form06 csv")
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert list(rows[0])[-16:] == COUNTS
    assert len(rows) == sum(len(f) for _, _, f in units.values())
    assert sum(int(x["received_total"]) for x in rows) == sums[0]


def test_form06_subtree_and_range(ctx):
    conf = _demo(ctx)
    top = ctx.rows("SELECT unit_code FROM mart.unit WHERE parent_code IS NULL"
                   " AND unit_name IS NOT NULL")
    assert len(top) == 1, top
    r = ctx.etl(conf, "form06", "--period", QUARTER, "--unit", top[0][0], "--subtree",
                "--format", "csv")
    ok(r, "form06 --subtree")
    got = sum(int(x["received_total"]) for x in csv.DictReader(io.StringIO(r.stdout)))
    want = int(ctx.rows("SELECT sum(received_total) FROM mart.form06 WHERE"
                        f" period_kind = 'report_quarter' AND period_label = '{QUARTER}'")[0][0])
    assert got == want, (got, want)
    # a calendar quarter from mart.form06_range, as the function gives it
    r = ctx.etl(conf, "form06", "--period", "2021-Q3", "--calendar", "--format", "csv")
    ok(r, "form06 --calendar")
    got = sum(int(x["pending_total"]) for x in csv.DictReader(io.StringIO(r.stdout)))
    want = int(ctx.rows("SELECT coalesce(sum(pending_total), 0)"
                        " FROM mart.form06_range('2021-07-01', '2021-09-30')")[0][0])
    assert got == want and got > 0, (got, want)
    # usage errors: exit 2 before anything is read
    for args in (["--period", "2021-Q5"], ["--from", "2021-02-30", "--to", "2021-03-01"],
                 ["--period", "2021", "--format", "xlsx"], ["--subtree", "--period", "2021"],
                 ["--period", "2021", "--unit", "NO-SUCH-UNIT"]):
        r = ctx.etl(conf, "form06", *args)
        assert r.returncode == 2, (args, r.returncode, r.stderr)


def test_form06_and_score_by_current_unit(ctx):
    """--units current: a commune merged into another counts under it, as
    mart.form06_current sums it; the ended code is refused naming its
    current unit; --subtree follows the current units.  score --units
    current scores the merged rates, recomputed from summed counts."""
    conf = _demo(ctx)
    communes = ctx.rows("SELECT unit_code, parent_code FROM mart.unit"
                        " WHERE level = 'XA' ORDER BY unit_code")
    assert len(communes) >= 2, communes
    (ended, parent), (kept, _) = communes[0], communes[1]
    lineage = os.path.join(ctx.dir, "lineage.csv")
    with open(lineage, "w") as f:
        f.write("from_code,to_code,effective,basis\n"
                f"{ended},{kept},2021-11-01,sáp nhập\n")
    text = open(conf).read().replace("[rules]\n", f"[rules]\nlineage = {lineage}\n", 1)
    with open(conf, "w") as f:
        f.write(text)
    ok(ctx.etl(conf, "rescore"), "rescore with a lineage")

    def by_field(out, unit):
        return {x["field_code"]: (int(x["received_total"]), int(x["pending_total"]))
                for x in csv.DictReader(io.StringIO(out)) if x["unit_code"] == unit}
    r = ok(ctx.etl(conf, "form06", "--period", QUARTER, "--units", "current",
                   "--format", "csv"), "form06 --units current")
    got = by_field(r.stdout, kept)
    assert not by_field(r.stdout, ended), r.stdout
    want = {f: (int(a), int(b)) for f, a, b in ctx.rows(
        "SELECT field_code, sum(received_total), sum(pending_total) FROM mart.form06"
        f" WHERE unit_code IN ('{ended}', '{kept}') AND period_kind = 'report_quarter'"
        f" AND period_label = '{QUARTER}' GROUP BY 1")}
    assert got == want and got, (got, want)
    view = {f: (int(a), int(b)) for f, a, b in ctx.rows(
        "SELECT field_code, received_total, pending_total FROM mart.form06_current"
        f" WHERE unit_code = '{kept}' AND period_kind = 'report_quarter'"
        f" AND period_label = '{QUARTER}'")}
    assert view == want, (view, want)
    # recorded, the default, is as before
    r = ok(ctx.etl(conf, "form06", "--period", QUARTER, "--units", "recorded",
                   "--format", "csv"), "form06 --units recorded")
    assert by_field(r.stdout, ended), r.stdout
    r = ctx.etl(conf, "form06", "--period", QUARTER, "--units", "current", "--unit", ended)
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert f"unit '{ended}' ended on 2021-11-01; by current unit it is '{kept}'" in r.stderr, \
        r.stderr
    r = ctx.etl(conf, "form06", "--period", QUARTER, "--units", "sideways")
    assert r.returncode == 2 and "'sideways' is not recorded or current" in r.stderr, r.stderr
    if parent:
        r = ok(ctx.etl(conf, "form06", "--period", QUARTER, "--units", "current",
                       "--unit", parent, "--subtree", "--format", "csv"), "--subtree")
        assert not by_field(r.stdout, ended), r.stdout

    # score: the merged unit's rate is the rate of the summed counts
    r = ok(ctx.etl(conf, "score", "--period", "2021", "--units", "current",
                   "--format", "csv"), "score --units current")
    rows = [x for x in csv.DictReader(io.StringIO(r.stdout))]
    assert not [x for x in rows if x["unit_code"] == ended], r.stdout
    got = {x["value"] for x in rows
           if x["unit_code"] == kept and x["metric"] == "on_software_rate"}
    want = ctx.rows("SELECT dw.pct(sum(on_software)::bigint, sum(received)::bigint)"
                    " FROM mart.unit_kpi WHERE period_kind = 'year'"
                    f" AND period_start = '2021-01-01' AND unit_code IN ('{ended}', '{kept}')")
    assert got == {want[0][0]}, (got, want)
    r = ctx.etl(conf, "score", "--period", "2021", "--units", "current", "--unit", ended)
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert f"unit '{ended}' ended on 2021-11-01; by current unit it is '{kept}'" in r.stderr, \
        r.stderr
    ok(ctx.etl(conf, "score", "--period", "2021", "--units", "current", "--unit", kept),
       "score --unit of a current unit")
    # the source recorded dossiers under the ended code after its end: status
    # names the code, the day and its current unit, with their number
    late = ctx.rows(f"SELECT count(*) FROM dw.dossier WHERE unit_code = '{ended}'"
                    " AND received_at >= '2021-11-01 00:00+07'")[0][0]
    assert int(late) > 0, late
    r = ok(ctx.etl(conf, "status"), "status")
    assert "Recorded under a unit code on or after the day it ended" in r.stdout, r.stdout
    line = [x for x in r.stdout.splitlines() if x.strip().startswith(ended)]
    assert line and line[0].split() == [ended, "2021-11-01", kept, late], (line, r.stdout)
