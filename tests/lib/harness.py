"""The test bench: a throwaway PostgreSQL cluster, the source simulator and
the onestop-etl binary, all real (no mocks).

PostgreSQL refuses to run as root, so the cluster belongs to the `postgres`
user (runuser) and listens only on a private Unix socket directory and a
free port: tests never touch a system cluster.
"""
import atexit
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BINARY = os.environ.get("ONESTOP_ETL_BIN", os.path.join(ROOT, "build", "san", "onestop-etl"))
SIM = os.path.join(ROOT, "tests", "sim", "onestop_sim.py")


def pg_bindir():
    out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True)
    d = out.stdout.strip()
    # Debian's pg_config may name the client dir; the server lives here
    for cand in (d, "/usr/lib/postgresql/15/bin"):
        if cand and os.path.exists(os.path.join(cand, "initdb")):
            return cand
    raise RuntimeError("initdb not found: install the postgresql package")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def as_postgres(cmd, **kw):
    if os.geteuid() == 0:
        cmd = ["runuser", "-u", "postgres", "--"] + cmd
    return subprocess.run(cmd, **kw)


class PgCluster:
    """initdb + pg_ctl in a private directory; stop() is registered atexit."""

    def __init__(self, base=None, keep=False):
        self.keep = keep
        self.base = base or tempfile.mkdtemp(prefix="onestop-pg-")
        os.makedirs(self.base, exist_ok=True)
        self.data = os.path.join(self.base, "data")
        self.sock = self.base
        self.port = None
        self.bindir = pg_bindir()
        # the server's own psql: Debian's /usr/bin/psql is a Perl wrapper
        # that costs ~70 ms a call
        psql = os.path.join(self.bindir, "psql")
        self.psql_bin = psql if os.path.exists(psql) else "psql"
        if os.geteuid() == 0:
            pw = pwd.getpwnam("postgres")
            os.chown(self.base, pw.pw_uid, pw.pw_gid)
        os.chmod(self.base, 0o755)

    def start(self):
        if not os.path.exists(os.path.join(self.data, "PG_VERSION")):
            r = as_postgres([os.path.join(self.bindir, "initdb"), "-D", self.data,
                             "-A", "trust", "-U", "postgres", "-E", "UTF8",
                             "--locale=C.UTF-8"], capture_output=True, text=True)
            if r.returncode:
                raise RuntimeError("initdb failed: " + r.stderr)
        self.port = free_port()
        opts = (f"-k {self.sock} -p {self.port} -c listen_addresses='' "
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
                "-c max_connections=60")
        r = as_postgres([os.path.join(self.bindir, "pg_ctl"), "-D", self.data, "-o", opts,
                         "-l", os.path.join(self.base, "log"), "-w", "-t", "60", "start"],
                        capture_output=True, text=True)
        if r.returncode:
            log = open(os.path.join(self.base, "log")).read()[-2000:]
            raise RuntimeError("pg_ctl start failed: " + r.stderr + log)
        if not self.keep:  # the demo's cluster stays up for the user
            atexit.register(self.stop)
        return self

    def restart(self, mode="immediate"):
        self.stop(mode=mode, keep_dir=True)
        opts = (f"-k {self.sock} -p {self.port} -c listen_addresses='' "
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
                "-c max_connections=60")
        as_postgres([os.path.join(self.bindir, "pg_ctl"), "-D", self.data, "-o", opts,
                     "-l", os.path.join(self.base, "log"), "-w", "start"],
                    capture_output=True, text=True, check=True)

    def stop(self, mode="fast", keep_dir=None):
        if os.path.exists(os.path.join(self.data, "postmaster.pid")):
            as_postgres([os.path.join(self.bindir, "pg_ctl"), "-D", self.data, "-m", mode,
                         "-w", "stop"], capture_output=True)
        if not (self.keep or keep_dir):
            shutil.rmtree(self.base, ignore_errors=True)

    def dsn(self, db):
        return f"host={self.sock} port={self.port} user=postgres dbname={db}"

    def psql(self, db, sql, check=True):
        """Run SQL; return stdout (unaligned, tab-separated, no headers)."""
        r = subprocess.run([self.psql_bin, "-X", "-q", "-At", "-F", "\t", "-v", "ON_ERROR_STOP=1",
                            "-h", self.sock, "-p", str(self.port), "-U", "postgres",
                            "-d", db, "-c", sql], capture_output=True, text=True)
        if check and r.returncode:
            raise RuntimeError(f"psql failed: {r.stderr.strip()}\nSQL: {sql[:300]}")
        return r.stdout

    def psql_file(self, db, *files):
        args = [self.psql_bin, "-X", "-At", "-v", "ON_ERROR_STOP=1", "-h", self.sock,
                "-p", str(self.port), "-U", "postgres", "-d", db]
        for f in files:
            args += ["-f", f]
        return subprocess.run(args, capture_output=True, text=True)

    def createdb(self, name, template=None):
        tmpl = f" TEMPLATE {template}" if template else ""
        self.psql("postgres", f"DROP DATABASE IF EXISTS {name}")
        self.psql("postgres", f"CREATE DATABASE {name}{tmpl}")


