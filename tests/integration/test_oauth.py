"""Sources behind LGSP (issue 19): OAuth2 client credentials against the
simulator's token endpoint, whose tokens its pages then demand.

The token is obtained with the first page, reused while valid, renewed
before it expires and once when a page is refused; a token endpoint that
is down is retried as a page is, one that refuses the client fails the
source at once.  Short lifetimes and waits: the clock is real here.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from common import assert_counts_add_up, assert_same_as_served, ok, write_file  # noqa: E402

FAST = {"page_size": 40, "retry_delay": 0.05, "timeout": 2, "retries": 3}
# an identifier and a secret that form-encoding must carry through Basic
CLIENT_ID = "onestop etl:so+ctrang"
SECRET = "cs-DO-NOT-LEAK %+/:&=é-31415"


def lgsp_sim(ctx, **opts):
    opts.setdefault("seed", 71)
    opts.setdefault("dossiers", 120)
    return ctx.sim(oauth_client_id=CLIENT_ID, oauth_client_secret=SECRET, **opts)


def oauth_keys(ctx, sim, secret=SECRET, **keys):
    k = dict(FAST)
    k.update({"token_url": sim.url + "/oauth2/token", "client_id": CLIENT_ID,
              "client_secret_file": write_file(ctx, "client.secret", secret + "\n")})
    k.update(keys)
    return k


def config(ctx, sim, name="etl.conf", **keys):
    return ctx.config([("lgsp", sim.url + "/api", oauth_keys(ctx, sim, **keys))], name=name)


def requests(sim, entity=None):
    return [q for q in sim.control("log")["requests"] if entity is None or q["entity"] == entity]


def token_requests(sim):
    return requests(sim, "token")


def assert_secrets_absent(ctx, sim, *texts):
    issued = sim.control("oauth")["issued"]
    stored = ctx.sql("SELECT coalesce(string_agg(error, ' | '), '') FROM etl.run")
    for text in texts + (stored,):
        assert SECRET not in text, "the client secret leaked"
        for tok in issued:
            assert tok not in text, "an access token leaked"


def test_token_expiring_mid_entity_is_renewed_once(ctx):
    # tokens live 20 s: renewed 10 s in (half-way, as the life is short);
    # hoso's second page stalls 11 s, so the renewal falls inside hoso
    sim = lgsp_sim(ctx, oauth_lifetime=20)
    sim.control("faults", {"faults": [{"entity": "hoso", "request": 2, "kind": "stall",
                                       "seconds": 11, "fraction": 0.5}]})
    conf = config(ctx, sim, timeout=15)
    r = ok(ctx.etl(conf, "run"))
    assert_same_as_served(ctx, sim)
    assert_counts_add_up(ctx)
    assert r.stderr.count("token obtained") == 1, r.stderr[-3000:]
    assert r.stderr.count("token renewed") == 1, r.stderr[-3000:]
    log = requests(sim)
    assert all(q["status"] == 200 for q in log), [q for q in log if q["status"] != 200]
    order = [q["entity"] for q in log]
    assert order.count("token") == 2 and order[0] == "token", order
    renewal = order.index("token", 1)
    assert order[renewal - 1] == "hoso" and order[renewal + 1] == "hoso", order
    assert all(q["client_auth"] == "basic" for q in token_requests(sim))
    assert_secrets_absent(ctx, sim, r.stderr)


def test_page_refused_once_renews_the_token_and_goes_on(ctx):
    sim = lgsp_sim(ctx)
    # the gateway forgets every token before hoso's third page
    sim.control("faults", {"faults": [{"entity": "hoso", "request": 3, "kind": "expire_token"}]})
    r = ok(ctx.etl(config(ctx, sim), "run"))
    assert_same_as_served(ctx, sim)
    assert "renewing the token once" in r.stderr, r.stderr[-3000:]
    assert r.stderr.count("token renewed") == 1, r.stderr[-3000:]
    statuses = [(q["entity"], q["status"]) for q in requests(sim) if q["status"] != 200]
    assert statuses == [("hoso", 401)], statuses
    assert len(token_requests(sim)) == 2
    assert_secrets_absent(ctx, sim, r.stderr)


def test_page_refused_twice_fails_the_source_and_others_load(ctx):
    sim = lgsp_sim(ctx)
    plain = ctx.sim(seed=72, dossiers=60)
    sim.control("faults", {"faults": [{"entity": "hoso", "kind": "status", "code": 401,
                                       "request": 1, "times": 50}]})
    conf = ctx.config([("lgsp", sim.url + "/api", oauth_keys(ctx, sim)),
                       ("plain", plain.url, dict(FAST))])
    r = ctx.etl(conf, "run")
    assert r.returncode == 1, r.stderr[-3000:]
    runs = dict(l.split("\t", 1) for l in ctx.sql(
        "SELECT source, status || ': ' || coalesce(error, '') FROM etl.run").splitlines())
    assert runs["plain"].startswith("succeeded"), runs
    err = runs["lgsp"]
    for needle in ("failed", "source 'lgsp'", "/api/hoso", "HTTP 401",
                   "refused the token", "again with a token just renewed"):
        assert needle in err, (needle, err)
    # one renewal, no storm: two tries at the page, two tokens
    assert [q["status"] for q in requests(sim, "hoso")] == [401, 401]
    assert len(token_requests(sim)) == 2
    assert ctx.sql("SELECT count(*) FROM dw.dossier WHERE source = 'plain'").strip() != "0"
    assert_secrets_absent(ctx, sim, r.stderr)


def test_wrong_secret_fails_at_once_and_says_so(ctx):
    sim = lgsp_sim(ctx)
    wrong = "cs-WRONG-SECRET-2718"
    r = ctx.etl(config(ctx, sim, secret=wrong), "-v", "run")
    assert r.returncode == 1, r.stderr[-3000:]
    err = ctx.sql("SELECT error FROM etl.run")
    for text in (r.stderr, err):
        assert "token endpoint" in text and "HTTP 401" in text, text[-2000:]
        assert "invalid_client" in text and "client secret is wrong" in text, text[-2000:]
        assert wrong not in text and SECRET not in text
    # no retry, and no page asked for without a token
    assert [(q["entity"], q["status"]) for q in requests(sim)] == [("token", 401)]
    # a gateway that wants the pair in the body refuses Basic the same way
    body_sim = lgsp_sim(ctx, oauth_client_auth="body")
    r = ctx.etl(config(ctx, body_sim, name="b.conf"), "run")
    assert r.returncode == 1 and "invalid_client" in r.stderr, r.stderr[-3000:]
    r = ok(ctx.etl(config(ctx, body_sim, name="c.conf", client_auth="body"), "run"))
    assert [q["client_auth"] for q in token_requests(body_sim)] == ["basic", "body"]
    assert_secrets_absent(ctx, body_sim, r.stderr)


def test_token_endpoint_down_then_up_is_retried(ctx):
    sim = lgsp_sim(ctx)
    sim.control("faults", {"faults": [
        {"entity": "token", "request": 1, "kind": "status", "code": 503},
        {"entity": "token", "request": 2, "kind": "reset"},
        {"entity": "token", "request": 3, "kind": "stall", "seconds": 4}]})
    r = ok(ctx.etl(config(ctx, sim, timeout=1, retries=4), "run"))
    assert_same_as_served(ctx, sim)
    retries = [l for l in r.stderr.splitlines() if "token endpoint" in l and "retry" in l]
    assert len(retries) == 3, r.stderr[-3000:]
    assert "HTTP 503" in retries[0], retries
    assert len(token_requests(sim)) == 4
    # down for good: the source fails after its retries, saying so
    ctx.sql("TRUNCATE etl.watermark")
    sim.control("faults", {"faults": [{"entity": "token", "kind": "status", "code": 502,
                                       "times": 50}]})
    r = ctx.etl(config(ctx, sim, name="d.conf", retries=2), "run")
    assert r.returncode == 1, r.stderr[-3000:]
    err = ctx.sql("SELECT error FROM etl.run ORDER BY run_id DESC LIMIT 1")
    assert "/oauth2/token" in err and "HTTP 502" in err and "gave up after 3 attempts" in err, err
    assert_secrets_absent(ctx, sim, r.stderr)


def test_token_answer_that_is_not_bearer_is_refused(ctx):
    sim = lgsp_sim(ctx, oauth_token_type="mac")
    r = ctx.etl(config(ctx, sim), "run")
    assert r.returncode == 1 and "token_type 'mac' is not Bearer" in r.stderr, r.stderr[-3000:]
    # case does not matter (RFC 6749 §5.1)
    sim2 = lgsp_sim(ctx, oauth_token_type="bearer")
    ok(ctx.etl(config(ctx, sim2, name="b.conf"), "run"))


def test_check_config_reports_every_mixed_or_missing_key(ctx):
    secret = write_file(ctx, "s.secret", "x\n")
    text = f"""[warehouse]
