"""The workloads with Polars' lazy engine (streaming sink).

    python polars_job.py WORKLOAD INPUT_GLOB OUTPUT_DIR
"""

import os
import sys

import polars as pl

workload, glob, out = sys.argv[1:4]
os.makedirs(out, exist_ok=True)
lf = pl.scan_parquet(glob)
if workload == "groupby":
    lf = lf.group_by("host").agg(pl.len().alias("n"), pl.col("v").sum().alias("s"))
elif workload == "distinct":
    lf = lf.select("host").unique()
elif workload == "sort":
    lf = lf.select("key", "value").sort("key")
lf.sink_parquet(f"{out}/part-0.parquet")
