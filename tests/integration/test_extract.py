"""Extraction against a source that misbehaves: one test per fault of
source-api.md ("Errors", "Rows that are wrong", "Personal data"), each
against the simulator and a real PostgreSQL.

After a run that succeeds the warehouse holds what the simulator served
(less the rows made bad on purpose, which are in etl.reject with the
right reason, column and row number) and every count adds up; after a
run that fails the warehouse is as it was, etl.run says why, and the
rejects are kept.  A page fetched again counts once: rows_read equals
what the simulator served in the responses the client accepted.

Most tests share one small simulator (reset before each) and use short
timeouts, so that the file runs in about a minute.
"""
import csv
import io
import json
import os
import subprocess
import sys
import time
import urllib.request
from collections import Counter

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from common import (ENTITIES, assert_counts_add_up, assert_same_as_served,  # noqa: E402
                    ok, warehouse_rows)

# Short waits everywhere: the faults are the point, not the clock.
FAST = {"page_size": 40, "retry_delay": 0.05, "timeout": 1, "retries": 3}
KEYS = {"donvi": 1, "thutuc": 2, "hoso": 1, "bosung": 2, "quatrinh": 2}
KEY_COLUMN = {"donvi": "MaDonVi", "thutuc": "MaDonVi", "hoso": "MaHoSo", "bosung": "MaHoSo",
              "quatrinh": "MaHoSo"}
PERSONAL = ("ChuHoSo", "SoGiayToChuHoSo", "SoDienThoai", "Email", "DiaChi", "NgaySinh")
TOKEN = "tok-RIGHT-4be1c07d"
WRONG_TOKEN = "tok-WRONG-77c2e9a1f0"

_sims = {}


def shared_sim(**opts):
    """A simulator for several tests: started once, reset before each."""
    opts.setdefault("seed", 31)
    opts.setdefault("dossiers", 150)
    key = json.dumps(opts, sort_keys=True)
    sim = _sims.get(key)
    if sim is None or sim.proc.poll() is not None:
        sim = _sims[key] = harness.Simulator(**opts)
    sim.control("reset", {})
    return sim


def faults(sim, *plan):
    sim.control("faults", {"faults": list(plan)})


def config(ctx, sim, keys=None, extra="", url=None):
    k = dict(FAST)
    k.update(keys or {})
    return ctx.config([("sim", url or sim.url, k)], extra=extra)


def run(ctx, sim, *args, keys=None, extra="", env=None):
    conf = config(ctx, sim, keys, extra)
    return ctx.etl(conf, *(args or ("run",)), env=env, timeout=300)


def requests(sim, entity=None):
    log = sim.control("log")["requests"]
    return [q for q in log if entity is None or q["entity"] == entity]


def served_counts(sim):
    """Rows per entity in the responses the client kept: the last 200 of
    each page (an attempt that broke is fetched again, later)."""
    last = {}
    for q in requests(sim):
        if q["status"] == 200 and q["entity"] in ENTITIES:
            last[(q["entity"], q["page"])] = q["rows"] or 0
    out = Counter()
    for (entity, _page), rows in last.items():
        out[entity] += rows
    return out


def header(sim, entity):
    """The simulator's column order for entity (call before faults)."""
    with urllib.request.urlopen(f"{sim.url}/{entity}?limit=1", timeout=30) as r:
        first = r.read().decode("utf-8-sig").split("\r\n", 1)[0]
    return first.split(",")


def error_of_run(ctx):
    return ctx.sql("SELECT error FROM etl.run ORDER BY run_id DESC LIMIT 1").strip()


# What the rules (calendar, profiles) fill in before any source is read.
RULE_TABLES = ("dw.calendar", "dw.profile_criterion", "dw.state", "dw.unit_lineage",
               "dw.lineage_state")


