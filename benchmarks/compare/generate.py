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


def write_files(con, pattern, total, files, select, options="FORMAT parquet", where="true"):
    """`files` files named `pattern.format(f)`, each the rows `select` makes for its share of
    the row numbers `i` in range(total) for which `where` holds."""
    for f in range(files):
        lo, hi = total * f // files, total * (f + 1) // files
        con.execute(
            f"COPY (SELECT {select} FROM range({lo}, {hi}) t(i) WHERE {where}) "
            f"TO '{pattern.format(f)}' ({options})"
        )


def events(con, d, scale):
    write_files(
        con, f"{d}/part-{{:02d}}.parquet", 20 * max(1, int(1_000_000 * scale)), 20,
        "i AS id, 'host' || (hash(i) % 200000) AS host, "
        "'https://example.com/' || lpad((hash(i * 7) % 4000000)::VARCHAR, 12, '0') || '/' "
        "|| repeat('x', 27) AS url, "
        "TIMESTAMP '2025-01-01' + to_seconds(i % 86400) AS ts, (i % 1000)::DOUBLE AS v",
        "FORMAT parquet, COMPRESSION zstd",
    )


def records(con, d, scale):
    # key: the 8 bytes of hash(i), big-endian, then 2 bytes of another hash; buckets is its
    # first byte's high nibble. payload: the record number in hex and a filler, as gensort's.
    write_files(
        con, f"{d}/part-{{:02d}}.parquet", max(16, int(21_474_836 * scale)), 16,
        "from_hex(lpad(to_hex(hash(i)), 16, '0') || lpad(to_hex(hash(i + 1000000007) % 65536), 4, '0')) "
        "AS key, encode(lpad(to_hex(i), 32, '0') || '  ' || repeat(chr((65 + hash(i * 3) % 26)::INT), 56)) "
        "AS payload, (hash(i) >> 60)::USMALLINT AS buckets",
    )


def orders_and_customers(con, d, n_orders, n_customers, skip_customer=None):
    """`orders/` (8 files) and `customers/` (2 files) under `d`; with `skip_customer=r`, the
    customers whose id is r modulo 10 are missing (an inner join drops their orders)."""
    os.makedirs(f"{d}/orders")
    os.makedirs(f"{d}/customers")
    write_files(
        con, f"{d}/orders/part-{{}}.parquet", n_orders, 8,
        f"i AS order_id, (hash(i) % {n_customers})::BIGINT AS cust_id, "
        "(hash(i * 7) % 100000) / 100.0 AS amount, DATE '2026-01-01' + (i % 365)::INT AS day",
    )
    write_files(
        con, f"{d}/customers/part-{{}}.parquet", n_customers, 2,
        "i::BIGINT AS cust_id, 'country-' || (hash(i) % 200) AS country, 'segment-' || (i % 5) AS segment",
        where="true" if skip_customer is None else f"i % 10 <> {skip_customer}",
    )


def orders(con, d, scale):
    orders_and_customers(con, d, max(8, int(10_000_000 * scale)), max(2, int(1_000_000 * scale)))


def logs(con, d, scale):
    write_files(
        con, f"{d}/part-{{}}.tsv", max(8, int(13_600_000 * scale)), 8,
        "'https://site' || (hash(i) % 50000) || '.example.org/articles/' || "
        "lpad((hash(i * 5) % 10000000)::VARCHAR, 10, '0') || '/comments?page=' || (i % 97) AS url, "
        "CASE WHEN hash(i * 3) % 100 < 85 THEN 200 WHEN hash(i * 3) % 100 < 92 THEN 304 "
        "WHEN hash(i * 3) % 100 < 98 THEN 404 ELSE 500 END AS status, "
        "hash(i * 11) % 1000000 AS bytes, "
        "strftime(TIMESTAMP '2026-01-01' + to_seconds(i % 31536000), '%Y-%m-%dT%H:%M:%S') AS ts",
        "FORMAT csv, DELIMITER '\\t', HEADER false",
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
