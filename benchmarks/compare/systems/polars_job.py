"""The workloads with Polars' lazy engine (streaming sinks); W6 (tasks) does not apply.

    python polars_job.py WORKLOAD INPUT_DIR OUTPUT_DIR
"""

import json
import os
import sys

import polars as pl

workload, d, out = sys.argv[1:4]
os.makedirs(out, exist_ok=True)
count = None
if workload == "w1":
    lf = pl.scan_parquet(f"{d}/*.parquet").group_by("host").agg(pl.len().alias("n"), pl.col("v").sum().alias("s"))
elif workload == "w2":
    lf = pl.scan_parquet(f"{d}/*.parquet").select("key", "payload").sort("key")
elif workload == "w3":
    count = pl.scan_parquet(f"{d}/*.parquet").select(pl.col("url").n_unique()).collect().item()
elif workload == "w4":
    orders = pl.scan_parquet(f"{d}/orders/*.parquet")
    customers = pl.scan_parquet(f"{d}/customers/*.parquet")
    lf = orders.join(customers, on="cust_id").group_by("cust_id", "country", "segment").agg(
        pl.len().alias("n"), pl.col("amount").sum().alias("s")
    )
elif workload == "w5":
    schema = {"url": pl.String, "status": pl.Int32, "bytes": pl.Int64, "ts": pl.String}
    lf = pl.scan_csv(f"{d}/*.tsv", separator="\t", has_header=False, schema=schema)
    lf = lf.filter(pl.col("status") == 200).with_columns(pl.col("ts").str.to_datetime("%Y-%m-%dT%H:%M:%S"))
else:
    raise SystemExit(f"polars: no {workload}")
if count is None:
    lf.sink_parquet(f"{out}/part-0.parquet")
else:
    with open(os.path.join(out, "count.json"), "w") as f:
        json.dump({"count": count}, f)
