"""W3 of the performance issue (dedup): `repartition(8, hash_by="url")`, `SELECT DISTINCT url`
per partition, `count()`, against one DuckDB `SELECT count(*) FROM (SELECT DISTINCT url ...)`.

    .venv/bin/python benchmarks/python/dedup.py [--runs 3] [--data DIR]

Input (written once under DIR, the same every time): 20 zstd Parquet files x 1M rows of
`(id, host ~200k distinct, url ~50 bytes ~4M distinct, ts, v)`. Each run is a fresh process
(import, init, job, shutdown for ours), round-robin; both counts must agree. Prints one JSON
line per run and the medians. `SP_SHUFFLE_DIR=off` in the environment keeps our shuffle in
the job directory.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time


def generate(data: str) -> None:
    if os.path.exists(os.path.join(data, ".done")):
        return
    import duckdb

    os.makedirs(data, exist_ok=True)
    for i in range(20):
        duckdb.sql(
            f"COPY (SELECT i AS id, 'host' || (hash(i) % 200000) AS host, "
            f"'https://example.com/' || lpad((hash(i * 7) % 4000000)::VARCHAR, 12, '0') || '/' || repeat('x', 20) AS url, "
            f"TIMESTAMP '2025-01-01' + to_seconds(i % 86400) AS ts, (i % 1000)::DOUBLE AS v "
            f"FROM range({i} * 1000000, ({i} + 1) * 1000000) t(i)) "
            f"TO '{data}/part-{i:02d}.parquet' (FORMAT parquet, COMPRESSION zstd)"
        )
    open(os.path.join(data, ".done"), "w").close()


def child(system: str, data: str, root: str) -> None:
    t = time.perf_counter()
    if system == "duckdb":
        import duckdb

        n = duckdb.connect().execute(f"SELECT count(*) FROM (SELECT DISTINCT url FROM '{data}/*.parquet')").fetchone()[0]
    else:
        import smallpond

        sp = smallpond.init(data_root=root)
        df = sp.read_parquet(f"{data}/*.parquet").repartition(8, hash_by="url")
        n = sp.partial_sql("SELECT DISTINCT url FROM {0}", df).count()
        sp.shutdown()
    print(json.dumps({"bench": "dedup", "system": system, "rows": n, "secs": round(time.perf_counter() - t, 3)}))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--data", default=os.path.join(tempfile.gettempdir(), "sp-bench-dedup"))
    ap.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(*args.child)
        return
    data = os.path.join(args.data, "input")
    generate(data)
    secs = {"duckdb": [], "smallpond-rs": []}
    for run in range(args.runs):
        rows = {}
        for system in secs:
            out = subprocess.run(
                [sys.executable, __file__, "--child", system, data, os.path.join(args.data, "root")],
                check=True, capture_output=True, text=True,
            ).stdout.strip().splitlines()[-1]
            line = json.loads(out)
            print(json.dumps({**line, "run": run}), flush=True)
            secs[system].append(line["secs"])
            rows[system] = line["rows"]
        assert rows["duckdb"] == rows["smallpond-rs"], rows
    d, s = (statistics.median(secs[k]) for k in ("duckdb", "smallpond-rs"))
    print(f"dedup 20M rows: smallpond-rs {s:.2f}s, duckdb {d:.2f}s, ratio {s / d:.2f}x (medians of {args.runs})")


if __name__ == "__main__":
    main()
