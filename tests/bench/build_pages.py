#!/usr/bin/env python3
"""Pre-built gzip CSV pages of a province-year, for the benchmark (issue 7).

    python3 tests/bench/build_pages.py [--dossiers 1000000] [--out DIR] ...

The simulator renders every page on request in Python: fine for tests, far
too slow to feed a load of millions of rows.  This writes the same data
(tests/sim/gen.py: same seed, columns, column order, values and clock) once,
as the pages a source would serve, so that tests/bench/page_server.py only
has to send files.

Two page sets per entity, each ordered by (CapNhatLuc, key) like the source
contract, every page with its header:

  full   what the simulator would serve without updated_since at its
         default clock (15 January of year+1): the visible rows of every
         key (thutuc: every catalogue version).
  night  the next day's export with updated_since = watermark - lookback:
         --night dossiers (received in the last two months of the year)
         touched during that day, with their whole processing log sent
         again plus one new step; open dossiers in processing are
         finished.  Plus the rows of the full set within `lookback`
         seconds of its last CapNhatLuc, which a real source serves again.

Streaming and both cores: dossiers are generated in chunks by a process
pool (each dossier is a function of (seed, index)); each chunk's rows are
rendered and dropped into time buckets of a few days of CapNhatLuc; then
each bucket is sorted on its own and, its first row's place in the entity
being known from the bucket counts, writes the pages it holds whole and
leaves the rows of the pages it shares with a neighbour as fragments,
joined last.  Every page but the last holds exactly --page-size rows.
Memory is one chunk, or one bucket, per process.

Every page is a gzip stream whose header line is followed by a deflate full
flush: the server can serve the page without its header (for the floor's
single COPY) by splicing the bytes after the flush point, with no
recompression.  manifest.json records, per page, the file, row count, that
offset and the body's CRC-32 and length.

The cache is reused when manifest.json names the same parameters and the
same gen.py; otherwise it is rebuilt.
"""

import argparse
import hashlib
import inspect
import json
import multiprocessing
import os
import pickle
import shutil
import struct
import sys
import time
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "sim"))
import gen  # noqa: E402
from onestop_sim import q  # noqa: E402  (the simulator's CSV quoting)

FORMAT = 4                     # bump when what this file writes changes
BUCKET = 3 * gen.DAY           # width of a sort bucket, seconds of CapNhatLuc
CHUNK = 5000                   # dossiers per generation task
DOSSIER_ENTITIES = ("hoso", "bosung", "quatrinh")
GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"


def columns(seed, entity):
    """The simulator's column order (onestop_sim.Sim.__init__)."""
    import random
    cols = gen.csv_columns(entity)
    random.Random("cols:%d:%s" % (seed, entity)).shuffle(cols)
    return cols


_DAYS = {}


