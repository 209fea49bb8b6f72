#!/usr/bin/env python3
"""onestop-sim: a loopback HTTP server that serves the source contract
(shared spec source-api.md) from the deterministic generator in gen.py, with a
simulated clock, fault injection and the expected warehouse content.

Usage:
  python3 tests/sim/onestop_sim.py [--host 127.0.0.1] [--port 0]
      [--port-file FILE] [--seed 42] [--year 2021] [--dossiers 3000]
      [--units N] [--procedures N] [--token TOKEN] [--now yyyyMMddHHmmss]
      [--max-limit 10000] [--no-total-count] [--always-gzip]
      [--plain-timestamps] [--expected-dir DIR] [--faults FILE.json]

Data:     GET /{entity}?updated_since=&updated_until=&limit=&cursor=
          (any path prefix is accepted: the last segment names the entity)
Control (loopback only, JSON, no token):
  GET  /_control/state                      clock, options, visible counts
  GET  /_control/clock   POST {"now": "yyyyMMddHHmmss"} (or {"advance": secs})
  GET  /_control/faults  POST {"faults": [...]}  (replaces the plan and
                                            resets the request counters)
  GET  /_control/log[?since=N]   DELETE /_control/log (or POST /_control/log/clear)
  GET  /_control/expected?entity=E[&format=tsv]
  POST /_control/reset                      faults, log, counters, mutations
"""

import argparse
import base64
import bisect
import email.utils
import gzip  # noqa: F401  (documentation: bodies are gzip via zlib wbits=31)
import json
import os
import signal
import socket
import struct
import sys
import threading
import time
import random
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit, parse_qs, unquote_plus

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen  # noqa: E402

FAULT_KINDS = ("status", "reset", "short_body", "truncated_gzip", "stall",
               "bad_row", "unterminated_quote", "bom", "lf_only",
               "mutate_between_pages", "gzip_no_encoding", "total_count_lie",
               "empty_body", "drop_column", "endless", "set_value", "expire_token")
# the token endpoint's faults (entity "token"): an answer it refuses, a slow
# one (stall: `seconds` before it answers), a connection dropped
TOKEN_FAULTS = ("status", "stall", "reset")
# how a page may be cut off after its body was built ("break" on any fault)
BREAKS = ("reset", "short_body", "stall")
BAD_REASONS = ("field_count", "missing_field", "bad_timestamp", "bad_code",
               "bad_number", "bad_utf8", "too_long", "bad_order")

# reason -> entity -> (column, value); value None = computed
BAD_MAP = {
    "missing_field": {"donvi": ("TenDonVi", ""), "thutuc": ("TenTTHC", ""),
                      "hoso": ("MaTTHC", ""), "bosung": ("NgayBoSung", ""),
                      "quatrinh": ("ThoiDiemXuLy", "")},
    "bad_timestamp": {"donvi": ("CapNhatLuc", "20210230083000"),
                      "thutuc": ("CapNhatLuc", "2021-13-01T08:00:00"),
                      "hoso": ("NgayTiepNhan", "2021-02-30T08:30:00"),
                      "bosung": ("NgayBoSung", "31/12/2021 08:00"),
                      "quatrinh": ("ThoiDiemXuLy", "19991231235959")},
    "bad_code": {"donvi": ("CapDonVi", "QUAN"), "thutuc": ("MucDo", "5"),
                 "hoso": ("KenhThucHien", "4"), "quatrinh": ("TrangThai", "11")},
    "bad_number": {"thutuc": ("ThoiHanGiaiQuyet", "15 ngày"),
                   "bosung": ("ThuTu", None), "quatrinh": ("ThuTu", None)},
    "bad_utf8": {"donvi": ("TenDonVi", None), "thutuc": ("TenTTHC", None),
                 "hoso": ("MaTTHC", None), "bosung": ("TrangThaiBoSung", None),
                 "quatrinh": ("NoiDungXuLy", None)},
    "too_long": {"donvi": ("TenDonVi", None), "thutuc": ("TenTTHC", None),
                 "hoso": ("DiaChi", None), "bosung": ("TrangThaiBoSung", None),
                 "quatrinh": ("NoiDungXuLy", None)},
    "bad_order": {"hoso": ("NgayHenTra", None),
                  "bosung": ("NgayTiepNhanBoSung", None)},
}
# bad_row with `extra`: the key column made distinct in the added row
EXTRA_KEY_COL = {"donvi": "MaDonVi", "thutuc": "MaTTHC", "hoso": "MaHoSo",
                 "bosung": "MaHoSo", "quatrinh": "MaHoSo"}
UNTERM_COL = {"donvi": "TenDonVi", "thutuc": "TenTTHC", "hoso": "MaTTHC",
              "bosung": "TrangThaiBoSung", "quatrinh": "NoiDungXuLy"}
BAD_UTF8_MARK = "\u2063BADUTF8\u2063"
# unterminated_quote's variants: the kinds of malformed CSV (source-api.md)
MALFORMED = ("unclosed", "text_after_quote", "quote_in_field")