def dw_row_count(ctx):
    """Rows of source data in the warehouse and its marts."""
    tables = [t for t in ctx.rows("SELECT table_schema || '.' || table_name"
                                  " FROM information_schema.tables"
                                  " WHERE table_schema IN ('dw', 'mart')"
                                  " AND table_type = 'BASE TABLE'")
              if t[0] not in RULE_TABLES]
    assert len(tables) > 5, f"no warehouse tables? {tables}"
    union = " UNION ALL ".join(f"SELECT count(*) FROM {t[0]}" for t in tables)
    return int(ctx.sql(f"SELECT sum(count) FROM ({union}) s").strip())


def assert_loaded(ctx, sim, r):
    """A succeeded run: everything served is loaded, counted once."""
    ok(r)
    assert ctx.sql("SELECT string_agg(status, ',') FROM etl.run").strip() == "succeeded"
    assert_same_as_served(ctx, sim)
    assert_counts_add_up(ctx)
    assert_read_once(ctx, sim)


def assert_read_once(ctx, sim):
    served = served_counts(sim)
    read = {e: int(n) for e, n in ctx.rows(
        "SELECT entity, rows_read FROM etl.run_entity"
        " WHERE run_id = (SELECT max(run_id) FROM etl.run)")}
    assert read == dict(served), f"rows read {read} != rows served {dict(served)}"


def assert_failed(ctx, r, *needles):
    """A failed run: exit 1, etl.run failed with the error, warehouse as it was."""
    assert r.returncode == 1, f"exit {r.returncode}, want 1:\n{r.stderr[-3000:]}"
    status = ctx.sql("SELECT status FROM etl.run ORDER BY run_id DESC LIMIT 1").strip()
    assert status == "failed", status
    err = error_of_run(ctx)
    for n in needles:
        assert n in err, f"{n!r} not in etl.run.error: {err!r}"
        assert n in r.stderr, f"{n!r} not in stderr: {r.stderr[-2000:]}"
    assert dw_row_count(ctx) == 0, "a failed run changed the warehouse"
    assert ctx.sql("SELECT count(*) FROM etl.watermark").strip() == "0"
    return err


def assert_served_except(ctx, sim, rejected):
    """The warehouse holds what was served less the rejected rows, whose
    keys are rejected[entity] (lists of key values)."""
    for entity in ENTITIES:
        want = Counter(tuple(str(x) for x in row)
                       for row in sim.control(f"expected?entity={entity}")["rows"])
        got = Counter(tuple(row) for row in warehouse_rows(ctx, entity))
        extra = got - want
        assert not extra, f"{entity}: loaded rows never served: {list(extra)[:3]}"
        missing = sorted(row[:KEYS[entity]] for row in (want - got).elements())
        keys = sorted(tuple(str(k) for k in key) for key in rejected.get(entity, []))
        assert missing == keys, f"{entity}: missing {missing}, rejected {keys}"


# ------------------------------------------------------------ status codes


def test_503_with_retry_after_is_honoured(ctx):
    sim = shared_sim()
    faults(sim, {"entity": "hoso", "kind": "status", "code": 503, "retry_after": 1})
    r = run(ctx, sim)
    assert_loaded(ctx, sim, r)
    hoso = requests(sim, "hoso")
    assert [q["status"] for q in hoso[:2]] == [503, 200], hoso[:2]
    assert hoso[1]["t"] - hoso[0]["t"] >= 0.9, "Retry-After: 1 was not waited for"
    assert "retry 1 of 3" in r.stderr


def test_429_with_retry_after_is_honoured(ctx):
    sim = shared_sim()
    faults(sim, {"entity": "thutuc", "kind": "status", "code": 429, "retry_after": 1,
                 "request": 2, "times": 2})
    r = run(ctx, sim)
    assert_loaded(ctx, sim, r)
    thutuc = requests(sim, "thutuc")
    assert [q["status"] for q in thutuc[:4]] == [200, 429, 429, 200], thutuc[:4]
    assert thutuc[2]["t"] - thutuc[1]["t"] >= 0.9 and thutuc[3]["t"] - thutuc[2]["t"] >= 0.9


