"""The inputs of the six workloads of the performance issue (issue 14), written once with DuckDB
from the row number alone (hashes, no random state): the same bytes every time.

    python generate.py DATASET DIR SCALE

DATASET is one of:

* `events` (W1, W3): 20 zstd Parquet files x 1M rows of `(id BIGINT, host VARCHAR ~200k
  distinct, url VARCHAR 60 bytes ~4M distinct, ts TIMESTAMP, v DOUBLE)`;
* `records` (W2): 16 Parquet files, 21.5M records (2 GiB) of `(key BLOB 10 bytes, payload BLOB
  90 bytes, buckets USMALLINT = key[0] >> 4)`, keys pseudo-random;
* `orders` (W4): `orders/` 8 files x 10M rows `(order_id, cust_id uniform in 1M, amount, day)`
  and `customers/` 2 files x 1M rows `(cust_id, country of 200, segment of 5)`;
* `logs` (W5): 8 tab-separated files, 13.6M rows (1.5 GB), no header: `url, status (85% 200),
  bytes, ts` with `ts` an ISO 8601 string;
* `tiny` (W6): one 200k-row Parquet file of `(k BIGINT, v DOUBLE)` in one row group.

SCALE multiplies the row counts (1 is the issue's size; the tests use 0.001). `tiny` does not
scale. DIR gets a `.done` marker last: a cut-off generation is redone, never half-used.
"""

import os
import shutil
import sys

import duckdb


def events(con, d, scale):
    per = max(1, int(1_000_000 * scale))
    for f in range(20):
        con.execute(
            f"COPY (SELECT i AS id, 'host' || (hash(i) % 200000) AS host, "
            f"'https://example.com/' || lpad((hash(i * 7) % 4000000)::VARCHAR, 12, '0') || '/' "
            f"|| repeat('x', 27) AS url, "
            f"TIMESTAMP '2025-01-01' + to_seconds(i % 86400) AS ts, (i % 1000)::DOUBLE AS v "
            f"FROM range({f * per}, {(f + 1) * per}) t(i)) "
            f"TO '{d}/part-{f:02d}.parquet' (FORMAT parquet, COMPRESSION zstd)"
        )


def records(con, d, scale):
    total = max(16, int(21_474_836 * scale))
    for f in range(16):
        lo, hi = total * f // 16, total * (f + 1) // 16
        # key: the 8 bytes of hash(i), big-endian, then 2 bytes of another hash; buckets is its
        # first byte's high nibble. payload: the record number in hex and a filler, as gensort's.
        con.execute(
            f"COPY (SELECT from_hex(lpad(to_hex(hash(i)), 16, '0') || "
            f"lpad(to_hex(hash(i + 1000000007) % 65536), 4, '0')) AS key, "
            f"encode(lpad(to_hex(i), 32, '0') || '  ' || repeat(chr((65 + hash(i * 3) % 26)::INT), 56)) "
            f"AS payload, (hash(i) >> 60)::USMALLINT AS buckets "
            f"FROM range({lo}, {hi}) t(i)) TO '{d}/part-{f:02d}.parquet' (FORMAT parquet)"
        )


def orders(con, d, scale):
    n_orders, n_customers = max(8, int(10_000_000 * scale)), max(2, int(1_000_000 * scale))
    os.makedirs(f"{d}/orders")
    os.makedirs(f"{d}/customers")
    for f in range(8):
        lo, hi = n_orders * f // 8, n_orders * (f + 1) // 8
        con.execute(
            f"COPY (SELECT i AS order_id, (hash(i) % {n_customers})::BIGINT AS cust_id, "
            f"(hash(i * 7) % 100000) / 100.0 AS amount, DATE '2026-01-01' + (i % 365)::INT AS day "
            f"FROM range({lo}, {hi}) t(i)) TO '{d}/orders/part-{f}.parquet' (FORMAT parquet)"
        )
    for f in range(2):
        lo, hi = n_customers * f // 2, n_customers * (f + 1) // 2
        con.execute(
            f"COPY (SELECT i::BIGINT AS cust_id, 'country-' || (hash(i) % 200) AS country, "
            f"'segment-' || (i % 5) AS segment FROM range({lo}, {hi}) t(i)) "
            f"TO '{d}/customers/part-{f}.parquet' (FORMAT parquet)"
        )


def logs(con, d, scale):
    total = max(8, int(13_600_000 * scale))
    for f in range(8):
        lo, hi = total * f // 8, total * (f + 1) // 8
        con.execute(
            f"COPY (SELECT 'https://site' || (hash(i) % 50000) || '.example.org/articles/' || "
            f"lpad((hash(i * 5) % 10000000)::VARCHAR, 10, '0') || '/comments?page=' || (i % 97) AS url, "
            f"CASE WHEN hash(i * 3) % 100 < 85 THEN 200 WHEN hash(i * 3) % 100 < 92 THEN 304 "
            f"WHEN hash(i * 3) % 100 < 98 THEN 404 ELSE 500 END AS status, "
            f"hash(i * 11) % 1000000 AS bytes, "
            f"strftime(TIMESTAMP '2026-01-01' + to_seconds(i % 31536000), '%Y-%m-%dT%H:%M:%S') AS ts "
            f"FROM range({lo}, {hi}) t(i)) TO '{d}/part-{f}.tsv' (FORMAT csv, DELIMITER '\\t', HEADER false)"
        )


def tiny(con, d, scale):
    con.execute(
        "COPY (SELECT i AS k, ((i * 7919) % 1000) / 10 AS v FROM range(200000) t(i)) "
        f"TO '{d}/tiny.parquet' (FORMAT parquet, ROW_GROUP_SIZE 200000)"
    )


DATASETS = {"events": events, "records": records, "orders": orders, "logs": logs, "tiny": tiny}


def main():
    dataset, d, scale = sys.argv[1], sys.argv[2], float(sys.argv[3])
    if os.path.exists(os.path.join(d, ".done")):
        return
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    con = duckdb.connect()
    DATASETS[dataset](con, d, scale)
    open(os.path.join(d, ".done"), "w").close()


if __name__ == "__main__":
    main()
