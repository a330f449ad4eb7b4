"""What building DataFrames costs (plan-time checks, the optimizer's analysis) against the
job they describe, on a W1-like job: read_parquet, repartition(8, hash_by="k"), GROUP BY,
write_parquet, count(). Runnable on any version of our package.

    python plan_checks.py DATA_DIR OUT_DIR DATA_ROOT

DATA_DIR holds Parquet files with columns k and v. Prints one JSON line: the build, write and
count times of the job, then the median time of 20 calls of each of four operations.
"""

import json
import statistics
import sys
import time

import smallpond

data, out, root = sys.argv[1:4]
sp = smallpond.init(data_root=root, progress=False)
time.sleep(0.5)  # as a script that does something between init and its first DataFrame
t0 = time.perf_counter()
source = sp.read_parquet(f"{data}/*.parquet")
shuffled = source.repartition(8, hash_by="k")
agg = sp.partial_sql("SELECT k, count(*) AS n, sum(v) AS s FROM {0} GROUP BY k", shuffled)
t1 = time.perf_counter()
agg.write_parquet(out)
t2 = time.perf_counter()
agg.count()
t3 = time.perf_counter()


def median_ms(f):
    times = []
    for _ in range(20):
        a = time.perf_counter()
        f()
        times.append(time.perf_counter() - a)
    return round(1000 * statistics.median(times), 2)


calls = {
    "filter_ms": median_ms(lambda: agg.filter("n > 1")),
    "sql_over_sql_ms": median_ms(lambda: sp.partial_sql("SELECT k, n FROM {0}", agg)),
    "agg_over_shuffle_ms": median_ms(
        lambda: sp.partial_sql("SELECT k, count(*) AS n FROM {0} GROUP BY k", shuffled)
    ),
    "map_over_source_ms": median_ms(lambda: source.map("k, v * 2 AS v")),
}
sp.shutdown()
print(
    json.dumps(
        {
            "build_ms": round(1000 * (t1 - t0), 1),
            "write_s": round(t2 - t1, 3),
            "count_ms": round(1000 * (t3 - t2), 1),
            **calls,
        }
    ),
    flush=True,
)
