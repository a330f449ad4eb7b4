"""What DuckDB spends on the statements of one tiny SQL task (W6: 200 rows in, one Parquet
file out), on one thread, as our workers run them:

- ``view``: ``CREATE OR REPLACE TEMP VIEW`` over the input, then ``COPY (query) TO file``;
- ``inline``: the ``COPY`` alone, the input named in a ``WITH`` clause of the query.

Each for the output codecs zstd, snappy and uncompressed, round-robin over ROUNDS rounds of
N tasks. One JSON line per variant: the median milliseconds per task.

    python task_statements.py WORK_DIR [ROUNDS] [N]
"""

import json
import os
import shutil
import statistics
import sys
import time

import duckdb


def main() -> None:
    work = sys.argv[1]
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 400
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    conn = duckdb.connect()
    conn.execute("SET threads = 1")
    source = os.path.join(work, "in.parquet")
    conn.execute(
        f"COPY (SELECT range::BIGINT AS k, range / 10 AS v FROM range(200)) TO '{source}' (FORMAT parquet)"
    )
    reader = f"read_parquet(['{source}'])"

    def view(out: str, codec: str) -> None:
        conn.execute(f"CREATE OR REPLACE TEMP VIEW __input0 AS SELECT * FROM {reader}")
        conn.execute(f"COPY (SELECT k, v * 2 AS v FROM __input0) TO '{out}' (FORMAT parquet, COMPRESSION {codec})")

    def inline(out: str, codec: str) -> None:
        conn.execute(
            f"COPY (WITH __input0 AS NOT MATERIALIZED (SELECT * FROM {reader}) "
            f"SELECT k, v * 2 AS v FROM __input0) TO '{out}' (FORMAT parquet, COMPRESSION {codec})"
        )

    times: dict = {}
    for r in range(rounds):
        for codec in ("zstd", "snappy", "uncompressed"):
            for name, task in (("view", view), ("inline", inline)):
                outs = os.path.join(work, f"{name}-{codec}-{r}")
                os.makedirs(outs)
                start = time.perf_counter()
                for i in range(n):
                    task(os.path.join(outs, f"{i}.parquet"), codec)
                per_task = (time.perf_counter() - start) / n * 1000
                times.setdefault((name, codec), []).append(per_task)
    for (name, codec), ms in times.items():
        line = {"bench": "task-statements", "statements": name, "codec": codec, "tasks": n,
                "rounds": rounds, "median_ms": round(statistics.median(ms), 3)}
        print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main()
