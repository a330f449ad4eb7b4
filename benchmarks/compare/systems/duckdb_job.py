"""The workloads as one DuckDB statement each, in one process with all cores.

    python duckdb_job.py WORKLOAD INPUT_GLOB OUTPUT_DIR
"""

import os
import sys

import duckdb

workload, glob, out = sys.argv[1:4]
queries = {
    "groupby": "SELECT host, count(*) AS n, sum(v) AS s FROM read_parquet('{g}') GROUP BY host",
    "distinct": "SELECT DISTINCT host FROM read_parquet('{g}')",
    "sort": "SELECT key, value FROM read_parquet('{g}') ORDER BY key",
}
os.makedirs(out, exist_ok=True)
con = duckdb.connect()
con.execute(
    f"COPY ({queries[workload].format(g=glob)}) TO '{out}/part-0.parquet' (FORMAT parquet)"
)
