"""A BI reader (issue 22): one session as onestop_bi with lock_timeout = 1s
that reads mart in a loop while a writer runs, and records every read.

    reader = BiReader(cluster, db, FINGERPRINTS).start()   # reads already made
    ... run the writer ...
    reads = reader.stop()
    reader.slowest(), reader.errors()

The session is one long-lived psql fed through a pipe (the standard library
has no libpq): unaligned, tuples-only output, each read fenced by marker
lines that carry a token of this session, `\\timing on` for the duration
psql measured and `:SQLSTATE` / `:LAST_ERROR_MESSAGE` for the outcome, so
that nothing on stderr has to be matched to a read.  A read that waits for
a lock longer than lock_timeout fails with SQLSTATE 55P03 ("canceling
statement due to lock timeout"): an error like any other.

While a read has been waiting for more than probe_ms, a second connection
(the cluster's superuser) asks pg_locks what it waits for and who holds it:
the read's `blocker` then names the relation, the lock it wants, the pid
that blocks it, the lock that pid holds and the statement it is running.

Python 3 standard library only; used by tests/integration/test_bi_wait.py
and tests/bench/bench.py.
"""
import os
import re
import secrets
import subprocess
import tempfile
import threading
import time

# What a BI read sees, as a small fingerprint: the row count and the sum of
# a hash of every row's text.  One statement each, so each is one snapshot
# (READ COMMITTED, as a dashboard's query).  For the test's small warehouse:
# every row is read.
FINGERPRINTS = {
    "mart.unit_kpi": "SELECT count(*), coalesce(sum(hashtext(t::text)::bigint), 0)"
                     " FROM mart.unit_kpi t",
    "mart.dossier": "SELECT count(*), coalesce(sum(hashtext(t::text)::bigint), 0)"
                    " FROM mart.dossier t",
    "mart.form06": "SELECT count(*), coalesce(sum(hashtext(t::text)::bigint), 0)"
                   " FROM mart.form06 t",
}

LOCK_TIMEOUT = "55P03"

# Who blocks the reader's backend, and on what (pg_blocking_pids).
BLOCKER_SQL = """
SELECT coalesce(w.relation::regclass::text, w.locktype), w.mode, a.pid,
       coalesce((SELECT string_agg(DISTINCT h.mode, '+') FROM pg_locks h
                 WHERE h.pid = a.pid AND h.granted AND h.relation = w.relation), '?'),
       left(regexp_replace(coalesce(a.query, ''), '\\s+', ' ', 'g'), 100)
FROM pg_locks w
CROSS JOIN LATERAL unnest(pg_blocking_pids(w.pid)) b(pid)
JOIN pg_stat_activity a ON a.pid = b.pid
WHERE w.pid = %d AND NOT w.granted
"""


class Read:
    """One read: what (name), when (start, time.time()), how long (ms, as
    psql timed it), what it saw (fingerprint: the row as text, None on an
    error), the error ('SQLSTATE message' or None) and, if it waited long
    enough to be probed, who it waited for (blocker)."""

    __slots__ = ("name", "start", "ms", "fingerprint", "error", "blocker")

    def __init__(self, name, start):
        self.name, self.start = name, start
        self.ms, self.fingerprint, self.error, self.blocker = None, None, None, None

    def describe(self, t0=None):
        at = f" at {self.start - t0:+.1f}s" if t0 is not None else ""
        what = self.error or "saw " + self.fingerprint.replace("\t", " ")
        blocked = f" [{self.blocker}]" if self.blocker else ""
        return f"{self.name}{at}: {self.ms:.0f} ms, {what}{blocked}"


