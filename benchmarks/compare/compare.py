"""Each workload on smallpond-rs, one DuckDB process, and (when they install) the original
smallpond 0.15, Polars and Daft, on the same data; every output is checked against
DuckDB's. One JSON line per run, then a table of medians and ratios.

    .venv/bin/python benchmarks/compare/compare.py [--rows 20000000] [--sort-size 2GiB]
        [--runs 3] [--partitions 8] [--systems smallpond-rs,duckdb,original,polars,daft]
        [--workloads groupby,distinct,sort] [--work /tmp/sp-compare]

Virtual environments for the other systems are created under WORK/venvs (the original needs
`duckdb==1.4.5`). smallpond-rs runs from the project's .venv (scripts/python.sh install) and
the sort input comes from `smallpond bench graysort --input` (the CLI of the Cargo build).
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SYSTEMS_DIR = os.path.join(HERE, "systems")

VENVS = {
    "duckdb": ["duckdb==1.5.*", "pyarrow"],
    "original": ["smallpond==0.15.0", "duckdb==1.4.5"],
    "polars": ["polars"],
    "daft": ["daft"],
}


def venv_python(work, name):
    """The venv's python, creating it (and installing its packages) if needed."""
    if name == "smallpond-rs":
        py = os.path.join(ROOT, ".venv", "bin", "python")
        if not os.path.exists(py):
            raise RuntimeError("run scripts/python.sh install first")
        return py
    d = os.path.join(work, "venvs", name)
    py = os.path.join(d, "bin", "python")
    marker = os.path.join(d, ".installed")
    if not os.path.exists(marker):
        subprocess.run([sys.executable, "-m", "venv", d], check=True)
        subprocess.run([py, "-m", "pip", "install", "-q", *VENVS[name]], check=True)
        open(marker, "w").close()
    return py


def cargo_bin(name):
    target = os.environ.get("CARGO_TARGET_DIR") or os.path.expanduser("~/.cache/smallpond-rs/target")
    return os.path.join(target, "release", name)


def hosts_data(work, duck_py, rows):
    d = os.path.join(work, f"hosts-{rows}")
    if os.path.exists(os.path.join(d, ".done")):
        return d
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    sql = f"""
        COPY (SELECT i AS id, 'host-' || (hash(i) % 100000) AS host,
                     'https://host-' || (hash(i) % 100000) || '.example.com/path/' ||
                         (hash(i * 7) % 1000003) || '/index.html?q=' || i AS url,
                     TIMESTAMP '2026-01-01' + to_seconds(i % 31536000) AS ts,
                     (hash(i * 13) % 100000) / 100.0 AS v, i % 8 AS file
              FROM range({rows}) t(i))
        TO '{d}/hive' (FORMAT parquet, PARTITION_BY (file), WRITE_PARTITION_COLUMNS false)"""
    subprocess.run([duck_py, "-c", f"import duckdb; duckdb.sql({sql!r})"], check=True)
    for f in range(8):
        os.rename(f"{d}/hive/file={f}/data_0.parquet", f"{d}/part-{f}.parquet")
    shutil.rmtree(f"{d}/hive")
    open(os.path.join(d, ".done"), "w").close()
    return d


def sort_data(work, size, partitions):
    d = os.path.join(work, f"gensort-{size}-{partitions}")
    subprocess.run(
        [cargo_bin("smallpond"), "bench", "graysort", "--size", size, "--partitions",
         str(partitions), "--input", d, "--data-root", os.path.join(work, "root")],
        check=True, stdout=subprocess.DEVNULL,
    )
    return d


def dir_bytes(d):
    return sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d) if f.endswith(".parquet"))


def command(system, py, workload, glob, out, work, partitions):
    if system in ("smallpond-rs", "original"):
        root = os.path.join(work, "root")
        return [py, os.path.join(SYSTEMS_DIR, "smallpond_job.py"), workload, glob, out, root,
                str(partitions)]
    return [py, os.path.join(SYSTEMS_DIR, f"{system}_job.py"), workload, glob, out]


