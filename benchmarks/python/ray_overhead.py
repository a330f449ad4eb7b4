"""Per-task overhead of the Ray pool, against the local pool.

    .venv/bin/python benchmarks/python/ray_overhead.py [--tasks 1000] [--runs 3]

Starts a one-machine Ray cluster (ray.cluster_utils.Cluster, one node with all cores), then
runs a job of `--tasks` trivial SQL tasks (`SELECT * FROM {0}` over 1-row partitions) on the
local process pool and on Ray. Prints JSON lines and the median per-task time of each.
"""

import argparse
import json
import os
import statistics
import tempfile
import time

import ray
from ray.cluster_utils import Cluster

import smallpond


def job(s, tasks):
    df = s.from_items(list(range(tasks))).repartition(tasks, by_rows=True)
    df.compute()  # the partitioning task is not what we measure
    t = time.perf_counter()
    n = s.partial_sql("SELECT item + 1 AS x FROM {0}", df).count()
    assert n == tasks
    return time.perf_counter() - t


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tasks", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    root = tempfile.mkdtemp(prefix="sp-ray-overhead-")
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": os.cpu_count()})
    cluster.wait_for_nodes()
    results = {}
    try:
        for pool in ("local", "ray"):
            secs = []
            for run in range(args.runs):
                kw = {"ray_address": cluster.address} if pool == "ray" else {}
                s = smallpond.init(data_root=root, progress=False, **kw)
                try:
                    t = job(s, args.tasks)
                finally:
                    s.shutdown()
                secs.append(t)
                print(json.dumps({"bench": "task-overhead", "pool": pool, "run": run,
                                  "tasks": args.tasks, "secs": round(t, 3),
                                  "ms_per_task": round(1000 * t / args.tasks, 2)}), flush=True)
            results[pool] = statistics.median(secs)
    finally:
        ray.shutdown()
        cluster.shutdown()
    print(json.dumps({"summary": {p: {"secs": round(v, 3),
                                      "ms_per_task": round(1000 * v / args.tasks, 2)}
                                  for p, v in results.items()}}))


if __name__ == "__main__":
    main()
