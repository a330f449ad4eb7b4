"""Jobs on a real multi-node Ray cluster (three nodes on this machine)."""

import glob
import json
import os
import time

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


def local_result(tmp_path):
    """`job` on the embedded pool: what every Ray run must give."""
    local = smallpond.init(data_root=str(tmp_path / "local"), progress=False)
    try:
        return job(local)
    finally:
        local.shutdown()


def workers(job_dir, node_kind=None):
    """The workers (for Ray: `ray-node-<id>`) the job's task attempts ran on."""
    names = set()
    for f in glob.glob(os.path.join(job_dir, "log", "tasks-*.json")):
        for record in json.load(open(f)):
            if node_kind in (None, record["node_kind"]):
                names.add(record["worker"].split(":")[0])
    return names


def nodes_of(job_dir):
    """The Ray node ids the job's task attempts ran on."""
    return {n[len("ray-node-"):] for n in workers(job_dir)}


def alive_nodes():
    return {n["NodeID"] for n in ray.nodes() if n["Alive"]}


def test_ray_job_matches_the_local_pool_and_spreads_over_nodes(cluster, tmp_path):
    expected = local_result(tmp_path)
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
            node = ray.get_runtime_context().get_node_id()
            (started / f"{node}-{os.getpid()}-{time.time()}").write_text("")
            time.sleep(1.0)
            return t

        df = s.from_items(list(range(1200))).repartition(12, by_rows=True).map_batches(slow)
        result = {}
        runner = threading.Thread(target=lambda: result.update(rows=df.take_all()))
        runner.start()
        # Removed once a task runs there (on a loaded machine its first worker may start
        # after the other nodes have run several tasks).
        deadline = time.time() + 60
        while not any(f.name.startswith(doomed.node_id) for f in started.iterdir()) and time.time() < deadline:
            time.sleep(0.05)
        assert time.time() < deadline, "no task ran on the node to remove"
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
        while time.time() < deadline and len(alive_nodes()) < 2:
            time.sleep(0.5)
        assert len(alive_nodes()) == 2, "the worker did not join"
        assert (tmp_path / "logs").is_dir()
    finally:
        if worker is not None:
            os.killpg(worker.pid, signal.SIGTERM)
            worker.wait(timeout=60)
        ray.shutdown()
        c.shutdown()


def test_num_executors_starts_executors_that_join_the_cluster_and_stop_at_shutdown(tmp_path):
    # A head with no CPUs: every task must run on the executors the session starts.
    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 0})
    try:
        ray.init(address=c.address, log_to_driver=False)
        head = alive_nodes()
        s = smallpond.init(data_root=str(tmp_path / "root"), ray_address=c.address,
                           num_executors=2, progress=False)
        try:
            executors = alive_nodes() - head
            assert len(executors) == 2, f"{len(executors)} executors joined, not 2"
            assert len(glob.glob(os.path.join(s.job_dir, "log", "executor-*.log"))) == 2
            assert job(s) == local_result(tmp_path)
            ran_on = nodes_of(s.job_dir)
            assert ran_on and ran_on <= executors, (ran_on, executors)
        finally:
            s.shutdown()
        deadline = time.time() + 60
        while time.time() < deadline and alive_nodes() != head:
            time.sleep(0.5)
        assert alive_nodes() == head, "executors outlived the session"
    finally:
        ray.shutdown()
        c.shutdown()


def test_gpu_limit_places_tasks_on_gpu_nodes_and_fails_clearly_without_any(tmp_path):
    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 2})
    gpu_node = c.add_node(num_cpus=2, num_gpus=1)  # Ray takes the declared GPU as given
    c.wait_for_nodes()
    try:
        s = smallpond.init(data_root=str(tmp_path / "root"), ray_address=c.address,
                           progress=False)
        try:
            df = s.from_items(list(range(100))).repartition(4, by_rows=True)
            doubled = df.map("item * 2 AS d", gpu_limit=0.5)
            assert sorted(r["d"] for r in doubled.take_all()) == [i * 2 for i in range(100)]
            gpu_tasks = workers(s.job_dir, "SqlEngine")
            assert gpu_tasks == {f"ray-node-{gpu_node.node_id}"}, gpu_tasks
            plans = [json.load(open(f)) for f in glob.glob(os.path.join(s.job_dir, "config", "tasks-*.json"))]
            asked = [t["resources"] for p in plans for t in p["tasks"] if t["node_kind"] == "SqlEngine"]
            assert asked and all(r["gpus"] == 0.5 and r["cpus"] == 2 for r in asked), asked

            with pytest.raises(smallpond.SmallpondError, match="asks for 2 GPU"):
                df.map("item AS i", gpu_limit=2).take_all()
        finally:
            s.shutdown()
    finally:
        ray.shutdown()
        c.shutdown()


def test_local_ray_with_executors_as_the_original_init_num_executors(tmp_path):
    # ray_address="local": the session starts the cluster (a head without CPUs) and two
    # executors, runs the job on them, and takes it all down at shutdown.
    s = smallpond.init(data_root=str(tmp_path / "root"), ray_address="local",
                       num_executors=2, progress=False)
    try:
        nodes = [n for n in ray.nodes() if n["Alive"]]
        assert len(nodes) == 3
        head = [n for n in nodes if n["Resources"].get("CPU", 0) == 0]
        assert len(head) == 1, "the head offers no CPUs: tasks run on the executors"
        assert job(s) == local_result(tmp_path)
        assert head[0]["NodeID"] not in nodes_of(s.job_dir)
    finally:
        s.shutdown()
    assert not ray.is_initialized(), "the cluster the session started is stopped"


def test_ctrl_c_cancels_a_ray_job_and_kills_its_tasks(cluster, tmp_path):
    """Ctrl-C (or a notebook's 'interrupt kernel', also SIGINT) while tasks run on Ray:
    the tasks are killed on their nodes, the job is cancelled, the session goes on."""
    import _thread
    import signal
    import threading

    marker = tmp_path / "markers"
    marker.mkdir()

    def slow(table):
        time.sleep(12)
        # Only a task that was not killed gets here.
        open(os.path.join(str(marker), f"{os.getpid()}-{time.time()}"), "w").close()
        return table

    s = smallpond.init(data_root=str(tmp_path / "ray"), ray_address=cluster.address, progress=False)
    # What a terminal does; this test may run where SIGINT is ignored (a background job).
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        df = s.from_items(list(range(4))).repartition(2, by_rows=True).map_batches(slow)
        threading.Timer(3, _thread.interrupt_main).start()
        started = time.monotonic()
        with pytest.raises(KeyboardInterrupt):
            df.compute()
        stopped = time.monotonic() - started
        assert stopped < 10, f"took {stopped:.1f} s to stop"
        assert open(os.path.join(s.job_dir, "status")).read().strip() == "cancelled"
        # Past the moment the tasks would have finished: none did.
        time.sleep(max(0, 14 - (time.monotonic() - started)))
        assert os.listdir(str(marker)) == [], "a cancelled Ray task ran on"
        # The session is still usable.
        assert job(s) == local_result(tmp_path)
    finally:
        signal.signal(signal.SIGINT, previous)
        s.shutdown()
