"""BI never waits for a writer (issue 22).

One session as onestop_bi with lock_timeout = 1s reads mart.unit_kpi,
mart.dossier and mart.form06 every 50 ms (tests/lib/bireader.py) while
each writer runs against one source: the first load into an empty
warehouse, `rescore`, `run --full`, a night, and `load-file` of export
files.  Fails on any read that errors (a lock timeout is SQLSTATE 55P03),
on any read that was seen waiting for a lock and took a second or more in
all (lock_timeout bounds each lock's wait, not the sum over a view's
partitions), and on any read whose fingerprint is neither the state before
the writer nor the state after it (a torn read); the message gives, per
writer, the slowest read and who it waited for.

Why before and after are the only states a read may see: with one source,
a writer commits mart once.  writer_begin's rules transaction comes first
in every command, and it changes mart only when it rescores (`rescore`:
then it is the writer's only transaction; the configuration's calendar,
profiles and lineage do not change here, so `run` and `load-file` do not
rescore); the source's load, merge and derivation are one transaction.
The audit connection's commits (etl.run, etl.reject) and the watermarks
are not in the fingerprints: mart.freshness, which shows the watermarks and
dw.state, is left out on purpose.
"""
import os
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "lib"))
import bireader  # noqa: E402
from common import ENTITIES  # noqa: E402

# Big enough that every writer takes a second or more with the sanitized
# binary on two cores (a reader every 50 ms slows them too), small enough
# for the whole test to stay under a minute.
DOSSIERS = 12000
FIRST = "20211101000000"        # most of the year visible
NIGHT = "20211115000000"        # two weeks of changes
FILES = "20211201000000"        # the exports carry two weeks more
MIN_READS = 3                   # reads during a writer, else it proves nothing
WAIT_MS = 1000                  # the reader's lock_timeout


def export_all(sim, folder):
    """Every entity as one export file, as the simulator serves it now."""
    os.makedirs(folder, exist_ok=True)
    for e in ENTITIES:
        with urllib.request.urlopen(f"{sim.url}/{e}?limit=1000000", timeout=120) as r:
            assert "X-Next-Cursor" not in r.headers, "one page expected"
            body = r.read()
        with open(os.path.join(folder, f"{e}-export.csv"), "wb") as f:
            f.write(body)
    return folder


class Outcome:
    def __init__(self, what, before, after, reads, t0, t1, proc):
        self.what, self.before, self.after = what, before, after
        self.reads, self.t0, self.t1, self.proc = reads, t0, t1, proc
        self.during = [r for r in reads if t0 <= r.start <= t1]
        self.errors = bireader.BiReader.errors(reads)
        self.waited = [r for r in reads if not r.error and r.blocker and r.ms >= WAIT_MS]
        self.torn = [r for r in reads if r.fingerprint is not None
                     and r.fingerprint not in (before[r.name], after[r.name])]
        self.slowest = bireader.BiReader.slowest(reads)

    def problems(self):
        out = []
        if self.proc.returncode:
            out.append(f"the writer exited {self.proc.returncode}:\n{self.proc.stderr[-2000:]}")
        if len(self.during) < MIN_READS:
            out.append(f"only {len(self.during)} reads during the writer")
        out += ["error: " + r.describe(self.t0) for r in self.errors]
        out += ["waited: " + r.describe(self.t0) for r in self.waited]
        out += [f"torn: {r.describe(self.t0)} (before {self.before[r.name]!r},"
                f" after {self.after[r.name]!r})" for r in self.torn]
        return out

    def line(self, detail=True):
        changed = [n for n in self.before if self.before[n] != self.after[n]]
        s = self.slowest
        slowest = s.describe(self.t0) if detail else f"{s.ms:.0f} ms ({s.name})"
        return (f"{self.what}: {self.t1 - self.t0:.1f} s, {len(self.reads)} reads"
                f" ({len(self.during)} during it), slowest {slowest};"
                f" {len(self.errors)} errors, {len(self.waited)} waited {WAIT_MS} ms or more,"
                f" {len(self.torn)} torn;"
                f" changed: {', '.join(changed) or 'nothing'}")


def during(ctx, what, conf, *args):
    """Run one writer between two fingerprints, with the reader reading."""
    before = bireader.fingerprints(ctx.cluster, ctx.db)
    reader = bireader.BiReader(ctx.cluster, ctx.db).start()
    try:
        t0 = time.time()
        proc = ctx.etl(conf, *args)
        t1 = time.time()
        time.sleep(0.1)             # a read or two after the writer's exit
    finally:
        reads = reader.stop()
    after = bireader.fingerprints(ctx.cluster, ctx.db)
    return Outcome(what, before, after, reads, t0, t1, proc)


def test_bi_reads_never_wait_for_a_writer(ctx):
    sim = ctx.sim(seed=22, dossiers=DOSSIERS, now=FIRST, max_limit=1000000)
    conf = ctx.config([("sim", sim.url, {"page_size": 5000, "retry_delay": 0.05})])
    outcomes = []
    first = during(ctx, "run (first load, empty warehouse)", conf, "run")
    assert all(v.startswith("0\t") for v in first.before.values()), first.before
    outcomes.append(first)
    outcomes.append(during(ctx, "rescore", conf, "rescore"))
    outcomes.append(during(ctx, "run --full", conf, "run", "--full"))
    sim.control("clock", {"now": NIGHT})
    outcomes.append(during(ctx, "run (a night)", conf, "run"))
    sim.control("clock", {"now": FILES})
    folder = export_all(sim, os.path.join(ctx.dir, "exports"))
    outcomes.append(during(ctx, "load-file (five export files)", conf,
                           "load-file", "--source", "sim", folder))
    for o in outcomes:
        print("    " + o.line())
    bad = [o for o in outcomes if o.problems()]
    assert not bad, "BI reads waited for or saw through a writer:\n" + "\n".join(
        o.line(detail=False) + "".join("\n      " + p[:400] for p in o.problems()[:3])
        + (f"\n      ... {len(o.problems()) - 3} more" if len(o.problems()) > 3 else "")
        for o in bad)
    # each of these writers changes what BI sees: a torn read was possible
    for o in (outcomes[0], outcomes[3], outcomes[4]):
        assert o.before["mart.dossier"] != o.after["mart.dossier"], f"{o.what} changed nothing"
