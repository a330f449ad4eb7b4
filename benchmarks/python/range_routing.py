"""What routing rows to ranges costs, by sort key or by the key's own value (the range
partition's expression, `tasks::hash_partition::range_expr`), with DuckDB's Python package on
one thread:

    python range_routing.py PARQUET_FILE [KEY] [RANGES] [ROUNDS]

PARQUET_FILE holds a BLOB (or any ordered) column KEY (default `key`: a GraySort file from
`smallpond bench graysort --input DIR`). Each round times `SELECT p, count(*) ... GROUP BY p`
over three expressions: the binary search over `create_sort_key` values, over the values as
literals, and over the values joined as one row of columns (what the engine does). Prints one
JSON line per round, and checks that the three give the same counts.
"""

import json
import sys
import time

import duckdb


def tree(key: str, bounds: list, lo: int, hi: int) -> str:
    if lo == hi:
        return str(lo)
    mid = (lo + hi) // 2
    return (f"CASE WHEN {key} <= {bounds[mid]} THEN {tree(key, bounds, lo, mid)} "
            f"ELSE {tree(key, bounds, mid + 1, hi)} END")


def main() -> None:
    path = sys.argv[1]
    key = sys.argv[2] if len(sys.argv) > 2 else "key"
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 8
    rounds = int(sys.argv[4]) if len(sys.argv) > 4 else 4
    c = duckdb.connect()
    c.execute("SET threads = 1")
    quantiles = ", ".join(str(i / n) for i in range(1, n))
    c.execute(f"CREATE TABLE bounds AS SELECT row_number() OVER (ORDER BY b) - 1 AS i, b, "
              f"create_sort_key(b, 'ASC NULLS LAST') AS sk FROM (SELECT unnest(quantile_disc({key}, "
              f"[{quantiles}])) AS b FROM (SELECT {key} FROM read_parquet('{path}') USING SAMPLE 100000))")
    rows = c.execute("SELECT b::VARCHAR, typeof(b), sk::VARCHAR, typeof(sk) FROM bounds ORDER BY i").fetchall()

    def literal(text: str, type_: str) -> str:
        escaped = text.replace("'", "''")
        return f"'{escaped}'::{type_}"

    raw = [literal(r[0], r[1]) for r in rows]
    sort_keys = [literal(r[2], r[3]) for r in rows]
    pivot = ", ".join(f"max(b) FILTER (WHERE i = {i}) AS b{i}" for i in range(len(rows)))
    source = f"read_parquet('{path}')"
    ways = {
        "sort_key": (source, tree(f"create_sort_key({key}, 'ASC NULLS LAST')", sort_keys, 0, len(rows))),
        "value_literals": (source, tree(key, raw, 0, len(rows))),
        "value_row": (f"{source}, (SELECT {pivot} FROM bounds)",
                      tree(key, [f"b{i}" for i in range(len(rows))], 0, len(rows))),
    }
    for r in range(rounds):
        counts = {}
        for name, (src, expr) in ways.items():
            t = time.perf_counter()
            counts[name] = c.execute(
                f"SELECT p, count(*) FROM (SELECT ({expr})::BIGINT AS p FROM {src}) GROUP BY p ORDER BY p"
            ).fetchall()
            secs = time.perf_counter() - t
            print(json.dumps({"bench": "range-routing", "round": r, "way": name, "secs": round(secs, 3)}), flush=True)
        assert len({json.dumps(v) for v in counts.values()}) == 1, counts


if __name__ == "__main__":
    main()