def test_transient_status_bursts_are_retried(ctx):
    sim = shared_sim()
    # a burst of each transient code, without Retry-After
    faults(sim,
           {"entity": "donvi", "kind": "status", "code": 500, "times": 3},
           {"entity": "thutuc", "kind": "status", "code": 502, "request": 2, "times": 2},
           {"entity": "hoso", "kind": "status", "code": 503, "request": 3, "times": 3},
           {"entity": "bosung", "kind": "status", "code": 504},
           {"entity": "quatrinh", "kind": "status", "code": 408, "request": 5, "times": 2})
    r = run(ctx, sim)
    assert_loaded(ctx, sim, r)
    failed = Counter(q["status"] for q in requests(sim) if q["status"] != 200)
    assert failed == {500: 3, 502: 2, 503: 3, 504: 1, 408: 2}, failed


def test_transient_status_without_end_fails_the_run(ctx):
    sim = shared_sim()
    faults(sim, {"entity": "hoso", "kind": "status", "code": 503, "request": 2, "times": 100})
    r = run(ctx, sim)
    assert_failed(ctx, r, "HTTP 503", "simulated 503", "page 2", "gave up after 4 attempts")
    assert len(requests(sim, "hoso")) == 1 + 4


def test_401_fails_at_once_without_showing_the_token(ctx):
    sim = shared_sim(token=TOKEN)
    conf = config(ctx, sim, {"token_env": "ONESTOP_TEST_TOKEN"})
    r = ctx.etl(conf, "-v", "run", env={"ONESTOP_TEST_TOKEN": WRONG_TOKEN}, timeout=120)
    err = assert_failed(ctx, r, "source 'sim'", "HTTP 401", "refused the token")
    assert WRONG_TOKEN not in r.stderr and WRONG_TOKEN not in err
    assert TOKEN not in r.stderr
    assert ctx.sql("SELECT count(*) FROM etl.run WHERE error LIKE '%tok-%'").strip() == "0"
    # no retry, and no other entity tried: the token will not get better
    assert [(q["entity"], q["status"]) for q in requests(sim)] == [("donvi", 401)]
    # the right token works
    r = ctx.etl(conf, "run", env={"ONESTOP_TEST_TOKEN": TOKEN}, timeout=120)
    ok(r)
    assert TOKEN not in r.stderr


def test_403_without_a_token_says_so(ctx):
    sim = shared_sim()
    faults(sim, {"entity": "donvi", "kind": "status", "code": 403, "times": 10})
    r = run(ctx, sim)
    assert_failed(ctx, r, "source 'sim'", "HTTP 403", "no token configured")
    assert len(requests(sim)) == 1


def test_400_fails_with_the_servers_text(ctx):
    sim = shared_sim()
    # a parameter the server does not know, in the configured url
    r = ctx.etl(config(ctx, sim, url=sim.url + "/api/?format=csv"), "run", timeout=120)
    assert_failed(ctx, r, "HTTP 400", "bad parameter format: unknown parameter", "/api/donvi")
    assert "format=csv" not in error_of_run(ctx).split("HTTP 400")[0], \
        "the query string of the url is not part of the message"
    assert len(requests(sim)) == 1


def test_404_fails_with_the_servers_text(ctx):
    sim = shared_sim()
    faults(sim, {"entity": "bosung", "kind": "status", "code": 404, "times": 10})
    r = run(ctx, sim)
    assert_failed(ctx, r, "HTTP 404", "simulated 404", "/bosung")
    assert len(requests(sim, "bosung")) == 1


# ------------------------------------------------------- broken transfers


def broken_transfer(ctx, kind, **more):
    sim = shared_sim()
    faults(sim, dict({"entity": "hoso", "kind": kind, "page": 2, "times": 1}, **more),
           dict({"entity": "quatrinh", "kind": kind, "page": 5, "times": 2}, **more))
    r = run(ctx, sim)
    assert_loaded(ctx, sim, r)
    hits = [q for q in requests(sim) if q["fault"] == kind]
    assert len(hits) == 3, hits
    assert "fetching page 2 again" in r.stderr or "retry 1 of 3" in r.stderr
    return sim, r


