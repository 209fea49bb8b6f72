#!/usr/bin/env python3
"""Self-check of the source simulator: starts it, reads it like a client would
and checks paging, gzip, cursor, totals, filters, values against the expected
output, faults and the control API.  Exit 0 on success; last line
`N passed, N failed`."""

import csv
import base64
import calendar
import io
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.error
import urllib.parse
import urllib.request
import zlib
import http.client

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import gen  # noqa: E402

TOKEN = "s3cr3t-token"
PASSED = 0
FAILED = 0


def check(name, cond, info=""):
    global PASSED, FAILED
    if cond:
        PASSED += 1
    else:
        FAILED += 1
        print("FAIL: %s %s" % (name, info))


# ------------------------------------------------------------- client ----

class Resp:
    def __init__(self, status, headers, raw):
        self.status = status
        self.headers = headers
        self.raw = raw

    def body(self):
        b = self.raw
        if b[:2] == b"\x1f\x8b":
            b = zlib.decompress(b, 47)
        return b

    def rows(self):
        text = self.body().decode("utf-8")
        if text.startswith("\ufeff"):
            text = text[1:]
        rd = list(csv.reader(io.StringIO(text, newline=""), strict=True))
        if not rd:
            return [], []
        return rd[0], rd[1:]


def get(port, path, token=TOKEN, gz=True, timeout=10, headers=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    h = {"User-Agent": "selfcheck/1"}
    if token:
        h["Authorization"] = "Bearer " + token
    if gz:
        h["Accept-Encoding"] = "gzip"
    h.update(headers or {})
    c.request("GET", path, headers=h)
    r = c.getresponse()
    raw = r.read()
    res = Resp(r.status, {k.lower(): v for k, v in r.getheaders()}, raw)
    c.close()
    return res


def ctl(port, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path), data=data,
                                 method="POST" if data is not None else "GET")
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read().decode())


def traverse(port, entity, limit=137, extra=""):
    """-> (header, rows, totals, pages)"""
    path = "/%s?limit=%d%s" % (entity, limit, extra)
    rows, totals, pages, header = [], [], 0, None
    cursor = None
    while True:
        p = path + ("&cursor=" + urllib.request.quote(cursor, safe="") if cursor else "")
        r = get(port, p)
        assert r.status == 200, (r.status, r.raw[:200])
        h, rs = r.rows()
        header = header or h
        assert h == header
        rows += rs
        totals.append(r.headers.get("x-total-count"))
        pages += 1
        cursor = r.headers.get("x-next-cursor")
        if not cursor:
            break
    return header, rows, totals, pages


# ------------------------------------------------------ normalisation ----

TS_RE = re.compile(r"^(\d{4})-?(\d{2})-?(\d{2})(?:[T ](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?"
                   r"(Z|[+-]\d{2}:?\d{2})?)?$")
PORTAL_RE = re.compile(r"^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})$")


def parse_ts(s):
    s = s.strip()
    if not s:
        return ""
    m = PORTAL_RE.match(s)
    if m:
        t = calendar.timegm(tuple(int(x) for x in m.groups()) + (0, 0, 0))
    else:
        m = TS_RE.match(s)
        if not m:
            raise ValueError("bad timestamp %r" % s)
        y, mo, d = int(m.group(1)), int(m.group(2)), int(m.group(3))
        if m.group(4) is None:
            if "-" in s and len(s) != 10 or "-" not in s and len(s) != 8:
                raise ValueError("bad date %r" % s)
            t = calendar.timegm((y, mo, d, 0, 0, 0, 0, 0, 0))
        else:
            if ("-" in s[:10]) != (s[4] == "-"):
                raise ValueError(s)
            t = calendar.timegm((y, mo, d, int(m.group(4)), int(m.group(5)), int(m.group(6)), 0, 0, 0))
            if m.group(7) and int(m.group(7)[1:]) != 0:
                raise ValueError("sub-second value %r" % s)
            z = m.group(8)
            if z:
                if z == "Z":
                    off = 0
                else:
                    zz = z.replace(":", "")
                    off = (int(zz[1:3]) * 3600 + int(zz[3:5]) * 60) * (1 if zz[0] == "+" else -1)
                t = t - off + 7 * 3600
    lt = time.gmtime(t)
    import datetime
    datetime.datetime(*[int(x) for x in re.findall(r"\d+", s)[:3]]) if "-" in s[:5] else \
        datetime.datetime(int(s[0:4]), int(s[4:6]), int(s[6:8]))
    if not 2000 <= lt.tm_year <= 2099:
        raise ValueError("year out of range %r" % s)
    return gen.plain(t)


