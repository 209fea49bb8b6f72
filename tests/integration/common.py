"""What integration tests share: the warehouse side of the simulator's
expected output, and count checks."""
import os
import subprocess

LOCAL = "'Asia/Ho_Chi_Minh'"


def ts(col):
    return f"to_char({col} AT TIME ZONE {LOCAL}, 'YYYYMMDDHH24MISS')"


# Per entity: the query that prints the warehouse in the simulator's
# expected form (same columns, order and normalisation).
WAREHOUSE = {
    "donvi": f"SELECT unit_code, unit_name, parent_code, level, {ts('updated_at')}"
             " FROM dw.unit ORDER BY unit_code COLLATE \"C\"",
    "thutuc": f"SELECT unit_code, procedure_code, procedure_name, field_code, field_name,"
              f" level, legal_days, fee, in_force, {ts('updated_at')}"
              " FROM dw.procedure_version"
              " ORDER BY unit_code COLLATE \"C\", procedure_code COLLATE \"C\", updated_at",
    "hoso": f"SELECT ma_ho_so, unit_code, procedure_code, channel, status, {ts('submitted_at')},"
            f" {ts('received_at')}, {ts('due_at')}, {ts('finished_at')}, {ts('returned_at')},"
            f" paid_online, {ts('updated_at')} FROM dw.dossier ORDER BY ma_ho_so COLLATE \"C\"",
    "bosung": f"SELECT ma_ho_so, seq, {ts('requested_at')}, {ts('returned_at')},"
              f" {ts('prev_due_at')}, {ts('new_due_at')}, state, {ts('updated_at')}"
              " FROM dw.supplement ORDER BY ma_ho_so COLLATE \"C\", seq",
    "quatrinh": f"SELECT ma_ho_so, seq, status, {ts('done_at')}, department, handler,"
                f" handler_title, content, {ts('started_at')}, {ts('step_due_at')},"
                f" {ts('updated_at')} FROM dw.log_step ORDER BY ma_ho_so COLLATE \"C\", seq",
}
ENTITIES = list(WAREHOUSE)


def warehouse_rows(ctx, entity):
    """The warehouse's rows of an entity, as lists of strings (NULL = '')."""
    c = ctx.cluster
    r = subprocess.run(["psql", "-X", "-q", "-h", c.sock, "-p", str(c.port), "-U", "postgres",
                        "-d", ctx.db, "-c", f"COPY ({WAREHOUSE[entity]}) TO STDOUT"],
                       capture_output=True, check=True)
    out = []
    for line in r.stdout.decode().split("\n"):
        if line:
            out.append(["" if v == "\\N" else unescape(v) for v in line.split("\t")])
    return out


def unescape(v):
    if "\\" not in v:
        return v
    out, i = [], 0
    while i < len(v):
        if v[i] == "\\" and i + 1 < len(v):
            out.append({"n": "\n", "t": "\t", "r": "\r", "\\": "\\"}.get(v[i + 1], v[i + 1]))
            i += 2
        else:
            out.append(v[i])
            i += 1
    return "".join(out)


def assert_same_as_served(ctx, sim):
    """The warehouse holds exactly what the simulator served: every row,
    every value."""
    for entity in ENTITIES:
        want = sim.control(f"expected?entity={entity}")["rows"]
        got = warehouse_rows(ctx, entity)
        assert len(got) == len(want), f"{entity}: {len(got)} rows loaded, {len(want)} served"
        for g, w in zip(got, want):
            assert g == [str(x) for x in w], f"{entity}: warehouse {g} != served {w}"


def assert_counts_add_up(ctx):
    """rows read = loaded + rejected + superseded, for every run and entity."""
    bad = ctx.rows("SELECT run_id, entity, rows_read, rows_loaded, rows_rejected,"
                   " rows_superseded FROM etl.run_entity"
                   " WHERE rows_read <> rows_loaded + rows_rejected + rows_superseded")
    assert not bad, f"counts do not add up: {bad}"


def ok(r, what="run"):
    assert r.returncode == 0, f"{what} exited {r.returncode}:\n{r.stderr[-3000:]}"
    return r


def write_file(ctx, name, text, mode=0o600):
    """A file of the test's own, with that mode; its path."""
    path = os.path.join(ctx.dir, name)
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)
    return path
