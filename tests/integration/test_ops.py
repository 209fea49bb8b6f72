"""Operations: `make install` / `make uninstall` into a DESTDIR, the manual
page, the cron wrapper run as cron runs it, and every SQL example of
README.md against a loaded warehouse."""
import datetime
import glob
import os
import re
import stat
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from common import ok  # noqa: E402

ROOT = harness.ROOT
PREFIX = "/usr/local"
WRAPPER = os.path.join(ROOT, "cron", "onestop-etl-nightly")
TOKEN = "ops-test-token-7f3a9c"


def _installed_files():
    """Every file `make install` must put under DESTDIR, relative to it."""
    share = PREFIX.lstrip("/") + "/share/onestop-etl/"
    files = {PREFIX.lstrip("/") + "/bin/onestop-etl",
             PREFIX.lstrip("/") + "/lib/onestop-etl/onestop-etl-nightly",
             PREFIX.lstrip("/") + "/share/man/man1/onestop-etl.1"}
    files |= {share + f for f in ("calendar-vn.csv", "profiles.csv", "unit-lineage.csv",
                                  "onestop-etl.conf.example", "onestop-etl.cron",
                                  "onestop-etl.logrotate")}
    files |= {share + f for f in _sql_files()}
    return files


def _sql_files():
    """The SQL that ships, relative to ROOT: migrations and code modules."""
    return sorted(os.path.relpath(p, ROOT)
                  for p in glob.glob(os.path.join(ROOT, "sql", "*", "*.sql")))


def _tree(top):
    out = set()
    for d, _, names in os.walk(top):
        out |= {os.path.relpath(os.path.join(d, n), top) for n in names}
    return out


def _make(*args):
    r = subprocess.run(["make", "-s", f"-j{os.cpu_count() or 2}", *args],
                       cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, f"make {' '.join(args)}:\n{r.stdout[-2000:]}{r.stderr[-3000:]}"
    return r


def _source_names(pattern, path):
    with open(os.path.join(ROOT, path)) as f:
        return set(re.findall(pattern, f.read()))


def _check_manual(page):
    """Renders without a warning, and names every command, option and key."""
    r = subprocess.run(["man", "-l", page], capture_output=True, text=True,
                       env=dict(os.environ, MANWIDTH="100", MAN_KEEP_FORMATTING="0"))
    assert r.returncode == 0 and r.stderr == "", f"man -l: {r.returncode} {r.stderr}"
    g = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z", page],
                       capture_output=True, text=True)
    assert g.returncode == 0 and g.stderr == "", f"groff warns:\n{g.stderr}"
    text = re.sub(r".\x08", "", r.stdout)
    commands = _source_names(r'\{ "([a-z-]+)", cmd_', "etl/main.c")
    options = _source_names(r'\{ "([a-z-]+)", (?:required|no)_argument', "etl/main.c")
    keys = _source_names(r'\{ SEC_[A-Z]+, "([a-z_]+)"', "etl/config.c")
    assert len(commands) >= 9 and len(keys) >= 15, (commands, keys)
    missing = [c for c in commands if not re.search(rf"^   {c}\b", text, re.M)]
    missing += ["--" + o for o in options if "--" + o not in text]
    missing += [k for k in keys if not re.search(rf"^       {k}\b", text, re.M)]
    missing += [f"exit {n}" for n in range(5) if not re.search(rf"^       {n}\s", text, re.M)]
    for word in ("ONESTOP_ETL_CONFIG", "/etc/onestop-etl/onestop-etl.conf", "FILES",
                 "ENVIRONMENT", "onestop_bi"):
        if word not in text:
            missing.append(word)
    assert not missing, f"the manual page does not document: {missing}"


