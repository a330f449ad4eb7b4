"""One smallpond job, runnable unchanged on the original smallpond and on ours.

    python job.py DATA_DIR OUT_DIR DATA_ROOT [startup]

Prints one JSON line: seconds spent importing + initialising, running the job, shutting down.
With `startup`, runs no job (import smallpond; smallpond.init(); shutdown()).
"""

import json
import sys
import time

t0 = time.perf_counter()
import smallpond  # noqa: E402

data, out, root = sys.argv[1:4]
startup_only = len(sys.argv) > 4 and sys.argv[4] == "startup"
sp = smallpond.init(data_root=root)
t1 = time.perf_counter()
rows = None
if not startup_only:
    df = sp.read_parquet(f"{data}/*.parquet")
    df = df.repartition(8, hash_by="k")
    df = sp.partial_sql("SELECT k, count(*) AS n, sum(v) AS s FROM {0} GROUP BY k", df)
    df.write_parquet(out)
    rows = df.count()
t2 = time.perf_counter()
sp.shutdown()
t3 = time.perf_counter()
print(
    json.dumps(
        {
            "init_s": round(t1 - t0, 3),
            "job_s": round(t2 - t1, 3),
            "shutdown_s": round(t3 - t2, 3),
            "total_s": round(t3 - t0, 3),
            "groups": rows,
        }
    ),
    flush=True,
)