def test_reset_mid_body_is_fetched_again(ctx):
    broken_transfer(ctx, "reset", fraction=0.6)


def test_short_body_is_fetched_again(ctx):
    broken_transfer(ctx, "short_body", fraction=0.7)


def test_short_plain_body_is_fetched_again(ctx):
    sim = shared_sim(never_gzip=True)
    faults(sim, {"entity": "thutuc", "kind": "short_body", "page": 3, "times": 1,
                 "fraction": 0.5})
    r = run(ctx, sim)
    assert_loaded(ctx, sim, r)
    assert "retry 1 of 3" in r.stderr


def test_truncated_gzip_is_fetched_again(ctx):
    sim, r = broken_transfer(ctx, "truncated_gzip")
    assert "gzip stream ends early" in r.stderr


def test_stall_is_detected_and_fetched_again(ctx):
    sim = shared_sim()
    faults(sim, {"entity": "hoso", "kind": "stall", "page": 2, "times": 1, "seconds": 8})
    t0 = time.time()
    r = run(ctx, sim)
    assert_loaded(ctx, sim, r)
    assert "stalled" in r.stderr
    hoso = [q for q in requests(sim, "hoso") if q["page"] == 2]
    assert len(hoso) == 2 and hoso[1]["t"] - hoso[0]["t"] < 3.5, hoso
    assert time.time() - t0 < 8 + 20


# --------------------------------------------------------- odd but valid


def test_a_thousand_pages_of_one_row(ctx):
    sim = shared_sim()
    r = run(ctx, sim, keys={"page_size": 1})
    assert_loaded(ctx, sim, r)
    assert len(requests(sim)) == sum(served_counts(sim).values()) > 1000


def test_gzip_without_content_encoding(ctx):
    sim = shared_sim()
    faults(sim, {"entity": "*", "kind": "gzip_no_encoding", "times": 100000})
    r = run(ctx, sim)
    assert_loaded(ctx, sim, r)
    assert all(q["fault"] == "gzip_no_encoding" for q in requests(sim))


def test_bom_and_lf_only_pages(ctx):
    sim = shared_sim()
    faults(sim, {"entity": "donvi", "kind": "bom", "times": 1000},
           {"entity": "hoso", "kind": "bom", "times": 1000},
           {"entity": "thutuc", "kind": "lf_only", "times": 1000},
           {"entity": "quatrinh", "kind": "lf_only", "times": 1000},
           {"entity": "bosung", "kind": "empty_body", "request": 1})
    r = run(ctx, sim)
    ok(r)
    # bosung's only page was empty: no rows is what the contract says
    assert ctx.sql("SELECT count(*) FROM dw.supplement").strip() == "0"
    assert_counts_add_up(ctx)
    assert_read_once(ctx, sim)
    for entity in ("donvi", "thutuc", "hoso", "quatrinh"):
        want = [[str(x) for x in row] for row in sim.control(f"expected?entity={entity}")["rows"]]
        assert warehouse_rows(ctx, entity) == want, entity


# ------------------------------------------------------- malformed pages


def test_unterminated_quote_once_is_fetched_again(ctx):
    sim = shared_sim()
    faults(sim, {"entity": "hoso", "kind": "unterminated_quote", "page": 2, "times": 1})
    r = run(ctx, sim)
    assert_loaded(ctx, sim, r)
    assert "never closes its quote" in r.stderr
    assert ctx.sql("SELECT count(*) FROM etl.reject").strip() == "0"