def norm_cell(v, typ, col=None):
    v = v.strip()
    if typ == "ts":
        return parse_ts(v)
    if typ == "s":
        return v
    if typ in ("code", "int"):
        if typ == "code" and v and not (1 <= int(v) <= (3 if col == "KenhThucHien" else 10)):
            raise ValueError("bad code")
        return str(int(v)) if v else ""
    if typ == "mucdo":
        if not v:
            return "1"
        w = v.upper()
        r = {"MOT_PHAN": "3", "TOAN_TRINH": "4"}.get(w) or str(int(v))
        if r not in "1234":
            raise ValueError("bad MucDo")
        return r
    if typ == "flag0":
        return "t" if v and int(v) == 1 else "f"
    if typ == "flag1":
        return "f" if v and int(v) == 0 else "t"
    raise ValueError(typ)


def norm_rows(entity, header, rows):
    idx = {c: i for i, c in enumerate(header)}
    out = []
    for r in rows:
        assert len(r) == len(header), (entity, r)
        out.append([norm_cell(r[idx[c]], t, c) for c, t in gen.COLUMNS[entity]])
    return out


def keyof(entity, nr):
    cols = [c for c, _ in gen.COLUMNS[entity]]
    k = tuple(nr[cols.index(c)] for c in gen.KEYS[entity])
    if entity == "thutuc":
        k = k + (nr[cols.index("CapNhatLuc")],)
    return k


# --------------------------------------------------------------- tests ----

