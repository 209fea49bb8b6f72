#!/usr/bin/env python3
"""Thirty nights of chaos (issue 8): the warehouse an administrator gets
after a month of things breaking equals one clean load of the final state.

  python3 tests/chaos/chaos.py [--nights 30] [--seed 8] [--dossiers 20000]
                               [--binary build/onestop-etl] [--keep]

The simulator's data evolves night by night (its clock advances one day a
night: new dossiers, steps and supplements, status changes, catalogue level
changes, a unit renamed, late corrections of old dossiers).  Every night the
job runs (`run`, as cron does) with faults drawn from a seeded list:

  http_5xx            a burst of 500/502/503/504 (sometimes longer than the
                      retries: the run fails)
  retry_after         429 or 503 with Retry-After
  reset               the connection reset mid-body
  stall               the server stops sending mid-body (longer than timeout)
  truncated_gzip      a gzip stream that ends early
  bad_row             a malformed row (every reason of source-api.md)
  unterminated_quote  a quoted field that never closes (once: the page comes
                      again; twice running: the run fails)
  sigkill             SIGKILL of onestop-etl at a random moment
  pg_restart          PostgreSQL restarted (immediate or fast) mid-load
  concurrent_run      a second `run`, `run --no-wait` or `rerun --failed`
                      started while the first runs

then, when the night failed, `rerun --failed` as an administrator would
(with the faults cleared; sometimes first while the source is still down;
some nights nobody comes and the next night's run makes good).  Each night:
no run left `running`, as many rows as the simulator serves, and after a
night where nothing committed, dw and mart exactly as before it.  At the end:

  - warehouse_dump of dw and mart equals that of one clean `run --full` of
    the final state into a fresh database (harness.DUMP_EXCLUDED_COLUMNS);
  - the warehouse holds exactly what the simulator serves; counts add up;
  - every row of etl.reject is a row the simulator made bad on purpose: its
    key, entity, reason, column and row number are those of a `detail` of
    the simulator's request log.

Why the dumps can be equal although rows were rejected: a bad_row fault here
uses the simulator's `extra` option, which serves the bad row *in addition*
to the page's rows, under a key of its own (MaHoSo/MaDonVi/MaTTHC suffixed
`-LOInnk`, nn the night).  The good rows all arrive, the bad one is rejected
in that night's run, and the clean comparison load never sees it.  Replacing
a good row by a bad one instead would make that key differ for good whenever
its source row is not updated again (a nightly run asks only for changes),
which is the source's data loss to fix, not the pipeline's.

Every fault kind is injected at least twice in 30 nights (a fault that did
not take effect, e.g. a kill after the process had already exited, is drawn
again the next night).  Exit status 0 when everything holds; the figures are
printed either way.  The short version (tests/integration/test_chaos_short.py)
runs a fixed plan of a few nights with the sanitizer build.
"""
import argparse
import collections
import os
import random
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
import harness  # noqa: E402
from common import ENTITIES, assert_counts_add_up, assert_same_as_served  # noqa: E402

HTTP_KINDS = ("http_5xx", "retry_after", "reset", "stall", "truncated_gzip", "bad_row",
              "unterminated_quote")
PROC_KINDS = ("sigkill", "pg_restart", "concurrent_run")
KINDS = HTTP_KINDS + PROC_KINDS

# bad_row reasons the simulator can apply to each entity (source-api.md)
BAD_REASONS = {
    "donvi": ("field_count", "missing_field", "bad_timestamp", "bad_code", "bad_utf8",
              "too_long"),
    "thutuc": ("field_count", "missing_field", "bad_timestamp", "bad_code", "bad_number",
               "bad_utf8", "too_long"),
    "hoso": ("field_count", "missing_field", "bad_timestamp", "bad_code", "bad_utf8",
             "too_long", "bad_order"),
    "bosung": ("field_count", "missing_field", "bad_timestamp", "bad_number", "bad_utf8",
               "too_long", "bad_order"),
    "quatrinh": ("field_count", "missing_field", "bad_timestamp", "bad_code", "bad_number",
                 "bad_utf8", "too_long"),
}
# entities with several pages a night (page_size 50): faults on request 1 or 2
MANY_PAGES = ("hoso", "quatrinh")
SANITIZER = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")
DAY = 86400
REL_TABLES = {"donvi": "dw.unit", "thutuc": "dw.procedure_version", "hoso": "dw.dossier",
              "bosung": "dw.supplement", "quatrinh": "dw.log_step"}


