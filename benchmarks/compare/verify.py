"""Digest of one system's output, computed with DuckDB, so that systems can be compared.

    python verify.py WORKLOAD OUTPUT_DIR   ->   {"rows": ..., ...}

A count workload's output is OUTPUT_DIR/count.json, or Parquet files whose `n` column holds
per-partition counts (the CLI's). W2's digest says whether the output is sorted: every file
in itself, and the files' key ranges apart from one another.
"""

import json
import os
import sys

import duckdb

workload, out = sys.argv[1:3]
files = f"read_parquet('{out}/**/*.parquet', filename = true, file_row_number = true)"
con = duckdb.connect()
q = lambda sql: con.execute(sql).fetchone()  # noqa: E731
if workload in ("w3", "w6"):
    path = os.path.join(out, "count.json")
    if os.path.exists(path):
        with open(path) as f:
            count = json.load(f)["count"]
    else:
        count = int(q(f"SELECT sum(n) FROM {files}")[0])
    digest = {"count": count}
elif workload == "w1":
    rows, n, s, hosts = q(f"SELECT count(*), sum(n), sum(s), count(DISTINCT host) FROM {files}")
    digest = {"rows": rows, "n": int(n), "s": float(s), "distinct_hosts": hosts}
elif workload == "w2":
    rows, checksum = q(f"SELECT count(*), sum(hash(key || payload))::VARCHAR FROM {files}")
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
elif workload == "w4":
    rows, n, s, h = q(
        f"SELECT count(*), sum(n), sum(s), sum(hash(cust_id, country, segment, n))::VARCHAR FROM {files}"
    )
    digest = {"rows": rows, "n": int(n), "s": float(s), "checksum": h}
elif workload == "w5":
    rows, b, t = q(f"SELECT count(*), sum(bytes), sum(epoch(ts)) FROM {files}")
    types = [r[1] for r in con.execute(f"DESCRIBE SELECT url, status, bytes, ts FROM {files}").fetchall()]
    digest = {"rows": rows, "bytes": int(b), "ts": float(t), "types": ",".join(types)}
else:
    raise SystemExit(f"unknown workload {workload}")
print(json.dumps(digest))
