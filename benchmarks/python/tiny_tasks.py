"""W6 of the performance issue, runnable unchanged on the original smallpond and on ours:
1,000 tiny tasks. One 200k-row Parquet file (one row group) of (k BIGINT, v DOUBLE),
``repartition(1000, by_rows=True)``, a SQL ``map``, ``count()``.

    python tiny_tasks.py WORK_DIR [TASKS]

Writes the input under WORK_DIR on first use (seeded, the same every time) and prints one
JSON line: seconds spent importing + initialising, running the job, shutting down.
"""

import json
import os
import sys
import time


def w6_input(work: str) -> str:
    """The input file under ``work``, written on first use (seeded, the same every time)."""
    data = os.path.join(work, "tiny.parquet")
    if not os.path.exists(data):
        import pyarrow as pa
        import pyarrow.parquet as pq

        os.makedirs(work, exist_ok=True)
        n = 200_000
        table = pa.table({"k": pa.array(range(n), pa.int64()), "v": [(i * 7919 % 1000) / 10 for i in range(n)]})
        pq.write_table(table, data + ".tmp", row_group_size=n)
        os.rename(data + ".tmp", data)
    return data


def main() -> None:
    work = sys.argv[1]
    tasks = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
    data = w6_input(work)
    t0 = time.perf_counter()
    import smallpond

    sp = smallpond.init(data_root=os.path.join(work, "root"))
    t1 = time.perf_counter()
    df = sp.read_parquet(data).repartition(tasks, by_rows=True).map("k, v * 2 AS v")
    rows = df.count()
    t2 = time.perf_counter()
    sp.shutdown()
    t3 = time.perf_counter()
    assert rows == 200_000, rows
    print(
        json.dumps(
            {
                "bench": "tiny-tasks",
                "tasks": tasks,
                "init_s": round(t1 - t0, 3),
                "job_s": round(t2 - t1, 3),
                "shutdown_s": round(t3 - t2, 3),
                "total_s": round(t3 - t0, 3),
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