class Simulator:
    """tests/sim/onestop_sim.py on a free loopback port."""

    def __init__(self, *args, **opts):
        self.dir = tempfile.mkdtemp(prefix="onestop-sim-")
        self.port_file = os.path.join(self.dir, "port")
        cmd = [sys.executable, SIM, "--port", "0", "--port-file", self.port_file]
        for k, v in opts.items():
            flag = "--" + k.replace("_", "-")
            if v is True:
                cmd.append(flag)
            elif v is not None and v is not False:
                cmd += [flag, str(v)]
        cmd += list(args)
        self.log = open(os.path.join(self.dir, "log"), "w")
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 60
        while not os.path.exists(self.port_file):
            if self.proc.poll() is not None or time.time() > deadline:
                raise RuntimeError("simulator did not start: " +
                                   open(os.path.join(self.dir, "log")).read()[-2000:])
            time.sleep(0.05)
        self.port = int(open(self.port_file).read().strip())
        self.url = f"http://127.0.0.1:{self.port}"
        atexit.register(self.stop)

    def control(self, path, body=None):
        import json
        import urllib.request
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + "/_control/" + path, data=data,
                                     method="POST" if data is not None else "GET",
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=120) as r:
            return json.loads(r.read().decode())

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def write_config(path, dsn, sources, extra=""):
    """sources: list of (name, url, dict of keys)."""
    lines = ["[warehouse]", f"dsn = {dsn}", "", "[rules]",
             f"calendar = {ROOT}/config/calendar-vn.csv",
             f"profiles = {ROOT}/config/profiles.csv", ""]
    if extra:
        lines += [extra, ""]
    for name, url, keys in sources:
        lines += [f"[source {name}]", f"url = {url}"]
        lines += [f"{k} = {v}" for k, v in keys.items()]
        lines.append("")
    with open(path, "w") as f:
        f.write("\n".join(lines))
    os.chmod(path, 0o600)
    return path


def run_etl(config, *args, env=None, timeout=600, binary=None):
    """Run the binary; returns CompletedProcess (text)."""
    e = dict(os.environ)
    e.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
    e.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
    if env:
        e.update(env)
    cmd = [binary or BINARY, "-c", config] + list(args)
    return subprocess.run(cmd, capture_output=True, text=True, env=e, timeout=timeout)


# ------------------------------------------------- crash and concurrency tests

def start_etl(config, *args, env=None, binary=None, log_path=None):
    """Start the binary in the background; returns a Popen whose stderr goes
    to log_path (default: a temporary file, its name in .log_path)."""
    e = dict(os.environ)
    e.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
    e.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
    if env:
        e.update(env)
    if log_path is None:
        fd, log_path = tempfile.mkstemp(prefix="onestop-etl-", suffix=".log")
        os.close(fd)
    log = open(log_path, "w")
    cmd = [binary or BINARY, "-c", config] + list(args)
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=e)
    log.close()
    proc.log_path = log_path
    proc.output = lambda: open(log_path, errors="replace").read()
    return proc


def wait_until(pred, timeout=30, interval=0.05, what="condition"):
    """Poll pred() until it returns something true; return that value."""
    deadline = time.time() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.time() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


