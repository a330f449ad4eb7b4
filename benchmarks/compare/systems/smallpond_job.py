"""The six workloads as smallpond scripts on the original's DataFrame API: they run unchanged on
smallpond-rs and on the original smallpond 0.15.

    python smallpond_job.py WORKLOAD INPUT_DIR OUTPUT_DIR DATA_ROOT TASKS

W3 and W6 end in `count()`; they write `{"count": N}` to OUTPUT_DIR/count.json.
"""

import json
import os
import sys

import smallpond

workload, data, out, root, tasks = sys.argv[1:6]
sp = smallpond.init(data_root=root)
count = None
if workload == "w1":
    df = sp.read_parquet(f"{data}/*.parquet").repartition(8, hash_by="host")
    df = sp.partial_sql("SELECT host, count(*) AS n, sum(v) AS s FROM {0} GROUP BY host", df)
elif workload == "w2":
    df = sp.read_parquet(f"{data}/*.parquet").repartition(16, by="buckets")
    df = df.map("key, payload").partial_sort(by="key")
elif workload == "w3":
    df = sp.read_parquet(f"{data}/*.parquet").repartition(8, hash_by="url")
    count = sp.partial_sql("SELECT DISTINCT url FROM {0}", df).count()
elif workload == "w4":
    orders = sp.read_parquet(f"{data}/orders/*.parquet").repartition(8, hash_by="cust_id")
    customers = sp.read_parquet(f"{data}/customers/*.parquet").repartition(8, hash_by="cust_id")
    df = sp.partial_sql(
        "SELECT cust_id, c.country, c.segment, count(*) AS n, sum(o.amount) AS s "
        "FROM {0} o JOIN {1} c USING (cust_id) GROUP BY ALL",
        orders,
        customers,
    )
elif workload == "w5":
    schema = {"url": "VARCHAR", "status": "INTEGER", "bytes": "BIGINT", "ts": "VARCHAR"}
    df = sp.read_csv(f"{data}/*.tsv", schema=schema, delim=r"\t")
    df = df.filter("status = 200").map("url, status, bytes, CAST(ts AS TIMESTAMP) AS ts")
elif workload == "w6":
    df = sp.read_parquet(f"{data}/tiny.parquet").repartition(int(tasks), by_rows=True)
    count = df.map("k, v * 2 AS v").count()
else:
    raise SystemExit(f"unknown workload {workload}")
if count is None:
    df.write_parquet(out)
else:
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "count.json"), "w") as f:
        json.dump({"count": count}, f)
sp.shutdown()
