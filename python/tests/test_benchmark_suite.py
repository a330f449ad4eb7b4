"""benchmarks/compare: the six workloads of the performance issue, run small on our package, our
CLI, DuckDB (and Polars), every output checked against DuckDB's; and the checker itself catches
an unsorted or wrong output."""

import json
import os
import subprocess
import sys

import duckdb
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COMPARE = os.path.join(ROOT, "benchmarks", "compare")


def test_every_workload_runs_on_every_system_with_duckdbs_result(tmp_path):
    systems = ["smallpond-rs", "smallpond-rs-cli", "duckdb"]
    try:
        import polars  # noqa: F401

        systems.append("polars")
    except ImportError:
        pass
    done = subprocess.run(
        [sys.executable, os.path.join(COMPARE, "compare.py"), "--scale", "0.0005", "--tasks", "30",
         "--runs", "1", "--work", str(tmp_path), "--systems", ",".join(systems),
         "--python", f"duckdb={sys.executable}", "--python", f"polars={sys.executable}",
         "--python", f"smallpond-rs={sys.executable}"],
        capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    runs = [json.loads(x) for x in done.stdout.splitlines() if x.startswith("{")]
    seen = {(r["bench"], r["system"]) for r in runs}
    want = {(w, s) for w in ["w1", "w2", "w3", "w4", "w5", "w6"] for s in systems} - {("w6", "polars")}
    assert seen == want
    for r in runs:
        assert "error" not in r, r
        assert r["secs"] > 0 and r["peak_mb"] > 0, r
    by = {(r["bench"], r["system"]): r["result"] for r in runs}
    # The scaled sizes: 20 files x 500 events, 16 x 671 records (10,737), 1000 customers with
    # orders, 200k tiny rows; W2's output sorted across its 16 files.
    assert by[("w1", "smallpond-rs")]["n"] == 10_000
    assert by[("w2", "smallpond-rs-cli")] == {**by[("w2", "duckdb")], "sorted": True}
    assert by[("w2", "duckdb")]["rows"] == 10_737
    assert by[("w6", "smallpond-rs")] == {"count": 200_000}
    assert by[("w5", "smallpond-rs")]["types"] == "VARCHAR,INTEGER,BIGINT,TIMESTAMP"
    assert "| w6 |" in done.stdout


def verify(workload, out):
    done = subprocess.run([sys.executable, os.path.join(COMPARE, "verify.py"), workload, str(out)],
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


@pytest.mark.parametrize(
    "files,is_sorted",
    [
        ([[b"a", b"b"], [b"c", b"d"]], True),
        ([[b"b", b"a"], [b"c", b"d"]], False),  # a file out of order
        ([[b"a", b"c"], [b"b", b"d"]], False),  # files whose key ranges overlap
    ],
)
def test_the_checker_tells_a_sorted_output_from_an_unsorted_one(tmp_path, files, is_sorted):
    for i, keys in enumerate(files):
        rows = ", ".join(f"('{k.decode()}'::BLOB, 'p'::BLOB)" for k in keys)
        duckdb.sql(f"COPY (SELECT * FROM (VALUES {rows}) t(key, payload)) TO '{tmp_path}/part-{i}.parquet'")
    got = verify("w2", tmp_path)
    assert got["rows"] == 4 and got["sorted"] is is_sorted


def test_a_run_whose_result_differs_from_duckdbs_fails_the_suite(tmp_path):
    """A system that miscounts W3: compare.py reports the difference and exits 1."""
    fake = tmp_path / "python"
    # Called as `python polars_job.py WORKLOAD INPUT_DIR OUTPUT_DIR`.
    fake.write_text("#!/bin/sh\nmkdir -p \"$4\"\necho '{\"count\": 7}' > \"$4/count.json\"\n")
    os.chmod(fake, 0o755)
    done = subprocess.run(
        [sys.executable, os.path.join(COMPARE, "compare.py"), "--workloads", "w3", "--scale", "0.0005",
         "--runs", "1", "--work", str(tmp_path / "work"), "--systems", "duckdb,polars",
         "--python", f"duckdb={sys.executable}", "--python", f"polars={fake}"],
        capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    runs = {r["system"]: r for r in map(json.loads, filter(lambda x: x.startswith("{"), done.stdout.splitlines()))}
    assert "error" not in runs["duckdb"] and runs["duckdb"]["result"]["count"] > 7
    assert "differs" in runs["polars"]["error"] and runs["polars"]["result"] == {"count": 7}


@pytest.mark.parametrize(
    "args,says",
    [
        (["--systems", "duckdb,spark"], "unknown system 'spark'"),
        (["--workloads", "w1,w7"], "unknown workload 'w7'"),
        (["--python", "duckdb"], "--python takes SYSTEM=VALUE"),
        (["--runs-of", "original=one"], "--runs-of takes SYSTEM=N"),
    ],
)
def test_bad_arguments_are_refused_before_anything_runs(tmp_path, args, says):
    done = subprocess.run([sys.executable, os.path.join(COMPARE, "compare.py"), "--work", str(tmp_path), *args],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and says in done.stderr, done.stderr
    assert list(tmp_path.iterdir()) == [], "nothing made"
