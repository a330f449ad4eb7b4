"""The original smallpond's own benchmark scripts, unchanged, on the original 0.15 and on
ours, round-robin on the same generated data (issue 13's performance check):

    .venv/bin/python benchmarks/python/original_scripts.py --original /tmp/orig-venv/bin/python \
        [--rows 2000000] [--records 2000000] [--runs 3] [--work DIR]

* hash_partition_benchmark.py -i DATA -n 8 -c url -S: hash-partition (id, host, url, ts, v)
  rows 8 ways by url, then per-partition stats, consolidated and logged.
* gray_sort_benchmark.py -T BYTES -n 2 -t 8 -V: generate gensort records (our gensort and
  valsort on PATH for both), shuffle into 8 partitions by key prefix, sort, validate.

Beside them, in the same rounds, `floor`: the least work each script asks for, done by one
process with no engine around it (`original_floor.py`): no engine running the script can be
faster, so the original's time over the floor's is the most any engine can gain.

The scripts come from scripts/original.sh. Prints one JSON line per run and the medians.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def generate(data: str, rows: int) -> None:
    marker = os.path.join(data, f".rows-{rows}")
    if os.path.exists(marker):
        return
    shutil.rmtree(data, ignore_errors=True)
    os.makedirs(data)
    import duckdb

    files = 8
    for i in range(files):
        duckdb.sql(
            f"COPY (SELECT i AS id, 'host' || (hash(i) % 20000) AS host, "
            f"'https://' || (hash(i) % 20000) || '/' || md5(i::VARCHAR) AS url, "
            f"TIMESTAMP '2025-01-01' + to_seconds(i % 86400) AS ts, (i % 1000)::DOUBLE AS v "
            f"FROM range({i * rows // files}, {(i + 1) * rows // files}) t(i)) "
            f"TO '{data}/part-{i}.parquet' (FORMAT parquet)"
        )
    open(marker, "w").close()


def run(python: str, script: str, args: list, path_dir: str) -> float:
    root = tempfile.mkdtemp(prefix="sp-orig-bench-")
    env = dict(os.environ, PATH=path_dir + os.pathsep + os.environ["PATH"])
    try:
        t = time.perf_counter()
        # The original needs its mode argument; ours takes it too.
        p = subprocess.run([python, script, "scheduler", *args, "--data_root", root], capture_output=True, text=True, env=env, timeout=7200)
        secs = time.perf_counter() - t
        if p.returncode != 0:
            raise RuntimeError(f"{python} {os.path.basename(script)} failed:\n{p.stderr[-3000:]}")
        return secs
    finally:
        shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--original", required=True, help="python of a venv with smallpond==0.15.0, duckdb==1.4.5")
    ap.add_argument("--ours", default=os.path.join(ROOT, ".venv", "bin", "python"))
    ap.add_argument("--rows", type=int, default=2_000_000)
    ap.add_argument("--records", type=int, default=2_000_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--work", default=os.path.join(tempfile.gettempdir(), "sp-orig-scripts"))
    ap.add_argument("--jobs", default="hash_partition,gray_sort", help="which, comma-separated")
    args = ap.parse_args()
    original = subprocess.run(["bash", os.path.join(ROOT, "scripts", "original.sh")], capture_output=True, text=True, check=True).stdout.strip()
    tools = os.path.join(os.environ.get("CARGO_TARGET_DIR") or os.path.expanduser("~/.cache/smallpond-rs/target"), "release")
    data = os.path.join(args.work, "urls")
    if "hash_partition" in args.jobs:
        generate(data, args.rows)
    jobs = {
        "hash_partition": (f"{original}/benchmarks/hash_partition_benchmark.py", ["-i", f"{data}/*.parquet", "-n", "8", "-c", "url", "-S"]),
        "gray_sort": (f"{original}/benchmarks/gray_sort_benchmark.py", ["-T", str(args.records * 100), "-n", "2", "-t", "8", "-V"]),
    }
    jobs = {j: v for j, v in jobs.items() if j in args.jobs.split(",")}
    floor_args = {
        "hash_partition": [f"{data}/*.parquet"],
        "gray_sort": [str(args.records)],
    }
    systems = ("original", "ours", "floor")
    times = {(j, s): [] for j in jobs for s in systems}
    for r in range(args.runs):
        for job, (script, job_args) in jobs.items():
            for system in systems:
                steps = None
                if system == "floor":
                    steps = floor(args.ours, job, floor_args[job], os.path.join(args.work, "floor"), tools)
                    secs = steps.pop("secs")
                else:
                    python = args.original if system == "original" else args.ours
                    secs = run(python, script, job_args, tools)
                times[(job, system)].append(secs)
                line = {"bench": job, "system": system, "run": r, "secs": round(secs, 2),
                        "rows": args.rows if job == "hash_partition" else args.records}
                if steps:
                    line["steps"] = steps["steps"]
                print(json.dumps(line), flush=True)
    for job in jobs:
        o, s, f = (statistics.median(times[(job, system)]) for system in systems)
        print(f"{job}: original {o:.2f}s, ours {s:.2f}s ({o / s:.1f}x faster), "
              f"floor {f:.2f}s (at most {o / f:.1f}x faster than the original)")


def floor(python: str, job: str, job_args: list, work: str, tools: str) -> dict:
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "original_floor.py")
    extra = [os.path.join(tools, "gensort"), os.path.join(tools, "valsort")] if job == "gray_sort" else []
    p = subprocess.run([python, script, job, *job_args, work, *extra], capture_output=True, text=True, timeout=7200)
    if p.returncode != 0:
        raise RuntimeError(f"original_floor.py {job} failed:\n{p.stderr[-3000:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    main()
