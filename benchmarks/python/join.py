"""`df.join` of 10M orders with 1M customers against one DuckDB join of the same files.

    .venv/bin/python benchmarks/python/join.py [--orders 10000000] [--customers 1000000]
        [--partitions 8] [--runs 3] [--data DIR]

Orders (order_id, cust_id uniform in customers, amount, day) in 8 Parquet files; customers
(cust_id, country of 200, segment of 5) in 2, every 10th customer missing so that the inner
join drops rows. Each run, round-robin, in a fresh process:

* `broadcast`: `orders.join(customers, on="cust_id")` with the default threshold (the
  customers' files are under 16 MiB, so they are broadcast and nothing is shuffled);
* `hashed`: the same with `broadcast_bytes=0`: both sides hash-partitioned 8 ways;
* `duckdb`: `COPY (SELECT * FROM orders JOIN customers USING (cust_id)) TO ...`, all cores,
  zstd as ours (the original smallpond's default Parquet compression, and ours).

Every output is checked against DuckDB's (rows, sum of amount, sum of hash of the joined
columns). Prints one JSON line per run and the medians with ratios to DuckDB.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

QUERY = "SELECT * FROM read_parquet('{o}/*.parquet') o JOIN read_parquet('{c}/*.parquet') c USING (cust_id)"
CHECK = ("SELECT count(*), sum(amount), sum(hash(order_id, cust_id, country, segment)) "
         "FROM read_parquet('{out}')")


def generate(data: str, orders: int, customers: int) -> tuple:
    import duckdb

    sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "compare"))
    from generate import orders_and_customers

    o, c = os.path.join(data, "orders"), os.path.join(data, "customers")
    marker = os.path.join(data, f".done-{orders}-{customers}")
    if os.path.exists(marker):
        return o, c
    shutil.rmtree(data, ignore_errors=True)
    os.makedirs(data)
    orders_and_customers(duckdb.connect(), data, orders, customers, skip_customer=3)
    open(marker, "w").close()
    return o, c


def child(mode: str, o: str, c: str, out: str, root: str, partitions: int) -> None:
    """One run, in this (fresh) process: prints {"secs": ...}."""
    t = time.perf_counter()
    if mode == "duckdb":
        import duckdb

        con = duckdb.connect()
        con.execute("SET preserve_insertion_order = false")
        con.execute(f"COPY ({QUERY.format(o=o, c=c)}) TO '{out}/out.parquet' (FORMAT parquet, COMPRESSION zstd)")
    else:
        import smallpond

        sp = smallpond.init(data_root=root, progress=False)
        orders = sp.read_parquet(f"{o}/*.parquet").repartition(partitions)
        customers = sp.read_parquet(f"{c}/*.parquet")
        extra = {"broadcast_bytes": 0} if mode == "hashed" else {}
        orders.join(customers, on="cust_id", npartitions=partitions, **extra).write_parquet(out)
        sp.shutdown()
    print(json.dumps({"secs": round(time.perf_counter() - t, 3)}), flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--orders", type=int, default=10_000_000)
    ap.add_argument("--customers", type=int, default=1_000_000)
    ap.add_argument("--partitions", type=int, default=8)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--data", default=os.path.join(tempfile.gettempdir(), "sp-bench-join"))
    ap.add_argument("--child", nargs=6, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        mode, o, c, out, root, n = args.child
        return child(mode, o, c, out, root, int(n))

    import duckdb

    o, c = generate(args.data, args.orders, args.customers)
    want = None
    times = {"broadcast": [], "hashed": [], "duckdb": []}
    for run in range(args.runs):
        for mode in ("duckdb", "broadcast", "hashed"):
            out = tempfile.mkdtemp(prefix="sp-join-out-")
            root = tempfile.mkdtemp(prefix="sp-join-root-")
            if mode != "duckdb":
                shutil.rmtree(out)
            try:
                p = subprocess.run(
                    [sys.executable, __file__, "--child", mode, o, c, out, root, str(args.partitions)],
                    capture_output=True, text=True,
                )
                if p.returncode != 0:
                    raise SystemExit(f"{mode} failed:\n{p.stderr}")
                secs = json.loads(p.stdout.strip().splitlines()[-1])["secs"]
                got = duckdb.sql(CHECK.format(out=f"{out}/*.parquet")).fetchone()
                if want is None:
                    want = duckdb.sql(
                        f"SELECT count(*), sum(amount), sum(hash(order_id, cust_id, country, segment)) "
                        f"FROM ({QUERY.format(o=o, c=c)})"
                    ).fetchone()
                if got[0] != want[0] or got[2] != want[2] or abs(got[1] - want[1]) > 1e-6 * abs(want[1]):
                    raise SystemExit(f"{mode}: result {got} differs from DuckDB's {want}")
            finally:
                shutil.rmtree(out, ignore_errors=True)
                shutil.rmtree(root, ignore_errors=True)
            times[mode].append(secs)
            print(json.dumps({"bench": "join", "system": "duckdb" if mode == "duckdb" else
                              f"smallpond-rs {mode}", "run": run, "orders": args.orders,
                              "customers": args.customers, "rows": want[0], "secs": secs}), flush=True)
    med = {k: statistics.median(v) for k, v in times.items()}
    for mode in ("broadcast", "hashed"):
        print(f"join {args.orders} x {args.customers}: smallpond-rs {mode} {med[mode]:.2f}s, "
              f"duckdb {med['duckdb']:.2f}s, ratio {med[mode] / med['duckdb']:.2f}x "
              f"(medians of {args.runs})", file=sys.stderr)


if __name__ == "__main__":
    main()