class ChaosFailure(AssertionError):
    pass


def suffix_of(q):
    """The key suffix (LOInnk) of the bad row a log entry describes."""
    key = q["detail"]["key"]
    return str(key[1] if q["entity"] == "thutuc" else key[0]).rsplit("-", 1)[1]


def plain_add(ts, seconds):
    import calendar
    t = calendar.timegm(time.strptime(ts, "%Y%m%d%H%M%S")) + seconds
    return time.strftime("%Y%m%d%H%M%S", time.gmtime(t))


class Fault:
    """One fault of a night: its kind and, for HTTP faults, the simulator's
    plan entries (several for a burst of unterminated quotes)."""

    def __init__(self, kind, specs=(), **info):
        self.kind = kind
        self.specs = list(specs)
        self.info = info
        self.fired = False

    def __repr__(self):
        extra = ",".join(f"{k}={v}" for k, v in sorted(self.info.items()))
        return f"{self.kind}({extra})" if extra else self.kind


def draw_http(rng, kind, night, index, taken=(), pages=2):
    """A fault of `kind` for the simulator, on a request that exists every
    night (request 1 of a small entity, 1 or 2 of a big one), of an entity
    no other fault of the night has (the simulator applies one fault per
    request)."""
    entity = rng.choice([e for e in ENTITIES if e not in taken] or ENTITIES)
    req = rng.randint(1, pages) if entity in MANY_PAGES else 1
    base = {"entity": entity, "request": req}
    if kind == "http_5xx":
        times = rng.choice((1, 2, 3, 4, 5, 8))     # retries = 4: 5 or 8 fail the run
        code = rng.choice((500, 502, 503, 504))
        return Fault(kind, [dict(base, kind="status", code=code, times=times)],
                     entity=entity, code=code, times=times)
    if kind == "retry_after":
        code = rng.choice((429, 503))
        times = rng.choice((1, 2))
        return Fault(kind, [dict(base, kind="status", code=code, retry_after=1,
                                 times=times)], entity=entity, code=code, times=times)
    if kind == "reset":
        return Fault(kind, [dict(base, kind="reset", fraction=round(rng.uniform(0.1, 0.9), 2),
                                 times=rng.choice((1, 1, 2)))], entity=entity)
    if kind == "stall":
        return Fault(kind, [dict(base, kind="stall", seconds=3,
                                 fraction=round(rng.uniform(0.1, 0.9), 2))], entity=entity)
    if kind == "truncated_gzip":
        return Fault(kind, [dict(base, kind="truncated_gzip", times=rng.choice((1, 1, 2)))],
                     entity=entity)
    if kind == "bad_row":
        reason = rng.choice(BAD_REASONS[entity])
        spec = dict(base, kind="bad_row", reason=reason, extra=True,
                    key_suffix=f"LOI{night:02d}{index}", row=rng.randint(1, 50))
        if reason == "bad_utf8" and rng.random() < 0.3:
            spec["variant"] = "nul"
        return Fault(kind, [spec], entity=entity, reason=reason)
    if kind == "unterminated_quote":
        twice = rng.random() < 0.3                 # the page fails twice: the run fails
        return Fault(kind, [dict(base, kind="unterminated_quote", times=2 if twice else 1)],
                     entity=entity, twice=twice)
    raise ValueError(kind)