def render(v):
    """gen.render, with the portal's form (three timestamps in four) made
    cheap: the date part is cached per day.  Same output, byte for byte."""
    if type(v) is gen.TS and v.s == gen.ST_PORTAL:
        day, sec = divmod(v.t, gen.DAY)
        d = _DAYS.get(day)
        if d is None:
            d = _DAYS[day] = time.strftime("%Y%m%d", time.gmtime(day * gen.DAY))
        return "%s%02d%02d%02d" % (d, sec // 3600, sec // 60 % 60, sec % 60)
    return gen.render(v)


def render_line(cols, row):
    get = row.get
    return ",".join([q(render(get(c))) for c in cols]) + "\r\n"


def visible(versions, now):
    """The latest version with CapNhatLuc <= now of each key."""
    latest = {}
    for item in versions:
        if item[0] <= now:
            cur = latest.get(item[1])
            if cur is None or item[0] >= cur[0]:
                latest[item[1]] = item
    return list(latest.values())


# ------------------------------------------------------------- pages ----

def gzip_page(header, body, level):
    """A gzip stream of header + body with a full flush between the two.

    -> (bytes, offset of the body's deflate data, crc32(body), len(body))."""
    c = zlib.compressobj(level, zlib.DEFLATED, -15, 9)
    head = GZIP_HEADER + c.compress(header) + c.flush(zlib.Z_FULL_FLUSH)
    rest = c.compress(body) + c.flush(zlib.Z_FINISH)
    crc_body = zlib.crc32(body)
    crc_all = zlib.crc32(body, zlib.crc32(header))
    size = len(header) + len(body)
    data = head + rest + struct.pack("<II", crc_all, size & 0xFFFFFFFF)
    return data, len(head), crc_body, len(body)


def write_page(out, set_name, entity, name, header, rows, level):
    """One page of sorted (cnl, key, line) rows -> its descriptor."""
    d = os.path.join(out, set_name, entity)
    os.makedirs(d, exist_ok=True)
    body = "".join(r[2] for r in rows).encode("utf-8")
    data, off, crc, blen = gzip_page(header, body, level)
    with open(os.path.join(d, name + ".csv.gz"), "wb") as f:
        f.write(data)
    return {"name": name, "rows": len(rows), "bytes": len(data), "body_off": off,
            "body_crc": crc, "body_len": blen,
            "first": rows[0][0] if rows else None, "last": rows[-1][0] if rows else None}


def write_pages(out, set_name, entity, header, rows, page_size, level):
    """All the pages of a small set, in this process (at least one page)."""
    return [write_page(out, set_name, entity, "%06d" % (k // page_size), header,
                       rows[k:k + page_size], level)
            for k in range(0, max(len(rows), 1), page_size)]


# ------------------------------------------------------- the workers ----

_W = {}


def _init(params, tmp):
    w = gen.World(seed=params["seed"], year=params["year"], dossiers=0,
                  units=params["units"], procedures=params["procedures"])
    _W.update(world=w, params=params, tmp=tmp, now=w.default_now,
              cols={e: columns(params["seed"], e) for e in gen.ENTITIES},
              base=gen.mkts(params["year"] - 2, 1, 1))


def _bucket(cnl):
    return (cnl - _W["base"]) // BUCKET


def _generate(task):
    """Phase 1: dossiers [lo, hi) -> bucket files; -> summary."""
    lo, hi = task
    w, now, cols = _W["world"], _W["now"], _W["cols"]
    cand_from = gen.mkts(_W["params"]["year"], 11, 1)
    buckets = {e: {} for e in DOSSIER_ENTITIES}
    maxes = {e: 0 for e in DOSSIER_ENTITIES}
    candidates = []
    for i in range(lo, hi):
        d = gen.gen_dossier(w, i)
        for e, versions in zip(DOSSIER_ENTITIES, d):
            for cnl, key, row in visible(versions, now):
                buckets[e].setdefault(_bucket(cnl), []).append(
                    (cnl, key, render_line(cols[e], row)))
                if cnl > maxes[e]:
                    maxes[e] = cnl
                if e == "hoso":
                    tn = row.get("NgayTiepNhan")
                    if tn is not None and tn.t >= cand_from:
                        candidates.append(i)
    pid = os.getpid()
    for e, bs in buckets.items():
        for b, rows in bs.items():
            with open(os.path.join(_W["tmp"], "%s.%05d.%d" % (e, b, pid)), "ab") as f:
                pickle.dump(rows, f, protocol=pickle.HIGHEST_PROTOCOL)
    counts = {e: {b: len(rows) for b, rows in bs.items()} for e, bs in buckets.items()}
    return candidates, maxes, counts


def _load_bucket(entity, b):
    rows = []
    tmp = _W["tmp"]
    prefix = "%s.%05d." % (entity, b)
    for fn in sorted(os.listdir(tmp)):
        if fn.startswith(prefix):
            with open(os.path.join(tmp, fn), "rb") as f:
                while True:
                    try:
                        rows.extend(pickle.load(f))
                    except EOFError:
                        break
    return rows


def _paginate(task):
    """Phase 2: sort one bucket, whose first row is row `start` of the
    entity's `total`; write the pages it holds whole, and the rows of pages
    it shares with its neighbours as fragments.
    -> (entity, [page descriptors], [shared page numbers], tail rows)."""
    entity, b, start, total, tail_from, out = task
    size, level = _W["params"]["page_size"], _W["params"]["gzip_level"]
    rows = _load_bucket(entity, b)
    rows.sort(key=lambda r: (r[0], r[1]))
    header = (",".join(_W["cols"][entity]) + "\r\n").encode()
    end = start + len(rows)
    pages, shared = [], []
    for p in range(start // size, (end - 1) // size + 1):
        lo, hi = max(p * size, start), min((p + 1) * size, end)
        part = rows[lo - start:hi - start]
        if p * size >= start and min((p + 1) * size, total) <= end:
            pages.append(write_page(out, "full", entity, "%06d" % p, header, part, level))
        else:
            with open(os.path.join(_W["tmp"], "frag.%s.%06d.%05d" % (entity, p, b)), "wb") as f:
                pickle.dump(part, f, protocol=pickle.HIGHEST_PROTOCOL)
            shared.append(p)
    tail = [r for r in rows if r[0] >= tail_from]
    return entity, pages, shared, tail


def _join_fragments(task):
    """Phase 3: a page that spans buckets, from their fragments."""
    entity, p, out = task
    prefix = "frag.%s.%06d." % (entity, p)
    rows = []
    for fn in sorted(f for f in os.listdir(_W["tmp"]) if f.startswith(prefix)):
        with open(os.path.join(_W["tmp"], fn), "rb") as f:
            rows += pickle.load(f)
    header = (",".join(_W["cols"][entity]) + "\r\n").encode()
    return entity, write_page(out, "full", entity, "%06d" % p, header, rows,
                              _W["params"]["gzip_level"])


def _night_dossier(task):
    """The night's version of dossiers: -> {entity: [(cnl, key, line)]}."""
    w, now, cols = _W["world"], _W["now"], _W["cols"]
    out = {e: [] for e in DOSSIER_ENTITIES}
    for i, t in task:
        hoso, _bosung, quatrinh = gen.gen_dossier(w, i)
        (_c, key, row), = visible(hoso, now)
        row = dict(row)
        status = row["TrangThaiHoSo"]
        status = status.n if type(status) is gen.Disp else status
        if status == 4:                      # processing -> finished today
            row["TrangThaiHoSo"] = 9
            row["NgayKetThucXuLy"] = gen.TS(t)
            status = 9
        row[gen.EXTRA_COL] = "Cập nhật trong ngày"
        row["CapNhatLuc"] = gen.TS(t)
        out["hoso"].append((t, key, render_line(cols["hoso"], row)))
        steps = sorted(visible(quatrinh, now), key=lambda s: s[1][1])
        last = steps[-1][2] if steps else None
        for j, (_c, skey, srow) in enumerate(steps):
            srow = dict(srow, CapNhatLuc=gen.TS(t + 1))
            out["quatrinh"].append((t + 1, skey, render_line(cols["quatrinh"], srow)))
        seq = len(steps) + 1
        new = {"MaHoSo": key[0], "ThuTu": seq, "TrangThai": status,
               "ThoiDiemXuLy": gen.TS(t),
               "PhongBanXuLy": last["PhongBanXuLy"] if last else None,
               "NguoiXuLy": last["NguoiXuLy"] if last else None,
               "ChucDanh": last["ChucDanh"] if last else None,
               "NoiDungXuLy": "Cập nhật tiến độ xử lý hồ sơ",
               "NgayBatDau": gen.TS(t), "NgayKetThucTheoQuyDinh": None,
               "CapNhatLuc": gen.TS(t + 1), gen.EXTRA_COL: ""}
        out["quatrinh"].append((t + 1, (key[0], seq), render_line(cols["quatrinh"], new)))
    return out


# --------------------------------------------------------- the build ----

def gen_digest():
    """What the pages depend on besides FORMAT and the parameters: gen.py
    and the simulator's quoting (not the rest of the simulator)."""
    h = hashlib.sha256()
    with open(os.path.join(ROOT, "tests", "sim", "gen.py"), "rb") as fh:
        h.update(fh.read())
    h.update(inspect.getsource(q).encode())
    return h.hexdigest()[:16]


def params_of(a):
    return {"format": FORMAT, "seed": a.seed, "year": a.year, "dossiers": a.dossiers,
            "units": a.units, "procedures": a.procedures, "page_size": a.page_size,
            "night": a.night, "lookback": a.lookback, "gzip_level": a.gzip_level,
            "gen": gen_digest()}


def cached(out, params):
    try:
        with open(os.path.join(out, "manifest.json"), encoding="utf-8") as f:
            return json.load(f)["params"] == params
    except (OSError, ValueError, KeyError):
        return False


def catalogue_rows(params, now):
    """donvi and thutuc as the simulator serves them: sorted (cnl, key, line)."""
    w = gen.World(seed=params["seed"], year=params["year"], dossiers=0,
                  units=params["units"], procedures=params["procedures"])
    allv = w.versions()
    res = {}
    for e in ("donvi", "thutuc"):
        lst = [x for x in allv[e][0] if x[0] <= now]
        if e == "donvi":
            lst = visible(lst, now)
        cols = columns(params["seed"], e)
        rows = [(c, k, render_line(cols, r)) for c, k, r in lst]
        rows.sort(key=lambda r: (r[0], r[1]))
        res[e] = rows
    return res


def pick_night(candidates, n, seed):
    """n candidates, spread by a fixed hash, in index order."""
    def h(i):
        return hashlib.blake2b(b"%d:%d" % (seed, i), digest_size=8).digest()
    return sorted(sorted(set(candidates), key=h)[:n])


def build(a, out, log=print):
    params = params_of(a)
    if cached(out, params):
        log("pages: reusing %s" % out)
        return json.load(open(os.path.join(out, "manifest.json"), encoding="utf-8"))
    t0 = time.time()
    if os.path.exists(out):
        shutil.rmtree(out)
    tmp = out + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    world = gen.World(seed=a.seed, year=a.year, dossiers=0, units=a.units,
                      procedures=a.procedures)
    now = world.default_now
    cols = {e: columns(a.seed, e) for e in gen.ENTITIES}
    headers = {e: (",".join(cols[e]) + "\r\n").encode() for e in gen.ENTITIES}
    manifest = {"params": params, "now": gen.plain(now), "columns": cols,
                "sets": {"full": {}, "night": {}}}
    tasks = [(lo, min(lo + CHUNK, a.dossiers)) for lo in range(0, a.dossiers, CHUNK)]
    candidates = []
    counts = {e: {} for e in DOSSIER_ENTITIES}
    maxes = {e: 0 for e in gen.ENTITIES}
    with multiprocessing.Pool(a.jobs, _init, (params, tmp)) as pool:
        done = 0
        for cand, mx, cnt in pool.imap_unordered(_generate, tasks):
            candidates += cand
            for e in DOSSIER_ENTITIES:
                maxes[e] = max(maxes[e], mx[e])
                for b, n in cnt[e].items():
                    counts[e][b] = counts[e].get(b, 0) + n
            done += 1
            if done % 40 == 0 or done == len(tasks):
                log("pages: generated %d/%d dossiers (%.0fs)"
                    % (min(done * CHUNK, a.dossiers), a.dossiers, time.time() - t0))
        # catalogue entities: small, in this process
        cat = catalogue_rows(params, now)
        for e in ("donvi", "thutuc"):
            rows = cat[e]
            maxes[e] = rows[-1][0] if rows else 0
            manifest["sets"]["full"][e] = write_pages(
                out, "full", e, headers[e], rows, a.page_size, a.gzip_level)
        # phase 2: sort each bucket, write the pages it holds whole
        btasks = []
        for e in DOSSIER_ENTITIES:
            total, start = sum(counts[e].values()), 0
            for b in sorted(counts[e]):
                btasks.append((e, b, start, total, maxes[e] - a.lookback, out))
                start += counts[e][b]
        btasks.sort(key=lambda t: -counts[t[0]][t[1]])     # big ones first
        full = {e: [] for e in DOSSIER_ENTITIES}
        tails = {e: [] for e in gen.ENTITIES}
        shared = set()
        for e, pages, sh, tail in pool.imap_unordered(_paginate, btasks):
            full[e] += pages
            shared.update((e, p) for p in sh)
            tails[e] += tail
        # phase 3: the pages that span buckets
        for e, page in pool.imap_unordered(_join_fragments,
                                           [(e, p, out) for e, p in sorted(shared)]):
            full[e].append(page)
        log("pages: full set sorted and written (%.0fs)" % (time.time() - t0))
        for e in DOSSIER_ENTITIES:
            manifest["sets"]["full"][e] = sorted(full[e], key=lambda pg: pg["name"])
        # the night
        for e in ("donvi", "thutuc"):
            tails[e] = [r for r in cat[e] if r[0] >= maxes[e] - a.lookback]
        chosen = pick_night(candidates, a.night, a.seed)
        if len(chosen) < a.night:
            log("pages: only %d night candidates for %d" % (len(chosen), a.night))
        start = max(now, max(maxes.values()) + 1) + 7 * 3600 + 1800
        span = 9 * 3600
        timed = [(i, start + (k * span) // max(1, len(chosen))) for k, i in enumerate(chosen)]
        ntasks = [timed[k:k + 1000] for k in range(0, len(timed), 1000)]
        night = {e: [] for e in DOSSIER_ENTITIES}
        for res in pool.imap_unordered(_night_dossier, ntasks):
            for e in DOSSIER_ENTITIES:
                night[e] += res[e]
    changed = {r[1][0] for r in night["hoso"]}
    for e in gen.ENTITIES:
        rows = [r for r in tails[e] if e not in DOSSIER_ENTITIES or r[1][0] not in changed]
        rows += night.get(e, [])
        rows.sort(key=lambda r: (r[0], r[1]))
        manifest["sets"]["night"][e] = write_pages(
            out, "night", e, headers[e], rows, a.page_size, a.gzip_level)
    manifest["watermark"] = {e: gen.plain(maxes[e]) for e in gen.ENTITIES}
    manifest["night_since"] = {e: gen.plain(maxes[e] - a.lookback) for e in gen.ENTITIES}
    manifest["night_dossiers"] = len(chosen)
    manifest["build_seconds"] = round(time.time() - t0, 1)
    shutil.rmtree(tmp, ignore_errors=True)
    with open(os.path.join(out, "manifest.json.tmp"), "w", encoding="utf-8") as f:
        json.dump(manifest, f, ensure_ascii=False)
    os.replace(os.path.join(out, "manifest.json.tmp"), os.path.join(out, "manifest.json"))
    for s in ("full", "night"):
        log("pages: %s: %s" % (s, ", ".join(
            "%s %d rows/%d pages" % (e, sum(p["rows"] for p in ps), len(ps))
            for e, ps in manifest["sets"][s].items())))
    log("pages: built %s in %.0fs" % (out, time.time() - t0))
    return manifest


def add_args(ap):
    ap.add_argument("--dossiers", type=int, default=1000000)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--year", type=int, default=2021)
    ap.add_argument("--units", type=int, default=200)
    ap.add_argument("--procedures", type=int, default=3000)
    ap.add_argument("--page-size", type=int, default=10000)
    ap.add_argument("--night", type=int, default=None,
                    help="dossiers changed in the night (default 2%% of --dossiers)")
    ap.add_argument("--lookback", type=int, default=3600)
    ap.add_argument("--gzip-level", type=int, default=6)
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 2)


def default_out(a):
    return os.path.join(ROOT, "build", "bench", "pages", "d%d-s%d-p%d" % (
        a.dossiers, a.seed, a.page_size))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_args(ap)
    ap.add_argument("--out", default=None)
    a = ap.parse_args(argv)
    if a.night is None:
        a.night = a.dossiers // 50
    build(a, a.out or default_out(a))
    return 0


if __name__ == "__main__":
    sys.exit(main())