def close(a, b):
    if a.keys() != b.keys():
        return False
    for k in a:
        if isinstance(a[k], float):
            if abs(a[k] - b[k]) > 1e-9 * max(1.0, abs(a[k])):
                return False
        elif a[k] != b[k]:
            return False
    return True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=20_000_000)
    ap.add_argument("--sort-size", default="2GiB")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--partitions", type=int, default=8)
    ap.add_argument("--systems", default="smallpond-rs,duckdb,original,polars,daft")
    ap.add_argument("--workloads", default="groupby,distinct,sort")
    ap.add_argument("--work", default="/tmp/sp-compare")
    args = ap.parse_args()
    os.makedirs(args.work, exist_ok=True)
    duck_py = venv_python(args.work, "duckdb")
    pythons = {}
    for s in args.systems.split(","):
        try:
            pythons[s] = venv_python(args.work, s)
        except Exception as e:  # a system that does not install is skipped, not fatal
            print(json.dumps({"system": s, "skipped": str(e)}), flush=True)
    medians = {}
    for workload in args.workloads.split(","):
        if workload == "sort":
            data = sort_data(args.work, args.sort_size, args.partitions)
            rows = None
        else:
            data = hosts_data(args.work, duck_py, args.rows)
            rows = args.rows
        glob = os.path.join(data, "*.parquet")
        nbytes = dir_bytes(data)
        reference = None
        order = ["duckdb"] + [s for s in pythons if s != "duckdb"]
        systems = [s for s in order if s in pythons]
        secs = {s: [] for s in systems}
        failed = set()
        # Round-robin: run r of every system before run r+1 of any, so that a machine whose
        # speed drifts (shared, noisy) slows every system alike.
        for run in range(args.runs):
            for system in systems:
                if system in failed:
                    continue
                out = os.path.join(args.work, "out", f"{workload}-{system}")
                shutil.rmtree(out, ignore_errors=True)
                os.makedirs(os.path.dirname(out), exist_ok=True)
                cmd = command(system, pythons[system], workload, glob, out, args.work, args.partitions)
                m = json.loads(subprocess.run(
                    [sys.executable, os.path.join(HERE, "measure.py"), *cmd],
                    capture_output=True, text=True, check=True).stdout)
                line = {"bench": workload, "system": system, "run": run, "rows": rows,
                        "bytes": nbytes, "secs": m["secs"], "peak_rss_mb": m["peak_rss_mb"]}
                if m["returncode"] != 0:
                    last = [l for l in m["stderr"].splitlines() if l.strip()][-1:] or [""]
                    line["error"] = f"exit {m['returncode']}: {last[0][:300]}"
                    print(json.dumps(line), flush=True)
                    failed.add(system)
                    continue
                digest = json.loads(subprocess.run(
                    [duck_py, os.path.join(HERE, "verify.py"), workload, out],
                    capture_output=True, text=True, check=True).stdout)
                if workload == "sort" and not digest.get("sorted"):
                    line["error"] = "output is not sorted"
                if reference is None:
                    reference = digest
                elif not close(reference, digest):
                    line["error"] = f"result differs from duckdb's: {digest} vs {reference}"
                line["result"] = digest
                print(json.dumps(line), flush=True)
                if "error" in line:
                    failed.add(system)
                    continue
                secs[system].append(m["secs"])
        for system in systems:
            if system not in failed and len(secs[system]) == args.runs:
                medians[(workload, system)] = statistics.median(secs[system])
    print("\n| workload | system | median secs | vs smallpond-rs | vs duckdb |")
    print("|---|---|---|---|---|")
    for (workload, system), s in medians.items():
        ours = medians.get((workload, "smallpond-rs"))
        duck = medians.get((workload, "duckdb"))
        r1 = f"{s / ours:.2f}x" if ours else "-"
        r2 = f"{s / duck:.2f}x" if duck else "-"
        print(f"| {workload} | {system} | {s:.2f} | {r1} | {r2} |")


if __name__ == "__main__":
    main()
