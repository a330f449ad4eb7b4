"""The six workloads as one DuckDB statement each, in one process with all cores.

    python duckdb_job.py WORKLOAD INPUT_DIR OUTPUT_DIR

W3 and W6 are counts: they write `{"count": N}` to OUTPUT_DIR/count.json.
"""

import json
import os
import sys

import duckdb

workload, d, out = sys.argv[1:4]
logs = (
    f"read_csv('{d}/*.tsv', delim = '\\t', header = false, "
    "columns = {'url': 'VARCHAR', 'status': 'INTEGER', 'bytes': 'BIGINT', 'ts': 'VARCHAR'})"
)
queries = {
    "w1": f"SELECT host, count(*) AS n, sum(v) AS s FROM '{d}/*.parquet' GROUP BY host",
    "w2": f"SELECT key, payload FROM '{d}/*.parquet' ORDER BY key",
    "w3": f"SELECT count(*) FROM (SELECT DISTINCT url FROM '{d}/*.parquet')",
    "w4": f"SELECT cust_id, c.country, c.segment, count(*) AS n, sum(o.amount) AS s "
    f"FROM '{d}/orders/*.parquet' o JOIN '{d}/customers/*.parquet' c USING (cust_id) GROUP BY ALL",
    "w5": f"SELECT url, status, bytes, CAST(ts AS TIMESTAMP) AS ts FROM {logs} WHERE status = 200",
    "w6": f"SELECT count(*) FROM (SELECT k, v * 2 AS v FROM '{d}/tiny.parquet')",
}
os.makedirs(out, exist_ok=True)
con = duckdb.connect()
if workload in ("w3", "w6"):
    with open(os.path.join(out, "count.json"), "w") as f:
        json.dump({"count": con.execute(queries[workload]).fetchone()[0]}, f)
else:
    # zstd, as smallpond writes by default (DuckDB would write snappy)
    con.execute(f"COPY ({queries[workload]}) TO '{out}/part-0.parquet' (FORMAT parquet, COMPRESSION zstd)")
