"""The six workloads of the performance issue (issue 14) on smallpond-rs (the Python package with
the original's API, and the CLI), one DuckDB process, the original smallpond 0.15 and Polars, on
the same data; every output is checked against DuckDB's. Round-robin (run r of every system
before run r+1 of any); one JSON line per run, then a table of medians and ratios.

    .venv/bin/python benchmarks/compare/compare.py [--scale 1] [--runs 3] [--tasks 1000]
        [--systems smallpond-rs,smallpond-rs-cli,duckdb,original,polars]
        [--workloads w1,w2,w3,w4,w5,w6] [--work /tmp/sp-compare] [--python SYSTEM=PYTHON]
        [--runs-of original=1]

A system named `smallpond-rs@LABEL`, given with `--python smallpond-rs@LABEL=PYTHON`, runs the
smallpond script with that interpreter: two builds of ours compared round-robin.

W1 hash repartition(8) + GROUP BY; W2 sort 2 GiB: repartition(16, by="buckets") + map +
partial_sort; W3 dedup: repartition(8, hash_by="url") + SELECT DISTINCT + count(); W4 join 10M
orders with 1M customers, both hashed 8 ways by cust_id, joined and grouped per partition; W5
CSV ingest: 8 TSV files, filter + map (cast) to Parquet; W6 1,000 tiny tasks:
repartition(1000, by_rows=True) + map + count(). The inputs are in generate.py, the scripts in
systems/. Every system writes zstd Parquet (smallpond's default).

Virtual environments for the other systems are created under WORK/venvs (the original needs
`duckdb==1.4.5`) unless `--python SYSTEM=PATH` names an interpreter. smallpond-rs runs from the
project's .venv (scripts/python.sh install), the CLI from the Cargo build. The exit status is 1
when any run failed or gave a result other than DuckDB's.
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
}
# The dataset each workload reads (generate.py).
DATASETS = {"w1": "events", "w2": "records", "w3": "events", "w4": "orders", "w5": "logs", "w6": "tiny"}
# What does not apply: Polars has no tasks to schedule.
NOT_APPLICABLE = {("polars", "w6")}
CLI_SCHEMA = "url VARCHAR, status INTEGER, bytes BIGINT, ts VARCHAR"
# The CLI's form of each workload: the query and its partitioning arguments.
CLI = {
    "w1": ("SELECT host, count(*) AS n, sum(v) AS s FROM {0} GROUP BY host",
           ["-i", "{d}/*.parquet", "-n", "8", "--hash-by", "host"]),
    "w2": ("SELECT key, payload FROM {0} ORDER BY key",
           ["-i", "{d}/*.parquet", "-n", "16", "--by", "buckets"]),
    "w3": ("SELECT count(*) AS n FROM (SELECT DISTINCT url FROM {0})",
           ["-i", "{d}/*.parquet", "-n", "8", "--hash-by", "url"]),
    "w4": ("SELECT cust_id, c.country, c.segment, count(*) AS n, sum(o.amount) AS s "
           "FROM {0} o JOIN {1} c USING (cust_id) GROUP BY ALL",
           ["-i", "{d}/orders/*.parquet", "-i", "{d}/customers/*.parquet", "-n", "8",
            "--hash-by", "cust_id"]),
    "w5": ("SELECT url, status, bytes, CAST(ts AS TIMESTAMP) AS ts FROM {0} WHERE status = 200",
           ["-i", "{d}/*.tsv", "--format", "csv", "--schema", CLI_SCHEMA, "--delim", "\\t"]),
    "w6": ("SELECT count(*) AS n FROM (SELECT k, v * 2 AS v FROM {0})",
           ["-i", "{d}/tiny.parquet", "-n", "{tasks}", "--by-rows"]),
}


def venv_python(work, name, given):
    """The system's python: given with --python, or its venv's (created on first use)."""
    if name in given:
        return given[name]
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


def command(system, py, workload, data, out, root, tasks):
    # `smallpond-rs@base` (with `--python smallpond-rs@base=...`): another build of ours, to
    # compare two builds round-robin.
    system = system.split("@")[0]
    if system == "smallpond-rs-cli":
        sql, args = CLI[workload]
        args = [a.format(d=data, tasks=tasks) for a in args]
        return [cargo_bin("smallpond"), "query", sql, *args, "-o", out, "--data-root", root, "-q"]
    if system in ("smallpond-rs", "original"):
        return [py, os.path.join(SYSTEMS_DIR, "smallpond_job.py"), workload, data, out, root, str(tasks)]
    return [py, os.path.join(SYSTEMS_DIR, f"{system}_job.py"), workload, data, out]


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


def table(medians, peaks, workloads, systems):
    lines = ["| workload | " + " | ".join(systems) + " |", "|---" * (len(systems) + 1) + "|"]
    for w in workloads:
        duck, ours = medians.get((w, "duckdb")), medians.get((w, "smallpond-rs"))
        cells = []
        for s in systems:
            m = medians.get((w, s))
            if m is None:
                cells.append("-")
                continue
            notes = [f"{m / duck:.2f}x DuckDB"] if duck and s != "duckdb" else []
            if ours and s == "original":
                notes.append(f"{m / ours:.1f}x ours")
            cells.append(" ".join([f"{m:.2f} s", ", ".join(notes), f"({peaks[(w, s)]:.0f} MB)"]).replace("  ", " "))
        lines.append(f"| {w} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--tasks", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--systems", default="smallpond-rs,smallpond-rs-cli,duckdb,original,polars")
    ap.add_argument("--workloads", default="w1,w2,w3,w4,w5,w6")
    ap.add_argument("--work", default="/tmp/sp-compare")
    ap.add_argument("--python", action="append", default=[], metavar="SYSTEM=PYTHON")
    ap.add_argument("--runs-of", action="append", default=[], metavar="SYSTEM=N",
                    help="fewer runs for a slow system: it takes part in the first N rounds")
    args = ap.parse_args()

    def pairs(values, flag):
        if any("=" not in v for v in values):
            ap.error(f"{flag} takes SYSTEM=VALUE, got {values}")
        return dict(v.split("=", 1) for v in values)

    given = pairs(args.python, "--python")
    try:
        runs_of = {k: int(v) for k, v in pairs(args.runs_of, "--runs-of").items()}
    except ValueError:
        ap.error(f"--runs-of takes SYSTEM=N with N a number, got {args.runs_of}")
    known = ("smallpond-rs", "smallpond-rs-cli", *VENVS)
    for s in args.systems.split(","):
        if s.split("@")[0] not in known or s.startswith("smallpond-rs-cli@"):
            ap.error(f"unknown system {s!r}: one of {', '.join(known)} (or smallpond-rs@LABEL)")
    for w in args.workloads.split(","):
        if w not in DATASETS:
            ap.error(f"unknown workload {w!r}: one of {', '.join(DATASETS)}")
    os.makedirs(args.work, exist_ok=True)
    duck_py = venv_python(args.work, "duckdb", given)
    pythons = {}
    for s in args.systems.split(","):
        try:
            pythons[s] = None if s == "smallpond-rs-cli" else venv_python(args.work, s, given)
        except Exception as e:  # a system that does not install is skipped, not fatal
            print(json.dumps({"system": s, "skipped": str(e)}), flush=True)
    workloads = args.workloads.split(",")
    # DuckDB first in every round: its digest is the reference.
    systems = [s for s in ["duckdb"] + list(pythons) if s in pythons]
    systems = list(dict.fromkeys(systems))
    medians, peaks, errors = {}, {}, 0
    for workload in workloads:
        data = os.path.join(args.work, "data", f"{DATASETS[workload]}-{args.scale:g}")
        subprocess.run([duck_py, os.path.join(HERE, "generate.py"), DATASETS[workload], data,
                        str(args.scale)], check=True)
        reference = None
        runnable = [s for s in systems if (s, workload) not in NOT_APPLICABLE]
        secs = {s: [] for s in runnable}
        mems = {s: [] for s in runnable}
        failed = set()
        for run in range(args.runs):
            for system in runnable:
                if system in failed or run >= runs_of.get(system, args.runs):
                    continue
                out = os.path.join(args.work, "out", f"{workload}-{system}")
                root = os.path.join(args.work, "root", f"{workload}-{system}")
                for d in (out, root):
                    shutil.rmtree(d, ignore_errors=True)
                os.makedirs(root)
                cmd = command(system, pythons[system], workload, data, out, root, args.tasks)
                m = json.loads(subprocess.run(
                    [sys.executable, os.path.join(HERE, "measure.py"), *cmd],
                    capture_output=True, text=True, check=True).stdout)
                line = {"bench": workload, "system": system, "run": run, "scale": args.scale,
                        "secs": m["secs"], "peak_mb": m["peak_mb"], "peak_rss_mb": m["peak_rss_mb"]}
                if workload == "w6":
                    line["tasks"] = args.tasks
                if m["returncode"] != 0:
                    last = [x for x in m["stderr"].splitlines() if x.strip()][-1:] or [""]
                    line["error"] = f"exit {m['returncode']}: {last[0][:300]}"
                else:
                    digest = json.loads(subprocess.run(
                        [duck_py, os.path.join(HERE, "verify.py"), workload, out],
                        capture_output=True, text=True, check=True).stdout)
                    line["result"] = digest
                    if workload == "w2" and not digest.get("sorted"):
                        line["error"] = "output is not sorted"
                    elif reference is None:
                        reference = digest
                    elif not close(reference, digest):
                        line["error"] = f"result differs from the first system's: {reference}"
                shutil.rmtree(root, ignore_errors=True)
                print(json.dumps(line), flush=True)
                if "error" in line:
                    failed.add(system)
                    errors += 1
                    continue
                secs[system].append(m["secs"])
                mems[system].append(m["peak_mb"])
        for system in runnable:
            if system not in failed and len(secs[system]) == min(args.runs, runs_of.get(system, args.runs)):
                medians[(workload, system)] = statistics.median(secs[system])
                peaks[(workload, system)] = statistics.median(mems[system])
    print("\nmedian wall time, ratio, median peak memory (summed over processes):")
    print(table(medians, peaks, workloads, systems))
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()