def test_install_uninstall(ctx):
    dest = tempfile.mkdtemp(prefix="destdir-", dir=ctx.dir)
    _make("install", f"PREFIX={PREFIX}", f"DESTDIR={dest}")
    want = _installed_files()
    got = _tree(dest)
    assert got == want, f"missing {sorted(want - got)}, unexpected {sorted(got - want)}"
    at = lambda rel: os.path.join(dest, PREFIX.lstrip("/"), rel)  # noqa: E731
    for rel in ("bin/onestop-etl", "lib/onestop-etl/onestop-etl-nightly"):
        assert os.stat(at(rel)).st_mode & 0o777 == 0o755, rel
    for rel in want:
        if "/bin/" not in rel and "/lib/" not in rel:
            assert os.stat(os.path.join(dest, rel)).st_mode & 0o777 == 0o644, rel
    for f in _sql_files():
        assert open(at("share/onestop-etl/" + f), "rb").read() == \
            open(os.path.join(ROOT, f), "rb").read(), f

    # The default calendar and profiles resolve under PREFIX once installed.
    binary = open(at("bin/onestop-etl"), "rb").read()
    assert f"{PREFIX}/share/onestop-etl/calendar-vn.csv".encode() in binary

    # The cron entry runs the installed wrapper as the job's user.
    cron = open(at("share/onestop-etl/onestop-etl.cron")).read()
    entries = [l for l in cron.splitlines() if l and not l.startswith("#") and "=" not in l]
    assert len(entries) == 1, entries
    m = re.fullmatch(r"(\S+ ){5}onestop-etl (/\S+)", entries[0])
    assert m and os.access(os.path.join(dest, m.group(2).lstrip("/")), os.X_OK), entries[0]
    assert f"PATH={PREFIX}/bin:" in cron

    _check_manual(at("share/man/man1/onestop-etl.1"))

    installed = at("bin/onestop-etl")
    r = subprocess.run([installed, "--help"], capture_output=True, text=True)
    assert r.returncode == 0 and "usage: onestop-etl" in r.stdout, r
    r = subprocess.run([installed, "--version"], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.startswith("onestop-etl "), r

    # The example as shipped: every key valid; the one error is the token
    # file it names, which only the operator can create.
    example = open(at("share/onestop-etl/onestop-etl.conf.example")).read()
    token_path = re.search(r"^token_file\s*=\s*(\S+)", example, re.M).group(1)
    shipped = os.path.join(ctx.dir, "shipped.conf")
    with open(shipped, "w") as f:
        f.write(example)
    os.chmod(shipped, 0o600)
    if not os.path.exists(token_path):
        r = subprocess.run([installed, "-c", shipped, "check-config"],
                           capture_output=True, text=True)
        errors = [l for l in r.stderr.splitlines() if not l.endswith(f"in '{shipped}'")]
        assert r.returncode == 2 and len(errors) == 1 and \
            f"cannot read token file '{token_path}'" in errors[0], r.stderr

    # Adjusted as an operator would (a token, paths under DESTDIR): clean.
    token = os.path.join(ctx.dir, "source.token")
    with open(token, "w") as f:
        f.write("secret\n")
    os.chmod(token, 0o600)
    adjusted = os.path.join(ctx.dir, "adjusted.conf")
    text = example.replace(token_path, token).replace(f"{PREFIX}/", f"{dest}{PREFIX}/")
    with open(adjusted, "w") as f:
        f.write(text)
    os.chmod(adjusted, 0o600)
    r = subprocess.run([installed, "-c", adjusted, "check-config"],
                       capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.strip() == f"{adjusted}: ok, 1 source" \
        and r.stderr == "", r

    _make("uninstall", f"PREFIX={PREFIX}", f"DESTDIR={dest}")
    assert _tree(dest) == set(), f"left behind: {sorted(_tree(dest))}"
    for gone in ("share/onestop-etl", "lib/onestop-etl"):
        assert not os.path.exists(at(gone)), gone


def _nightly(ctx, config, logdir, statedir, *args, tz="UTC"):
    """The wrapper as cron starts it: no terminal, almost no environment
    (a host whose TZ is not the warehouse's zone)."""
    return subprocess.run(
        ["env", "-i", "PATH=/usr/bin:/bin", "HOME=/nonexistent", f"TZ={tz}",
         f"ONESTOP_ETL_CONFIG={config}", f"ONESTOP_ETL_BIN={harness.BINARY}",
         f"ONESTOP_ETL_LOGDIR={logdir}", f"ONESTOP_ETL_STATEDIR={statedir}", WRAPPER,
         *args],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=300,
        start_new_session=True)


# What an operator reads: local time (Asia/Ho_Chi_Minh) with its offset.
STAMP = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+07:00"
LOG_STAMP = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+07:00"


def _close_to_now(text, slack=300):
    """text (ISO 8601 with an offset, or status's "YYYY-MM-DD HH:MM+07")
    names an instant within slack seconds of now."""
    text = re.sub(r"^(\S+) (\S+)$", r"\1T\2", text)
    text = re.sub(r"([+-]\d\d)$", r"\1:00", text)
    when = datetime.datetime.fromisoformat(text)
    now = datetime.datetime.now(datetime.timezone.utc)
    assert abs((now - when).total_seconds()) < slack, f"{text} is not now ({now})"


def _last_exit(statedir):
    path = os.path.join(statedir, "last-exit")
    mode = stat.S_IMODE(os.stat(path).st_mode)
    assert mode == 0o644, f"last-exit is mode {oct(mode)}: a monitor as another user cannot read it"
    text = open(path).read()
    m = re.fullmatch(rf"(\d) ({STAMP})\n", text)
    assert m, f"last-exit: {text!r}"
    _close_to_now(m.group(2))
    return int(m.group(1))


def _token_file(ctx):
    path = os.path.join(ctx.dir, "sim.token")
    with open(path, "w") as f:
        f.write(TOKEN + "\n")
    os.chmod(path, 0o600)
    return path


def test_cron_wrapper(ctx):
    sim = ctx.sim(seed=31, dossiers=150, token=TOKEN)
    token = _token_file(ctx)
    good = ctx.config([("sim", sim.url, {"token_file": token, "page_size": 100,
                                         "retry_delay": 0.05})])
    logdir, statedir = os.path.join(ctx.dir, "log"), os.path.join(ctx.dir, "state")
    log, last = os.path.join(logdir, "nightly.log"), os.path.join(statedir, "last-exit")

    r = _nightly(ctx, good, logdir, statedir, tz="America/New_York")
    assert (r.returncode, r.stdout, r.stderr) == (0, "", ""), r
    text = open(log).read()
    # the wrapper's lines and the program's in one zone, with its offset
    m = re.match(rf"=== ({STAMP}) onestop-etl run\n({LOG_STAMP}) ", text)
    assert m, text[:500]
    _close_to_now(m.group(1))
    _close_to_now(m.group(2))
    assert re.search(rf"=== {STAMP} exit 0\n\Z", text), text[-500:]
    assert all(re.match(rf"(=== {STAMP}|{LOG_STAMP}) ", l) for l in text.splitlines()), text
    hoso = sim.control("expected?entity=hoso")["count"]
    assert re.search(rf" info sim hoso read {hoso}, loaded {hoso}, ", text), text
    assert " error " not in text and "\r" not in text and TOKEN not in text, text
    assert os.stat(log).st_mode & 0o027 == 0, oct(os.stat(log).st_mode)
    # readable by a monitor running as another user, the folder too
    assert _last_exit(statedir) == 0
    assert stat.S_IMODE(os.stat(statedir).st_mode) == 0o755, oct(os.stat(statedir).st_mode)
    assert sorted(os.listdir(statedir)) == ["last-exit"], os.listdir(statedir)
    assert ctx.rows("SELECT source, status FROM etl.run") == [["sim", "succeeded"]]

    # A second night with a source that is down: exit 1, and the output cron
    # mails holds tonight's log (not last night's) and the status table.
    failing = ctx.config([("sim", sim.url, {"token_file": token, "retry_delay": 0.05}),
                          ("down", "http://127.0.0.1:1/api",
                           {"token_file": token, "retries": 1, "retry_delay": 0.05})],
                         name="failing.conf")
    r = _nightly(ctx, failing, logdir, statedir)
    assert r.returncode == 1, r
    assert "failed with exit 1" in r.stdout, r.stdout
    assert "error down - source 'down': GET http://127.0.0.1:1/api/donvi" in r.stdout, r.stdout
    status = r.stdout.partition("$ onestop-etl status --last 5\n")[2]
    assert "down" in status and "sim" in status, r.stdout
    assert "exit 0" not in r.stdout, r.stdout
    assert TOKEN not in r.stdout + open(log).read()
    assert _last_exit(statedir) == 1
    assert re.search(rf"=== {STAMP} exit 1\n\Z", open(log).read())
    runs = ctx.rows("SELECT source, status FROM etl.run ORDER BY run_id")
    assert sorted(runs[1:]) == [["down", "failed"], ["sim", "succeeded"]], runs
    # status's times carry the same offset, and agree with the wrapper's
    started = re.findall(r"  (\d{4}-\d\d-\d\d \d\d:\d\d\+07)  ", status)
    assert len(started) == 3, status
    for t in started:
        _close_to_now(t)

    # A log folder it cannot create: exit 2 with a message, nothing run.
    blocker = os.path.join(ctx.dir, "not-a-dir")
    open(blocker, "w").close()
    r = _nightly(ctx, good, os.path.join(blocker, "log"), statedir)
    assert r.returncode == 2 and "cannot write" in r.stderr, r
    assert open(last).read().startswith("1 ")


def test_cron_wrapper_rerun(ctx):
    """`onestop-etl-nightly rerun --failed` after a failed night: while a
    source is still down last-exit stays 1; once a rerun makes good every
    failed run, last-exit says 0, so the monitor stops raising the alarm."""
    sim = ctx.sim(seed=32, dossiers=80, token=TOKEN)
    token = _token_file(ctx)
    logdir, statedir = os.path.join(ctx.dir, "log"), os.path.join(ctx.dir, "state")
    log = os.path.join(logdir, "nightly.log")
    up = {"token_file": token, "retry_delay": 0.05}
    off = ("http://127.0.0.1:1/api", dict(up, retries=1))
    down = ctx.config([("sim", sim.url, up), ("a", *off), ("b", *off)], name="down.conf")
    a_back = ctx.config([("sim", sim.url, up), ("a", sim.url, up), ("b", *off)],
                        name="a-back.conf")
    back = ctx.config([("sim", sim.url, up), ("a", sim.url, up), ("b", sim.url, up)],
                      name="back.conf")

    assert _nightly(ctx, down, logdir, statedir).returncode == 1
    assert _last_exit(statedir) == 1

    r = _nightly(ctx, down, logdir, statedir, "rerun", "--failed")
    assert r.returncode == 1 and "onestop-etl rerun --failed failed with exit 1" in r.stdout, r
    assert _last_exit(statedir) == 1

    # a rerun of one run leaves b failed: logged, last-exit left at 1
    run_a = ctx.sql("SELECT min(run_id) FROM etl.run WHERE source = 'a'").strip()
    r = _nightly(ctx, a_back, logdir, statedir, "rerun", "--run", run_a)
    assert (r.returncode, r.stdout) == (0, ""), r
    assert re.search(rf"=== {STAMP} onestop-etl rerun --run {run_a}\n", open(log).read())
    assert _last_exit(statedir) == 1

    r = _nightly(ctx, back, logdir, statedir, "rerun", "--failed")
    assert (r.returncode, r.stdout, r.stderr) == (0, "", ""), r
    assert _last_exit(statedir) == 0
    text = open(log).read()
    assert re.search(rf"=== {STAMP} onestop-etl rerun --failed\n(.*\n)*=== {STAMP} exit 0\n\Z",
                     text), text[-1500:]
    assert ctx.rows("SELECT source, status FROM etl.run WHERE command = 'rerun'"
                    " ORDER BY run_id DESC LIMIT 1") == [["b", "succeeded"]]

    # a night that loaded nothing (exit 2) has no run a rerun could redo
    bad = os.path.join(ctx.dir, "bad.conf")
    with open(bad, "w") as f:
        f.write("[nonsense]\n")
    os.chmod(bad, 0o600)
    assert _nightly(ctx, bad, logdir, statedir).returncode == 2
    r = _nightly(ctx, back, logdir, statedir, "rerun", "--failed")
    assert r.returncode == 0 and "last-exit still says 2" in r.stderr, r
    assert _last_exit(statedir) == 2


def test_log_time_zone(ctx):
    """A log line's time is local (UTC+07:00) with its offset, whatever the
    host's TZ says."""
    conf = harness.write_config(os.path.join(ctx.dir, "nodb.conf"),
                                f"host={ctx.dir} port=1 dbname=none",
                                [("sim", "http://127.0.0.1:1/api", {})])
    for tz in ("UTC", "America/New_York", "Asia/Ho_Chi_Minh"):
        r = ctx.etl(conf, "status", env={"TZ": tz})
        assert r.returncode == 3, r
        m = re.match(rf"({LOG_STAMP}) error - - cannot connect", r.stderr)
        assert m, f"TZ={tz}: {r.stderr}"
        _close_to_now(m.group(1))


# ------------------------------------------------------ README's examples

QUERY = re.compile(r"^\s*(SELECT|WITH|EXPLAIN|TABLE|VALUES)\b", re.I)


def _statements(block):
    body = "\n".join(l for l in block.splitlines() if not l.lstrip().startswith("--"))
    return [s.strip() for s in re.split(r";\s*(?:\n|$)", body) if s.strip()]


def _psql(ctx, sql, *vars_):
    c = ctx.cluster
    args = ["psql", "-X", "-q", "-At", "-h", c.sock, "-p", str(c.port), "-U", "postgres",
            "-d", ctx.db]
    for v in vars_:
        args += ["-v", v]
    return subprocess.run(args, input=sql, capture_output=True, text=True, timeout=120)


def _load_demo_like(ctx):
    """The demo's province and year, smaller; plus a night with a rejected
    row and a failed source, so that the administrators' queries have rows."""
    sim = ctx.sim(seed=49, year=2021, dossiers=1500)
    conf = ctx.config([("soctrang-sgddt", sim.url, {"page_size": 1000, "retry_delay": 0.05})])
    ok(ctx.etl(conf, "run"))
    sim.control("faults", {"faults": [{"entity": "hoso", "kind": "bad_row",
                                       "reason": "bad_timestamp"}]})
    ok(ctx.etl(conf, "run"))
    assert ctx.rows("SELECT count(*) FROM etl.reject") != [["0"]], "no reject recorded"
    down = ctx.config([("soctrang-sgddt", "http://127.0.0.1:1/api",
                        {"retries": 0})], name="down.conf")
    assert ctx.etl(down, "run").returncode == 1


def test_readme_sql_examples(ctx):
    _load_demo_like(ctx)
    with open(os.path.join(ROOT, "README.md")) as f:
        blocks = re.findall(r"^```sql\n(.*?)^```", f.read(), re.S | re.M)
    queries = 0
    for block in blocks:
        statements = _statements(block)
        if all(QUERY.match(s) for s in statements):
            # BI examples run as the read-only role; administrators' as the owner
            admin = re.search(r"\b(etl|dw)\.", block)
            for stmt in statements:
                queries += 1
                r = _psql(ctx, ("" if admin else "SET ROLE onestop_bi;\n") + stmt + ";\n",
                          "ON_ERROR_STOP=1")
                assert r.returncode == 0, f"{r.stderr}\n{stmt}"
                assert r.stdout.strip(), f"no rows from README's query:\n{stmt}"
        else:
            # Setup statements (roles, grants): valid, then rolled back.  A
            # role the bench already has may exist.
            r = _psql(ctx, "BEGIN;\n" + block + "\nROLLBACK;\n", "ON_ERROR_ROLLBACK=on")
            errors = [l for l in r.stderr.splitlines() if "ERROR" in l]
            assert all("already exists" in l for l in errors), f"{r.stderr}\n{block}"
    assert queries >= 12, f"only {queries} example queries found in README.md"


# ------------------------------------------------- what the host must have

CHECK = os.path.join(ROOT, "cron", "check-prereqs.sh")
ABSENT = ("cron", "logrotate", "pidof", "systemctl", "sendmail")


def _path_without(top, names):
    """A PATH folder with every program of the host's but names."""
    os.makedirs(top)
    for d in ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"):
        for n in os.listdir(d) if os.path.isdir(d) else ():
            if n not in names and not os.path.exists(os.path.join(top, n)):
                os.symlink(os.path.join(d, n), os.path.join(top, n))
    return top


def _fake_programs(top, **programs):
    """A PATH folder of shell scripts: name=exit status."""
    os.makedirs(top)
    for name, status in programs.items():
        path = os.path.join(top, name)
        with open(path, "w") as f:
            f.write(f"#!/bin/sh\nexit {status}\n")
        os.chmod(path, 0o755)
    return top


def test_install_names_prerequisites(ctx):
    """make install on a host without cron, logrotate and an MTA says so
    (and still succeeds); the check tells a stopped cron from a missing one
    and is silent when all is there."""
    dest = tempfile.mkdtemp(prefix="destdir-", dir=ctx.dir)
    bare = _path_without(os.path.join(ctx.dir, "bare-bin"), ABSENT)
    r = subprocess.run(["make", "-s", "install", f"PREFIX={PREFIX}", f"DESTDIR={dest}"],
                       cwd=ROOT, capture_output=True, text=True, timeout=600,
                       env=dict(os.environ, PATH=bare))
    assert r.returncode == 0, r
    out = r.stdout
    assert "note: the nightly job needs what this host lacks:" in out, r
    assert re.search(r"^  cron: not installed", out, re.M), out
    assert re.search(r"^  logrotate: not installed", out, re.M), out
    assert re.search(r"^  install them: apt-get install cron logrotate", out, re.M), out
    if not os.access("/usr/sbin/sendmail", os.X_OK):
        assert "a mail transfer agent (/usr/sbin/sendmail)" in out, out
    assert os.access(os.path.join(dest, PREFIX.lstrip("/"), "bin/onestop-etl"), os.X_OK)

    def check(path, sendmail):
        r = subprocess.run(["/bin/sh", CHECK, sendmail], capture_output=True, text=True,
                           env={"PATH": path})
        assert r.returncode == 0 and r.stderr == "", r
        return r.stdout

    no_mta = os.path.join(ctx.dir, "no-sendmail")
    out = check(bare, no_mta)
    assert f"a mail transfer agent ({no_mta}): none" in out, out
    assert "apt-get install cron logrotate exim4" in out, out

    mta = os.path.join(_fake_programs(os.path.join(ctx.dir, "mta"), sendmail=0), "sendmail")
    stopped = _fake_programs(os.path.join(ctx.dir, "stopped"), cron=0, logrotate=0, pidof=1)
    out = check(stopped, mta)
    assert re.fullmatch(r"\nnote: the nightly job needs what this host lacks:\n"
                        r"  cron: installed but not running; start it: "
                        r"systemctl enable --now cron\n", out), out

    running = _fake_programs(os.path.join(ctx.dir, "running"), cron=0, logrotate=0, pidof=0)
    assert check(running, mta) == ""