def test_unterminated_quote_every_time_fails_the_run(ctx):
    sim = shared_sim()
    faults(sim, {"entity": "donvi", "kind": "bad_row", "reason": "bad_code", "page": 1,
                 "row": 2},
           {"entity": "hoso", "kind": "unterminated_quote", "page": 2})
    r = run(ctx, sim)
    assert_failed(ctx, r, "source 'sim'", "/hoso", "page 2 malformed twice",
                  "record 40 never closes its quote (the page ends at line 42)")
    assert len([q for q in requests(sim, "hoso") if q["page"] == 2]) == 2
    # the rejects of the failed run stay, for the administrator to see
    rej = ctx.rows("SELECT entity, row_number, reason FROM etl.reject")
    assert rej == [["donvi", "2", "bad_code"]], rej


def test_missing_required_column_fails_naming_it(ctx):
    sim = shared_sim()
    faults(sim, {"entity": "hoso", "kind": "drop_column", "column": "NgayHenTra",
                 "times": 100})
    r = run(ctx, sim)
    assert_failed(ctx, r, "hoso", "missing required column 'NgayHenTra'")
    assert len(requests(sim, "hoso")) == 1, "a missing column is not worth a retry"


def test_runaway_quote_on_an_endless_page_is_cut_short(ctx):
    sim = shared_sim()
    # page 2 of hoso never ends, and from its last row on it is one field
    faults(sim, {"entity": "hoso", "kind": "endless", "page": 2})
    t0 = time.time()
    r = run(ctx, sim)
    assert_failed(ctx, r, "/hoso", "page 2 malformed twice", "a field runs over 64 MiB",
                  "a quote that never closes?")
    assert time.time() - t0 < 30, "the transfer went on after the page was judged"
    assert len([q for q in requests(sim, "hoso") if q["page"] == 2]) == 2


def test_gigantic_field_is_a_too_long_reject_not_a_failure(ctx):
    """A 2.6 MB value is one too_long reject, the page and the run go on
    (issue 14, defect 4: it used to fail the page at the 1 MiB record cap)."""
    sim = shared_sim()
    faults(sim, {"entity": "donvi", "kind": "bad_row", "reason": "too_long", "page": 1,
                 "row": 2, "value": "Tên rất dài " * 200000})
    r = run(ctx, sim)
    ok(r)
    rej = ctx.rows("SELECT entity, row_number, reason, column_name, length(raw) < 10000"
                   " FROM etl.reject")
    assert rej == [["donvi", "2", "too_long", "TenDonVi", "t"]], rej
    assert_counts_add_up(ctx)


def test_endless_page_is_stopped_by_the_deadline(ctx):
    sim = shared_sim()
    faults(sim, {"entity": "thutuc", "kind": "endless", "runaway": False})
    t0 = time.time()
    r = run(ctx, sim, keys={"deadline": 3})
    assert time.time() - t0 < 30
    assert_failed(ctx, r, "/thutuc", "deadline")


def test_malformed_file_says_where(ctx):
    sim = shared_sim()
    faults(sim, {"entity": "hoso", "kind": "unterminated_quote", "page": 1})
    with urllib.request.urlopen(f"{sim.url}/hoso?limit=30", timeout=30) as resp:
        page = resp.read()
    path = os.path.join(ctx.dir, "hoso.csv")
    with open(path, "wb") as f:
        f.write(page)
    r = ctx.etl(config(ctx, sim), "load-file", "--source", "sim", "--entity", "hoso", path,
                timeout=120)
    assert_failed(ctx, r, "hoso.csv' is malformed",
                  "record 30 never closes its quote (the page ends at line 32)")


# --------------------------------------------------------------- bad rows

# Every reason on every entity where the contract lets it happen.
BAD_ROWS = {
    "donvi": ["field_count", "missing_field", "bad_timestamp", "bad_code", "bad_utf8",
              "too_long"],
    "thutuc": ["field_count", "missing_field", "bad_timestamp", "bad_code", "bad_number",
               "bad_utf8", "too_long"],
    "hoso": ["field_count", "missing_field", "bad_timestamp", "bad_code", "bad_utf8",
             "bad_utf8/nul", "too_long", "bad_order"],
    "bosung": ["field_count", "missing_field", "bad_timestamp", "bad_number", "bad_utf8",
               "too_long", "bad_order"],
    "quatrinh": ["field_count", "missing_field", "bad_timestamp", "bad_code", "bad_number",
                 "bad_utf8", "too_long"],
}


