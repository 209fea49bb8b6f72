"""Security and resource bounds (issue 8): who can read and write the
warehouse, where secrets can leak, TLS, SQL built from data, personal data,
and what a hostile or broken source can make the job consume.

Roles.  The job runs as a LOGIN role `onestop_etl` without CREATEROLE (nor
CREATEDB, nor superuser) that owns its database; `onestop_bi` exists before
the first migrate, as README's setup says, so the writer needs no right to
create roles (the test cluster's template migration, run as the superuser,
created it; the test makes sure of it).  A BI login `metabase` is a member of
`onestop_bi`.  The writer authenticates with a password (scram-sha-256 for
that role only, a line added to the test cluster's pg_hba.conf for the
duration of a test) that comes from PGPASSFILE or from the DSN, so that the
tests can look for it where it must not be.
"""
import csv
import glob
import http.server
import io
import json
import os
import re
import socketserver
import ssl
import subprocess
import sys
import threading
import time
import urllib.request
from contextlib import contextmanager

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from common import assert_counts_add_up, assert_same_as_served, ok  # noqa: E402

TOKEN = "tok-DO-NOT-LEAK-1234"
OTHER_TOKEN = "tok-SERVER-EXPECTS-THIS-9876"
PASSWORD = "pw-DO-NOT-LEAK-5678"
CLIENT_SECRET = "cs-DO-NOT-LEAK %+/:9753"  # OAuth2 (issue 19); form-encoding must carry it
SECRETS = (TOKEN, OTHER_TOKEN, PASSWORD, CLIENT_SECRET)
WRITER = "onestop_etl"
BI_LOGIN = "metabase"
FAST = {"page_size": 100, "retry_delay": 0.05, "timeout": 2, "retries": 2}

# Values a warehouse built with string concatenation would choke on, or do
# what they say.  No leading or trailing spaces: values are trimmed.
NASTY = [
    "'); DROP TABLE dw.unit; --",
    "Robert'); DELETE FROM etl.run WHERE ('1'='1",
    'O\'Brien "the quoted" \'\'double\'\' ;;; $$ $tag$ dollar',
    "back\\slash \\\\ two \\N \\t \\x41 end\\",
    "\\.",
    "\\N",
    "tab\there\tand\tthere",
    "dòng một\r\ndòng hai\ndòng ba",
    "%s %n %x %99999999d {0} ${HOME} `id` $(id)",
    "; SELECT pg_sleep(30); --",
    "E'\\\\' || chr(39) || '",
    "<script>alert('xss')</script> & &amp; </td>",
    "Ủy ban nhân dân xã Phú Tân — “ngoặc kép” ‘đơn’",
]


# ------------------------------------------------------------------ helpers

def psql_as(cluster, user, db, sql, env=None):
    """Run SQL as `user` (over the socket); CompletedProcess."""
    e = dict(os.environ)
    e.update(env or {})
    return subprocess.run([cluster.psql_bin, "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1",
                           "-h", cluster.sock, "-p", str(cluster.port), "-U", user, "-d", db,
                           "-c", sql], capture_output=True, text=True, env=e)


def write(path, text, mode=0o600):
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write(text)
    os.chmod(path, mode)
    return path


@contextmanager
def writer_warehouse(ctx):
    """A database owned by the LOGIN role onestop_etl (password auth), a BI
    login; yields (db, dsn without password, env with PGPASSFILE)."""
    c = ctx.cluster
    db = ctx.db[:40] + "_w"
    hba = os.path.join(c.data, "pg_hba.conf")
    original = open(hba).read()
    for role in (BI_LOGIN, WRITER):
        c.psql("postgres", f"DROP ROLE IF EXISTS {role}", check=False)
    c.psql("postgres", "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname ="
                       " 'onestop_bi') THEN CREATE ROLE onestop_bi NOLOGIN; END IF; END $$")
    c.psql("postgres", f"CREATE ROLE {WRITER} LOGIN NOSUPERUSER NOCREATEROLE NOCREATEDB"
                       f" PASSWORD '{PASSWORD}'")
    c.psql("postgres", f"CREATE ROLE {BI_LOGIN} LOGIN IN ROLE onestop_bi")
    c.createdb(db)
    c.psql("postgres", f"ALTER DATABASE {db} OWNER TO {WRITER}")
    with open(hba, "w") as f:
        f.write(f"local all {WRITER} scram-sha-256\n" + original)
    c.psql("postgres", "SELECT pg_reload_conf()")
    passfile = write(os.path.join(ctx.dir, "pgpass"),
                     f"*:*:*:{WRITER}:{PASSWORD}\n")
    dsn = f"host={c.sock} port={c.port} dbname={db} user={WRITER}"
    try:
        yield db, dsn, {"PGPASSFILE": passfile}
    finally:
        with open(hba, "w") as f:
            f.write(original)
        c.psql("postgres", "SELECT pg_reload_conf()", check=False)
        c.psql("postgres", f"DROP DATABASE IF EXISTS {db} WITH (FORCE)", check=False)
        for role in (BI_LOGIN, WRITER):
            c.psql("postgres", f"DROP ROLE IF EXISTS {role}", check=False)


def config(ctx, dsn, url, name="etl.conf", extra="", **keys):
    k = dict(FAST)
    k.update(keys)
    return harness.write_config(os.path.join(ctx.dir, name), dsn, [("sim", url, k)], extra)


def assert_no_secret(where, text):
    for s in SECRETS:
        at = max(0, text.find(s) - 200)
        assert s not in text, f"a secret ({s}) in {where}: ...{text[at:at + 400]}"


def pg_dump(cluster, db):
    return subprocess.run(["pg_dump", "-h", cluster.sock, "-p", str(cluster.port), "-U", "postgres",
                           db], capture_output=True, check=True).stdout.decode("utf-8", "replace")


