"""Object stores: listing and reading s3:// data through smallpond against one DuckDB process
reading the same objects, on a moto S3 server on 127.0.0.1 (its own process).

    .venv/bin/python benchmarks/python/object_store.py [--files 200] [--rows 50000] [--runs 3]

Per run (round-robin, one JSON line each): smallpond's `read_parquet(glob)` (the listing, at
plan time), its `GROUP BY` over 4 hash partitions written back to s3://, and DuckDB's same
GROUP BY written to s3:// in one statement from a new database (DuckDB keeps what it read
from a store in memory; smallpond's workers start without it). The outputs are compared.
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
import time

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "python", "tests"))
from test_object_store import Moto  # noqa: E402  (the tests' moto server)

import smallpond  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=200)
    ap.add_argument("--rows", type=int, default=50_000)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()

    moto = Moto()
    s3 = moto.client()
    s3.create_bucket(Bucket="bench")
    for i in range(args.files):
        lo = i * args.rows
        t = pa.table({"k": [(lo + j) % 1000 for j in range(args.rows)], "v": [float(lo + j) for j in range(args.rows)]})
        sink = pa.BufferOutputStream()
        pq.write_table(t, sink)
        s3.put_object(Bucket="bench", Key=f"in/p{i:05}.parquet", Body=sink.getvalue().to_pybytes())
    glob = "s3://bench/in/*.parquet"

    def connect():
        # A new database each time: DuckDB caches what it read from a store in memory, and
        # smallpond's workers (new processes per session) start without it.
        conn = duckdb.connect()
        conn.execute(f"LOAD '{os.environ['SP_HTTPFS_EXTENSION']}'")
        conn.execute(
            f"CREATE SECRET s (TYPE s3, KEY_ID '{moto.key}', SECRET '{moto.secret}', "
            f"REGION 'us-east-1', ENDPOINT '127.0.0.1:{moto.port}', URL_STYLE 'path', USE_SSL false)"
        )
        return conn

    conn = connect()
    query = "SELECT k, count(*) AS n, sum(v) AS s FROM {0} GROUP BY k"
    expected = sorted(conn.execute(query.format(f"read_parquet('{glob}')")).fetchall())

    results = {"list": [], "smallpond": [], "duckdb": []}
    root = tempfile.mkdtemp(prefix="sp-object-store-")
    for run in range(args.runs):
        sp = smallpond.init(data_root=root, progress=False, storage_options=moto.options())
        try:
            t0 = time.perf_counter()
            df = sp.read_parquet(glob)
            listed = time.perf_counter() - t0
            out = sp.partial_sql(query, df.repartition(4, hash_by="k"))
            out.write_parquet(f"s3://bench/sp-{run}", overwrite=True)
            total = time.perf_counter() - t0
            got = sorted(
                tuple(r.values()) for r in sp.read_parquet(f"s3://bench/sp-{run}").take_all()
            )
        finally:
            sp.shutdown()
        assert got == expected, "smallpond's result differs from DuckDB's"
        t0 = time.perf_counter()
        conn = connect()
        conn.execute(f"COPY ({query.format(f'read_parquet({chr(39)}{glob}{chr(39)})')}) TO 's3://bench/duck-{run}.parquet'")
        duck = time.perf_counter() - t0
        for name, value in [("list", listed), ("smallpond", total), ("duckdb", duck)]:
            results[name].append(value)
        print(json.dumps({"run": run, "files": args.files, "rows": args.files * args.rows,
                          "list_s": round(listed, 3), "smallpond_s": round(total, 3),
                          "duckdb_s": round(duck, 3)}), flush=True)
    med = {k: statistics.median(v) for k, v in results.items()}
    print(json.dumps({"median_list_s": round(med["list"], 3), "median_smallpond_s": round(med["smallpond"], 3),
                      "median_duckdb_s": round(med["duckdb"], 3),
                      "ratio": round(med["smallpond"] / med["duckdb"], 2)}))
    moto.stop()


if __name__ == "__main__":
    main()