def json_rows(ctx, query):
    """Rows of query as dicts: safe for values with tabs and newlines."""
    return json.loads(ctx.sql(f"SELECT coalesce(json_agg(t), '[]') FROM ({query}) t"))


def check_rejects(ctx, cols, details):
    """Each bad row served is in etl.reject: key, reason, column, row
    number; its raw row masks the personal fields."""
    got = json_rows(ctx, "SELECT * FROM etl.reject")
    assert len(got) == len(details), f"{len(got)} rejects stored, {len(details)} served"
    by_place = {(g["entity"], g["row_number"]): g for g in got}
    for entity, d in details:
        g = by_place.get((entity, d["row_number"]))
        assert g, f"no reject for {entity} row {d['row_number']}: {d}"
        want_col = None if d["reason"] == "field_count" else d["column"]
        assert (g["reason"], g["column_name"], g["source"]) == (d["reason"], want_col, "sim"), \
            (g, d)
        raw = g["raw"]
        fields = next(csv.reader(io.StringIO(raw, newline="")))
        header = cols[entity]
        if d["reason"] == "field_count":
            # no field can be trusted to sit under its column: all masked
            assert set(fields) == {"***"}, f"{entity}: field_count reject shown: {raw[:300]}"
            continue
        assert fields[header.index(KEY_COLUMN[entity])] == str(d["key"][0]), (raw[:300], d)
        for i, name in enumerate(header):
            if name in PERSONAL:
                assert fields[i] == "***", f"{entity}: {name} not masked in {raw[:300]}"
        for i in range(len(header), len(fields)):
            assert fields[i] == "***", f"{entity}: a field beyond the header shown: {raw[:300]}"
        if d["reason"] == "bad_utf8":
            assert "\\x00" in raw or "\\xc3(" in raw, raw[:300]


def test_bad_row_of_each_reason_is_rejected(ctx):
    sim = shared_sim()
    cols = {e: header(sim, e) for e in ENTITIES}
    sim.control("log/clear", {})
    plan = []
    for entity, reasons in BAD_ROWS.items():
        for page, reason in enumerate(reasons, 1):
            reason, _, variant = reason.partition("/")
            f = {"entity": entity, "kind": "bad_row", "reason": reason, "page": page,
                 "times": 1}
            if variant:
                f["variant"] = variant
            plan.append(f)
    faults(sim, *plan)
    r = run(ctx, sim, keys={"page_size": 2})
    ok(r)
    details = [(q["entity"], q["detail"]) for q in requests(sim) if q["fault"] == "bad_row"]
    assert all(d["applied"] for _e, d in details), details
    assert len(details) == sum(len(v) for v in BAD_ROWS.values()), \
        Counter(e for e, _d in details)
    check_rejects(ctx, cols, details)
    rejected = {}
    for entity, d in details:
        rejected.setdefault(entity, []).append(d["key"])
    assert_served_except(ctx, sim, rejected)
    assert_counts_add_up(ctx)
    assert_read_once(ctx, sim)
    per_entity = dict(ctx.rows("SELECT entity, rows_rejected FROM etl.run_entity"))
    assert per_entity == {e: str(len(v)) for e, v in BAD_ROWS.items()}, per_entity