def wait_for_request(sim, proc, pred, what, timeout=60):
    def seen():
        if proc.poll() is not None:
            raise AssertionError(f"the run ended (exit {proc.returncode}) before {what}:\n"
                                 + proc.output()[-3000:])
        return [q for q in sim.control("log")["requests"] if pred(q)]
    return harness.wait_until(seen, timeout=timeout, what=what)


# -------------------------------------------------------------------- roles

def test_writer_owns_the_warehouse_and_bi_reads_mart_only(ctx):
    sim = ctx.sim(seed=61, dossiers=120)
    with writer_warehouse(ctx) as (db, dsn, env):
        conf = config(ctx, dsn, sim.url, timeout=20)
        ok(ctx.etl(conf, "migrate", env=env), "migrate as onestop_etl")
        ok(ctx.etl(conf, "run", env=env), "run as onestop_etl")
        c = ctx.cluster

        def q(sql):
            return c.psql(db, sql).strip()
        # the writer: no special rights, owns its schemas and everything in them
        assert q(f"SELECT rolsuper OR rolcreaterole OR rolcreatedb FROM pg_roles"
                 f" WHERE rolname = '{WRITER}'") == "f"
        assert q("SELECT string_agg(nspname || ':' || pg_get_userbyid(nspowner), ',' ORDER BY"
                 " nspname) FROM pg_namespace WHERE nspname IN ('etl', 'dw', 'mart')") == \
            f"dw:{WRITER},etl:{WRITER},mart:{WRITER}"
        foreign = q("SELECT string_agg(n.nspname || '.' || c.relname, ', ') FROM pg_class c"
                    " JOIN pg_namespace n ON n.oid = c.relnamespace"
                    " WHERE n.nspname IN ('etl', 'dw', 'mart', 'public')"
                    f" AND pg_get_userbyid(c.relowner) <> '{WRITER}'")
        assert foreign == "", f"relations not owned by the writer: {foreign}"
        assert q("SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                 " WHERE n.nspname = 'public'") == "0", "the job left relations in public"

        # onestop_bi, on the catalogue: SELECT on mart and nothing else
        bad = q("SELECT string_agg(n.nspname || '.' || c.relname || ' ' || p, ', ')"
                " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace,"
                " unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE',"
                "              'REFERENCES', 'TRIGGER']) p"
                " WHERE n.nspname IN ('etl', 'dw', 'mart', 'public')"
                "   AND c.relkind IN ('r', 'p', 'v', 'm', 'f')"
                "   AND has_table_privilege('onestop_bi', c.oid, p)"
                "   AND NOT (n.nspname = 'mart' AND p = 'SELECT')")
        assert bad == "", f"onestop_bi may: {bad}"
        assert q("SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                 " WHERE n.nspname = 'mart' AND c.relkind IN ('r', 'v', 'm')"
                 " AND NOT has_table_privilege('onestop_bi', c.oid, 'SELECT')") == "0"
        schemas = q("SELECT string_agg(x, ', ' ORDER BY x) FROM (SELECT s || ' ' || p"
                    " FROM unnest(ARRAY['etl', 'dw', 'mart', 'public']) s,"
                    " unnest(ARRAY['USAGE', 'CREATE']) p"
                    " WHERE has_schema_privilege('onestop_bi', s, p)) t(x)")
        assert schemas == "mart USAGE, public USAGE", schemas
        assert q("SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                 " WHERE n.nspname IN ('etl', 'dw', 'mart') AND CASE WHEN c.relkind = 'S'"
                 " THEN has_sequence_privilege('onestop_bi', c.oid, 'USAGE,SELECT,UPDATE')"
                 " END") == "0"
        assert q(f"SELECT has_database_privilege('onestop_bi', '{db}', 'CREATE')") == "f"

        # ... and in practice, as a member of it
        def as_bi(sql):
            return psql_as(c, BI_LOGIN, db, sql)
        for rel in ("mart.dossier", "mart.unit", "mart.unit_kpi", "mart.step_delay",
                    "mart.compliance_score", "mart.compliance_total", "mart.freshness"):
            r = as_bi(f"SELECT count(*) FROM {rel}")
            assert r.returncode == 0, (rel, r.stderr)
        assert int(as_bi("SELECT count(*) FROM mart.dossier").stdout) > 50
        tables = q("SELECT string_agg(n.nspname || '.' || c.relname, ' ') FROM pg_class c"
                   " JOIN pg_namespace n ON n.oid = c.relnamespace"
                   " WHERE n.nspname IN ('etl', 'dw') AND c.relkind IN ('r', 'p', 'v')").split()
        assert "etl.reject" in tables and "etl.run" in tables and "dw.dossier" in tables
        for rel in tables:
            r = as_bi(f"SELECT * FROM {rel} LIMIT 1")
            assert r.returncode != 0 and "permission denied" in r.stderr, (rel, r.stdout, r.stderr)
        refused = [
            "INSERT INTO mart.unit_kpi (unit_code) VALUES ('x')",
            "UPDATE mart.unit_kpi SET unit_name = 'x'",
            "DELETE FROM mart.unit_kpi",
            "TRUNCATE mart.unit_kpi",
            "UPDATE mart.dossier SET status = 1",
            "DELETE FROM mart.step_delay",
            "UPDATE mart.compliance_total SET points = 100",
            "CREATE TABLE mart.mine (x int)",
            "CREATE VIEW mart.mine AS SELECT 1",
            "CREATE TABLE public.mine (x int)",
            "DROP TABLE mart.unit_kpi",
            "ALTER TABLE mart.unit_kpi ADD COLUMN x int",
            "COMMENT ON TABLE mart.unit_kpi IS 'x'",
            "SELECT etl.advance_watermark('sim', 'hoso', now())",
            "SELECT nextval('etl.batch_seq')",
            "CREATE SCHEMA mine",
            "SET ROLE onestop_etl",
        ]
        for sql in refused:
            r = as_bi(sql)
            # (a view that is not updatable says so before checking rights)
            assert r.returncode != 0 and re.search(
                r"permission denied|must be owner|cannot (update|delete from) view",
                r.stderr), (sql, r.stderr)
        # a grant it cannot give: nothing granted
        r = as_bi("GRANT SELECT ON mart.unit_kpi TO PUBLIC")
        assert r.returncode != 0 or "no privileges were granted" in r.stderr, r.stderr
        assert q("SELECT count(*) FROM mart.unit_kpi") != "0"
        assert q("SELECT has_table_privilege('public', 'mart.unit_kpi', 'SELECT')") == "f"

        # staging: temporary tables of the job's session, created in its
        # transaction: no other session sees them, let alone reads them
        sim.control("clock", {"now": "20220301000000"})
        sim.control("faults", {"faults": [{"entity": "quatrinh", "request": 1, "kind": "stall",
                                           "seconds": 6, "fraction": 0.5}]})
        proc = harness.start_etl(conf, "run", env=env)
        try:
            wait_for_request(sim, proc, lambda r: r.get("fault") == "stall", "the stall")
            assert q(f"SELECT count(*) FROM pg_stat_activity WHERE usename = '{WRITER}'"
                     " AND xact_start IS NOT NULL") != "0", \
                q("SELECT usename, state, query FROM pg_stat_activity")
            assert as_bi("SELECT count(*) FROM pg_class WHERE relname LIKE 'stg%'").stdout \
                .strip() == "0"
            r = as_bi("DO $$ DECLARE n int := 0; t text; BEGIN"
                      " FOR i IN 0..200 LOOP FOREACH t IN ARRAY ARRAY['stg_donvi', 'stg_thutuc',"
                      "  'stg_hoso', 'stg_bosung', 'stg_quatrinh'] LOOP BEGIN"
                      "  EXECUTE format('SELECT 1 FROM pg_temp_%s.%I LIMIT 1', i, t); n := n + 1;"
                      "  EXCEPTION WHEN OTHERS THEN NULL; END; END LOOP; END LOOP;"
                      " RAISE NOTICE 'staging tables readable: %', n; END $$")
            assert "staging tables readable: 0" in r.stderr, (r.stdout, r.stderr)
        finally:
            assert proc.wait(60) == 0, proc.output()[-3000:]


# ------------------------------------------------------------------ secrets

def test_secrets_stay_out_of_argv_environment_logs_and_errors(ctx):
    wrong = ctx.sim(seed=62, dossiers=60, token=OTHER_TOKEN)
    right = ctx.sim(seed=62, dossiers=60, token=TOKEN)
    token_file = write(os.path.join(ctx.dir, "sim.token"), TOKEN + "\n")
    with writer_warehouse(ctx) as (db, dsn, env):
        outputs = {}
        # the password in the DSN (possible, not advised): never shown
        conf_pw = config(ctx, dsn + f" password={PASSWORD}", wrong.url, name="pw.conf",
                         token_file=token_file)
        ok(ctx.etl(conf_pw, "migrate"), "migrate with the password in the DSN")
        r = ctx.etl(conf_pw, "-v", "run")
        assert r.returncode == 1, r.stderr[-3000:]
        assert "401" in r.stderr and "refused the token" in r.stderr, r.stderr[-3000:]
        outputs["the log of a 401 run (-v, password in the DSN)"] = r.stderr + r.stdout
        assert [q["auth"] for q in wrong.control("log")["requests"]] == [True], \
            "401 and 403 are not retried"
        # the token from the environment (the operator's choice): still not shown
        conf_env = config(ctx, dsn, wrong.url, name="env.conf", token_env="ONESTOP_TEST_TOKEN")
        r = ctx.etl(conf_env, "-v", "run", env=dict(env, ONESTOP_TEST_TOKEN=TOKEN))
        assert r.returncode == 1 and "refused the token" in r.stderr, r.stderr[-3000:]
        outputs["the log of a 401 run (-v, token_env)"] = r.stderr + r.stdout
        for args in (["status"], ["check-config"], ["-v", "rerun", "--failed"],
                     ["score", "--format", "json"]):
            r = ctx.etl(conf_pw, *args)
            outputs[" ".join(args)] = r.stdout + r.stderr
        errors = ctx.cluster.psql(db, "SELECT coalesce(string_agg(error, ' | '), '')"
                                      " FROM etl.run")
        assert "refused the token" in errors, errors
        outputs["etl.run.error"] = errors

        # a wrong password: the message says so, and shows neither
        bad_pass = write(os.path.join(ctx.dir, "bad-pgpass"), f"*:*:*:{WRITER}:{PASSWORD}-x\n")
        conf = config(ctx, dsn, right.url, name="etl.conf", token_file=token_file)
        r = ctx.etl(conf, "-v", "status", env={"PGPASSFILE": bad_pass})
        assert r.returncode == 3 and "password authentication failed" in r.stderr, r.stderr
        outputs["a wrong password's message"] = r.stdout + r.stderr

        # a running job: token from a file, password from PGPASSFILE
        right.control("faults", {"faults": [{"entity": "hoso", "request": 1, "kind": "stall",
                                             "seconds": 3, "fraction": 0.5}]})
        proc = harness.start_etl(conf, "-v", "run", env=env)
        try:
            wait_for_request(right, proc, lambda q: q.get("fault") == "stall", "the stall")
            for what in ("cmdline", "environ"):
                with open(f"/proc/{proc.pid}/{what}", "rb") as f:
                    outputs[f"/proc/PID/{what} of a running job"] = \
                        f.read().replace(b"\0", b" ").decode("utf-8", "replace")
            assert "PGPASSFILE" in outputs["/proc/PID/environ of a running job"]
            threads = glob.glob(f"/proc/{proc.pid}/task/*/comm")
            outputs["thread names"] = " ".join(open(t).read() for t in threads)
        finally:
            assert proc.wait(60) == 0, proc.output()[-3000:]
        outputs["the log of a run (-v)"] = proc.output()
        assert all(q["auth"] and q["status"] == 200 for q in right.control("log")["requests"]
                   if q.get("fault") is None)
        outputs["the warehouse (pg_dump)"] = pg_dump(ctx.cluster, db)
        for where, text in outputs.items():
            assert_no_secret(where, text)


def test_client_secret_and_access_tokens_stay_out_of_everything(ctx):
    """A source behind LGSP: the client secret and the tokens it buys follow
    the token's rules (argv, environment, logs, etl.run.error, status,
    check-config, the warehouse)."""
    lgsp = ctx.sim(seed=65, dossiers=60, oauth_client_id="onestop-etl",
                   oauth_client_secret=CLIENT_SECRET)
    secret_file = write(os.path.join(ctx.dir, "client.secret"), CLIENT_SECRET + "\n")
    # a wrong secret that holds the right one: a leak of it shows too
    wrong_file = write(os.path.join(ctx.dir, "wrong.secret"), CLIENT_SECRET + "-x\n")
    keys = {"token_url": lgsp.url + "/oauth2/token", "client_id": "onestop-etl"}
    with writer_warehouse(ctx) as (db, dsn, env):
        outputs = {}
        conf_bad = config(ctx, dsn, lgsp.url, name="bad.conf", client_secret_file=wrong_file,
                          **keys)
        ok(ctx.etl(conf_bad, "migrate", env=env), "migrate")
        r = ctx.etl(conf_bad, "-v", "run", env=env)
        assert r.returncode == 1 and "invalid_client" in r.stderr, r.stderr[-3000:]
        outputs["the log of a run with a wrong secret (-v)"] = r.stderr + r.stdout
        # the secret from the environment; pages refused twice
        lgsp.control("faults", {"faults": [{"entity": "donvi", "kind": "status", "code": 401,
                                            "times": 10}]})
        conf_env = config(ctx, dsn, lgsp.url, name="env.conf",
                          client_secret_env="ONESTOP_TEST_SECRET", **keys)
        r = ctx.etl(conf_env, "-v", "run", env=dict(env, ONESTOP_TEST_SECRET=CLIENT_SECRET))
        assert r.returncode == 1 and "again with a token just renewed" in r.stderr, \
            r.stderr[-3000:]
        outputs["the log of a run refused twice (-v, client_secret_env)"] = r.stderr + r.stdout

        # a running job, the secret from a file
        lgsp.control("faults", {"faults": [{"entity": "hoso", "request": 1, "kind": "stall",
                                            "seconds": 3, "fraction": 0.5}]})
        conf = config(ctx, dsn, lgsp.url, name="etl.conf", client_secret_file=secret_file,
                      timeout=20, **keys)
        proc = harness.start_etl(conf, "-v", "run", env=env)
        try:
            wait_for_request(lgsp, proc, lambda q: q.get("fault") == "stall", "the stall")
            for what in ("cmdline", "environ"):
                with open(f"/proc/{proc.pid}/{what}", "rb") as f:
                    outputs[f"/proc/PID/{what} of a running job"] = \
                        f.read().replace(b"\0", b" ").decode("utf-8", "replace")
        finally:
            assert proc.wait(60) == 0, proc.output()[-3000:]
        outputs["the log of a run (-v)"] = proc.output()
        for args in (["status"], ["check-config"], ["-v", "rerun", "--failed"]):
            r = ctx.etl(conf, *args, env=env)
            outputs[" ".join(args)] = r.stdout + r.stderr
        outputs["etl.run.error"] = ctx.cluster.psql(
            db, "SELECT coalesce(string_agg(error, ' | '), '') FROM etl.run")
        assert "invalid_client" in outputs["etl.run.error"], outputs["etl.run.error"]
        outputs["the warehouse (pg_dump)"] = pg_dump(ctx.cluster, db)
        tokens = lgsp.control("oauth")["issued"]
        assert len(tokens) >= 3, tokens
        for where, text in outputs.items():
            assert_no_secret(where, text)
            for tok in tokens:
                assert tok not in text, f"an access token in {where}"


# -------------------------------------------------------- files, TLS, config

def test_config_or_token_file_writable_by_others_is_refused(ctx):
    sim = ctx.sim(seed=63, dossiers=30)
    token_file = write(os.path.join(ctx.dir, "sim.token"), TOKEN + "\n")
    conf = config(ctx, ctx.dsn, sim.url, token_file=token_file)
    ok(ctx.etl(conf, "check-config"))
    for path, what in ((conf, "configuration file"), (token_file, "token file")):
        for mode in (0o620, 0o602, 0o666, 0o622):
            os.chmod(path, mode)
            for args in (["check-config"], ["run"]) + ((["status"],) if path == conf else ()):
                r = ctx.etl(conf, *args)
                assert r.returncode == 2, (what, oct(mode), args, r.returncode, r.stderr)
                assert "writable by group or others" in r.stderr and path in r.stderr, r.stderr
                assert_no_secret(f"the message on a {what} of mode {oct(mode)}",
                                 r.stdout + r.stderr)
        os.chmod(path, 0o640)
        r = ok(ctx.etl(conf, "check-config"))
        assert "readable by group or others" in r.stderr, (what, r.stderr)
        os.chmod(path, 0o600)
    assert ctx.sql("SELECT count(*) FROM etl.run").strip() == "0", "a refused run ran"
    assert not sim.control("log")["requests"], "a refused run fetched"


def test_tls_verification_cannot_be_switched_off(ctx):
    # no code path turns verification off, and no configuration key exists for it
    src = {p: open(p).read() for p in glob.glob(os.path.join(harness.ROOT, "etl", "*.[ch]"))}
    sets = [(p, m) for p, t in src.items()
            for m in re.findall(r"CURLOPT_SSL_VERIFY\w+\s*,\s*[^)]+", t)]
    assert sorted(m.replace(" ", "") for _p, m in sets) == \
        ["CURLOPT_SSL_VERIFYHOST,2L", "CURLOPT_SSL_VERIFYPEER,1L"], sets
    for p, t in src.items():
        for bad in ("CURLOPT_PROXY_SSL_VERIFY", "CURLSSLOPT_NO_REVOKE", "CURLSSLOPT_ALLOW_BEAST",
                    "CURLOPT_SSL_VERIFYSTATUS, 0", "VERIFYPEER, 0", "VERIFYHOST, 0"):
            assert bad not in t, (p, bad)
    # no redirects (they could carry the bearer token to another host, or
    # from https to http), and no protocol but http and https
    http_c = src[os.path.join(harness.ROOT, "etl", "http.c")]
    assert "CURLOPT_FOLLOWLOCATION" not in http_c or \
        re.search(r"CURLOPT_FOLLOWLOCATION\s*,\s*0L", http_c)
    assert re.search(r'CURLOPT_PROTOCOLS_STR\s*,\s*"http,https"', http_c)
    sim = ctx.sim(seed=64, dossiers=40)
    for line in ("insecure = 1", "ssl_verify = 0", "verify = false", "tls_verify = no",
                 "verify_peer = 0", "verify_host = 0", "ssl_verify_peer = 0", "insecure"):
        conf = config(ctx, ctx.dsn, sim.url, name="tls.conf")
        with open(conf, "a") as f:
            f.write(line + "\n")
        n = open(conf).read().count("\n")
        r = ctx.etl(conf, "check-config")
        assert r.returncode == 2, (line, r.stdout, r.stderr)
        assert f"{conf}:{n}:" in r.stderr, (line, r.stderr)
        r = ctx.etl(conf, "run")
        assert r.returncode == 2, (line, r.stderr)

    # and in practice: a source whose certificate this host does not trust
    good = make_cert(ctx, "good", "IP:127.0.0.1")
    other = make_cert(ctx, "other", "DNS:motcua.example.vn")
    with https_proxy(good, sim.url) as url_good, https_proxy(other, sim.url) as url_other:
        r = ctx.etl(config(ctx, ctx.dsn, url_good, name="a.conf"), "run")
        assert r.returncode == 1 and "certificate" in r.stderr, r.stderr[-2000:]
        err = ctx.sql("SELECT error FROM etl.run ORDER BY run_id DESC LIMIT 1")
        assert "certificate" in err, err
        # the right CA, the wrong name: still refused
        r = ctx.etl(config(ctx, ctx.dsn, url_other, name="b.conf", ca_file=other[0]), "run")
        assert r.returncode == 1 and re.search(r"(?i)certificate|subject|name", r.stderr), \
            r.stderr[-2000:]
        # the CA given with ca_file, the right name: loads
        ok(ctx.etl(config(ctx, ctx.dsn, url_good, name="c.conf", ca_file=good[0]), "run"),
           "a run over TLS with ca_file")
    assert_same_as_served(ctx, sim)


def make_cert(ctx, name, san):
    cert, key = (os.path.join(ctx.dir, f"{name}.{x}") for x in ("pem", "key"))
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", f"/CN={name}", "-addext", f"subjectAltName={san}",
                    "-keyout", key, "-out", cert], check=True, capture_output=True)
    return cert, key


