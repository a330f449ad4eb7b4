"""The workloads as one smallpond script: runs unchanged on smallpond-rs and on the original.

    python smallpond_job.py WORKLOAD INPUT_GLOB OUTPUT_DIR DATA_ROOT PARTITIONS
"""

import sys

import smallpond

workload, glob, out, root, n = sys.argv[1:6]
n = int(n)
sp = smallpond.init(data_root=root)
df = sp.read_parquet(glob)
if workload == "groupby":
    df = df.repartition(n, hash_by="host")
    df = sp.partial_sql("SELECT host, count(*) AS n, sum(v) AS s FROM {0} GROUP BY host", df)
elif workload == "distinct":
    df = df.repartition(n, hash_by="host")
    df = sp.partial_sql("SELECT DISTINCT host FROM {0}", df)
elif workload == "sort":
    # The input's `part` column is the key's range partition (first key bytes). The output
    # is snappy, as DuckDB's COPY writes by default (smallpond's default is zstd); the
    # intermediate files are LZ4, the cheapest codec to write and read back: 2 GiB go
    # through each, so the codec matters here.
    df = df.repartition(n, by="part", parquet_compression="lz4")
    df = sp.partial_sql(
        "SELECT key, value FROM {0} ORDER BY key", df, parquet_compression="snappy"
    )
else:
    raise SystemExit(f"unknown workload {workload}")
df.write_parquet(out)
sp.shutdown()