def q(s):
    if not s:
        return ""
    if "," in s or '"' in s or "\n" in s or "\r" in s:
        return '"' + s.replace('"', '""') + '"'
    return s


def gz(data):
    c = zlib.compressobj(6, zlib.DEFLATED, 31)
    return c.compress(data) + c.flush()


class BadRequest(Exception):
    pass


class Table:
    __slots__ = ("rows", "sortkeys", "cnls")

    def __init__(self, rows):
        self.rows = rows
        self.sortkeys = [(r[0], r[1]) for r in rows]
        self.cnls = [r[0] for r in rows]


class Sim:
    def __init__(self, a):
        self.a = a
        self.world = gen.World(seed=a.seed, year=a.year, dossiers=a.dossiers,
                               units=a.units, procedures=a.procedures,
                               reorg=a.reorg)
        self.plain = a.plain_timestamps
        self.lock = threading.RLock()
        self.now = gen.parse_plain(a.now) if a.now else self.world.default_now
        self.overrides = {}
        self.ov_version = 0
        self._cache_key = None
        self._tables = None
        self._snap = None
        self.faults = []
        self.tokens = {}  # OAuth2: access token -> time.time() it expires
        self.issued = []  # every access token issued, revoked or not
        self.counts = {}
        self.global_count = 0
        self.log = []
        self.seq = 0
        self.cols = {}
        for e in gen.ENTITIES:
            cols = gen.csv_columns(e)
            random.Random("cols:%d:%s" % (a.seed, e)).shuffle(cols)
            self.cols[e] = cols
        self.world.versions()

    # state ---------------------------------------------------------------
    def tables(self):
        with self.lock:
            key = (self.now, self.ov_version)
            if self._cache_key != key:
                self._snap = self.world.snapshot(self.now, self.overrides)
                self._tables = {e: Table(v) for e, v in self._snap.items()}
                self._cache_key = key
            return self._tables, self._snap

    def expected(self, entity):
        _t, snap = self.tables()
        return gen.expected_rows(entity, snap[entity])

    def personal(self):
        _t, snap = self.tables()
        return gen.personal_samples(snap["hoso"])

    def write_expected(self, d):
        os.makedirs(d, exist_ok=True)
        meta = {"now": gen.plain(self.now), "seed": self.a.seed, "counts": {},
                "columns": {}}
        for e in gen.ENTITIES:
            rows = self.expected(e)
            meta["counts"][e] = len(rows)
            meta["columns"][e] = [c for c, _ in gen.COLUMNS[e]]
            tmp = os.path.join(d, ".%s.tsv.tmp" % e)
            with open(tmp, "w", encoding="utf-8", newline="") as f:
                for r in rows:
                    f.write("\t".join(gen.tsv_escape(x) for x in r) + "\n")
            os.replace(tmp, os.path.join(d, "%s.tsv" % e))
        with open(os.path.join(d, "personal_samples.json"), "w", encoding="utf-8") as f:
            json.dump(self.personal(), f, ensure_ascii=False, indent=1)
        with open(os.path.join(d, "meta.json"), "w", encoding="utf-8") as f:
            json.dump(meta, f, ensure_ascii=False, indent=1)

    # cursor ----------------------------------------------------------------
    @staticmethod
    def enc_cursor(page, cnl, key):
        raw = json.dumps([page, cnl, list(key)], separators=(",", ":"),
                         ensure_ascii=False).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @staticmethod
    def dec_cursor(entity, c):
        try:
            raw = base64.urlsafe_b64decode(c + "=" * (-len(c) % 4))
            page, cnl, key = json.loads(raw.decode())
            nk = len(gen.KEYS[entity])
            if (type(page) is not int or type(cnl) is not int or type(key) is not list
                    or len(key) != nk or type(key[0]) is not str
                    or (nk == 2 and entity != "thutuc" and type(key[1]) is not int)
                    or (entity == "thutuc" and type(key[1]) is not str)):
                raise ValueError
            return page, cnl, tuple(key)
        except Exception:
            raise BadRequest("bad parameter cursor: not a cursor of this entity")

    # faults --------------------------------------------------------------------
    def set_faults(self, plan):
        if not isinstance(plan, list):
            raise BadRequest("faults must be a list")
        out = []
        for i, f in enumerate(plan):
            if not isinstance(f, dict) or f.get("kind") not in FAULT_KINDS:
                raise BadRequest("fault %d: unknown kind %r" % (i, f.get("kind") if isinstance(f, dict) else f))
            ent = f.get("entity", "*")
            if ent != "*" and ent != "token" and ent not in gen.ENTITIES:
                raise BadRequest("fault %d: unknown entity %r" % (i, ent))
            if ent == "token" and f["kind"] not in TOKEN_FAULTS:
                raise BadRequest("fault %d: the token endpoint's faults are %s"
                                 % (i, ",".join(TOKEN_FAULTS)))
            if f["kind"] == "expire_token" and (ent == "token" or "page" in f):
                raise BadRequest("fault %d: expire_token is for an entity, by request" % i)
            if f["kind"] == "bad_row" and f.get("reason") not in BAD_REASONS:
                raise BadRequest("fault %d: bad_row needs reason in %s" % (i, ",".join(BAD_REASONS)))
            if f["kind"] == "status" and not isinstance(f.get("code"), int):
                raise BadRequest("fault %d: status needs an integer code" % i)
            if f["kind"] == "set_value" and not (isinstance(f.get("column"), str)
                                                 and isinstance(f.get("value"), str)):
                raise BadRequest("fault %d: set_value needs a column and a value" % i)
            if f["kind"] == "unterminated_quote" and f.get("variant", "unclosed") not in MALFORMED:
                raise BadRequest("fault %d: variant must be one of %s" % (i, ",".join(MALFORMED)))
            if f["kind"] == "drop_column" and not isinstance(f.get("column"), str):
                raise BadRequest("fault %d: drop_column needs a column" % i)
            if f.get("break") is not None and f["break"] not in BREAKS:
                raise BadRequest("fault %d: break must be one of %s" % (i, ",".join(BREAKS)))
            g = dict(f)
            g["entity"] = ent
            if "page" in g:
                g.setdefault("times", None)          # every attempt
            else:
                g.setdefault("request", 1)
                g.setdefault("times", 1)
            g["fired"] = 0
            out.append(g)
        with self.lock:
            self.faults = out
            self.counts = {}
            self.global_count = 0

    def match_fault(self, entity, nreq, greq, page, kinds=None):
        """The fault for this request; `kinds` (None: all but expire_token,
        which is matched before the token is checked) narrows the search."""
        for i, f in enumerate(self.faults):
            if f["entity"] not in ("*", entity) or (entity == "token") != (f["entity"] == "token"):
                continue
            if (f["kind"] not in kinds) if kinds else (f["kind"] == "expire_token"):
                continue
            times = f["times"]
            if times is not None and f["fired"] >= times:
                continue
            if "page" in f:
                if page is None or page != f["page"]:
                    continue
            else:
                n = greq if f["entity"] == "*" else nreq
                lo = f["request"]
                if not (lo <= n < lo + (times or 1 << 60)):
                    continue
            f["fired"] += 1
            return i, f
        return None, None

    def add_log(self, entry):
        with self.lock:
            self.seq += 1
            entry["n"] = self.seq
            self.log.append(entry)

    # mutation ------------------------------------------------------------------
    def mutate(self, entity, tab, lo, end, hi, nrows):
        with self.lock:
            served = list(range(lo, end))
            later = list(range(end, hi))

            def pick(idx):
                if not idx:
                    return []
                k = min(nrows, len(idx))
                return [idx[(j * len(idx)) // k] for j in range(k)]
            chosen = pick(served) + pick(later)
            self.now += 1
            ov = self.overrides.setdefault(entity, {})
            keys = []
            for j in chosen:
                key = tab.rows[j][1]
                ov.setdefault(key, []).append(self.now)
                keys.append(list(key))
            self.ov_version += 1
            return {"bumped_served": keys[:len(pick(served))],
                    "bumped_unserved": keys[len(pick(served)):],
                    "new_capnhatluc": gen.plain(self.now)}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "onestop-sim/1.0"
    sim = None  # set in main

    def log_message(self, fmt, *args):
        if os.environ.get("ONESTOP_SIM_VERBOSE"):
            sys.stderr.write("sim: " + (fmt % args) + "\n")

    def setup(self):
        super().setup()
        # headers and body go out in two writes: without this, Nagle and
        # the client's delayed ACK hold every reused connection's body 40 ms
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def finish(self):
        try:
            super().finish()
        except OSError:
            pass

    def date_time_string(self, timestamp=None):
        """The Date header carries the simulated clock, as a real server's
        carries its own (sim.now counts seconds of UTC+07:00 local time)."""
        return email.utils.formatdate(self.sim.now - 7 * 3600, usegmt=True)

    # helpers ---------------------------------------------------------------
    def _send(self, code, body=b"", ctype="text/plain; charset=utf-8", headers=()):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        if body and self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, code, obj):
        self._send(code, json.dumps(obj, ensure_ascii=False, indent=None).encode(),
                   "application/json; charset=utf-8")

    def _body_json(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b"{}"
        try:
            return json.loads(raw.decode("utf-8") or "{}")
        except Exception:
            raise BadRequest("body is not JSON")

    def _loopback(self):
        return self.client_address[0] in ("127.0.0.1", "::1", "::ffff:127.0.0.1")

    # dispatch --------------------------------------------------------------
    def do_GET(self):
        self._dispatch("GET")

    def do_POST(self):
        self._dispatch("POST")

    def do_DELETE(self):
        self._dispatch("DELETE")

    def _dispatch(self, method):
        u = urlsplit(self.path)
        try:
            if u.path.startswith("/_control"):
                if not self._loopback():
                    return self._send(403, b"control API is loopback only\n")
                return self._control(method, u)
            if (method == "POST" and self.sim.a.oauth_client_id is not None
                    and u.path.rstrip("/").rsplit("/", 1)[-1] == "token"):
                return self._token(u)
            if method != "GET":
                return self._send(405, b"method not allowed\n", headers=[("Allow", "GET")])
            return self._data(u)
        except BadRequest as e:
            self._send(400, (str(e) + "\n").encode())
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    # control ---------------------------------------------------------------
    def _control(self, method, u):
        sim = self.sim
        p = u.path.rstrip("/")
        qs = parse_qs(u.query)
        if p == "/_control/state" or p == "/_control":
            tabs, _ = sim.tables()
            return self._json(200, {"now": gen.plain(sim.now), "seed": sim.a.seed,
                                    "year": sim.a.year, "dossiers": sim.a.dossiers,
                                    "counts": {e: len(t.rows) for e, t in tabs.items()},
                                    "faults": sim.faults, "requests": sim.seq})
        if p == "/_control/clock":
            if method == "POST":
                b = self._body_json()
                with sim.lock:
                    if "now" in b:
                        try:
                            sim.now = gen.parse_plain(str(b["now"]))
                        except ValueError as e:
                            raise BadRequest("now: %s" % e)
                    elif "advance" in b:
                        sim.now += int(b["advance"])
                    else:
                        raise BadRequest("give now or advance")
            tabs, _ = sim.tables()
            return self._json(200, {"now": gen.plain(sim.now),
                                    "counts": {e: len(t.rows) for e, t in tabs.items()}})
        if p == "/_control/faults":
            if method == "POST":
                b = self._body_json()
                sim.set_faults(b.get("faults", []) if isinstance(b, dict) else b)
            return self._json(200, {"faults": sim.faults})
        if p == "/_control/log/clear" or (p == "/_control/log" and method == "DELETE"):
            with sim.lock:
                sim.log = []
            return self._json(200, {"ok": True})
        if p == "/_control/log":
            since = int(qs.get("since", ["0"])[0])
            with sim.lock:
                entries = [e for e in sim.log if e["n"] > since]
            return self._json(200, {"requests": entries})
        if p == "/_control/reset":
            sim.set_faults([])
            with sim.lock:
                sim.log = []
                sim.overrides = {}
                sim.ov_version += 1
            return self._json(200, {"ok": True, "now": gen.plain(sim.now)})
        if p == "/_control/oauth":
            # the tokens issued so far: tests look for them where they must not be
            body = self._body_json() if method == "POST" else {}
            with sim.lock:
                if body.get("revoke"):
                    sim.tokens.clear()
                return self._json(200, {"issued": list(sim.issued),
                                        "valid": sorted(t for t, e in sim.tokens.items()
                                                        if e > time.time())})
        if p == "/_control/expected":
            ent = qs.get("entity", [""])[0]
            if ent not in gen.ENTITIES:
                raise BadRequest("entity must be one of %s" % ",".join(gen.ENTITIES))
            rows = sim.expected(ent)
            if qs.get("format", [""])[0] == "tsv":
                body = "".join("\t".join(gen.tsv_escape(x) for x in r) + "\n" for r in rows)
                return self._send(200, body.encode(), "text/tab-separated-values; charset=utf-8")
            return self._json(200, {"entity": ent, "now": gen.plain(sim.now),
                                    "columns": [c for c, _ in gen.COLUMNS[ent]],
                                    "count": len(rows), "rows": rows,
                                    "personal_samples": sim.personal()})
        return self._send(404, b"unknown control endpoint\n")

    # data ----------------------------------------------------------------------
    def _data(self, u):
        sim = self.sim
        a = sim.a
        entity = u.path.rstrip("/").rsplit("/", 1)[-1]
        t0 = time.time()
        entry = {"t": round(t0, 3), "path": u.path, "query": u.query, "entity": entity,
                 "page": None, "status": None, "fault": None, "detail": None,
                 "user_agent": self.headers.get("User-Agent"),
                 "accept_encoding": self.headers.get("Accept-Encoding"),
                 "auth": bool(self.headers.get("Authorization"))}
        if a.oauth_client_id is not None and not self._bearer_ok(entity, entry):
            sim.add_log(entry)
            return self._send(401, b"missing, unknown or expired token\n",
                              headers=[("WWW-Authenticate", 'Bearer realm="onestop", error="invalid_token"')])
        if a.token is not None:
            h = self.headers.get("Authorization") or ""
            parts = h.split(None, 1)
            if len(parts) != 2 or parts[0].lower() != "bearer" or parts[1].strip() != a.token:
                entry["status"] = 401
                sim.add_log(entry)
                return self._send(401, b"missing or bad token\n",
                                  headers=[("WWW-Authenticate", 'Bearer realm="onestop"')])
        if entity not in gen.ENTITIES:
            entry["status"] = 404
            sim.add_log(entry)
            return self._send(404, b"unknown entity\n")
        # parameters
        err = None
        since = until = cursor = None
        limit = 1000
        page = 1
        try:
            qs = parse_qs(u.query, keep_blank_values=True)
            for k, v in qs.items():
                if k not in ("updated_since", "updated_until", "limit", "cursor"):
                    raise BadRequest("bad parameter %s: unknown parameter" % k)
                if len(v) > 1:
                    raise BadRequest("bad parameter %s: given more than once" % k)
            for k in ("updated_since", "updated_until"):
                v = qs.get(k, [""])[0].strip()
                if v:
                    try:
                        t = gen.parse_plain(v)
                    except ValueError as e:
                        raise BadRequest("bad parameter %s: %s (want yyyyMMddHHmmss)" % (k, e))
                    if k == "updated_since":
                        since = t
                    else:
                        until = t
            v = qs.get("limit", [""])[0].strip()
            if v:
                if not v.isdigit() or int(v) < 1:
                    raise BadRequest("bad parameter limit: want a whole number >= 1")
                limit = int(v)
            limit = min(limit, a.max_limit)
            v = qs.get("cursor", [""])[0]
            if v:
                page, ccnl, ckey = sim.dec_cursor(entity, v)
                cursor = (ccnl, ckey)
        except BadRequest as e:
            err = str(e)
        with sim.lock:
            sim.counts[entity] = sim.counts.get(entity, 0) + 1
            sim.global_count += 1
            fi, fault = sim.match_fault(entity, sim.counts[entity], sim.global_count,
                                        None if err else page)
        entry["page"] = None if err else page
        if fault is not None:
            entry["fault"] = fault["kind"]
            entry["fault_index"] = fi
        if fault is not None and fault["kind"] == "status":
            code = fault["code"]
            hdrs = []
            if fault.get("retry_after") is not None:
                hdrs.append(("Retry-After", str(fault["retry_after"])))
            if code in (401, 403):
                hdrs.append(("WWW-Authenticate", 'Bearer realm="onestop"'))
            entry["status"] = code
            sim.add_log(entry)
            body = fault.get("body", "simulated %d\n" % code)
            charset = fault.get("charset", "utf-8")
            return self._send(code, body.encode(charset),
                              "text/plain; charset=%s" % charset, headers=hdrs)
        if fault is not None and fault["kind"] == "empty_body":
            entry["status"] = 200
            entry["rows"] = 0
            sim.add_log(entry)
            return self._send(200, b"", "text/csv; charset=utf-8")
        if err:
            entry["status"] = 400
            entry["error"] = err
            sim.add_log(entry)
            return self._send(400, (err + "\n").encode())

        tabs, _ = sim.tables()
        tab = tabs[entity]
        n = len(tab.rows)
        lo = bisect.bisect_left(tab.cnls, since) if since is not None else 0
        hi = bisect.bisect_left(tab.cnls, until) if until is not None else n
        if hi < lo:
            hi = lo
        total = hi - lo
        start = lo
        if cursor is not None:
            try:
                start = max(lo, bisect.bisect_right(tab.sortkeys, cursor))
            except TypeError:
                entry["status"] = 400
                sim.add_log(entry)
                return self._send(400, b"bad parameter cursor\n")
        end = min(hi, start + limit)
        rows = tab.rows[start:end] if start < end else []
        nxt = sim.enc_cursor(page + 1, rows[-1][0], rows[-1][1]) if end < hi and rows else None
        kind = fault["kind"] if fault else None
        entry["rows"] = len(rows)
        entry["rows_before"] = start - lo
        entry["next_cursor"] = nxt is not None
        entry["total"] = total

        # body
        cols = sim.cols[entity]
        if kind == "endless":
            return self._endless(entity, fault, rows, cols, entry)
        if kind == "drop_column":
            cols = [c for c in cols if c.lower() != fault["column"].lower()]
        eol = "\n" if kind == "lf_only" else "\r\n"
        plain_only = sim.plain
        lines = [",".join(cols) + eol]
        bad = None
        if kind in ("bad_row", "unterminated_quote", "set_value"):
            bad = self._bad_row(entity, fault, rows, tab, cols, eol, start - lo)
            entry["detail"] = bad[2]
        extra = bad is not None and fault.get("extra") and bad[2].get("applied")
        if extra:
            entry["rows"] += 1
        for j, (_cnl, _key, row) in enumerate(rows):
            if bad is not None and j == bad[0]:
                lines.append(bad[1])
                if not extra:
                    continue
            lines.append(",".join([q(gen.render(row.get(c), plain_only)) for c in cols]) + eol)
        if bad is not None and bad[0] >= len(rows):
            lines.append(bad[1])
        body = "".join(lines).encode("utf-8")
        if bad is not None and BAD_UTF8_MARK.encode() in body:
            mark = b"\x00" if fault.get("variant") == "nul" else b"\xc3\x28"
            body = body.replace(BAD_UTF8_MARK.encode(), mark)
        if kind == "bom":
            body = b"\xef\xbb\xbf" + body

        headers = []
        if nxt is not None:
            headers.append(("X-Next-Cursor", nxt))
        if not a.no_total_count:
            tc = total + (int(fault.get("delta", 1)) if kind == "total_count_lie" else 0)
            headers.append(("X-Total-Count", str(tc)))
        ctype = "text/csv; charset=utf-8"
        ae = (self.headers.get("Accept-Encoding") or "").lower()
        want_gzip = a.always_gzip or ("gzip" in ae and not a.never_gzip)
        if kind == "gzip_no_encoding":
            body = gz(body)
            ctype = "application/gzip"
        elif kind == "truncated_gzip":
            body = gz(body)
            cut = max(10, min(len(body) - 9, len(body) * 6 // 10))
            body = body[:cut]
            headers.append(("Content-Encoding", "gzip"))
        elif want_gzip:
            body = gz(body)
            headers.append(("Content-Encoding", "gzip"))
        entry["status"] = 200
        entry["bytes"] = len(body)

        brk = fault.get("break") if fault else None
        if kind in BREAKS or brk:
            kind = brk or kind
            frac = float(fault.get("fraction", 0.5))
            part = max(1, min(len(body) - 1, int(len(body) * frac)))
            self.send_response(200)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            for k, v in headers:
                self.send_header(k, v)
            self.end_headers()
            entry["detail"] = dict(entry["detail"] or {}, sent=part, of=len(body))
            sim.add_log(entry)
            self.close_connection = True
            try:
                self.wfile.write(body[:part])
                if kind == "reset":
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                               struct.pack("ii", 1, 0))
                    self.connection.close()
                elif kind == "short_body":
                    self.connection.shutdown(socket.SHUT_WR)
                else:
                    time.sleep(float(fault.get("seconds", 30)))
                    self.wfile.write(body[part:])
            except OSError:
                pass
            return
        sim.add_log(entry)
        self._send(200, body, ctype, headers)
        if kind == "mutate_between_pages":
            entry["detail"] = sim.mutate(entity, tab, lo, end, hi, int(fault.get("rows", 3)))

    # OAuth2 ----------------------------------------------------------------------
    def _bearer_ok(self, entity, entry):
        """A page of a source behind the gateway wants a token the token
        endpoint issued and that has not expired (an expire_token fault
        revokes every token first: one that expires mid-run)."""
        sim = self.sim
        with sim.lock:
            key = "auth:" + entity
            sim.counts[key] = sim.counts.get(key, 0) + 1
            fi, fault = sim.match_fault(entity, sim.counts[key], sim.counts[key], None,
                                        kinds=("expire_token",))
            if fault is not None:
                sim.tokens.clear()
                entry["fault"] = "expire_token"
                entry["fault_index"] = fi
            parts = (self.headers.get("Authorization") or "").split(None, 1)
            token = parts[1].strip() if len(parts) == 2 and parts[0].lower() == "bearer" else None
            expires = sim.tokens.get(token)
        if expires is None or time.time() >= expires:
            entry["status"] = 401
            entry["auth_error"] = "expired" if expires is not None else \
                ("unknown token" if token else "no token")
            return False
        return True

    def _token_answer(self, code, obj, entry, headers=()):
        entry["status"] = code
        if code != 200:
            entry["error"] = obj.get("error")
        if not entry.get("stalled"):  # a stalled request is in the log already
            self.sim.add_log(entry)
        self._send(code, json.dumps(obj).encode(), "application/json;charset=UTF-8",
                   headers=[("Cache-Control", "no-store")] + list(headers))

    def _token(self, u):
        """POST .../token: the client-credentials grant of RFC 6749 §4.4,
        client authentication by HTTP Basic (each half form-decoded, §2.3.1)
        or in the body; errors as §5.2 says."""
        sim = self.sim
        a = sim.a
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        entry = {"t": round(time.time(), 3), "path": u.path, "query": "", "entity": "token",
                 "page": None, "status": None, "fault": None, "detail": None,
                 "user_agent": self.headers.get("User-Agent"),
                 "content_type": self.headers.get("Content-Type"), "client_auth": None}
        with sim.lock:
            sim.counts["token"] = sim.counts.get("token", 0) + 1
            fi, fault = sim.match_fault("token", sim.counts["token"], None, None)
        if fault is not None:
            entry["fault"] = fault["kind"]
            entry["fault_index"] = fi
            if fault["kind"] == "status":
                code = fault["code"]
                body = fault.get("body")
                entry["status"] = code
                sim.add_log(entry)
                # a fresh connection for the next try: curl itself tries a
                # reused one again once, which would hide the next fault
                self.close_connection = True
                if body is None:
                    return self._send(code, json.dumps({"error": "server_error"}).encode(),
                                      "application/json")
                return self._send(code, body.encode(), "text/plain; charset=utf-8")
            if fault["kind"] == "reset":
                entry["status"] = 0
                sim.add_log(entry)
                self.close_connection = True
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                           struct.pack("ii", 1, 0))
                self.connection.close()
                return
            # stall: a slow gateway, in the log at once (the client may not wait)
            entry["stalled"] = float(fault.get("seconds", 30))
            sim.add_log(entry)
            time.sleep(entry["stalled"])
        form = parse_qs(raw.decode("utf-8", "replace"), keep_blank_values=True)
        entry["grant_type"] = form.get("grant_type", [None])[0]
        entry["scope"] = form.get("scope", [None])[0]
        basic = None
        h = self.headers.get("Authorization") or ""
        if h[:6].lower() == "basic ":
            try:
                ident, _, secret = base64.b64decode(h[6:].strip(), validate=True) \
                    .decode("utf-8").partition(":")
                basic = (unquote_plus(ident), unquote_plus(secret))
            except Exception:
                return self._token_answer(400, {"error": "invalid_request",
                                                "error_description": "bad Basic header"}, entry)
        in_body = ("client_id" in form or "client_secret" in form)
        if basic and in_body:
            return self._token_answer(400, {"error": "invalid_request", "error_description":
                                            "client authenticated twice"}, entry)
        entry["client_auth"] = "basic" if basic else "body" if in_body else None
        if entry["grant_type"] != "client_credentials":
            return self._token_answer(400, {"error": "unsupported_grant_type"}, entry)
        ident, secret = basic or (form.get("client_id", [None])[0],
                                  form.get("client_secret", [None])[0])
        wrong = (ident != a.oauth_client_id or secret != a.oauth_client_secret
                 or (a.oauth_client_auth != "any" and entry["client_auth"] != a.oauth_client_auth))
        if wrong:
            return self._token_answer(401, {"error": "invalid_client", "error_description":
                                            "Client Authentication failed."}, entry,
                                      [("WWW-Authenticate", 'Basic realm="lgsp"')])
        token = "at-" + os.urandom(16).hex()
        with sim.lock:
            sim.tokens[token] = time.time() + a.oauth_lifetime
            sim.issued.append(token)
        answer = {"access_token": token, "token_type": a.oauth_token_type,
                  "expires_in": a.oauth_lifetime, "scope": entry["scope"] or "default"}
        return self._token_answer(200, answer, entry)

    def _endless(self, entity, fault, rows, cols, entry):
        """A page that never ends (until the client hangs up, or `seconds`):
        its rows, then a quoted field that never closes (`runaway`, the
        default) or the same rows again and again."""
        lines = [",".join(cols) + "\r\n"]
        for _cnl, _key, row in rows:
            lines.append(",".join(q(gen.render(row.get(c), self.sim.plain)) for c in cols)
                         + "\r\n")
        head = "".join(lines).encode("utf-8")
        runaway = fault.get("runaway", True)
        more = b"x" * 65536 if runaway else "".join(lines[1:]).encode("utf-8") or b"\r\n"
        entry["status"] = 200
        entry["detail"] = {"runaway": runaway}
        self.sim.add_log(entry)
        self.send_response(200)
        self.send_header("Content-Type", "text/csv; charset=utf-8")
        self.send_header("Content-Length", str(10 ** 13))
        self.end_headers()
        self.close_connection = True
        end = time.time() + float(fault.get("seconds", 60))
        try:
            self.wfile.write(head + (b'X,"' if runaway else b""))
            while time.time() < end:
                self.wfile.write(more)
        except OSError:
            pass

    def _bad_row(self, entity, fault, rows, tab, cols, eol, before):
        """-> (index in page, rendered line, detail)."""
        kind = fault["kind"]
        reason = fault.get("reason") if kind == "bad_row" else kind
        variant = fault.get("variant", "unclosed")
        if rows:
            if kind == "unterminated_quote" and variant == "unclosed":
                idx = len(rows) - 1
            else:
                idx = int(fault["row"]) - 1 if "row" in fault else len(rows) // 2
                idx = max(0, min(idx, len(rows) - 1))
            src = rows
        else:
            idx = 0
            src = tab.rows[:1] if tab.rows else []
        if not src:
            return (0, "", {"applied": False, "why": "no row of this entity exists"})
        # bad_order needs a row with the dates
        if reason == "bad_order":
            need = "NgayTiepNhan" if entity == "hoso" else "NgayBoSung"
            order = sorted(range(len(src)), key=lambda j: abs(j - idx))
            for j in order:
                if src[j][2].get(need) is not None:
                    idx = j
                    break
        cnl, key, row = src[idx]
        vals = {c: gen.render(row.get(c), self.sim.plain) for c in cols}
        if kind == "bad_row" and fault.get("extra"):
            # a row of its own, before the chosen one: a key no other row has
            kcol = EXTRA_KEY_COL[entity]
            vals[kcol] = "%s-%s" % (vals[kcol], fault.get("key_suffix", "LOI"))
            key = tuple(vals[kcol] if c == kcol else k
                        for c, k in zip(gen.KEYS[entity], key))
        detail = {"applied": True, "reason": reason, "key": list(key),
                  "row_in_page": idx + 1, "row_number": before + idx + 1}
        if kind == "bad_row" and fault.get("extra"):
            detail["extra"] = True
        if kind == "unterminated_quote" and variant != "unclosed":
            col = fault.get("column", UNTERM_COL[entity])
            bad = ('"Du dieu kien" chuyen lanh dao' if variant == "text_after_quote"
                   else 'Du "dieu" kien')
            line = ",".join(bad if c == col else q(vals[c]) for c in cols) + eol
            detail["column"] = col
            return (idx, line, detail)
        if kind == "unterminated_quote":
            col = fault.get("column", UNTERM_COL[entity])
            i = cols.index(col)
            parts = [q(vals[c]) for c in cols[:i]]
            tail = [vals[c].replace('"', "") for c in cols[i:]]
            tail[0] = '"' + (tail[0] or "giá trị") + " (thiếu dấu nháy đóng)"
            line = ",".join(parts + tail) + eol
            detail["column"] = col
            return (idx, line, detail)
        if reason == "field_count":
            detail["column"] = None
            shift = fault.get("shift")
            if shift in ("right", "left"):
                # an exporter that did not quote: a comma inside a value
                # shifts the rest right; a value left out shifts it left
                col = fault.get("column", cols[len(cols) // 2])
                out = []
                for c in cols:
                    v = q(vals[c])
                    if c == col and shift == "right":
                        v = (vals[c] or "x").replace(",", " ") + ", phần sau dấu phẩy"
                    elif c == col:
                        continue
                    out.append(v)
                return (idx, ",".join(out) + eol, detail)
            line = ",".join(q(vals[c]) for c in cols) + ",thừa một trường" + eol
            return (idx, line, detail)
        m = BAD_MAP.get(reason, {}).get(entity)
        if "column" in fault:
            m = (fault["column"], fault.get("value"))
        if m is None:
            return (idx, ",".join(q(vals[c]) for c in cols) + eol,
                    {"applied": False, "reason": reason,
                     "why": "no column of %s can carry %s" % (entity, reason)})
        col, val = m
        if "value" in fault:
            val = fault["value"]
        if val is None:
            if reason == "bad_number":
                val = "%s.5" % vals[col]
            elif reason == "bad_utf8":
                v = vals[col] or "x"
                val = v[: len(v) // 2] + BAD_UTF8_MARK + v[len(v) // 2:]
            elif reason == "too_long":
                val = (vals[col] + " ") + "Nội dung quá dài " * 260
            elif reason == "bad_order":
                base = row.get("NgayTiepNhan" if entity == "hoso" else "NgayBoSung").t
                val = gen.plain((base // gen.DAY - 2) * gen.DAY + 17 * 3600)
        vals[col] = val
        detail["column"] = col
        detail["value"] = val if len(val) < 200 and BAD_UTF8_MARK not in val else None
        line = ",".join(q(vals[c]) for c in cols) + eol
        return (idx, line, detail)


def main(argv=None):
    ap = argparse.ArgumentParser(description="one-stop export API simulator")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--year", type=int, default=2021)
    ap.add_argument("--dossiers", type=int, default=3000)
    ap.add_argument("--units", type=int, default=None)
    ap.add_argument("--procedures", type=int, default=None)
    ap.add_argument("--reorg", action="store_true",
                    help="the sample's reorganisation (gen.reorg_lineage) takes effect")
    ap.add_argument("--token", default=None)
    ap.add_argument("--oauth-client-id", default=None,
                    help="serve POST .../token (client credentials) and demand its tokens")
    ap.add_argument("--oauth-client-secret", default=None)
    ap.add_argument("--oauth-client-auth", default="any", choices=("any", "basic", "body"))
    ap.add_argument("--oauth-lifetime", type=int, default=3600,
                    help="expires_in of a token, in real seconds")
    ap.add_argument("--oauth-token-type", default="Bearer")
    ap.add_argument("--now", default=None, help="simulated clock, yyyyMMddHHmmss")
    ap.add_argument("--max-limit", type=int, default=10000)
    ap.add_argument("--no-total-count", action="store_true")
    ap.add_argument("--always-gzip", action="store_true")
    ap.add_argument("--never-gzip", action="store_true",
                    help="plain bodies even when the client asks for gzip")
    ap.add_argument("--plain-timestamps", action="store_true")
    ap.add_argument("--expected-dir", default=None)
    ap.add_argument("--faults", default=None, help="JSON file with an initial fault plan")
    a = ap.parse_args(argv)
    t0 = time.time()
    sim = Sim(a)
    if a.faults:
        with open(a.faults, encoding="utf-8") as f:
            plan = json.load(f)
        sim.set_faults(plan.get("faults", []) if isinstance(plan, dict) else plan)
    if a.expected_dir:
        sim.write_expected(a.expected_dir)
    Handler.sim = sim
    ThreadingHTTPServer.daemon_threads = True
    ThreadingHTTPServer.allow_reuse_address = True
    if ":" in a.host:
        ThreadingHTTPServer.address_family = socket.AF_INET6
    srv = ThreadingHTTPServer((a.host, a.port), Handler)
    port = srv.server_address[1]
    if a.port_file:
        tmp = a.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % port)
        os.replace(tmp, a.port_file)
    sys.stderr.write("onestop-sim: listening on http://%s:%d (now %s, %d dossiers, ready in %.2fs)\n"
                     % (a.host, port, gen.plain(sim.now), a.dossiers, time.time() - t0))
    sys.stderr.flush()

    def on_term(*_):
        raise SystemExit(0)
    signal.signal(signal.SIGTERM, on_term)
    try:
        srv.serve_forever(poll_interval=0.2)
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        srv.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