def start(args, tmp):
    pf = os.path.join(tmp, "port.%d" % time.time_ns())
    p = subprocess.Popen([sys.executable, os.path.join(HERE, "onestop_sim.py"), "--port-file", pf] + args,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    for _ in range(300):
        if os.path.exists(pf):
            return p, int(open(pf).read())
        if p.poll() is not None:
            raise RuntimeError("simulator died: %s" % p.stderr.read().decode())
        time.sleep(0.05)
    raise RuntimeError("simulator did not start")


def test_generator():
    t0 = time.time()
    w = gen.World(seed=7, dossiers=3000)
    w.versions()
    dt = time.time() - t0
    check("3000 dossiers generate fast", dt < 2.0, "%.2fs" % dt)
    snap = w.snapshot(w.default_now)
    # determinism
    w2 = gen.World(seed=7, dossiers=3000)
    s2 = w2.snapshot(w2.default_now)
    same = all([(c, k, [gen.render(r.get(x)) for x in gen.csv_columns(e)]) for c, k, r in snap[e]]
               == [(c, k, [gen.render(r.get(x)) for x in gen.csv_columns(e)]) for c, k, r in s2[e]]
               for e in gen.ENTITIES)
    check("deterministic", same)
    w3 = gen.World(seed=8, dossiers=300)
    check("other seed differs", [r[1] for r in w3.snapshot(w3.default_now)["hoso"]][:50]
          != [r[1] for r in snap["hoso"]][:50])
    # contract invariants on generated rows
    bad = []
    st_counts = {}
    for c, k, r in snap["hoso"]:
        s = int(gen.norm(r["TrangThaiHoSo"], "code"))
        st_counts[s] = st_counts.get(s, 0) + 1
        if s not in (1, 3) and r["NgayTiepNhan"] is None:
            bad.append(("NgayTiepNhan", k))
        if s not in (1, 3, 7) and r["NgayHenTra"] is None:
            bad.append(("NgayHenTra", k))
        if s in (9, 10) and r["NgayKetThucXuLy"] is None:
            bad.append(("NgayKetThucXuLy", k))
        tn = r["NgayTiepNhan"]
        for f in ("NgayHenTra", "NgayKetThucXuLy"):
            if tn is not None and r[f] is not None and r[f].t // 86400 < tn.t // 86400:
                bad.append(("order " + f, k))
        if r["NgayTra"] is not None and r["NgayKetThucXuLy"] is not None and r["NgayTra"].t < r["NgayKetThucXuLy"].t:
            bad.append(("NgayTra", k))
    for c, k, r in snap["bosung"]:
        if r["NgayTiepNhanBoSung"] is not None and r["NgayTiepNhanBoSung"].t // 86400 < r["NgayBoSung"].t // 86400:
            bad.append(("bosung order", k))
    check("required-by-status and order hold", not bad, str(bad[:5]))
    check("all statuses 1..10 present", set(st_counts) == set(range(1, 11)), str(st_counts))
    check("most resolved", (st_counts.get(9, 0) + st_counts.get(10, 0)) > 0.7 * len(snap["hoso"]))
    nb = len({k[0] for c, k, r in snap["bosung"]})
    check("~15% dossiers with supplements", 0.08 * 3000 < nb < 0.25 * 3000, str(nb))
    nq = len(snap["quatrinh"]) / len(snap["hoso"])
    check("~6 steps per dossier", 4 <= nq <= 8, str(nq))
    out = [e for e in snap["thutuc"] if e[1] == (gen.SO_CODE, "1.004831")]
    check("catalogue level change present", len(out) == 2 and gen.norm(out[1][2]["MucDo"], "mucdo") == "3")
    # all fields within 4000 bytes; plain-timestamps renders 14 digits
    ok_len = all(len(gen.render(v).encode()) <= 4000 for e in gen.ENTITIES for _c, _k, r in snap[e]
                 for v in r.values())
    check("fields <= 4000 bytes", ok_len)
    pl = all(re.fullmatch(r"\d{14}", gen.render(v, True)) for e in gen.ENTITIES for _c, _k, r in snap[e]
             for v in r.values() if type(v) is gen.TS)
    check("plain timestamps are portal form", pl)
    # forms mix present
    forms = set()
    for _c, _k, r in snap["hoso"]:
        for v in r.values():
            if type(v) is gen.TS:
                forms.add(v.s)
    check("timestamp forms mixed", len(forms) >= 9, str(forms))
    # scale options
    w4 = gen.World(seed=1, dossiers=10, units=200, procedures=3000)
    check("--units 200", len(w4.units) == 200 and len({u.code for u in w4.units}) == 200)
    check("--procedures 3000", len(w4.catalogue) == 3000)
    # applicant names never equal officer names
    offs = {p[0] for u in w.units for lst in u.staff.values() for p in lst}
    apps = {r["ChuHoSo"] for _c, _k, r in snap["hoso"]}
    check("applicant/officer names disjoint", not (offs & apps))


def test_server(tmp):
    expdir = os.path.join(tmp, "exp")
    p, port = start(["--token", TOKEN, "--expected-dir", expdir, "--dossiers", "3000"], tmp)
    try:
        run_server_tests(port, expdir)
    finally:
        p.send_signal(signal.SIGTERM)
        try:
            rc = p.wait(5)
        except subprocess.TimeoutExpired:
            p.kill()
            rc = None
        check("SIGTERM exits cleanly", rc == 0, str(rc))


def run_server_tests(port, expdir):
    st = ctl(port, "/_control/state")
    # auth / errors
    check("401 without token", get(port, "/hoso", token=None).status == 401)
    check("401 wrong token", get(port, "/hoso", token="nope").status == 401)
    check("404 unknown entity", get(port, "/nope").status == 404)
    for bad in ("limit=0", "limit=x", "updated_since=2021", "updated_until=20211301000000",
                "cursor=%%%", "foo=1", "limit=1&limit=2"):
        r = get(port, "/hoso?" + bad)
        check("400 for " + bad, r.status == 400 and r.raw.startswith(b"bad parameter"), str(r.status))
    r = get(port, "/hoso?limit=5", gz=False)
    check("no gzip unless asked", r.status == 200 and r.raw[:2] != b"\x1f\x8b"
          and "content-encoding" not in r.headers)
    check("content-type", r.headers.get("content-type") == "text/csv; charset=utf-8")
    check("CRLF", b"\r\n" in r.raw and r.raw.count(b"\n") == r.raw.count(b"\r\n"))
    r = get(port, "/hoso?limit=5")
    check("gzip when asked", r.headers.get("content-encoding") == "gzip" and r.raw[:2] == b"\x1f\x8b")
    h, rs = r.rows()
    check("extra column present", "GhiChuNoiBo" in h and "ChuHoSo" in h)
    check("limit respected", len(rs) == 5)
    # full traversals vs expected
    for e in gen.ENTITIES:
        exp = ctl(port, "/_control/expected?entity=" + e)
        header, rows, totals, pages = traverse(port, e, limit=137 if e != "quatrinh" else 1000)
        check("%s totals constant" % e, len(set(totals)) == 1 and int(totals[0]) == len(rows),
              "%s vs %d" % (totals[:3], len(rows)))
        check("%s count = expected" % e, len(rows) == exp["count"], "%d vs %d" % (len(rows), exp["count"]))
        try:
            nr = norm_rows(e, header, rows)
        except Exception as ex:
            check("%s rows parse" % e, False, repr(ex))
            continue
        # order by (CapNhatLuc, key)
        cols = [c for c, _ in gen.COLUMNS[e]]
        ci = cols.index("CapNhatLuc")
        sk = [(x[ci],) + tuple(int(x[cols.index(k)]) if k == "ThuTu" else x[cols.index(k)]
                               for k in gen.KEYS[e]) for x in nr]
        check("%s ordered by (CapNhatLuc, key)" % e, sk == sorted(sk) and len(set(sk)) == len(sk))
        got = sorted(nr, key=lambda x: keyof(e, x) if e != "bosung" and e != "quatrinh"
                     else (x[0], int(x[1])))
        check("%s values = expected" % e, got == exp["rows"],
              next((str((a, b)) for a, b in zip(got, exp["rows"]) if a != b), "len"))
        with open(os.path.join(expdir, e + ".tsv"), encoding="utf-8") as f:
            lines = f.read().split("\n")[:-1]
        check("%s expected-dir file" % e, lines == ["\t".join(gen.tsv_escape(x) for x in r) for r in exp["rows"]])
        if e == "hoso":
            ps = exp["personal_samples"]
            check("personal samples", len(ps["ChuHoSo"]) > 100 and len(ps["SoDienThoai"]) > 100
                  and all(re.fullmatch(r"\d{12}", x) for x in ps["SoGiayToChuHoSo"]))
            ids = [x[0] for x in nr]
            check("unique dossier keys", len(set(ids)) == len(ids))
            # a field needing quoting exists somewhere
    r = get(port, "/quatrinh?limit=10000")
    check("quoted newline in NoiDungXuLy", b'\r\nTh\xe1\xbb\x9di h\xe1\xba\xa1n' in r.body())
    # filters
    exp = ctl(port, "/_control/expected?entity=hoso")
    ci = exp["columns"].index("CapNhatLuc")
    since, until = "20210301000000", "20210401000000"
    want = sum(1 for x in exp["rows"] if since <= x[ci] < until)
    _h, rows, totals, _p = traverse(port, "hoso", 100, "&updated_since=%s&updated_until=%s" % (since, until))
    check("window filter", len(rows) == want and int(totals[0]) == want, "%d %d %s" % (len(rows), want, totals[0]))
    _h, rows, totals, _p = traverse(port, "hoso", 500, "&updated_since=%s" % until)
    check("since-only filter", len(rows) == sum(1 for x in exp["rows"] if x[ci] >= until))
    # max-limit cap and cursor idempotence
    r = get(port, "/quatrinh?limit=50000")
    check("limit capped at max-limit", len(r.rows()[1]) == 10000)
    r1 = get(port, "/hoso?limit=7")
    c = urllib.request.quote(r1.headers["x-next-cursor"], safe="")
    a, b = get(port, "/hoso?limit=7&cursor=" + c), get(port, "/hoso?limit=7&cursor=" + c)
    check("cursor idempotent", a.body() == b.body() and a.rows()[1] != r1.rows()[1])
    last = None
    cur = None
    n = 0
    while True:  # last page has no cursor
        r = get(port, "/donvi?limit=5" + ("&cursor=" + urllib.request.quote(cur, safe="") if cur else ""))
        n += 1
        cur = r.headers.get("x-next-cursor")
        last = r
        if not cur:
            break
    check("last page without cursor", "x-next-cursor" not in last.headers and n == 4)
    r = get(port, "/hoso?updated_since=20300101000000")
    check("empty page = header only", r.status == 200 and len(r.rows()[1]) == 0 and len(r.rows()[0]) > 5
          and "x-next-cursor" not in r.headers)

    # clock
    ctl(port, "/_control/clock", {"now": "20210615000000"})
    exp = ctl(port, "/_control/expected?entity=hoso")
    _h, rows, totals, _p = traverse(port, "hoso", 1000)
    check("clock moves visibility", 0 < len(rows) == exp["count"] < 3000, str(len(rows)))
    ci = exp["columns"].index("CapNhatLuc")
    check("nothing after clock", max(x[ci] for x in exp["rows"]) <= "20210615000000")
    exp_t = ctl(port, "/_control/expected?entity=thutuc")
    n_mid = exp_t["count"]
    ctl(port, "/_control/clock", {"now": "20220115000000"})
    exp_t = ctl(port, "/_control/expected?entity=thutuc")
    check("catalogue history grows", exp_t["count"] > n_mid)

    # faults
    def fault_plan(plan):
        ctl(port, "/_control/faults", {"faults": plan})
        ctl(port, "/_control/log/clear", {})

    fault_plan([{"entity": "hoso", "request": 1, "kind": "status", "code": 503, "retry_after": 2}])
    r1, r2 = get(port, "/hoso?limit=3"), get(port, "/hoso?limit=3")
    check("status fault", r1.status == 503 and r1.headers.get("retry-after") == "2" and r2.status == 200)
    log = ctl(port, "/_control/log")["requests"]
    check("log records fault", len(log) == 2 and log[0]["fault"] == "status" and log[0]["status"] == 503
          and log[1]["fault"] is None)

    fault_plan([{"entity": "hoso", "page": 2, "kind": "status", "code": 500, "times": 2}])
    r = get(port, "/hoso?limit=3")
    c = urllib.request.quote(r.headers["x-next-cursor"], safe="")
    codes = [get(port, "/hoso?limit=3&cursor=" + c).status for _ in range(3)]
    check("page fault with times", r.status == 200 and codes == [500, 500, 200], str(codes))

    fault_plan([{"entity": "*", "request": 1, "kind": "reset"}])
    try:
        get(port, "/hoso?limit=500")
        check("reset fault", False, "no error")
    except (ConnectionResetError, http.client.IncompleteRead, http.client.RemoteDisconnected) as ex:
        check("reset fault", True, repr(ex))
    fault_plan([{"entity": "hoso", "kind": "short_body"}])
    try:
        get(port, "/hoso?limit=500")
        check("short_body fault", False, "no error")
    except http.client.IncompleteRead:
        check("short_body fault", True)
    fault_plan([{"entity": "hoso", "kind": "truncated_gzip"}])
    r = get(port, "/hoso?limit=500")
    try:
        d = zlib.decompressobj(31)
        d.decompress(r.raw)
        check("truncated_gzip fault", r.status == 200 and not d.eof)
    except zlib.error:
        check("truncated_gzip fault", True)
    fault_plan([{"entity": "hoso", "kind": "stall", "seconds": 2}])
    t0 = time.time()
    try:
        get(port, "/hoso?limit=500", timeout=0.7)
        check("stall fault", False, "no timeout")
    except (socket.timeout, TimeoutError):
        check("stall fault", time.time() - t0 < 2)
    fault_plan([{"entity": "hoso", "kind": "bom"}])
    r = get(port, "/hoso?limit=5")
    check("bom fault", r.body().startswith(b"\xef\xbb\xbf") and len(r.rows()[1]) == 5)
    fault_plan([{"entity": "hoso", "kind": "lf_only"}])
    r = get(port, "/hoso?limit=5", gz=False)
    check("lf_only fault", b"\r\n" not in r.raw.split(b"\n", 1)[0] + b"\n" and len(r.rows()[1]) == 5)
    fault_plan([{"entity": "hoso", "kind": "gzip_no_encoding"}])
    r = get(port, "/hoso?limit=5", gz=False)
    check("gzip_no_encoding", r.raw[:2] == b"\x1f\x8b" and "content-encoding" not in r.headers
          and r.headers["content-type"] == "application/gzip" and len(r.rows()[1]) == 5)
    fault_plan([{"entity": "hoso", "kind": "empty_body"}])
    r = get(port, "/hoso?limit=5")
    check("empty_body", r.status == 200 and r.raw == b"" and "x-next-cursor" not in r.headers)
    fault_plan([{"entity": "hoso", "kind": "total_count_lie", "delta": 10}])
    r = get(port, "/hoso?limit=5")
    check("total_count_lie", int(r.headers["x-total-count"]) == 3010)
    fault_plan([{"entity": "hoso", "page": 1, "kind": "unterminated_quote"}])
    r = get(port, "/hoso?limit=20")
    body = r.body()
    check("unterminated_quote", body.count(b'"') % 2 == 1)
    try:
        r.rows()
        check("unterminated_quote unparseable", False)
    except csv.Error:
        check("unterminated_quote unparseable", True)

    # bad rows
    ent_for = {"field_count": ["hoso", "quatrinh"], "missing_field": ["hoso", "bosung"],
               "bad_timestamp": ["hoso", "quatrinh", "donvi"], "bad_code": ["hoso", "thutuc"],
               "bad_number": ["thutuc", "bosung"], "bad_utf8": ["hoso", "quatrinh"],
               "too_long": ["hoso", "thutuc"], "bad_order": ["hoso", "bosung"]}
    for reason, ents in ent_for.items():
        for e in ents:
            fault_plan([{"entity": e, "page": 2, "kind": "bad_row", "reason": reason}])
            r = get(port, "/%s?limit=10" % e)
            c = urllib.request.quote(r.headers["x-next-cursor"], safe="")
            r = get(port, "/%s?limit=10&cursor=%s" % (e, c))
            log = ctl(port, "/_control/log")["requests"]
            det = log[-1]["detail"]
            okk = det and det.get("applied") and det["row_in_page"] >= 1 and det["row_number"] == 10 + det["row_in_page"]
            raw = r.body()
            if reason == "bad_utf8":
                try:
                    raw.decode("utf-8")
                    okk = False
                except UnicodeDecodeError:
                    pass
                check("bad_row %s %s" % (reason, e), okk, str(det))
                continue
            h, rs = r.rows()
            row = rs[det["row_in_page"] - 1]
            try:
                norm_rows(e, h, [row])
                parsed = True
            except Exception:
                parsed = False
            if reason == "field_count":
                okk = okk and len(row) == len(h) + 1
            elif reason == "missing_field":
                okk = okk and row[h.index(det["column"])] == ""
            elif reason == "too_long":
                okk = okk and len(row[h.index(det["column"])].encode()) > 4000
            elif reason == "bad_order":
                okk = okk and parsed
            else:
                okk = okk and not parsed
            if e in ("hoso", "donvi"):
                okk = okk and row[h.index(gen.KEYS[e][0])] == det["key"][0]
            check("bad_row %s %s" % (reason, e), okk, str(det))
    fault_plan([{"entity": "hoso", "kind": "drop_column", "column": "NgayHenTra"}])
    h, rs = get(port, "/hoso?limit=5").rows()
    check("drop_column", "NgayHenTra" not in h and len(rs) == 5 and all(len(x) == len(h) for x in rs))
    fault_plan([{"entity": "hoso", "kind": "bad_row", "reason": "bad_code", "row": 1,
                 "break": "short_body", "fraction": 0.9}])
    try:
        get(port, "/hoso?limit=50", gz=False)
        check("break short_body", False, "complete body")
    except http.client.IncompleteRead as ex:
        det = ctl(port, "/_control/log")["requests"][-1]["detail"]
        check("break short_body", det["reason"] == "bad_code" and det["sent"] < det["of"]
              and b",4," in ex.partial, str(det))
    fault_plan([{"entity": "hoso", "kind": "endless", "seconds": 5}])
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request("GET", "/hoso?limit=5", headers={"Authorization": "Bearer " + TOKEN})
    resp = c.getresponse()
    part = resp.read(3 << 20)
    c.close()
    check("endless runaway", resp.status == 200 and len(part) == 3 << 20
          and b'X,"xxxx' in part and part.endswith(b"x" * 1000))
    fault_plan([{"entity": "hoso", "page": 1, "kind": "bad_row", "reason": "bad_number"}])
    get(port, "/hoso?limit=10")
    det = ctl(port, "/_control/log")["requests"][-1]["detail"]
    check("inapplicable bad_row logged", det and det.get("applied") is False)

    # mutate between pages: keyset loses nothing, bumped rows come again
    fault_plan([{"entity": "hoso", "page": 2, "kind": "mutate_between_pages", "rows": 3}])
    before = ctl(port, "/_control/state")["now"]
    _h, rows, totals, pages = traverse(port, "hoso", 500)
    keys = [x[_h.index("MaHoSo")] for x in rows]
    log = ctl(port, "/_control/log")["requests"]
    det = [x for x in log if x["fault"] == "mutate_between_pages"][0]["detail"]
    check("mutate: nothing lost", len(set(keys)) == 3000 and len(keys) == 3000 + len(det["bumped_served"]),
          "%d %d %s" % (len(set(keys)), len(keys), det))
    check("mutate: total as of first page", int(totals[0]) == 3000)
    exp = ctl(port, "/_control/expected?entity=hoso")
    ci = exp["columns"].index("CapNhatLuc")
    bumped = {k[0] for k in det["bumped_served"] + det["bumped_unserved"]}
    check("mutate: expected reflects new CapNhatLuc",
          all(x[ci] == det["new_capnhatluc"] for x in exp["rows"] if x[0] in bumped) and len(bumped) == 6
          and before < det["new_capnhatluc"])
    ctl(port, "/_control/reset", {})
    check("reset clears", ctl(port, "/_control/state")["faults"] == [])

    # log has user agent and counts
    get(port, "/donvi")
    log = ctl(port, "/_control/log")["requests"]
    check("log fields", log[-1]["user_agent"] == "selfcheck/1" and log[-1]["rows"] == 16
          and log[-1]["status"] == 200)
    # bad fault plan rejected
    try:
        ctl(port, "/_control/faults", {"faults": [{"kind": "nope"}]})
        check("bad fault plan rejected", False)
    except urllib.error.HTTPError as ex:
        check("bad fault plan rejected", ex.code == 400)


def test_options(tmp):
    p, port = start(["--dossiers", "200", "--always-gzip", "--no-total-count", "--plain-timestamps",
                     "--max-limit", "50", "--now", "20211231000000"], tmp)
    try:
        r = get(port, "/hoso?limit=1000", gz=False, token=None)
        check("always gzip", r.headers.get("content-encoding") == "gzip")
        check("no total count", "x-total-count" not in r.headers)
        h, rs = r.rows()
        check("max-limit 50", len(rs) == 50)
        ts_cols = [h.index(c) for c, t in gen.COLUMNS["hoso"] if t == "ts"]
        check("--plain-timestamps", all(re.fullmatch(r"(\d{14})?", x[i]) for x in rs for i in ts_cols))
        st = ctl(port, "/_control/state")
        check("--now", st["now"] == "20211231000000")
    finally:
        p.terminate()
        p.wait(5)


def post_token(port, form, basic=None):
    """-> (status, JSON answer)"""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    h = {"Content-Type": "application/x-www-form-urlencoded"}
    if basic:
        pair = "%s:%s" % tuple(urllib.parse.quote_plus(x) for x in basic)
        h["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
    c.request("POST", "/oauth2/token", body=urllib.parse.urlencode(form), headers=h)
    r = c.getresponse()
    out = (r.status, json.loads(r.read().decode() or "null"))
    c.close()
    return out


def test_oauth(tmp):
    ident, secret = "etl id:1", "s3cr+t %/é"
    p, port = start(["--dossiers", "50", "--oauth-client-id", ident,
                     "--oauth-client-secret", secret, "--oauth-lifetime", "2"], tmp)
    try:
        grant = {"grant_type": "client_credentials"}
        st, ans = post_token(port, grant, basic=(ident, secret))
        check("token by Basic (form-encoded halves)", st == 200 and ans["token_type"] == "Bearer"
              and ans["expires_in"] == 2, (st, ans))
        tok = ans.get("access_token")
        st, ans2 = post_token(port, dict(grant, client_id=ident, client_secret=secret))
        check("token by the body", st == 200 and ans2["access_token"] != tok, (st, ans2))
        st, err = post_token(port, grant, basic=(ident, secret + "x"))
        check("wrong secret: 401 invalid_client", st == 401 and err["error"] == "invalid_client")
        st, err = post_token(port, {"grant_type": "password"}, basic=(ident, secret))
        check("other grant: 400", st == 400 and err["error"] == "unsupported_grant_type")
        st, err = post_token(port, dict(grant, client_id=ident, client_secret=secret),
                             basic=(ident, secret))
        check("the pair twice: 400", st == 400 and err["error"] == "invalid_request")
        check("page without a token: 401", get(port, "/donvi", token=None).status == 401)
        check("page with a token: 200", get(port, "/donvi", token=tok).status == 200)
        check("page with another token: 401", get(port, "/donvi", token="at-x").status == 401)
        ctl(port, "/_control/faults", {"faults": [{"entity": "donvi", "kind": "expire_token",
                                                   "request": 1}]})
        check("expire_token: 401", get(port, "/donvi", token=ans2["access_token"]).status == 401)
        st, ans = post_token(port, grant, basic=(ident, secret))
        time.sleep(2.1)
        check("expired token: 401", get(port, "/donvi", token=ans["access_token"]).status == 401)
        ctl(port, "/_control/faults", {"faults": [{"entity": "token", "kind": "status",
                                                   "code": 503}]})
        st, _ = post_token(port, grant, basic=(ident, secret))
        check("token fault 503", st == 503)
        check("issued listed", len(ctl(port, "/_control/oauth")["issued"]) == 3)
        log = ctl(port, "/_control/log")["requests"]
        check("the secret is in no log entry", secret not in json.dumps(log, ensure_ascii=False))
    finally:
        p.terminate()
        p.wait(5)


def main():
    tmp = tempfile.mkdtemp(prefix="simcheck.")
    for t in (test_generator, lambda: test_server(tmp), lambda: test_options(tmp),
              lambda: test_oauth(tmp)):
        try:
            t()
        except Exception:
            traceback.print_exc()
            check("no exception", False)
    print("%d passed, %d failed" % (PASSED, FAILED))
    return 0 if FAILED == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