@contextmanager
def https_proxy(cert, upstream):
    """An HTTPS server on 127.0.0.1 that passes GETs on to the simulator."""
    class Proxy(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def do_GET(self):
            req = urllib.request.Request(upstream + self.path, headers={
                k: v for k, v in self.headers.items() if k.lower() in
                ("accept-encoding", "authorization", "user-agent")})
            try:
                with urllib.request.urlopen(req, timeout=60) as r:
                    status, headers, body = r.status, r.headers, r.read()
            except urllib.error.HTTPError as e:
                status, headers, body = e.code, e.headers, e.read()
            self.send_response(status)
            for k, v in headers.items():
                if k.lower() not in ("content-length", "connection", "transfer-encoding",
                                     "date", "server"):
                    self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
        daemon_threads = True

    srv = Server(("127.0.0.1", 0), Proxy)
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert[0], cert[1])
    srv.socket = tls.wrap_socket(srv.socket, server_side=True)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        yield f"https://127.0.0.1:{srv.server_address[1]}/api/export"
    finally:
        srv.shutdown()
        srv.server_close()


# ------------------------------------------------------ SQL built from data

def csv_line(values):
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow(values)
    return out.getvalue()


def stored_hex(ctx, sql):
    return [r[0] for r in ctx.rows(f"SELECT encode(convert_to(x, 'UTF8'), 'hex') FROM ({sql}) s(x)"
                                   " ORDER BY 1")]