def draw_plan(seed, nights):
    """Per night: a list of Faults.  Each kind comes up at least three times
    (the deck), the rest at random; 0 to 2 HTTP faults and at most one
    process fault a night."""
    rng = random.Random(seed)
    n_http = [rng.choices((0, 1, 2), weights=(10, 40, 50))[0] for _ in range(nights)]
    http_deck = list(HTTP_KINDS) * 3
    while len(http_deck) < sum(n_http):
        http_deck.append(rng.choice(HTTP_KINDS))
    rng.shuffle(http_deck)
    proc_nights = sorted(rng.sample(range(nights), min(nights, max(len(PROC_KINDS) * 3,
                                                                    nights // 2))))
    proc_deck = list(PROC_KINDS) * 3
    while len(proc_deck) < len(proc_nights):
        proc_deck.append(rng.choice(PROC_KINDS))
    rng.shuffle(proc_deck)
    plan = []
    for n in range(nights):
        kinds = [http_deck.pop() for _ in range(n_http[n]) if http_deck]
        if n in proc_nights:
            kinds.append(proc_deck.pop())
        plan.append(kinds)
    return plan


class Chaos:
    def __init__(self, cluster, db, ref_db, workdir, binary, seed=8, dossiers=20000,
                 procedures=600, start="20210610013000", out=print, sim_seed=None):
        self.cluster = cluster
        self.db = db
        self.ref_db = ref_db
        self.dir = workdir
        self.binary = binary
        self.seed = seed
        self.start = start
        self.out = out
        self.counts = collections.Counter()        # faults that took effect
        self.missed = collections.Counter()
        self.details = []                          # (night, log entry) of bad rows served
        self.clean_nights_bad = set()              # suffixes served in nights without failure
        self.logs = []
        self.reruns = 0
        self.untouched = 0                          # nights checked unchanged after failing
        self.proc_n = 0
        self.cluster.psql(db, f"ALTER DATABASE {db} SET synchronous_commit = on")
        self.sim = harness.Simulator(seed=sim_seed or seed, dossiers=dossiers,
                                     procedures=procedures, now=start)
        keys = {"page_size": 50, "timeout": 1, "retries": 4, "retry_delay": 0.05,
                "deadline": 300}
        self.conf = harness.write_config(os.path.join(workdir, "chaos.conf"),
                                         cluster.dsn(db), [("sim", self.sim.url, keys)])
        self.first_conf = harness.write_config(
            os.path.join(workdir, "first.conf"), cluster.dsn(db),
            [("sim", self.sim.url, dict(keys, page_size=1000))])
        self.ref_conf = harness.write_config(
            os.path.join(workdir, "ref.conf"), cluster.dsn(ref_db),
            [("sim", self.sim.url, dict(keys, page_size=1000))])

    # ------------------------------------------------------------ processes

    def _log_path(self, what):
        self.proc_n += 1
        return os.path.join(self.dir, f"{self.proc_n:03d}-{what}.log")

    def start_etl(self, *args, conf=None):
        p = harness.start_etl(conf or self.conf, *args, binary=self.binary,
                              log_path=self._log_path(args[0]))
        p.args_ = args
        self.logs.append(p.log_path)
        return p

    def etl(self, *args, conf=None, timeout=600):
        p = self.start_etl(*args, conf=conf)
        try:
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            raise ChaosFailure(f"{' '.join(args)} did not finish in {timeout}s:\n"
                               + p.output()[-3000:])
        self.check_output(p)
        return p

    def check_output(self, p):
        out = p.output()
        for s in SANITIZER:
            if s in out:
                raise ChaosFailure(f"{' '.join(p.args_)}: sanitizer report:\n{out[-4000:]}")

    # ------------------------------------------------------------- the sim

    def sim_log(self, since):
        return [q for q in self.sim.control(f"log?since={since}")["requests"]]

    def sim_seq(self):
        return self.sim.control("state")["requests"]

    def set_plan(self, faults):
        specs, owners = [], []
        for f in faults:
            for s in f.specs:
                specs.append(s)
                owners.append(f)
        self.sim.control("faults", {"faults": specs})
        return owners

    def attribute(self, night, owners, since):
        """Which faults of the plan fired (the simulator's log)."""
        for q in self.sim_log(since):
            i = q.get("fault_index")
            if q.get("fault") is None or i is None or i >= len(owners):
                continue
            f = owners[i]
            if f.kind == "bad_row" and not (q.get("detail") or {}).get("applied"):
                continue
            f.fired = True
            if f.kind == "bad_row":
                self.details.append((night, q))

    # ------------------------------------------------------ process faults

    def wait_moment(self, proc, since, how):
        """Block until the moment chosen for a process fault; False when the
        run ended first."""
        if how[0] == "request":
            want = how[1]

            def reached():
                return sum(1 for q in self.sim_log(since) if q["entity"] in ENTITIES) >= want
        else:
            def reached():
                return any(q["entity"] == "quatrinh" and q["status"] == 200
                           and not q.get("next_cursor") for q in self.sim_log(since))
        deadline = time.time() + 120
        while proc.poll() is None and not reached():
            if time.time() > deadline:
                raise ChaosFailure("the run made no progress in 120 s:\n" + proc.output()[-3000:])
            time.sleep(0.01)
        time.sleep(how[2])
        return proc.poll() is None

    @staticmethod
    def draw_moment(rng):
        """During extraction (after the k-th request), or late (after the
        last page: staging, merge, derive, commit)."""
        if rng.random() < 0.5:
            return ("request", rng.randint(1, 5), rng.uniform(0, 0.05))
        return ("late", None, rng.uniform(0, 0.25))

    # --------------------------------------------------------------- nights

    def first_load(self):
        p = self.etl("run", conf=self.first_conf)
        if p.returncode:
            raise ChaosFailure("the first load failed:\n" + p.output()[-3000:])

    def night(self, n, faults, admin_away=False):
        # a generator of its own per night and use: what happens one night
        # does not change what is drawn the next
        rng = random.Random(f"moments:{self.seed}:{n}")
        admin = random.Random(f"admin:{self.seed}:{n}")
        clock = plain_add(self.start, n * DAY)
        self.sim.control("clock", {"now": clock})
        http = [f for f in faults if f.kind in HTTP_KINDS]
        procf = [f for f in faults if f.kind in PROC_KINDS]
        since = self.sim_seq()
        owners = self.set_plan(http)
        before = harness.warehouse_dump(self.cluster, self.db)
        last_run = self.cluster.psql(self.db, "SELECT coalesce(max(run_id), 0)"
                                              " FROM etl.run").strip()
        main = self.start_etl("run")
        others = []
        for f in procf:
            how = self.draw_moment(rng)
            if f.kind == "sigkill":
                f.info["at"] = how[0]
                if self.wait_moment(main, since, how):
                    main.send_signal(signal.SIGKILL)
                    f.fired = True
            elif f.kind == "pg_restart":
                mode = rng.choice(("immediate", "fast"))
                f.info.update(at=how[0], mode=mode)
                if self.wait_moment(main, since, how):
                    f.fired = True
                    self.cluster.restart(mode=mode)
            else:
                cmd = rng.choice((("run",), ("run", "--no-wait"), ("rerun", "--failed")))
                f.info["second"] = " ".join(cmd)
                time.sleep(rng.uniform(0, 0.2))
                if main.poll() is None:
                    others.append(self.start_etl(*cmd))
                    f.fired = True
        codes = []
        for p in [main] + others:
            try:
                p.wait(300)
            except subprocess.TimeoutExpired:
                p.kill()
                raise ChaosFailure(f"night {n}: {' '.join(p.args_)} hangs:\n"
                                   + p.output()[-3000:])
            self.check_output(p)
            codes.append(p.returncode)
        restarted = any(f.fired for f in procf if f.kind == "pg_restart")
        for p, c in zip([main] + others, codes):
            allowed = {0, 1} | ({3} if restarted else set())
            if p is main and any(f.fired for f in procf if f.kind == "sigkill"):
                allowed.add(-signal.SIGKILL)
            if p is not main:
                allowed.add(4)
            if c not in allowed:
                raise ChaosFailure(f"night {n}: {' '.join(p.args_)} exited {c}:\n"
                                   + p.output()[-3000:])
        self.attribute(n, owners, since)
        failed = any(c not in (0, 4) for c in codes)
        succeeded = self.cluster.psql(self.db, "SELECT count(*) FROM etl.run WHERE status ="
                                               f" 'succeeded' AND run_id > {last_run}").strip()
        if succeeded == "0":
            # nothing of the night committed: the warehouse is as it was
            diff = harness.dump_diff(before, harness.warehouse_dump(self.cluster, self.db))
            if diff:
                raise ChaosFailure(f"night {n}: no run succeeded, yet the warehouse changed"
                                   f" (- before, + after):\n{diff[:6000]}")
            self.untouched += 1
        if not failed:
            self.clean_nights_bad |= {suffix_of(q) for night, q in self.details if night == n}
        # the administrator, in the morning
        reruns = []
        if failed and not admin_away:
            since = self.sim_seq()
            if admin.random() < 0.25:           # the source is still down
                self.sim.control("faults", {"faults": [
                    {"entity": "*", "kind": "status", "code": 503, "times": 10 ** 6}]})
                p = self.etl("rerun", "--failed")
                reruns.append(p.returncode)
                if p.returncode != 1 and not (p.returncode == 0 and "nothing to rerun"
                                              in p.output()):
                    raise ChaosFailure(f"night {n}: rerun --failed during an outage exited"
                                       f" {p.returncode}:\n" + p.output()[-3000:])
            self.sim.control("faults", {"faults": []})
            for _attempt in range(4):
                p = self.etl("rerun", "--failed")
                reruns.append(p.returncode)
                if p.returncode == 0:
                    break
            else:
                raise ChaosFailure(f"night {n}: rerun --failed keeps failing:\n"
                                   + p.output()[-3000:])
            self.reruns += len(reruns)
        self.sim.control("faults", {"faults": []})
        for f in faults:
            if f.fired:
                self.counts[f.kind] += 1
            else:
                self.missed[f.kind] += 1
        if not admin_away or not failed:
            self.check_night(n)
        line = (f"night {n:2d} {clock[:8]}  run exit {','.join(map(str, codes)):8s}"
                f" reruns {','.join(map(str, reruns)) or '-':6s}"
                f"{' (nobody came)' if admin_away and failed else ''}  "
                + ", ".join(("" if f.fired else "missed ") + repr(f) for f in faults))
        self.out(line)
        self.sim.control("log/clear", {})
        return [f for f in faults if not f.fired]

    def check_night(self, n):
        """After the night (and the reruns): no run left running, the
        warehouse holds as many rows as the simulator serves."""
        running = self.cluster.psql(self.db, "SELECT count(*) FROM etl.run"
                                             " WHERE status = 'running'").strip()
        if running != "0":
            raise ChaosFailure(f"night {n}: {running} runs left 'running'")
        served = self.sim.control("state")["counts"]
        got = {e: int(self.cluster.psql(self.db, f"SELECT count(*) FROM {t}").strip())
               for e, t in REL_TABLES.items()}
        if got != served:
            raise ChaosFailure(f"night {n}: warehouse rows {got} != served {served}")

    # ---------------------------------------------------------------- end

    def finish(self):
        p = self.etl("rerun", "--failed")
        if p.returncode != 0 or "nothing to rerun" not in p.output():
            raise ChaosFailure("rerun --failed after the last night:\n" + p.output()[-3000:])
        ref = self.etl("run", "--full", conf=self.ref_conf)
        if ref.returncode:
            raise ChaosFailure("the clean run --full failed:\n" + ref.output()[-3000:])
        got = harness.warehouse_dump(self.cluster, self.db)
        want = harness.warehouse_dump(self.cluster, self.ref_db)
        rows = sum(v.count("\n") for v in want.values())
        rels = len(want)
        diff = harness.dump_diff(want, got, limit=20)
        self.out(f"rows compared: {rows} in {rels} relations of dw and mart"
                 + (" -- DIFFERENT" if diff else " -- identical"))
        if diff:
            raise ChaosFailure("the warehouse after the chaos differs from a clean"
                               " run --full (- clean, + chaos):\n" + diff[:8000])
        ctx = type("Ctx", (), {})()
        ctx.cluster, ctx.db = self.cluster, self.db
        ctx.rows = lambda q: [line.split("\t") for line in
                              self.cluster.psql(self.db, q).splitlines()]
        assert_same_as_served(ctx, self.sim)
        assert_counts_add_up(ctx)
        self.check_rejects()
        return rows

    def check_rejects(self):
        """Every reject is a bad row served on purpose (matched by the key
        suffix of its fault, then entity, row number, reason and column);
        every bad row served in a night without failures is in etl.reject."""
        served = {suffix_of(q): q for _night, q in self.details}
        rows = self.cluster.psql(self.db, "SELECT run_id, entity, row_number, reason,"
                                          " coalesce(column_name, ''), raw FROM etl.reject"
                                          " ORDER BY run_id, entity, row_number")
        found = collections.Counter()
        for line in rows.splitlines():
            run_id, entity, row_number, reason, column, raw = line.split("\t", 5)
            match = [k for k in served if "-" + k in raw]
            if len(match) != 1:
                raise ChaosFailure(f"a reject the simulator did not make on purpose: run {run_id}"
                                   f" {entity} row {row_number} {reason} {column}: {raw[:300]}")
            q = served[match[0]]
            d = q["detail"]
            want_col = "" if d["reason"] == "field_count" else d["column"]
            got = (entity, int(row_number), reason, column)
            want = (q["entity"], d["row_number"], d["reason"], want_col)
            if got != want:
                raise ChaosFailure(f"reject of run {run_id} {got} != the bad row served {want}")
            found[match[0]] += 1
        twice = [k for k, c in found.items() if c > 1]
        if twice:
            raise ChaosFailure(f"bad rows rejected more than once: {twice}")
        lost = sorted(self.clean_nights_bad - set(found))
        if lost:
            raise ChaosFailure(f"bad rows served in nights without failure, not in etl.reject:"
                               f" {[served[k]['detail'] for k in lost]}")
        self.rejects = sum(found.values())
        self.out(f"rejects: {self.rejects} rows in etl.reject, every one a bad row served on"
                 f" purpose ({len(served)} bad rows served, {len(self.clean_nights_bad)} of them"
                 f" in nights without failure)")

    def stop(self):
        self.sim.stop()


def run_chaos(cluster, db, ref_db, workdir, binary, nights=30, seed=8, dossiers=20000,
              procedures=600, plan=None, require_each=2, out=print, p_away=0.3, overtime=3):
    """Drive `nights` nights; plan: per night a list of kinds (default: drawn
    from the seed).  Returns the summary; raises ChaosFailure."""
    t0 = time.time()
    chaos = Chaos(cluster, db, ref_db, workdir, binary, seed=seed, dossiers=dossiers,
                  procedures=procedures, out=out)
    try:
        out(f"chaos: seed {seed}, {nights} nights, {dossiers} dossiers, binary {binary}")
        before = {e: chaos.sim.control(f"expected?entity={e}")["rows"] for e in ENTITIES}
        chaos.first_load()
        kinds = plan if plan is not None else draw_plan(seed, nights)
        carry = []
        n = 0
        # nights past the plan only to inject what did not take effect
        while n < nights or (carry and n < nights + overtime):
            n += 1
            wanted = list(kinds[n - 1]) if n - 1 < len(kinds) else []
            for k in carry:                       # what did not take effect: again
                if k in PROC_KINDS and any(x in PROC_KINDS for x in wanted):
                    continue
                wanted.append(k)
            carry = [k for k in carry if k not in wanted]
            faults = []
            for i, k in enumerate(wanted):
                if k in HTTP_KINDS:
                    taken = {f.info["entity"] for f in faults if "entity" in f.info}
                    if len(taken) == len(ENTITIES):
                        carry.append(k)               # no entity left tonight
                        continue
                    rng = random.Random(f"http:{seed}:{n}:{i}")
                    # hoso and quatrinh take several pages a night in a big province
                    faults.append(draw_http(rng, k, n, i, taken,
                                            pages=2 if dossiers >= 10000 else 1))
                else:
                    faults.append(Fault(k))
            away = random.Random(f"away:{seed}:{n}").random() < p_away and n < nights - 1
            carry += [f.kind for f in chaos.night(n, faults, admin_away=away)]
        evolution = describe_evolution(before, chaos.sim)
        out("data evolution over the nights: " + evolution)
        rows = chaos.finish()
        short = {k: chaos.counts[k] for k in KINDS if chaos.counts[k] < require_each}
        out("faults injected by kind: " + ", ".join(f"{k} {chaos.counts[k]}" for k in KINDS)
            + f" (total {sum(chaos.counts.values())}; drawn but without effect:"
            f" {sum(chaos.missed.values())}); reruns {chaos.reruns}; nights where nothing"
            f" committed and the warehouse was checked unchanged: {chaos.untouched}")
        out(f"nights run: {n}; took {time.time() - t0:.0f}s")
        if short:
            raise ChaosFailure(f"fault kinds injected fewer than {require_each} times: {short}")
        return {"nights": n, "faults": dict(chaos.counts), "rows": rows,
                "rejects": chaos.rejects, "reruns": chaos.reruns}
    finally:
        chaos.stop()


def describe_evolution(before, sim):
    after = {e: sim.control(f"expected?entity={e}")["rows"] for e in ENTITIES}
    keys = {"donvi": 1, "thutuc": 3, "hoso": 1, "bosung": 2, "quatrinh": 2}

    def index(rows, e):
        return {tuple(r[:keys[e]]) if e != "thutuc" else (r[0], r[1], r[-1]): r for r in rows}
    parts = []
    b, a = index(before["hoso"], "hoso"), index(after["hoso"], "hoso")
    new = len(set(a) - set(b))
    changed = [k for k in a if k in b and a[k] != b[k]]
    late = [k for k in changed if b[k][4] == a[k][4] and b[k][4] in ("9", "10")]
    parts.append(f"{new} new dossiers, {len(changed)} dossiers changed"
                 f" ({len(late)} late corrections of finished ones)")
    for e, what in (("bosung", "supplement rows"), ("quatrinh", "log steps")):
        b, a = index(before[e], e), index(after[e], e)
        parts.append(f"{len(set(a) - set(b))} new and"
                     f" {sum(1 for k in a if k in b and a[k] != b[k])} changed {what}")
    b, a = index(before["thutuc"], "thutuc"), index(after["thutuc"], "thutuc")
    old_level = {(o[0], o[1]): o[5] for o in sorted(before["thutuc"], key=lambda o: o[-1])}
    levels = sum(1 for k in set(a) - set(b) if old_level.get(k[:2], a[k][5]) != a[k][5])
    parts.append(f"{len(set(a) - set(b))} new catalogue versions ({levels} level changes)")
    b, a = index(before["donvi"], "donvi"), index(after["donvi"], "donvi")
    parts.append(f"{sum(1 for k in a if k in b and a[k] != b[k])} units renamed")
    return "; ".join(parts)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--nights", type=int, default=30)
    ap.add_argument("--seed", type=int, default=8)
    ap.add_argument("--dossiers", type=int, default=20000)
    ap.add_argument("--binary", default=os.path.join(ROOT, "build", "onestop-etl"))
    ap.add_argument("--keep", action="store_true", help="keep the cluster and the logs")
    a = ap.parse_args()
    cluster = harness.PgCluster(keep=a.keep).start()
    workdir = tempfile.mkdtemp(prefix="onestop-chaos-")
    try:
        for db in ("chaos", "chaos_ref"):
            cluster.createdb(db)
            conf = harness.write_config(os.path.join(workdir, db + ".conf"), cluster.dsn(db),
                                        [("x", "http://127.0.0.1:1", {})])
            r = harness.run_etl(conf, "migrate", binary=a.binary)
            if r.returncode:
                raise ChaosFailure("migrate failed: " + r.stderr)
        run_chaos(cluster, "chaos", "chaos_ref", workdir, a.binary, nights=a.nights,
                  seed=a.seed, dossiers=a.dossiers)
        print("chaos: PASS")
        return 0
    except ChaosFailure as e:
        print(f"chaos: FAIL: {e}\n(logs of every command in {workdir})")
        return 1
    finally:
        if a.keep:
            print(f"cluster kept in {cluster.base} (port {cluster.port}); logs in {workdir}")
        else:
            cluster.stop()


if __name__ == "__main__":
    sys.exit(main())
