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
        r = subprocess.run(["psql", "-X", "-q", "-At", "-F", "\t", "-v", "ON_ERROR_STOP=1",
                            "-h", self.sock, "-p", str(self.port), "-U", "postgres",
                            "-d", db, "-c", sql], capture_output=True, text=True)
        if check and r.returncode:
            raise RuntimeError(f"psql failed: {r.stderr.strip()}\nSQL: {sql[:300]}")
        return r.stdout

    def psql_file(self, db, *files):
        args = ["psql", "-X", "-At", "-v", "ON_ERROR_STOP=1", "-h", self.sock,
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