def hexes(values):
    return sorted(v.encode("utf-8").hex() for v in values)


def catalogue_fingerprint(ctx):
    return ctx.rows("SELECT n.nspname, c.relname, c.relkind FROM pg_class c"
                    " JOIN pg_namespace n ON n.oid = c.relnamespace"
                    " WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')"
                    " AND n.nspname NOT LIKE 'pg_temp%' AND n.nspname NOT LIKE 'pg_toast_temp%'"
                    " AND NOT c.relispartition"
                    " ORDER BY 1, 2")


def test_names_full_of_sql_are_stored_byte_exact(ctx):
    sim = ctx.sim(seed=65, dossiers=80)
    conf = config(ctx, ctx.dsn, sim.url, page_size=1000)
    before = catalogue_fingerprint(ctx)
    units = [(f"NASTY.{i:02d}", v) for i, v in enumerate(NASTY)]
    units += [("'; DROP TABLE dw.unit; --", "mã đơn vị độc hại"), ("\\.", "mã là \\."),
              ('"x",\'y\'\t\\', "mã lạ")]
    procs = [(code, f"1.0{i:05d}", name, name[::-1]) for i, (code, name) in enumerate(units)]
    files = {
        "donvi": ["MaDonVi", "TenDonVi", "MaDonViCha", "CapDonVi", "CapNhatLuc"],
        "thutuc": ["MaDonVi", "MaTTHC", "TenTTHC", "MaLinhVuc", "TenLinhVuc", "MucDo",
                   "ThoiHanGiaiQuyet", "CapNhatLuc"],
        "hoso": ["MaHoSo", "MaDonVi", "MaTTHC", "KenhThucHien", "TrangThaiHoSo", "NgayTiepNhan",
                 "NgayHenTra", "NgayKetThucXuLy", "CapNhatLuc"],
        "quatrinh": ["MaHoSo", "ThuTu", "TrangThai", "ThoiDiemXuLy", "PhongBanXuLy",
                     "NoiDungXuLy", "CapNhatLuc"],
    }
    rows = {
        "donvi": [[code, name, units[0][0] if i else "", "XA", "20210101080000"]
                  for i, (code, name) in enumerate(units)],
        "thutuc": [[u, p, name, "LV';--", field, "3", "5", "20210101080000"]
                   for u, p, name, field in procs],
        "hoso": [[f"HS-{i:02d}-{name}", u, p, "2", "9", "20210301080000", "20210310170000",
                  "20210305100000", "20210305100000"] for i, (u, p, name, _f) in enumerate(procs)],
        "quatrinh": [[f"HS-{i:02d}-{name}", "1", "4", "20210302090000", name, name[::-1],
                      "20210302090000"] for i, (_u, _p, name, _f) in enumerate(procs)],
    }
    for entity, header in files.items():
        # the file's name is data too (etl.run.file_name)
        path = os.path.join(ctx.dir, f"{entity} '); DROP TABLE dw.unit; -- \\. $$.csv")
        write(path, csv_line(header) + "".join(csv_line(r) for r in rows[entity]))
        r = ok(ctx.etl(conf, "load-file", "--source", "sim", "--entity", entity, path),
               f"load-file {entity}")
        assert "pg_sleep" not in r.stderr
    assert ctx.sql("SELECT count(*) FROM etl.reject").strip() == "0", \
        ctx.sql("SELECT reason, column_name, raw FROM etl.reject")
    assert stored_hex(ctx, "SELECT file_name FROM etl.run") == \
        hexes(os.path.join(ctx.dir, f"{e} '); DROP TABLE dw.unit; -- \\. $$.csv") for e in files)
    names = [n for _c, n in units]
    codes = [c for c, _n in units]
    assert stored_hex(ctx, "SELECT unit_code FROM dw.unit") == hexes(codes)
    assert stored_hex(ctx, "SELECT unit_name FROM dw.unit") == hexes(names)
    assert stored_hex(ctx, "SELECT unit_name FROM mart.unit") == hexes(names)
    assert stored_hex(ctx, "SELECT procedure_name FROM dw.procedure_version") == hexes(names)
    assert stored_hex(ctx, "SELECT field_name FROM dw.procedure_version") == \
        hexes(n[::-1] for n in names)
    assert stored_hex(ctx, "SELECT ma_ho_so FROM mart.dossier") == \
        hexes(r[0] for r in rows["hoso"])
    assert stored_hex(ctx, "SELECT DISTINCT unit_code FROM mart.dossier") == hexes(codes)
    assert stored_hex(ctx, "SELECT department FROM dw.log_step") == hexes(names)
    assert stored_hex(ctx, "SELECT content FROM dw.log_step") == hexes(n[::-1] for n in names)
    assert ctx.sql("SELECT count(*) FROM mart.unit_kpi WHERE unit_code = $$NASTY.00$$"
                   " AND received = 1").strip() != "0"

    # the same through the simulator: values of optional text columns
    served = {}
    plan = []
    for i, (entity, column, req) in enumerate((("donvi", "TenDonVi", 1),
                                               ("thutuc", "TenTTHC", 1),
                                               ("quatrinh", "PhongBanXuLy", 1),
                                               ("quatrinh", "NoiDungXuLy", 2),
                                               ("bosung", "TrangThaiBoSung", 1))):
        # reason is only a label here: `value` replaces the column, and the row is good
        plan.append({"entity": entity, "kind": "bad_row", "reason": "too_long", "request": req,
                     "column": column, "value": NASTY[i], "row": 1 + i})
    sim.control("faults", {"faults": plan})
    ok(ctx.etl(config(ctx, ctx.dsn, sim.url, name="sim.conf", page_size=50), "run"),
       "a run with values full of SQL")
    for q in sim.control("log")["requests"]:
        if q.get("fault") == "bad_row":
            served[(q["entity"], q["detail"]["column"])] = (q["detail"]["key"],
                                                            q["detail"]["value"])
    assert len(served) == len(plan), served
    assert ctx.sql("SELECT count(*) FROM etl.reject").strip() == "0"
    where = {"donvi": ("dw.unit", "unit_code = %s", {"TenDonVi": "unit_name"}),
             "thutuc": ("dw.procedure_version", "unit_code = %s AND procedure_code = %s",
                        {"TenTTHC": "procedure_name"}),
             "quatrinh": ("dw.log_step", "ma_ho_so = %s AND seq = %s",
                          {"PhongBanXuLy": "department", "NoiDungXuLy": "content"}),
             "bosung": ("dw.supplement", "ma_ho_so = %s AND seq = %s",
                        {"TrangThaiBoSung": "state"})}
    for (entity, column), (key, value) in served.items():
        table, cond, cols = where[entity]
        lit = tuple("'" + str(k).replace("'", "''") + "'" for k in key)
        got = stored_hex(ctx, f"SELECT {cols[column]} FROM {table} WHERE {cond % lit}")
        # thutuc keeps every version of the key: the one served is among them
        assert hexes([value])[0] in got and (len(got) == 1 or entity == "thutuc"), \
            (entity, column, key, got, value)
    # a source name cannot carry SQL: names are letters, digits, '-', '_', '.'
    bad = harness.write_config(os.path.join(ctx.dir, "name.conf"), ctx.dsn,
                               [("x'); DROP TABLE dw.unit; --", sim.url, {})])
    r = ctx.etl(bad, "run")
    assert r.returncode == 2 and "bad source name" in r.stderr, r.stderr
    # nothing else happened: the same relations, every table still there
    assert catalogue_fingerprint(ctx) == before
    assert ctx.sql("SELECT string_agg(status, ',') FROM etl.run").strip() == \
        ",".join(["succeeded"] * 5)
    assert_counts_add_up(ctx)
    # and the scorecard's HTML shows them as text
    out = os.path.join(ctx.dir, "report.html")
    ok(ctx.etl(conf, "report", "--period", "2021", "--out", out), "report")
    html = open(out, encoding="utf-8").read()
    assert "<script>alert(" not in html, "a unit name is HTML in the report"
    for fmt in ("table", "csv", "json"):
        r = ok(ctx.etl(conf, "score", "--period", "2021", "--format", fmt), f"score {fmt}")
        if fmt == "json":
            json.loads(r.stdout)


