import os
import threading

import pyarrow as pa
import pyarrow.compute as pc
import pytest

import smallpond


def test_map_with_function(sp):
    df = sp.from_items([{"a": i, "b": 2 * i} for i in range(5)])
    out = df.map(lambda r: {"c": r["a"] + r["b"]})
    assert out.take_all() == [{"c": 3 * i} for i in range(5)]


def test_map_with_schema(sp):
    schema = pa.schema([("c", pa.int16())])
    out = sp.from_items([1, 2]).map(lambda r: {"c": r["item"]}, schema=schema)
    assert out.to_arrow().schema == schema


def test_filter_and_flat_map_with_functions(sp):
    df = sp.from_items(list(range(10))).repartition(3, by_rows=True)
    assert sorted(r["item"] for r in df.filter(lambda r: r["item"] % 2 == 0).take_all()) == [0, 2, 4, 6, 8]
    fm = df.flat_map(lambda r: [{"x": r["item"]}, {"x": -r["item"]}])
    assert fm.count() == 20


def test_map_batches_gets_tables_of_at_most_batch_size(sp):
    df = sp.from_items(list(range(1000)))

    def sizes(t):
        assert isinstance(t, pa.Table)
        return pa.table({"n": [t.num_rows]})

    ns = [r["n"] for r in df.map_batches(sizes, batch_size=300).take_all()]
    assert ns == [300, 300, 300, 100]
    doubled = df.map_batches(lambda t: t.set_column(0, "item", pc.multiply(t["item"], 2)))
    assert doubled.to_arrow().column("item").to_pylist()[:3] == [0, 2, 4]


def test_function_on_empty_partitions(sp):
    df = sp.from_items([{"k": 1, "v": 1}]).repartition(3, hash_by="k")
    mapped = df.map(lambda r: {"w": r["v"] * 10})
    assert mapped.take_all() == [{"w": 10}]
    assert mapped.count() == 1
    assert df.filter(lambda r: False).take_all() == []
    # The schema survives empty partitions, the hash partition's index column included.
    assert df.filter(lambda r: False).to_arrow().schema.names == ["k", "v", "__data_partition__"]


def test_python_functions_run_in_several_worker_processes(tmp_path):
    s = smallpond.init(data_root=str(tmp_path), num_executors=2, progress=False)
    try:
        df = s.from_items(list(range(8000))).repartition(8, by_rows=True)

        def burn(r):
            x = 0
            for i in range(2000):
                x += i * r["item"] % 7
            return {"pid": os.getpid(), "x": x}

        pids = {r["pid"] for r in df.map(burn).take_all()}
        assert os.getpid() not in pids
        assert len(pids) == 2, pids
    finally:
        s.shutdown()


def test_unpicklable_function_is_named(sp):
    lock = threading.Lock()

    def uses_lock(r):
        with lock:
            return r

    with pytest.raises(TypeError, match="uses_lock.*not picklable"):
        sp.from_items([1]).map(uses_lock)


def test_exception_in_function_carries_traceback(sp):
    def broken(r):
        return {"x": 1 / (r["item"] - r["item"])}

    with pytest.raises(smallpond.SmallpondError) as e:
        sp.from_items([1, 2]).map(broken).compute()
    text = str(e.value)
    assert "ZeroDivisionError" in text
    assert "broken" in text
    assert "Traceback" in text


def test_wrong_return_type_is_explained(sp):
    with pytest.raises(smallpond.SmallpondError, match="must return a dict"):
        sp.from_items([1]).map(lambda r: 5).compute()


def test_worker_process_that_exits_is_retried_then_reported(tmp_path):
    marker = tmp_path / "died-once"
    s = smallpond.init(data_root=str(tmp_path / "root"), progress=False)
    try:

        def die_once(r):
            if not marker.exists():
                marker.write_text("x")
                os._exit(3)
            return r

        assert s.from_items([1, 2, 3]).map(die_once).count() == 3
        assert marker.exists()

        def always_die(r):
            os._exit(4)

        with pytest.raises(smallpond.SmallpondError, match="exited with code 4"):
            s.from_items([1]).map(always_die).compute()
    finally:
        s.shutdown()