class PsqlSession:
    """An open psql session fed through a pipe: holds a transaction (and its
    locks) across calls, until close()."""

    def __init__(self, cluster, db):
        self.proc = subprocess.Popen(
            [cluster.psql_bin, "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-h", cluster.sock,
             "-p", str(cluster.port), "-U", "postgres", "-d", db],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, bufsize=1)
        self.marker = 0

    def run(self, sql, timeout=30):
        """Send SQL and wait until psql has executed it; returns its output."""
        self.marker += 1
        mark = f"--done {self.marker}--"
        self.proc.stdin.write(sql.rstrip().rstrip(";") + ";\n\\echo " + mark + "\n")
        self.proc.stdin.flush()
        out = []
        deadline = time.time() + timeout
        while time.time() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError("psql session ended: " + "".join(out))
            if line.strip() == mark:
                return "".join(out)
            out.append(line)
        raise RuntimeError("psql session: timed out")

    def close(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


# Columns whose values legitimately differ between two loads of the same
# data; warehouse_dump leaves them out, everything else must be identical.
DUMP_EXCLUDED_COLUMNS = {
    # when the row was written (now() of the loading transaction): a second
    # load of the same night rewrites the row with the same content later
    "loaded_at": "wall-clock time of the write",
    # which etl.run / invocation last wrote the row: provenance pointers into
    # etl.run (sequence values), not data; a rerun rewrites them by design
    "run_id": "id of the run that last wrote the row (a sequence value)",
    "batch_id": "id of the invocation that last wrote the row (a sequence value)",
    # dw.state and mart.freshness: when the rules were applied and the marts
    # derived, and the as-of instant of that derivation: the host's clock at
    # the run, not a fact of the source's data
    "rules_applied_at": "dw.state: host time the rules were last applied",
    "derived_at": "dw.state / mart.freshness: host time of the last derivation",
    "last_as_of": "dw.state: host time the last derivation started",
}


def warehouse_dump(cluster, db, schemas=("dw", "mart"), exclude=DUMP_EXCLUDED_COLUMNS):
    """A deterministic text dump of every table and view of the schemas
    (partitions are read through their parent), each sorted by all of its
    columns, without the columns of `exclude`: a column's name (in every
    relation) or schema.relation.column.  Returns {relation: text}."""
    plain = [x for x in exclude if "." not in x] or ["-"]
    qualified = [x for x in exclude if "." in x] or ["-"]
    rels = cluster.psql(db, f"""
        SELECT n.nspname || '.' || c.relname,
               string_agg(quote_ident(a.attname), ',' ORDER BY a.attnum)
        FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace
        JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
        WHERE n.nspname IN ({','.join("'" + s + "'" for s in schemas)})
          AND c.relkind IN ('r', 'p', 'v', 'm') AND NOT c.relispartition
          AND a.attname NOT IN ({','.join("'" + x + "'" for x in plain)})
          AND n.nspname || '.' || c.relname || '.' || a.attname
              NOT IN ({','.join("'" + x + "'" for x in qualified)})
        GROUP BY 1 ORDER BY 1""")
    script = []
    names = []
    for line in rels.splitlines():
        rel, cols = line.split("\t")
        n = cols.count(",") + 1
        order = ",".join(str(i) for i in range(1, n + 1))
        names.append(rel)
        script.append(f"\\echo '=== {rel}'")
        script.append(f"COPY (SELECT {cols} FROM {rel} ORDER BY {order}) TO STDOUT;")
    r = subprocess.run([cluster.psql_bin, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", cluster.sock,
                        "-p", str(cluster.port), "-U", "postgres", "-d", db],
                       input="\n".join(script) + "\n", capture_output=True, text=True)
    if r.returncode:
        raise RuntimeError("warehouse_dump: " + r.stderr)
    out, cur = {}, None
    for line in r.stdout.splitlines(keepends=True):
        if line.startswith("=== "):
            cur = line[4:].strip()
            out[cur] = []
        else:
            out[cur].append(line)
    return {k: "".join(v) for k, v in out.items()}


def dump_diff(a, b, limit=12):
    """A short description of how two warehouse_dump results differ ('' if
    they are identical)."""
    import difflib
    msgs = []
    for rel in sorted(set(a) | set(b)):
        if a.get(rel) == b.get(rel):
            continue
        d = list(difflib.unified_diff(a.get(rel, "").splitlines(), b.get(rel, "").splitlines(),
                                      lineterm="", n=0))
        msgs.append(f"{rel}: " + "\n  ".join(d[2:2 + limit]))
    return "\n".join(msgs)