# ------------------------------------------------------------ personal data

def personal_values(sim):
    samples = set()
    for values in sim.control("expected?entity=hoso")["personal_samples"].values():
        samples.update(v for v in values if v)
    return samples


def find_personal(samples, text):
    """The samples in text; a phone or ID number only as a whole number (not
    inside a longer run of digits: a timestamp, another ID)."""
    numbers = set(re.findall(r"\d+", text))
    return sorted(s for s in samples if (s in numbers if s.isdigit() else s in text))


def test_applicant_data_appears_nowhere(ctx):
    sim = ctx.sim(seed=66, dossiers=200)
    conf = config(ctx, ctx.dsn, sim.url, page_size=25)
    logs = []
    # a night that fails on a page it cannot read, with rows rejected before it
    sim.control("faults", {"faults": [
        {"entity": "hoso", "kind": "bad_row", "reason": "too_long", "request": 1},
        {"entity": "hoso", "kind": "bad_row", "reason": "field_count", "request": 2},
        {"entity": "hoso", "kind": "unterminated_quote", "request": 3, "times": 2}]})
    r = ctx.etl(conf, "-v", "run")
    assert r.returncode == 1 and "malformed" in r.stderr, r.stderr[-2000:]
    logs.append(r.stderr)
    # the night after: rejects, and everything else loaded
    sim.control("faults", {"faults": [
        {"entity": "hoso", "kind": "bad_row", "reason": reason, "request": n}
        for n, reason in enumerate(("bad_code", "bad_utf8", "too_long", "missing_field",
                                    "bad_order", "bad_timestamp"), 1)]})
    r = ok(ctx.etl(conf, "-v", "rerun", "--failed"))
    logs.append(r.stderr)
    for args in (["status"], ["score", "--format", "json"]):
        r = ok(ctx.etl(conf, *args))
        logs.append(r.stdout + r.stderr)
    assert ctx.sql("SELECT count(*) FROM etl.reject WHERE entity = 'hoso'").strip() == "8"
    samples = personal_values(sim)
    assert len(samples) > 500, len(samples)
    dump = pg_dump(ctx.cluster, ctx.db)
    assert "***" in dump and "refused" not in dump
    for where, text in (("the warehouse (pg_dump)", dump), ("the logs", "\n".join(logs))):
        found = find_personal(samples, text)
        assert not found, f"applicant data in {where}: {found[:5]}"