def test_fault_injection_gives_identical_output(tmp_path):
    s = smallpond.init(data_root=str(tmp_path), fault_inject_prob=0.3, max_attempts=20, progress=False)
    try:
        df = s.from_items([{"k": i % 7, "v": i} for i in range(500)])
        df = df.repartition(4, hash_by="k").map(lambda r: {"k": r["k"], "v2": r["v"] * 2})
        agg = s.partial_sql("select k, sum(v2) as s from {0} group by k", df)
        got = sorted((r["k"], r["s"]) for r in agg.take_all())
        want = sorted((k, sum(2 * v for v in range(500) if v % 7 == k)) for k in range(7))
        assert got == want
    finally:
        s.shutdown()


def test_thread_pool_runs_functions_too(tmp_path):
    s = smallpond.init(data_root=str(tmp_path), pool="threads", progress=False)
    try:
        out = s.from_items([1, 2]).map(lambda r: {"pid": os.getpid()}).take_all()
        assert {r["pid"] for r in out} == {os.getpid()}
    finally:
        s.shutdown()


def test_rerun_with_the_same_job_id_reuses_completed_tasks(tmp_path):
    calls = tmp_path / "calls"
    calls.mkdir()
    fail = tmp_path / "fail"
    fail.write_text("x")

    def stage1(r):
        # One file per call, from whichever worker process runs it.
        (calls / f"{r['item']}-{os.getpid()}-{os.urandom(4).hex()}").write_text("")
        return {"k": r["item"] % 3, "v": r["item"]}

    def stage2(t):
        if fail.exists():
            raise RuntimeError("planned failure")
        return t

    def job():
        s = smallpond.init(job_id="resume-test", data_root=str(tmp_path / "root"), progress=False)
        try:
            df = s.from_items(list(range(20))).map(stage1).repartition(2, hash_by="k")
            return sorted(r["v"] for r in df.map_batches(stage2).take_all())
        finally:
            s.shutdown()

    with pytest.raises(smallpond.SmallpondError, match="planned failure"):
        job()
    assert len(list(calls.iterdir())) == 20
    fail.unlink()
    assert job() == list(range(20))
    assert len(list(calls.iterdir())) == 20, "stage 1 ran again instead of being reused"


def test_rerun_with_the_same_job_id_but_other_data_computes_the_new_answer(tmp_path):
    """Reported: a re-run with the same job id after a failure, with other in-memory data,
    returned the old data's answer (its completed records were reused)."""
    fail = tmp_path / "fail"
    fail.write_text("x")

    def gate(t):
        if fail.exists():
            raise RuntimeError("planned failure")
        return t

    def job(items):
        s = smallpond.init(job_id="same-id", data_root=str(tmp_path / "root"), progress=False)
        try:
            df = s.from_items(items).repartition(2, hash_by="item")
            df = s.partial_sql("SELECT item * 10 AS v FROM {0}", df)
            return sorted(r["v"] for r in df.map_batches(gate).take_all())
        finally:
            s.shutdown()

    with pytest.raises(smallpond.SmallpondError, match="planned failure"):
        job([1, 2, 3])
    fail.unlink()
    assert job([7, 8, 9]) == [70, 80, 90]


def test_map_rows_with_different_keys_keep_every_key(sp):
    """Reported: a map returning dicts whose keys differ between rows dropped the later
    keys' values (0 of 5 kept)."""
    df = sp.from_items(list(range(10))).map(
        lambda r: {"k": r["item"]} if r["item"] < 5 else {"k": r["item"], "extra": r["item"] * 2}
    )
    rows = sorted(df.take_all(), key=lambda r: r["k"])
    assert [r["extra"] for r in rows] == [None] * 5 + [10, 12, 14, 16, 18]


def test_new_keys_in_a_later_batch_are_an_error_not_a_silent_drop():
    import pyarrow as pa

    from smallpond._runtime import BatchFunction

    f = BatchFunction("map", lambda r: {"k": r["x"], **({"late": 1} if r["x"] > 2 else {})})
    first = f.apply(pa.record_batch({"x": [1, 2]}))
    assert first[0].schema.names == ["k"]
    with pytest.raises(ValueError, match=r"keys \['late'\].*schema="):
        f.apply(pa.record_batch({"x": [3, 4]}))
    # With a declared schema, the declared columns are the output.
    g = BatchFunction("map", lambda r: {"k": r["x"], "late": 1}, pa.schema([("k", pa.int64())]))
    assert g.apply(pa.record_batch({"x": [3]}))[0].schema.names == ["k"]


