"""Jobs on a real multi-node Ray cluster (three nodes on this machine)."""

import glob
import json
import os

import pytest
import ray
from ray.cluster_utils import Cluster

import smallpond


@pytest.fixture(scope="module")
def cluster():
    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    for _ in range(2):
        c.add_node(num_cpus=1)
    c.wait_for_nodes()
    yield c
    ray.shutdown()
    c.shutdown()


def job(s):
    df = s.from_items([{"k": i % 13, "v": i} for i in range(2000)])
    df = df.repartition(6, hash_by="k")
    df = df.map(lambda r: {"k": r["k"], "v2": r["v"] * 2})
    agg = s.partial_sql("select k, count(*) as n, sum(v2) as s from {0} group by k", df)
    return sorted((r["k"], r["n"], r["s"]) for r in agg.take_all())


def workers(job_dir):
    names = set()
    for f in glob.glob(os.path.join(job_dir, "log", "tasks-*.json")):
        for record in json.load(open(f)):
            names.add(record["worker"].split(":")[0])
    return names


def test_ray_job_matches_the_local_pool_and_spreads_over_nodes(cluster, tmp_path):
    local = smallpond.init(data_root=str(tmp_path / "local"), progress=False)
    try:
        expected = job(local)
    finally:
        local.shutdown()
    s = smallpond.init(data_root=str(tmp_path / "ray"), ray_address=cluster.address, progress=False)
    try:
        assert job(s) == expected
        nodes = workers(s.job_dir)
    finally:
        s.shutdown()
    assert all(n.startswith("ray-node-") for n in nodes), nodes
    assert len(nodes) > 1, f"all tasks ran on one node: {nodes}"


def test_a_node_removed_mid_job_does_not_fail_the_job(tmp_path):
    import threading
    import time

    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    doomed = c.add_node(num_cpus=1)
    c.add_node(num_cpus=1)
    c.wait_for_nodes()
    started = tmp_path / "started"
    started.mkdir()
    try:
        s = smallpond.init(data_root=str(tmp_path / "root"), ray_address=c.address, progress=False)

        def slow(t):
            (started / f"{os.getpid()}-{time.time()}").write_text("")
            time.sleep(1.0)
            return t

        df = s.from_items(list(range(1200))).repartition(12, by_rows=True).map_batches(slow)
        result = {}
        runner = threading.Thread(target=lambda: result.update(rows=df.take_all()))
        runner.start()
        deadline = time.time() + 60
        while len(list(started.iterdir())) < 3 and time.time() < deadline:
            time.sleep(0.1)
        c.remove_node(doomed)  # kills its raylet and workers mid-task
        runner.join(timeout=120)
        assert not runner.is_alive(), "the job hung after the node was removed"
        assert sorted(r["item"] for r in result["rows"]) == list(range(1200))
        # The removed node's task was cut short and ran again elsewhere.
        assert len(list(started.iterdir())) > 12
        s.shutdown()
    finally:
        ray.shutdown()
        c.shutdown()


def test_worker_entry_point_joins_a_cluster(tmp_path):
    import signal
    import subprocess
    import sys
    import time

    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    worker = None
    try:
        ray.init(address=c.address, log_to_driver=False)
        worker = subprocess.Popen(
            [sys.executable, "-m", "smallpond.worker", "--ray_address", c.address,
             "--num_cpus", "1", "--log_dir", str(tmp_path / "logs")],
            start_new_session=True,
        )
        deadline = time.time() + 60
        while time.time() < deadline and len([n for n in ray.nodes() if n["Alive"]]) < 2:
            time.sleep(0.5)
        assert len([n for n in ray.nodes() if n["Alive"]]) == 2, "the worker did not join"
        assert (tmp_path / "logs").is_dir()
    finally:
        if worker is not None:
            os.killpg(worker.pid, signal.SIGTERM)
            worker.wait(timeout=60)
        ray.shutdown()
        c.shutdown()