# ---------------------------------------------------------- resource bounds

def peak_rss_run(conf, *args, env=None, timeout=120):
    """Run the job under GNU time (else reading VmHWM while it runs):
    (CompletedProcess, seconds, peak RSS in MiB)."""
    e = dict(os.environ)
    e.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
    # ASan keeps freed memory in quarantine (256 MiB by default): measure the
    # program, not the sanitizer
    e["ASAN_OPTIONS"] += ":quarantine_size_mb=4:malloc_context_size=5"
    e.update(env or {})
    t0 = time.time()
    cmd = [BOUND_BINARY, "-c", conf] + list(args)
    if os.path.exists("/usr/bin/time"):
        r = subprocess.run(["/usr/bin/time", "-f", "onestop-peak-rss-kb=%M"] + cmd,
                           capture_output=True, text=True, env=e, timeout=timeout)
        took = time.time() - t0
        m = re.search(r"onestop-peak-rss-kb=(\d+)", r.stderr)
        assert m, r.stderr[-2000:]
        return r, took, int(m.group(1)) / 1024
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=e)
    peak = 0
    out = {}
    reader = threading.Thread(target=lambda: out.update(zip(("stdout", "stderr"),
                                                            proc.communicate(timeout=timeout))))
    reader.start()
    while reader.is_alive():
        try:
            with open(f"/proc/{proc.pid}/status") as f:
                peak = max([peak] + [int(line.split()[1]) for line in f
                                     if line.startswith("VmHWM:")])
        except (OSError, ValueError):
            pass
        time.sleep(0.02)
    took = time.time() - t0
    r = subprocess.CompletedProcess(cmd, proc.returncode, out.get("stdout", ""),
                                    out.get("stderr", ""))
    return r, took, peak / 1024


