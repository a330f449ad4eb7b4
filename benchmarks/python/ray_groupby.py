"""A hash-repartition + GROUP BY over 20M rows on the local pool and on a one-machine Ray
cluster, alternating (3 runs each). Uses the data of compare_original.py
(/tmp/sp-bench-py-data: run that first).

    .venv/bin/python benchmarks/python/ray_groupby.py
"""
import json, os, statistics, tempfile, time, shutil
import ray
from ray.cluster_utils import Cluster
import smallpond
data = "/tmp/sp-bench-py-data"
c = Cluster(initialize_head=True, head_node_args={"num_cpus": os.cpu_count()})
c.wait_for_nodes()
res = {}
try:
    for pool in ("local", "ray", "local", "ray", "local", "ray"):
        root = tempfile.mkdtemp(); out = tempfile.mkdtemp(); shutil.rmtree(out)
        kw = {"ray_address": c.address} if pool == "ray" else {}
        t = time.perf_counter()
        s = smallpond.init(data_root=root, progress=False, **kw)
        df = s.read_parquet(f"{data}/*.parquet").repartition(8, hash_by="k")
        df = s.partial_sql("SELECT k, count(*) AS n, sum(v) AS s FROM {0} GROUP BY k", df)
        df.write_parquet(out); n = df.count(); s.shutdown()
        secs = time.perf_counter() - t
        res.setdefault(pool, []).append(secs)
        print(json.dumps({"pool": pool, "secs": round(secs, 3), "groups": n}), flush=True)
finally:
    ray.shutdown(); c.shutdown()
m = {p: statistics.median(v) for p, v in res.items()}
print(json.dumps({"median": m, "ratio_ray_over_local": round(m["ray"] / m["local"], 2)}))
