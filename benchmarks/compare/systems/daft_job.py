"""The workloads with Daft (its local native runner).

    python daft_job.py WORKLOAD INPUT_GLOB OUTPUT_DIR
"""

import sys

import daft
from daft import col

workload, glob, out = sys.argv[1:4]
df = daft.read_parquet(glob)
if workload == "groupby":
    df = df.groupby("host").agg(col("v").count().alias("n"), col("v").sum().alias("s"))
elif workload == "distinct":
    df = df.select("host").distinct()
elif workload == "sort":
    df = df.select("key", "value").sort("key")
df.write_parquet(out)