def _bound_binary():
    """The release build when it is up to date (its memory is the program's),
    else the sanitizer build the bench tests."""
    rel = os.path.join(harness.ROOT, "build", "onestop-etl")
    newest = max(os.path.getmtime(p) for p in glob.glob(os.path.join(harness.ROOT, "etl", "*"))
                 + glob.glob(os.path.join(harness.ROOT, "sql", "*")))
    if os.path.exists(rel) and os.path.getmtime(rel) >= newest and \
            "ONESTOP_ETL_BIN" not in os.environ:
        return rel
    return harness.BINARY


BOUND_BINARY = _bound_binary()
# peak RSS allowed over a normal run of the same binary
SLACK_MB = 48
DEADLINE = 5


def baseline_rss(ctx, sim):
    conf = config(ctx, ctx.dsn, sim.url, name="base.conf", page_size=1000)
    r, _took, rss = peak_rss_run(conf, "run")
    ok(r, "the baseline run")
    ctx.sql("TRUNCATE etl.watermark")
    return rss


def assert_bounded(ctx, r, took, rss, base, *needles, deadline=DEADLINE):
    assert r.returncode == 1, f"exit {r.returncode}:\n{r.stderr[-3000:]}"
    for n in needles:
        assert n in r.stderr, f"{n!r} not in the log:\n{r.stderr[-3000:]}"
    err = ctx.sql("SELECT error FROM etl.run ORDER BY run_id DESC LIMIT 1")
    for n in needles:
        assert n in err, (n, err)
    print(f"    {os.path.basename(BOUND_BINARY)}: failed after {took:.1f}s, peak RSS {rss:.0f} MiB"
          f" (a normal run: {base:.0f} MiB): {err.strip()[:150]}")
    assert took < deadline + 10, f"took {took:.1f}s with a deadline of {deadline}s"
    assert rss < base + SLACK_MB, f"peak RSS {rss:.0f} MiB, a normal run {base:.0f} MiB"
    return err


