"""The original smallpond's 5 examples and 4 benchmarks, run unchanged as scripts on small
generated data, their outputs checked against DuckDB. The scripts come from smallpond
0.15.0's source distribution on PyPI (scripts/original.sh, checked against a pinned SHA-256);
they are not part of this project."""

import base64
import glob
import os
import random
import subprocess
import sys

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="module")
def original():
    done = subprocess.run(["bash", os.path.join(ROOT, "scripts", "original.sh")], capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert done.returncode == 0, f"cannot fetch the original's scripts: {done.stderr}"
    return done.stdout.strip()


@pytest.fixture(scope="module")
def tools():
    """Our gensort and valsort (crates/smallpond-bench), which the GraySort script calls."""
    target = os.environ.get("CARGO_TARGET_DIR") or os.path.expanduser("~/.cache/smallpond-rs/target")
    bin_dir = os.path.join(target, "release")
    for tool in ("gensort", "valsort"):
        assert os.access(os.path.join(bin_dir, tool), os.X_OK), f"{tool} is not built in {bin_dir} (cargo build --release)"
    return bin_dir


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """Mock URLs as the original's tests use them: TSV (urlstr, valstr) and Parquet files."""
    d = tmp_path_factory.mktemp("mock_urls")
    rng = random.Random(7)
    for i in range(3):
        with open(d / f"part{i}.tsv", "w") as f:
            for _ in range(1500):
                host = f"host{rng.randint(0, 40)}.com"
                url = f"{host}/p/{rng.randint(0, 10**6)} tail"
                f.write(f"{url}\t{base64.b64encode(rng.randbytes(8)).decode()}\n")
        n = 2000
        pq.write_table(
            pa.table({
                "host": [f"h{rng.randint(0, 30)}" for _ in range(n)],
                "url": [f"u{rng.randint(0, 10**6)}" for _ in range(n)],
                "v": [rng.random() for _ in range(n)],
            }),
            d / f"part{i}.parquet",
        )
    return str(d)


def run(script, *args, path=None, cwd=None, env=None):
    environ = dict(os.environ, **(env or {}))
    if path:
        environ["PATH"] = path + os.pathsep + environ.get("PATH", "")
    done = subprocess.run([sys.executable, script, *args], capture_output=True, text=True, timeout=600, cwd=cwd, env=environ)
    assert done.returncode == 0, f"{os.path.basename(script)} {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done


def job_dir(root):
    (job,) = glob.glob(os.path.join(root, "*"))
    return job


def count(pattern):
    return duckdb.sql(f"select count(*) from read_parquet('{pattern}')").fetchone()[0]


def sorted_within_files(pattern, column):
    for f in glob.glob(pattern):
        values = pq.read_table(f, columns=[column]).column(column).to_pylist()
        assert values == sorted(values), f"{f} is not sorted by {column}"


def test_sort_mock_urls(original, data, tmp_path):
    root = str(tmp_path / "root")
    run(f"{original}/examples/sort_mock_urls.py", "-i", f"{data}/*.tsv", "-n", "3", "--data_root", root)
    out = os.path.join(job_dir(root), "output")
    assert count(f"{out}/sorted_urls/*.parquet") == 4500 == count(f"{out}/*.parquet")
    sorted_within_files(f"{out}/sorted_urls/*.parquet", "host")
    # Hash partitioned by host, the partition kept in __data_partition__: no host in two.
    spread = duckdb.sql(
        f"select max(n), count(*) from (select host, count(distinct __data_partition__) n "
        f"from '{out}/urls_partitions/*.parquet' group by host)"
    ).fetchone()
    assert spread == (1, 41)


def test_sort_mock_urls_with_external_output_path(original, data, tmp_path):
    root, ext = str(tmp_path / "root"), str(tmp_path / "ext")
    # The function's external_output_path is not a flag: call it as a module would.
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); from sort_mock_urls import sort_mock_urls;"
        "from smallpond.execution.driver import Driver; d = Driver(); d.parse_arguments(sys.argv[4:]);"
        "d.run(sort_mock_urls([sys.argv[2]], 3, external_output_path=sys.argv[3]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, f"{original}/examples", f"{data}/*.tsv", ext, "--data_root", root],
        capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stderr
    for name in ("imported_urls", "urls_partitions"):
        assert count(f"{ext}/{name}/*.parquet") == 4500
    assert count(f"{ext}/data_sink/*.parquet") == 4500


def test_sort_mock_urls_v2(original, data, tmp_path):
    out = str(tmp_path / "out")
    run(f"{original}/examples/sort_mock_urls_v2.py", "-i", f"{data}/*.tsv", "-o", out, "-n", "3",
        env={"SP_DATA_ROOT": str(tmp_path / "root")})
    assert count(f"{out}/*.parquet") == 4500
    sorted_within_files(f"{out}/*.parquet", "host")


def test_shuffle_data(original, data, tmp_path):
    for extra in ([], ["-x"]):
        root = str(tmp_path / f"root{len(extra)}")
        run(f"{original}/examples/shuffle_data.py", "-i", f"{data}/*.parquet", "-nd", "3", "-nh", "4", "-no", "2", *extra, "--data_root", root)
        out = os.path.join(job_dir(root), "output", "data_copy")
        got = duckdb.sql(f"select count(*), sum(v), count(distinct sort_key) > 5000 from '{out}/*.parquet'").fetchone()
        want = duckdb.sql(f"select count(*), sum(v) from '{data}/*.parquet'").fetchone()
        assert got[0] == want[0] and got[1] == pytest.approx(want[1]) and got[2]


def test_shuffle_mock_urls(original, data, tmp_path):
    for extra in ([], ["-s"]):
        root = str(tmp_path / f"root{len(extra)}")
        run(f"{original}/examples/shuffle_mock_urls.py", "-i", f"{data}/*.parquet", "-n", "3", *extra, "--data_root", root)
        out = os.path.join(job_dir(root), "output")
        assert count(f"{out}/shuffled_urls/*.parquet") == 6000
        assert count(f"{out}/urls_partitions/*.parquet") == 6000


def test_fstest(original, tmp_path):
    out = str(tmp_path / "fs")
    run(f"{original}/examples/fstest.py", "-o", out, "-j", "3", "-s", "64k", "-i", f"{out}/*",
        env={"SP_DATA_ROOT": str(tmp_path / "root")})
    assert sorted(os.listdir(out)) == ["0", "1", "2"]
    assert all(os.path.getsize(os.path.join(out, f)) == 64 * 1024 for f in os.listdir(out))


def test_gray_sort_benchmark_validates_with_valsort(original, tools, tmp_path):
    root = str(tmp_path / "root")
    records = 40_000
    run(f"{original}/benchmarks/gray_sort_benchmark.py", "-T", str(records * 100), "-n", "2", "-t", "4",
        "-B", str(1 << 20), "-V", "--data_root", root, path=tools)
    out = os.path.join(job_dir(root), "output")
    data_files = glob.glob(f"{out}/sorted_records/*.dat")
    assert len(data_files) == 4 and sum(os.path.getsize(f) for f in data_files) == records * 100
    # valsort over the merged summaries, run again here: the whole output is in order.
    done = subprocess.run([os.path.join(tools, "valsort"), "-s", f"{out}/merged.sum"], capture_output=True, text=True)
    assert done.returncode == 0 and f"Records: {records}" in done.stdout and "SUCCESS" in done.stdout


def test_hash_partition_benchmark(original, data, tmp_path):
    root = str(tmp_path / "root")
    done = run(f"{original}/benchmarks/hash_partition_benchmark.py", "-i", f"{data}/*.parquet", "-n", "4", "-c", "host", "-S", "--data_root", root)
    assert "partition_keys" in done.stderr and "row_cnt" in done.stderr  # LogDataSet printed the stats
    out = os.path.join(job_dir(root), "output", "partitioned_datasets")
    pairs = duckdb.sql(f"select count(distinct partition_keys), max(partition_keys), count(*) from '{out}/*.parquet'").fetchone()
    assert pairs == (4, 3, 6000)
    spread = duckdb.sql(f"select max(n) from (select host, count(distinct partition_keys) n from '{out}/*.parquet' group by host)").fetchone()
    assert spread == (1,)


@pytest.mark.parametrize("engine", ["duckdb", "arrow", "stream"])
def test_file_io_benchmark(original, data, tmp_path, engine):
    root = str(tmp_path / "root")
    run(f"{original}/benchmarks/file_io_benchmark.py", "-i", f"{data}/*.parquet", "-n", "3", "-e", engine, "--data_root", root)
    out = os.path.join(job_dir(root), "output", "data")
    assert count(f"{out}/*.parquet") == 6000


def test_urls_sort_benchmark(original, data, tmp_path):
    root = str(tmp_path / "root")
    run(f"{original}/benchmarks/urls_sort_benchmark.py", "-i", f"{data}/*.tsv", "-n", "3", "-m", "4", "--data_root", root)
    out = os.path.join(job_dir(root), "output", "sorted_urls")
    assert count(f"{out}/*.parquet") == 4500
    sorted_within_files(f"{out}/*.parquet", "urlstr")
