"""Digest of one system's output, computed with DuckDB, so that systems can be compared.

    python verify.py WORKLOAD OUTPUT_DIR   ->   {"rows": ..., ...}
"""

import json
import sys

import duckdb

workload, out = sys.argv[1:3]
files = f"read_parquet('{out}/**/*.parquet', filename = true, file_row_number = true)"
con = duckdb.connect()
q = lambda sql: con.execute(sql).fetchone()  # noqa: E731
if workload == "groupby":
    rows, n, s, hosts = q(f"SELECT count(*), sum(n), sum(s), count(DISTINCT host) FROM {files}")
    digest = {"rows": rows, "n": int(n), "s": float(s), "distinct_hosts": hosts}
elif workload == "distinct":
    rows, hosts = q(f"SELECT count(*), count(DISTINCT host) FROM {files}")
    digest = {"rows": rows, "distinct_hosts": hosts}
elif workload == "sort":
    rows, checksum = q(f"SELECT count(*), sum(hash(key || value))::VARCHAR FROM {files}")
    unordered = q(
        f"SELECT count(*) FROM (SELECT key, lag(key) OVER (PARTITION BY filename "
        f"ORDER BY file_row_number) AS prev FROM {files}) WHERE prev > key"
    )[0]
    overlaps = q(
        f"SELECT count(*) FROM (SELECT lo, lag(hi) OVER (ORDER BY lo) AS prev_hi FROM "
        f"(SELECT filename, min(key) AS lo, max(key) AS hi FROM {files} GROUP BY filename)) "
        f"WHERE prev_hi > lo"
    )[0]
    digest = {"rows": rows, "checksum": checksum, "sorted": unordered == 0 and overlaps == 0}
else:
    raise SystemExit(f"unknown workload {workload}")
print(json.dumps(digest))
