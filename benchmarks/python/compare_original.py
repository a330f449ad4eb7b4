"""The same Python script on the original smallpond and on smallpond-rs.

    .venv/bin/python benchmarks/python/compare_original.py \
        --original /tmp/orig-venv/bin/python [--rows 20000000] [--runs 3] [--data DIR]

The original is installed in its own virtual environment:
    python3 -m venv /tmp/orig-venv && /tmp/orig-venv/bin/pip install smallpond==0.15.0 duckdb==1.4.5

Each run is a fresh process (`job.py`): import, init, hash-repartition 8 ways by `k`,
GROUP BY k, write Parquet, count, shutdown. Prints JSON lines and a summary of medians.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


def generate(data: str, rows: int) -> None:
    marker = os.path.join(data, f".rows-{rows}")
    if os.path.exists(marker):
        return
    shutil.rmtree(data, ignore_errors=True)
    import smallpond

    sp = smallpond.init(data_root=tempfile.mkdtemp(prefix="sp-gen-"), progress=False)
    df = sp.partial_sql(
        f"SELECT (hash(i) % 1000000)::BIGINT AS k, (i % 1000)::DOUBLE AS v, "
        f"md5(i::VARCHAR) AS pad FROM range({rows}) t(i)"
    )
    df.repartition(8, by_rows=True).write_parquet(data)
    sp.shutdown()
    open(marker, "w").close()


def run(python: str, data: str, mode: str, env_extra=None) -> dict:
    root = tempfile.mkdtemp(prefix="sp-bench-root-")
    out = tempfile.mkdtemp(prefix="sp-bench-out-")
    shutil.rmtree(out)
    env = dict(os.environ, **(env_extra or {}))
    args = [python, os.path.join(HERE, "job.py"), data, out, root]
    if mode == "startup":
        args.append("startup")
    try:
        p = subprocess.run(args, capture_output=True, text=True, env=env, timeout=3600)
        if p.returncode != 0:
            raise RuntimeError(f"{python} failed:\n{p.stderr[-3000:]}")
        line = [l for l in p.stdout.splitlines() if l.startswith("{")][-1]
        return json.loads(line)
    finally:
        shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(out, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--original", required=True, help="python of a venv with smallpond==0.15.0")
    ap.add_argument("--ours", default=sys.executable)
    ap.add_argument("--rows", type=int, default=20_000_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--startup-runs", type=int, default=5)
    ap.add_argument("--data", default="/tmp/sp-bench-py-data")
    args = ap.parse_args()
    generate(args.data, args.rows)
    impls = [("original", args.original), ("smallpond-rs", args.ours)]
    summary = {}
    for name, python in impls:
        jobs = []
        for i in range(args.runs):
            r = run(python, args.data, "job")
            r.update(impl=name, bench="hash-groupby", run=i, rows=args.rows)
            print(json.dumps(r), flush=True)
            jobs.append(r)
        starts = []
        for i in range(args.startup_runs):
            r = run(python, args.data, "startup")
            r.update(impl=name, bench="startup", run=i)
            print(json.dumps(r), flush=True)
            starts.append(r)
        summary[name] = {
            "job_total_s": statistics.median(r["total_s"] for r in jobs),
            "job_only_s": statistics.median(r["job_s"] for r in jobs),
            "startup_s": statistics.median(r["total_s"] for r in starts),
            "groups": jobs[0]["groups"],
        }
    o, s = summary["original"], summary["smallpond-rs"]
    summary["speedup_total"] = round(o["job_total_s"] / s["job_total_s"], 2)
    summary["speedup_job_only"] = round(o["job_only_s"] / s["job_only_s"], 2)
    if o["groups"] != s["groups"]:
        summary["warning"] = f"group counts differ: {o['groups']} vs {s['groups']}"
    print(json.dumps({"summary": summary}), flush=True)


if __name__ == "__main__":
    main()
