"""A few nights of chaos (issue 8), the short version of `make chaos`
(tests/chaos/chaos.py, which explains the method): the sanitizer build, a
small province, and a fixed plan that injects each fault kind once.  The
warehouse after the nights (and the administrator's reruns) must equal one
clean `run --full` of the final state, and every reject must be a bad row
the simulator served on purpose."""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "chaos"))
import chaos  # noqa: E402

PLAN = [
    ["http_5xx", "bad_row", "sigkill"],
    ["reset", "truncated_gzip", "pg_restart"],
    ["stall", "unterminated_quote", "concurrent_run"],
    ["retry_after", "bad_row"],
]


def test_four_nights_of_chaos(ctx):
    ref = ctx.db[:40] + "_ref"
    ctx.cluster.createdb(ref, "onestop_tmpl")
    lines = []
    try:
        summary = chaos.run_chaos(ctx.cluster, ctx.db, ref, ctx.dir, chaos.harness.BINARY,
                                  nights=len(PLAN), seed=3, dossiers=4000, procedures=None,
                                  plan=PLAN, require_each=0, out=lines.append, p_away=0)
    except chaos.ChaosFailure as e:
        raise AssertionError("\n".join(lines) + "\n" + str(e)) from None
    finally:
        ctx.cluster.psql("postgres", f"DROP DATABASE IF EXISTS {ref} WITH (FORCE)", check=False)
    print("\n".join("    " + line for line in lines))
    assert summary["rows"] > 10000, summary
    assert summary["rejects"] >= 1, summary
    # each kind took effect, or was drawn again the next night and did
    missing = [k for k in chaos.KINDS if not summary["faults"].get(k)]
    assert not missing, (missing, "\n".join(lines))
