"""The Ray worker pool: each task attempt becomes a Ray task; the scheduler stays ours.

A Ray task runs the attempt through the Rust runtime (`_core.run_task`) in a Ray worker
process, on whichever node Ray places it; data moves only through the shared file system.

With ``num_executors=N`` the session also starts N executors, as the original does: each is
a ``python -m smallpond.worker`` process that joins this cluster as a Ray node (``ray start
--address ... --block``) and is stopped when the session shuts down.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import Dict, List, Optional, Tuple

import ray


@ray.remote(max_retries=0)
def _run_task(attempt_json: str) -> str:
    from smallpond import _core

    ctx = ray.get_runtime_context()
    return _core.run_task(attempt_json, f"ray-node-{ctx.get_node_id()}")


def _alive_nodes() -> List[dict]:
    return [n for n in ray.nodes() if n.get("Alive")]


class RayPool:
    """Connects to the cluster at `address`, or starts one on this machine when it is
    "local" (with no CPUs of its own when executors will join it, as the original)."""

    def __init__(self, address: str, num_executors: int = 0) -> None:
        if ray.is_initialized() and address not in ("local", "auto"):
            if ray.get_runtime_context().gcs_address != address:
                ray.shutdown()  # connected to another cluster
        self._started_ray = False
        if not ray.is_initialized():
            if address == "local":
                extra = {"num_cpus": 0} if num_executors > 0 else {}
                ray.init(log_to_driver=False, include_dashboard=False, **extra)
                self._started_ray = True
            else:
                ray.init(address=address, log_to_driver=False)
        self.address = ray.get_runtime_context().gcs_address
        self._executors: List[subprocess.Popen] = []
        self._pending: Dict[ray.ObjectRef, Tuple[int, int]] = {}
        self._most_gpus = 0.0  # on one node, as last seen; asked again only when too few

    # what the scheduler asks

    def capacity(self) -> Tuple[int, int]:
        res = ray.cluster_resources()
        return max(1, int(res.get("CPU", 1))), int(res.get("memory", 4 << 30))

    def largest_task(self) -> Tuple[int, int]:
        """The CPUs of the largest node, with the memory per CPU of the tightest one, so a
        task the planner sizes fits on a node (and may run on any node with the CPUs)."""
        nodes = [n["Resources"] for n in _alive_nodes() if n["Resources"].get("CPU", 0) >= 1]
        if not nodes:
            return self.capacity()
        cpus = max(int(r["CPU"]) for r in nodes)
        per_cpu = min(int(r.get("memory", 0)) // max(1, int(r["CPU"])) for r in nodes)
        return cpus, per_cpu * cpus

    def submit(self, task: int, attempt: int, attempt_json: str, cpus: int, memory: int,
               gpus: float, name: str) -> None:
        options = {"num_cpus": cpus, "memory": max(1, memory), "name": name,
                   "scheduling_strategy": "SPREAD"}
        if gpus > 0:
            if self._most_gpus < gpus:  # not per task: a node may have joined since
                self._most_gpus = max([n["Resources"].get("GPU", 0) for n in _alive_nodes()] or [0])
            if self._most_gpus < gpus:
                raise RuntimeError(
                    f"{name} asks for {gpus:g} GPU(s) (gpu_limit), but no node of the Ray "
                    f"cluster at {self.address} has that many (the most on one node: "
                    f"{self._most_gpus:g})"
                )
            options["num_gpus"] = gpus
        ref = _run_task.options(**options).remote(attempt_json)
        self._pending[ref] = (task, attempt)

    def wait(self, timeout: Optional[float]) -> Optional[Tuple[int, int, str, str]]:
        if not self._pending:
            raise RuntimeError("waiting for a task, but no task is running")
        ready, _ = ray.wait(list(self._pending), num_returns=1, timeout=timeout)
        if not ready:
            return None
        ref = ready[0]
        task, attempt = self._pending.pop(ref)
        try:
            return task, attempt, "ok", ray.get(ref)
        except Exception as e:  # the worker or its node died, or Ray could not run it
            return task, attempt, "crashed", f"the Ray task running it failed: {type(e).__name__}: {e}"

    def cancel(self) -> None:
        """Stops every running task (the job was cancelled); each one's wait() still comes,
        as a failure."""
        for ref in list(self._pending):
            ray.cancel(ref, force=True)

    # executors

    def start_executors(self, n: int, log_dir: str, timeout: float = 120.0) -> None:
        """Starts `n` executors on this machine, one after another (two `ray start` on one
        host at the same moment race for the same socket names), each joined before the
        next starts."""
        os.makedirs(log_dir, exist_ok=True)
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p or os.getcwd() for p in sys.path)
        deadline = time.monotonic() + timeout
        for i in range(n):
            before = {node["NodeID"] for node in _alive_nodes()}
            log = open(os.path.join(log_dir, f"executor-{i}.log"), "ab")
            executor = subprocess.Popen(
                [sys.executable, "-m", "smallpond.worker", "--ray_address", self.address],
                stdout=log, stderr=subprocess.STDOUT, env=env,
                start_new_session=True,  # its own process group: stopped as one
            )
            log.close()
            self._executors.append(executor)
            while not {node["NodeID"] for node in _alive_nodes()} - before:
                if executor.poll() is not None or time.monotonic() > deadline:
                    self.close()
                    why = (f"executor {i} exited with code {executor.returncode}"
                           if executor.returncode is not None
                           else f"only {i} of {n} joined within {timeout:.0f} s")
                    raise RuntimeError(
                        f"starting {n} executor(s) for the Ray cluster at {self.address} "
                        f"failed: {why}; see {log_dir}/executor-{i}.log"
                    )
                time.sleep(0.2)

    def close(self) -> None:
        """Stops the executors this session started (and the cluster, if it started it)."""
        for p in self._executors:
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        for p in self._executors:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        self._executors = []
        if self._started_ray and ray.is_initialized():
            ray.shutdown()
            self._started_ray = False