def test_endless_page_stops_at_the_deadline_in_bounded_memory(ctx):
    sim = ctx.sim(seed=67, dossiers=300)
    base = baseline_rss(ctx, sim)
    # the same rows again and again, plain, for ever
    sim.control("faults", {"faults": [{"entity": "hoso", "kind": "endless", "runaway": False,
                                       "seconds": 120}]})
    conf = config(ctx, ctx.dsn, sim.url, page_size=1000, deadline=DEADLINE, timeout=30)
    r, took, rss = peak_rss_run(conf, "run")
    assert_bounded(ctx, r, took, rss, base, "deadline", "/hoso")
    assert took >= DEADLINE - 0.5, f"stopped after {took:.1f}s, before the deadline?"
    # a quoted field that never closes: the csv's runaway cap, long before
    # the deadline
    sim.control("faults", {"faults": [{"entity": "quatrinh", "kind": "endless", "seconds": 120,
                                       "page": 1}]})
    conf = config(ctx, ctx.dsn, sim.url, name="b.conf", page_size=1000, deadline=60, timeout=30)
    r, took, rss = peak_rss_run(conf, "run")
    assert_bounded(ctx, r, took, rss, base, "/quatrinh", "a field runs over 64 MiB",
                   deadline=20)


def test_gigantic_field_is_a_reject_in_bounded_memory(ctx):
    """A 50 MiB value is one too_long reject: never buffered past the field
    cap, never in the log (issue 14, defect 4)."""
    sim = ctx.sim(seed=68, dossiers=100)
    base = baseline_rss(ctx, sim)
    huge = "Tên rất dài, " * (50 * 1024 * 1024 // 16)          # about 50 MiB
    sim.control("faults", {"faults": [{"entity": "thutuc", "kind": "bad_row",
                                       "reason": "too_long", "page": 1, "column": "TenTTHC",
                                       "value": huge}]})
    conf = config(ctx, ctx.dsn, sim.url, page_size=1000, deadline=60, timeout=30)
    r, took, rss = peak_rss_run(conf, "run")
    ok(r)
    rej = ctx.rows("SELECT entity, reason, column_name, length(raw) < 65536 FROM etl.reject")
    assert rej == [["thutuc", "too_long", "TenTTHC", "t"]], rej
    print(f"    {os.path.basename(BOUND_BINARY)}: a 50 MiB field in {took:.1f}s,"
          f" peak RSS {rss:.0f} MiB (a normal run: {base:.0f} MiB)")
    assert rss < base + SLACK_MB, f"peak RSS {rss:.0f} MiB, a normal run {base:.0f} MiB"
    assert huge[:200] not in r.stderr and len(r.stderr) < 100000, "the field went to the log"


def test_endless_tiny_pages_stop_at_the_deadline_in_bounded_memory(ctx):
    # a server that sends one row a page, and more rows than the deadline allows
    sim = ctx.sim(seed=69, dossiers=3000, max_limit=1)
    base = baseline_rss(ctx, ctx.sim(seed=69, dossiers=100))
    conf = config(ctx, ctx.dsn, sim.url, page_size=1, deadline=DEADLINE, timeout=30)
    r, took, rss = peak_rss_run(conf, "run")
    assert_bounded(ctx, r, took, rss, base, "deadline")
    pages = len(sim.control("log")["requests"])
    assert pages > 200, f"only {pages} pages in {took:.1f}s"
    assert took >= DEADLINE - 0.5