def test_bad_row_in_a_broken_attempt_counts_once(ctx):
    sim = shared_sim()
    # page 3 of hoso: a bad row streamed, then the connection drops; the
    # page comes again, bad row and all
    bad = {"entity": "hoso", "kind": "bad_row", "reason": "bad_code", "page": 3, "row": 2,
           "times": 1}
    faults(sim, dict(bad, **{"break": "reset", "fraction": 0.9}),
           dict(bad, **{"break": "short_body", "fraction": 0.95}), bad)
    r = run(ctx, sim)
    ok(r)
    hits = [q for q in requests(sim, "hoso") if q["page"] == 3]
    assert len(hits) == 3, hits
    row_number = hits[-1]["detail"]["row_number"]
    assert row_number == 2 * FAST["page_size"] + 2
    rej = ctx.rows("SELECT entity, row_number, reason, column_name FROM etl.reject")
    assert rej == [["hoso", str(row_number), "bad_code", "KenhThucHien"]], rej
    assert_served_except(ctx, sim, {"hoso": [hits[-1]["detail"]["key"]]})
    assert_counts_add_up(ctx)
    assert_read_once(ctx, sim)


def test_rows_mutated_between_pages_are_not_lost(ctx):
    sim = shared_sim()
    faults(sim, {"entity": "hoso", "kind": "mutate_between_pages", "page": 1, "times": 1},
           {"entity": "quatrinh", "kind": "mutate_between_pages", "page": 3, "times": 1,
            "rows": 5})
    r = run(ctx, sim)
    assert_loaded(ctx, sim, r)
    # rows updated after they were served came again: read more than announced
    read = dict(ctx.rows("SELECT entity, rows_read - rows_loaded FROM etl.run_entity"))
    assert int(read["hoso"]) == 3 and int(read["quatrinh"]) == 5, read
    assert "rows changed while paging" in r.stderr


def test_fewer_rows_than_announced_fails(ctx):
    sim = shared_sim()
    faults(sim, {"entity": "hoso", "kind": "total_count_lie", "page": 1, "delta": 7})
    r = run(ctx, sim)
    n = sim.control("expected?entity=hoso")["count"]
    assert_failed(ctx, r, "hoso", f"announced {n + 7} rows", f"sent {n}")