dsn = {ctx.dsn}

[source mixed]
url = https://motcua.example.vn/api
token_file = {secret}
client_id = etl
token_url = https://lgsp.example.vn/token

[source noendpoint]
url = https://motcua.example.vn/api
client_id = etl
scope = export

[source nosecret]
url = https://motcua.example.vn/api
token_url = https://lgsp.example.vn/token
client_id = etl
client_auth = header

[source twosecrets]
url = https://motcua.example.vn/api
token_url = http://lgsp.example.vn/token
client_id = etl
client_secret_file = {secret}
client_secret_env = LGSP_SECRET

[source fine]
url = https://motcua.example.vn/api
token_url = http://127.0.0.1:9/token
client_id = etl
client_secret_file = {secret}
"""
    conf = write_file(ctx, "mixed.conf", text)
    r = ctx.etl(conf, "check-config")
    assert r.returncode == 2, r.stderr
    want = [(7, "'client_id' cannot go with 'token_file' (line 6)"),
            (8, "'token_url' cannot go with 'token_file' (line 6)"),
            (12, "'client_id' needs token_url"),
            (13, "'scope' needs token_url"),
            (17, "token_url needs client_secret_file or client_secret_env"),
            (19, "client_auth 'header' is not 'basic' or 'body'"),
            (23, "token_url 'http://lgsp.example.vn/token' is not https://"),
            (26, "has both client_secret_file and client_secret_env")]
    for line, msg in want:
        assert any(l.startswith(f"{conf}:{line}: ") and msg in l for l in r.stderr.splitlines()), \
            (line, msg, r.stderr)
    assert "'fine'" not in r.stderr, r.stderr
    assert "8 errors" in r.stderr, r.stderr


def test_the_example_lgsp_source_is_accepted(ctx):
    """The commented LGSP source of config/onestop-etl.conf.example, taken
    as an operator would (its leading '; ' removed, a secret file of its
    own), passes check-config."""
    example = open(os.path.join(harness.ROOT, "config", "onestop-etl.conf.example")).read()
    block = example[example.index("; [source soctrang-lgsp]"):]
    lines = [l[2:] for l in block.splitlines() if l.startswith("; ")]
    secret = write_file(ctx, "lgsp.secret", "s\n")
    text = "\n".join(lines).replace("/etc/onestop-etl/soctrang-lgsp.secret", secret)
    assert "token_url = https://" in text and "client_id" in text, text
    conf = write_file(ctx, "lgsp.conf", f"[warehouse]\ndsn = {ctx.dsn}\n[rules]\n"
                      f"calendar = {harness.ROOT}/config/calendar-vn.csv\n"
                      f"profiles = {harness.ROOT}/config/profiles.csv\n" + text + "\n")
    r = ok(ctx.etl(conf, "check-config"), "check-config of the example's LGSP source")
    assert "ok, 1 source" in r.stdout and r.stderr == "", r
