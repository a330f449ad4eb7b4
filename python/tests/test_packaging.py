"""What the installed distribution provides besides the API: the `smallpond` command (the
engine's CLI, run inside the extension), its version, and the guard against a mixed install
with DeepSeek's smallpond. scripts/wheel.sh checks the same wheel where there is no
toolchain; these tests run against the wheel installed into the project's .venv."""

import importlib
import os
import signal
import subprocess
import sys
import time
from importlib import metadata

import pyarrow.dataset as ds
import pytest

import smallpond

SMALLPOND = os.path.join(os.path.dirname(sys.executable), "smallpond")


def run(*args, **kwargs):
    return subprocess.run(
        [SMALLPOND, *args], capture_output=True, text=True, timeout=120, **kwargs
    )


def test_version_is_ours_everywhere():
    version = metadata.version("smallpond-rs")
    assert smallpond.__version__ == version
    out = run("--version")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == f"smallpond {version}"


def test_the_command_runs_a_job_with_python_hosted_workers(prices, tmp_path):
    out = tmp_path / "out"
    result = run(
        "query",
        "SELECT ticker, count(*) AS n, sum(price) AS s FROM {0} GROUP BY ticker",
        "--input", os.path.join(prices, "*.parquet"),
        "--partitions", "3", "--hash-by", "ticker",
        "--output", str(out), "--data-root", str(tmp_path / "root"),
    )
    assert result.returncode == 0, result.stderr
    table = ds.dataset(str(out)).to_table().sort_by("ticker")
    assert table.column("ticker").to_pylist() == [f"T{i}" for i in range(10)]
    assert table.column("n").to_pylist() == [30] * 10
    assert sum(table.column("s").to_pylist()) == sum(
        float(f * 100 + i) for f in range(3) for i in range(100)
    )
    # The workers were this interpreter running the CLI's worker, not a cargo binary.
    logs = "".join(
        open(os.path.join(dirpath, name)).read()
        for dirpath, _, names in os.walk(tmp_path / "root")
        for name in names
        if name.endswith(".log")
    )
    assert "process@" in logs


def test_the_command_exit_statuses(tmp_path):
    bad = run("query", "SELECT 1")
    assert bad.returncode == 2
    assert "--output" in bad.stderr
    missing = run(
        "query", "SELECT * FROM {0}",
        "--input", str(tmp_path / "nothing-*.parquet"),
        "--output", str(tmp_path / "out"), "--data-root", str(tmp_path / "root"),
    )
    assert missing.returncode == 1
    assert "nothing-*.parquet" in missing.stderr
    assert not (tmp_path / "out").exists()
    assert run("--help").returncode == 0


def test_ctrl_c_cancels_the_command(tmp_path):
    """Ctrl-C in a terminal signals the foreground process group; the command cancels its
    job within seconds, as the native binary does (Python's own handler would only set a
    flag that the Rust code never reads): exit status 130, status `cancelled`."""
    data = tmp_path / "in.csv"
    data.write_text("k\n1\n")
    proc = subprocess.Popen(
        [
            SMALLPOND, "query",
            "SELECT count(*) AS n FROM {0}, range(20000000000) t(i) WHERE i % 7 = 3",
            "--input", str(data), "--format", "csv", "--schema", "k BIGINT",
            "--output", str(tmp_path / "out"), "--data-root", str(tmp_path / "root"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    time.sleep(2.0)
    assert proc.poll() is None, "the job should still be running"
    os.killpg(proc.pid, signal.SIGINT)
    try:
        status = proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        raise AssertionError("the command did not stop within 10 s of Ctrl-C")
    assert status == 130
    assert not (tmp_path / "out").exists()
    (job,) = (tmp_path / "root").iterdir()
    assert (job / "status").read_text().strip() == "cancelled"


# The guard against DeepSeek's smallpond in the same site-packages.
guard = importlib.import_module("_smallpond_rs_guard")


def test_the_guard_is_active_in_an_installed_environment():
    # Loaded by smallpond_rs.pth at start-up, before anything imported smallpond.
    assert guard.SmallpondConflictFinder in sys.meta_path


@pytest.mark.parametrize(
    "record",
    [
        "smallpond-0.15.0.dist-info",
        "smallpond-0.15.0-py3.11.egg-info",
        "smallpond.egg-info",
        "__editable__.smallpond-0.15.0.pth",
    ],
)
def test_the_guard_refuses_import_beside_the_original(tmp_path, monkeypatch, record):
    (tmp_path / record).mkdir()
    (tmp_path / "smallpond_rs-0.1.0.dist-info").mkdir()
    (tmp_path / "smallpond_other-1.0.dist-info").mkdir()
    monkeypatch.setattr(guard, "_SITE", str(tmp_path))
    with pytest.raises(ImportError) as e:
        guard.SmallpondConflictFinder.find_spec("smallpond")
    message = str(e.value)
    assert "both smallpond-rs and DeepSeek's smallpond" in message
    assert str(tmp_path) in message
    assert "pip uninstall -y smallpond smallpond-rs" in message
    if "0.15.0" in record:
        assert "(smallpond 0.15.0)" in message


def test_the_guard_ignores_other_distributions_and_other_imports(tmp_path, monkeypatch):
    for name in ["smallpond_rs-0.1.0.dist-info", "smallpondx-1.0.dist-info", "pyarrow"]:
        (tmp_path / name).mkdir()
    monkeypatch.setattr(guard, "_SITE", str(tmp_path))
    assert guard.SmallpondConflictFinder.find_spec("smallpond") is None
    (tmp_path / "smallpond-0.15.0.dist-info").mkdir()
    assert guard.SmallpondConflictFinder.find_spec("pyarrow") is None
    assert guard.SmallpondConflictFinder.find_spec("smallpond.dataframe") is None