def test_reject_guard_stops_a_format_change(ctx):
    sim = shared_sim()
    # one bad row in every page of bosung (2 rejects: too few to judge)
    # and of quatrinh (22 of 841: over 2%)
    faults(sim, {"entity": "bosung", "kind": "bad_row", "reason": "bad_timestamp",
                 "times": 1000},
           {"entity": "quatrinh", "kind": "bad_row", "reason": "bad_code", "times": 1000})
    r = run(ctx, sim, extra="[extract]\nmax_reject_pct = 2\nmin_rejects = 10")
    n = sim.control("expected?entity=quatrinh")["count"]
    pages = -(-n // FAST["page_size"])
    err = assert_failed(ctx, r, "quatrinh", f"{pages} of {n} rows rejected")
    assert "bosung" not in err
    kept = dict(ctx.rows("SELECT entity, count(*) FROM etl.reject GROUP BY entity"))
    assert kept == {"bosung": "1", "quatrinh": str(pages)}, kept


# ---------------------------------------------------------- personal data


def test_personal_data_is_never_stored_nor_logged(ctx):
    sim = shared_sim()
    cols = {e: header(sim, e) for e in ENTITIES}
    sim.control("log/clear", {})
    # rejected dossiers carry their applicant data in the raw row
    faults(sim, *[{"entity": "hoso", "kind": "bad_row", "reason": reason, "page": page,
                   "times": 1}
                  for page, reason in enumerate(["too_long", "field_count", "bad_code",
                                                 "bad_utf8", "missing_field"], 1)],
           {"entity": "quatrinh", "kind": "bad_row", "reason": "bad_code", "page": 1,
            "times": 1})
    r = run(ctx, sim, "-v", "run", keys={"page_size": 25},
            extra="[extract]\npersonal_columns = NguoiXuLy, ghichunoibo")
    ok(r)
    assert ctx.sql("SELECT count(*) FROM etl.reject WHERE entity = 'hoso'").strip() == "5"
    # handler names are personal here: not loaded, masked in rejects
    assert ctx.sql("SELECT count(*) FROM dw.log_step WHERE handler IS NOT NULL").strip() == "0"
    raw = ctx.sql("SELECT raw FROM etl.reject WHERE entity = 'quatrinh'").strip()
    fields = next(csv.reader(io.StringIO(raw, newline="")))
    for name in ("NguoiXuLy", "GhiChuNoiBo"):
        assert fields[cols["quatrinh"].index(name)] == "***", raw

    exp = sim.control("expected?entity=quatrinh")
    handlers = {row[exp["columns"].index("NguoiXuLy")] for row in exp["rows"]} - {""}
    samples = set()
    for values in exp["personal_samples"].values():
        samples.update(values)
    assert len(samples) > 300 and handlers
    # what the source also serves in a column that is not personal is no leak
    public = set()
    for entity in ENTITIES:
        e = sim.control(f"expected?entity={entity}")
        for row in e["rows"]:
            public.update(v for c, v in zip(e["columns"], row) if c != "NguoiXuLy")
    secrets = (samples | handlers) - public
    c = ctx.cluster
    dump = subprocess.run(["pg_dump", "--data-only", "-h", c.sock, "-p", str(c.port),
                           "-U", "postgres", ctx.db], capture_output=True, check=True).stdout
    dump = dump.decode("utf-8")
    assert "***" in dump and len(dump) > 50000
    for where, text in (("the warehouse", dump), ("the log", r.stderr)):
        found = sorted(s for s in secrets if s in text)
        assert not found, f"personal data in {where}: {found[:5]}"


# ---------------------------------------------------------- many sources


def test_one_source_failing_does_not_stop_the_others(ctx):
    sim = shared_sim()
    locked = shared_sim(token=TOKEN)
    k = dict(FAST)
    conf = ctx.config([("alpha", sim.url, k),
                       ("bravo", locked.url, dict(k, token_env="ONESTOP_TEST_TOKEN")),
                       ("charlie", sim.url + "/", k)],
                      extra="[extract]\nparallel = 2")
    env = {"ONESTOP_TEST_TOKEN": WRONG_TOKEN}
    r = ctx.etl(conf, "run", env=env, timeout=300)
    assert r.returncode == 1, r.stderr[-3000:]
    runs = dict(ctx.rows("SELECT source, status FROM etl.run"))
    assert runs == {"alpha": "succeeded", "bravo": "failed", "charlie": "succeeded"}, runs
    assert "refused the token" in ctx.sql("SELECT error FROM etl.run WHERE source = 'bravo'")
    assert WRONG_TOKEN not in r.stderr
    assert_same_as_served(ctx, sim)
    assert_counts_add_up(ctx)
    st = ctx.etl(conf, "status", env=env, timeout=60)
    failed_lines = [line for line in st.stdout.splitlines() if "failed" in line]
    assert any("bravo" in line for line in failed_lines), (st.returncode, st.stdout, st.stderr)
    assert not any("alpha" in line or "charlie" in line for line in failed_lines), st.stdout


# ------------------------------------------------------------ the deadline


def test_deadline_stops_a_stalled_source(ctx):
    sim = shared_sim()
    # a server that trickles nothing for longer than timeout allows ...
    faults(sim, {"entity": "thutuc", "kind": "stall", "page": 2, "seconds": 30})
    t0 = time.time()
    r = run(ctx, sim, keys={"timeout": 20, "deadline": 2})
    assert time.time() - t0 < 15, "the deadline did not stop the transfer"
    assert_failed(ctx, r, "deadline")
    # ... or keeps asking to come back later
    sim.control("reset", {})
    faults(sim, {"entity": "donvi", "kind": "status", "code": 503, "retry_after": 3,
                 "times": 100})
    t0 = time.time()
    r = run(ctx, sim, keys={"retries": 20, "deadline": 2})
    assert time.time() - t0 < 12
    assert_failed(ctx, r, "HTTP 503", "deadline")
    assert len(requests(sim)) == 1, "no retry can finish within the deadline"
