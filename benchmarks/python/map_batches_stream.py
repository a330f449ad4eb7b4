"""Streaming `map_batches`: does a task take as long as its slowest part, or the sum?

    .venv/bin/python benchmarks/python/map_batches_stream.py [--rows 4000000] [--work 3]
        [--runs 3] [--data DIR]

8 Parquet files of (id BIGINT, url VARCHAR ~60 bytes, v DOUBLE); `map_batches` with a
CPU-heavy Python function (`--work` passes of pure Python over every url of the batch, then
the batch is returned with one more column), 8 partitions, written as Parquet. A task reads
its batches on one thread, runs the function on another and writes on a third; each task's
log says how long each of the three was busy. Per task, the ratio of its wall time to the
largest of the three is 1.0 when the pipeline hides the other two entirely, and its wall time
over their sum is what pipelining saved. Runs with `cpu_limit=2` (one task at a time, two
cores for its three threads) and with the default (one core per task, two tasks at a time).
Prints one JSON line per run and the medians.
"""

import argparse
import glob
import json
import os
import re
import shutil
import statistics
import tempfile
import time

BUSY = re.compile(r"after ([0-9.]+)s\n  busy: read ([0-9.]+)s, function ([0-9.]+)s, write ([0-9.]+)s")


def generate(data: str, rows: int) -> str:
    import duckdb

    marker = os.path.join(data, f".rows-{rows}")
    if os.path.exists(marker):
        return data
    shutil.rmtree(data, ignore_errors=True)
    os.makedirs(data)
    for f in range(8):
        lo, hi = rows * f // 8, rows * (f + 1) // 8
        duckdb.sql(
            f"COPY (SELECT i AS id, 'https://host-' || (hash(i) % 100000) || '.example.com/p/' || i AS url, "
            f"(hash(i * 7) % 1000) / 10.0 AS v FROM range({lo}, {hi}) t(i)) "
            f"TO '{data}/part-{f}.parquet' (FORMAT parquet)"
        )
    open(marker, "w").close()
    return data


def heavy(work: int):
    def f(table):
        import pyarrow as pa

        urls = table.column("url").to_pylist()
        score = [0] * len(urls)
        for _ in range(work):
            score = [s + sum(map(ord, u[-8:])) for s, u in zip(score, urls)]
        return table.append_column("score", pa.array(score, pa.int64()))

    return f


def run(data: str, work: int, cpu_limit) -> dict:
    import smallpond

    root = tempfile.mkdtemp(prefix="sp-mb-root-")
    out = tempfile.mkdtemp(prefix="sp-mb-out-")
    shutil.rmtree(out)
    try:
        sp = smallpond.init(data_root=root, progress=False)
        df = sp.read_parquet(f"{data}/*.parquet").repartition(8)
        kwargs = {} if cpu_limit is None else {"cpu_limit": cpu_limit}
        t = time.perf_counter()
        df.map_batches(heavy(work), batch_size=65536, **kwargs).write_parquet(out)
        wall = time.perf_counter() - t
        sp.shutdown()
        tasks = []
        for log in glob.glob(f"{root}/*/log/task-*.log"):
            m = BUSY.search(open(log).read())
            if m:
                tasks.append([float(x) for x in m.groups()])
        assert len(tasks) == 8, f"expected 8 map_batches task logs, found {len(tasks)}"
        import duckdb

        n, = duckdb.sql(f"SELECT count(*) FROM '{out}/*.parquet' WHERE score > 0").fetchone()
        return {"wall": wall, "tasks": tasks, "rows": n}
    finally:
        shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(out, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=4_000_000)
    ap.add_argument("--work", type=int, default=3)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--data", default=os.path.join(tempfile.gettempdir(), "sp-bench-map-batches"))
    args = ap.parse_args()
    data = generate(args.data, args.rows)
    results = {2: [], None: []}
    for r in range(args.runs):
        for cpu in (2, None):
            res = run(data, args.work, cpu)
            if res["rows"] != args.rows:
                raise SystemExit(f"wrote {res['rows']} rows, expected {args.rows}")
            per_task = [(e, max(rd, fn, wr), rd + fn + wr) for e, rd, fn, wr in res["tasks"]]
            line = {
                "bench": "map-batches-stream", "cpu_limit": cpu or 1, "run": r, "rows": args.rows,
                "wall": round(res["wall"], 3),
                "task_secs": round(sum(e for e, _, _ in per_task), 3),
                "read": round(sum(t[1] for t in res["tasks"]), 3),
                "function": round(sum(t[2] for t in res["tasks"]), 3),
                "write": round(sum(t[3] for t in res["tasks"]), 3),
                "wall_over_max": round(statistics.median(e / m for e, m, _ in per_task), 3),
                "wall_over_sum": round(statistics.median(e / s for e, _, s in per_task), 3),
            }
            results[cpu].append(line)
            print(json.dumps(line), flush=True)
    for cpu, lines in results.items():
        print(
            f"map_batches, cpu_limit {cpu or 1}: job {statistics.median(l['wall'] for l in lines):.2f}s; "
            f"per task, wall / max(read, function, write) = "
            f"{statistics.median(l['wall_over_max'] for l in lines):.2f}, wall / sum = "
            f"{statistics.median(l['wall_over_sum'] for l in lines):.2f} (medians of {args.runs})"
        )


if __name__ == "__main__":
    main()