class BiReader:
    """A background thread that holds one psql session as `role` and runs
    every query of `queries` ({name: SQL returning one row}), then sleeps
    `interval` seconds, until stop()."""

    def __init__(self, cluster, db, queries=None, interval=0.05, lock_timeout="1s",
                 role="onestop_bi", probe_ms=250):
        self.cluster, self.db = cluster, db
        self.queries = dict(queries or FINGERPRINTS)
        self.interval, self.lock_timeout, self.role = interval, lock_timeout, role
        self.probe_ms = probe_ms
        self.token = "@@bireader-" + secrets.token_hex(6)
        self.reads = []
        self.proc = None
        self.pid = None
        self.failure = None          # why the loop ended early, if it did
        self._seq = 0
        self._stop = threading.Event()
        self._cycle = threading.Event()   # set after each full cycle
        self._current = None              # the Read psql is running
        self._lock = threading.Lock()
        self._threads = []

    # ---------------------------------------------------------- session

    def _open(self):
        fd, self.stderr_path = tempfile.mkstemp(prefix="bireader-", suffix=".err")
        stderr = os.fdopen(fd, "w")
        c = self.cluster
        self.proc = subprocess.Popen(
            [c.psql_bin, "-X", "-q", "-A", "-t", "-F", "\t", "-h", c.sock, "-p", str(c.port),
             "-U", "postgres", "-d", self.db],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr, text=True, bufsize=1)
        stderr.close()
        setup = ["SET application_name = 'onestop-bireader'",
                 f"SET lock_timeout = '{self.lock_timeout}'"]
        if self.role:
            setup.append(f"SET ROLE {self.role}")
        for sql in setup:
            r = self._execute(sql, timed=False)
            if r.error:
                raise RuntimeError(f"bireader: {sql}: {r.error}")
        self._send("\\timing on\n")
        r = self._execute("SELECT pg_backend_pid()", timed=False)
        if r.error:
            raise RuntimeError(f"bireader: {r.error}")
        self.pid = int(r.fingerprint)

    def _send(self, text):
        self.proc.stdin.write(text)
        self.proc.stdin.flush()

    def _line(self):
        line = self.proc.stdout.readline()
        if not line:
            err = open(self.stderr_path, errors="replace").read()[-1000:]
            raise RuntimeError(f"bireader: psql ended (exit {self.proc.poll()}): {err}")
        return line.rstrip("\n")

    def _execute(self, sql, name=None, timed=True):
        """Run one statement; a Read with its outcome."""
        self._seq += 1
        begin, end = f"{self.token} B {self._seq}", f"{self.token} E {self._seq}"
        r = Read(name or sql, time.time())
        with self._lock:
            self._current = r
        t0 = time.monotonic()
        self._send(f"\\echo {begin}\n{sql.rstrip().rstrip(';')};\n"
                   f"\\echo {end} :SQLSTATE :LAST_ERROR_MESSAGE\n")
        while self._line() != begin:
            pass                      # whatever a previous read left (never expected)
        body = []
        while True:
            line = self._line()
            if line.startswith(end + " "):
                break
            body.append(line)
        wall = (time.monotonic() - t0) * 1000
        with self._lock:
            self._current = None
        state, _, message = line[len(end) + 1:].partition(" ")
        timing = [float(m.group(1)) for m in
                  (re.match(r"Time: ([\d.]+) ms", b) for b in body) if m]
        rows = [b for b in body if not re.match(r"Time: [\d.]+ ms", b)]
        r.ms = timing[-1] if timed and timing else wall
        if state != "00000":
            r.error = f"{state} {message}"
        else:
            r.fingerprint = "\n".join(rows)
        return r

    # -------------------------------------------------------------- loop

    def start(self):
        """Open the session, start reading; returns once one whole cycle of
        reads is done (and raises if that cycle failed), so that reads
        precede whatever runs next."""
        self._open()
        for target in (self._loop, self._watch):
            t = threading.Thread(target=target, daemon=True)
            t.start()
            self._threads.append(t)
        if not self._cycle.wait(60):
            self.stop()
            raise RuntimeError("bireader: no read finished within 60 s")
        bad = [r for r in self.reads if r.error]
        if bad or self.failure:
            self.stop()
            raise RuntimeError("bireader: the first reads failed: %s" % (
                self.failure or "; ".join(r.describe() for r in bad)))
        return self

    def _loop(self):
        try:
            while not self._stop.is_set():
                for name, sql in self.queries.items():
                    self.reads.append(self._execute(sql, name))
                self._cycle.set()
                self._stop.wait(self.interval)
        except Exception as exc:  # psql died: stop() reports it
            self.failure = str(exc)
            self._cycle.set()

    def _watch(self):
        """Probe a read that waits longer than probe_ms, once."""
        probed = None
        while not self._stop.is_set():
            with self._lock:
                r = self._current
            if r is not None and r is not probed and \
                    (time.time() - r.start) * 1000 > self.probe_ms:
                probed = r
                r.blocker = self._blocker()
            time.sleep(0.02)

    def _blocker(self):
        try:
            out = self.cluster.psql(self.db, BLOCKER_SQL % self.pid, check=False).strip()
        except Exception as exc:  # a probe must never break the reads
            return f"probe failed: {exc}"
        if not out:
            return None               # it was not waiting for a lock after all
        parts = []
        for line in out.splitlines():
            rel, wants, pid, holds, query = (line.split("\t") + [""] * 5)[:5]
            parts.append(f"wants {wants} on {rel}; pid {pid} holds {holds}: {query}")
        return "; ".join(parts)

    def stop(self):
        """Finish the cycle under way, close the session; returns the reads."""
        self._stop.set()
        for t in self._threads:
            t.join(120)
        if self.proc and self.proc.poll() is None:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc:
            self.proc.stdout.close()
            try:
                os.unlink(self.stderr_path)
            except OSError:
                pass
        if self.failure:
            raise RuntimeError(self.failure)
        return self.reads

    # ----------------------------------------------------------- results

    def between(self, t_from, t_to):
        """The reads that started in [t_from, t_to] (time.time())."""
        return [r for r in self.reads if t_from <= r.start <= t_to]

    @staticmethod
    def slowest(reads):
        return max(reads, key=lambda r: r.ms, default=None)

    @staticmethod
    def errors(reads):
        return [r for r in reads if r.error]


def fingerprints(cluster, db, queries=None, role="onestop_bi"):
    """{name: fingerprint} of each query, read once as `role` (no writer
    should be running): the before and after states."""
    out = {}
    for name, sql in (queries or FINGERPRINTS).items():
        text = cluster.psql(db, (f"SET ROLE {role}; " if role else "") + sql)
        out[name] = text.rstrip("\n")
    return out