def test_a_function_returning_int_here_and_str_there_gives_one_schema(sp, tmp_path):
    """Reported: partitions of one map published files with different schemas."""
    import pyarrow.parquet as pq

    df = sp.from_items(list(range(10))).repartition(2, by_rows=True)
    mapped = df.map(lambda r: {"x": r["item"] if r["item"] < 5 else f"s{r['item']}"})
    out = tmp_path / "out"
    mapped.write_parquet(str(out))
    files = sorted(out.iterdir())
    assert len(files) == 2
    schemas = {str(pq.read_schema(f).remove_metadata()) for f in files}
    assert len(schemas) == 1, schemas
    table = pq.read_table(str(out))  # a dataset of files with one schema
    assert sorted(table.column("x").to_pylist()) == sorted(
        [str(i) for i in range(5)] + [f"s{i}" for i in range(5, 10)]
    )
    assert sorted(r["x"] for r in mapped.take_all()) == sorted(table.column("x").to_pylist())


SLOW_JOB = r"""
import sys, time
import smallpond

def slow(t):
    time.sleep(60)
    return t

sp = smallpond.init(job_id="stoppable", data_root=sys.argv[1], progress=False)
df = sp.from_items(list(range(4))).repartition(2, by_rows=True).map_batches(slow)
print("started", flush=True)
df.write_parquet(sys.argv[2])
print("finished", flush=True)
"""


@pytest.mark.parametrize("signame", ["SIGINT", "SIGTERM"])
def test_ctrl_c_in_a_python_job_cancels_it_within_seconds(tmp_path, signame):
    """Reported: Ctrl-C printed two tracebacks, the job ran on, wrote its output and the
    script exited 0; SIGINT while map_batches ran was ignored the same way. SIGTERM killed
    the driver on the spot and left the job's status 'running'."""
    import signal
    import subprocess
    import sys
    import time

    sig = getattr(signal, signame)

    def as_from_a_terminal():
        # A shell starts a foreground job with SIGINT at its default; this test may run
        # where it is ignored (a background job of a non-interactive shell).
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)

    script = tmp_path / "job.py"
    script.write_text(SLOW_JOB)
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [sys.executable, str(script), str(tmp_path / "root"), str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        preexec_fn=as_from_a_terminal,
    )
    assert proc.stdout.readline().strip() == "started"
    time.sleep(2)  # map_batches is running in the worker processes
    sent = time.monotonic()
    os.killpg(proc.pid, sig)  # what a terminal's Ctrl-C does, or a service manager's stop
    try:
        _, err = proc.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        # What was still there, for the report: the driver's threads and its workers.
        ps = subprocess.run(
            ["ps", "-eLo", "pid,ppid,pgid,stat,wchan:24,comm,args"], capture_output=True, text=True
        ).stdout
        mark = f"SMALLPOND_DRIVER_PID={proc.pid}".encode()
        related = {str(proc.pid)}
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                if mark in open(f"/proc/{pid}/environ", "rb").read().split(b"\0"):
                    related.add(pid)
            except OSError:
                pass
        lines = [l for l in ps.splitlines() if l.split() and l.split()[0] in related]
        os.killpg(proc.pid, signal.SIGKILL)
        raise AssertionError(
            f"the job did not stop within 15 s of {signame}; still there:\n" + "\n".join(lines)
        )
    assert time.monotonic() - sent < 8, err
    if sig == signal.SIGINT:
        assert proc.returncode in (130, -signal.SIGINT), (proc.returncode, err)
        assert err.count("Traceback") == 1 and "KeyboardInterrupt" in err, err
    else:
        assert proc.returncode == 143, (proc.returncode, err)
        assert "Traceback" not in err, err
    assert not out.exists(), "a cancelled job published its output"
    (job,) = (tmp_path / "root").iterdir()
    assert (job / "status").read_text().strip() == "cancelled"
    # No worker of that driver runs on.
    mark = f"SMALLPOND_DRIVER_PID={proc.pid}".encode()
    survivors = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            env = open(f"/proc/{pid}/environ", "rb").read().split(b"\0")
            state = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if mark in env and state != "Z":
            survivors.append(pid)
    assert survivors == []
