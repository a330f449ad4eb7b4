"""The least work the original's benchmark scripts ask for, done by one process with no engine
around it: the floor under any engine that runs those scripts (issue 13's 10x check).

    python original_floor.py hash_partition DATA_GLOB WORK
    python original_floor.py gray_sort RECORDS WORK GENSORT VALSORT

* hash_partition: what `hash_partition_benchmark.py -n 8 -c url -S` computes, as two DuckDB
  statements with every core: one `COPY ... PARTITION_BY` of all rows into 8 zstd Parquet
  partitions with their `partition_keys` column (the node's output, as the script asks), then
  the per-partition stats query over those files.
* gray_sort: what `gray_sort_benchmark.py -n 2 -t 8 -V` runs of its own code, without the
  engine's shuffle: `gensort` of the records in two processes at once (the script's two
  generation tasks), the records sorted by key in one DuckDB `ORDER BY` over them in memory
  (the script's `sort_records`, its default engine) and written out, then `valsort`.

Prints one JSON line: `{"secs": ..., "steps": {step: secs}}`.
"""

import json
import os
import shutil
import subprocess
import sys
import time

import duckdb


def hash_partition(data: str, work: str) -> dict:
    out = os.path.join(work, "partitioned")
    con = duckdb.connect()
    steps = {}
    t = time.perf_counter()
    con.execute(
        f"COPY (SELECT *, hash(url) % 8 AS partition_keys FROM read_parquet('{data}')) TO '{out}' "
        "(FORMAT parquet, COMPRESSION zstd, PARTITION_BY (partition_keys), WRITE_PARTITION_COLUMNS true)"
    )
    steps["partition"] = time.perf_counter() - t
    t = time.perf_counter()
    stats = con.execute(
        "SELECT partition_keys, count(*) AS n, count(DISTINCT url) AS urls "
        f"FROM read_parquet('{out}/*/*.parquet', hive_partitioning = false) "
        "GROUP BY partition_keys ORDER BY n DESC"
    ).fetchall()
    steps["stats"] = time.perf_counter() - t
    if len(stats) != 8:
        raise SystemExit(f"expected 8 partitions, got {len(stats)}")
    return steps


def gray_sort(records: int, work: str, gensort: str, valsort: str) -> dict:
    import pyarrow as pa
    import pyarrow.compute as pc

    steps = {}
    t = time.perf_counter()
    halves = [(0, records // 2), (records // 2, records - records // 2)]
    files = [os.path.join(work, f"gen-{i}.dat") for i in range(2)]
    procs = [
        subprocess.Popen([gensort, "-t2", f"-b{start}", str(count), f"{path},buf,trans=100m"])
        for (start, count), path in zip(halves, files)
    ]
    if any(p.wait() != 0 for p in procs):
        raise SystemExit("gensort failed")
    steps["generate"] = time.perf_counter() - t
    t = time.perf_counter()
    chunks = []
    for path in files:
        with open(path, "rb") as f:
            buffer = pa.py_buffer(f.read())
        chunks.append(pa.Array.from_buffers(pa.binary(100), len(buffer) // 100, [None, buffer]))
    records_array = pa.chunked_array(chunks)
    by_key = pa.table({"k": pc.binary_slice(records_array, 0, 10), "rec": records_array})
    ordered = duckdb.connect().sql("SELECT rec FROM by_key ORDER BY k").to_arrow_table()
    out = os.path.join(work, "sorted.dat")
    with open(out, "wb") as f:
        for chunk in ordered.column("rec").chunks:
            _, offsets, data = chunk.buffers()
            width = 8 if pa.types.is_large_binary(chunk.type) else 4
            ends = [chunk.offset, chunk.offset + len(chunk)]
            lo, hi = (int.from_bytes(offsets[i * width : (i + 1) * width], "little") for i in ends)
            f.write(memoryview(data)[lo:hi])
    steps["sort"] = time.perf_counter() - t
    t = time.perf_counter()
    summary = os.path.join(work, "sorted.sum")
    done = subprocess.run([valsort, "-o", summary, f"{out},buf,trans=10m"], capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"valsort failed: {done.stdout}{done.stderr}")
    steps["validate"] = time.perf_counter() - t
    return steps


USAGE = __doc__.split("\n\n")[1]
ARGS = {"hash_partition": 2, "gray_sort": 4}


def main() -> None:
    job, *args = sys.argv[1:] or [""]
    if len(args) != ARGS.get(job):
        print(f"usage:\n{USAGE}", file=sys.stderr)
        sys.exit(2)
    work = args[1]  # emptied before and removed after
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    try:
        start = time.perf_counter()
        if job == "hash_partition":
            steps = hash_partition(args[0], work)
        else:
            steps = gray_sort(int(args[0]), work, args[2], args[3])
        secs = time.perf_counter() - start
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps({"secs": round(secs, 3), "steps": {k: round(v, 3) for k, v in steps.items()}}))


if __name__ == "__main__":
    main()
