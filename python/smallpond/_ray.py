"""The Ray worker pool: each task attempt becomes a Ray task; the scheduler stays ours.

A Ray task runs the attempt through the Rust runtime (`_core.run_task`) in a Ray worker
process, on whichever node Ray places it; data moves only through the shared file system.
"""

from __future__ import annotations

from typing import Dict, Optional, Tuple

import ray


@ray.remote(max_retries=0)
def _run_task(attempt_json: str) -> str:
    from smallpond import _core

    ctx = ray.get_runtime_context()
    return _core.run_task(attempt_json, f"ray-node-{ctx.get_node_id()}")


class RayPool:
    """Connects to the cluster at `address` (or starts a local one when it is "local")."""

    def __init__(self, address: str) -> None:
        if ray.is_initialized() and address not in ("local", "auto"):
            if ray.get_runtime_context().gcs_address != address:
                ray.shutdown()  # connected to another cluster
        if not ray.is_initialized():
            if address == "local":
                ray.init(log_to_driver=False, include_dashboard=False)
            else:
                ray.init(address=address, log_to_driver=False)
        res = ray.cluster_resources()
        self._cpus = max(1, int(res.get("CPU", 1)))
        self._memory = int(res.get("memory", 4 << 30))
        # A task must fit on a node: the planner sizes tasks from the whole cluster. Its
        # memory request is capped at the smallest node's, so that it may run on any node
        # (DuckDB inside still gets the planner's memory_limit).
        alive = [n["Resources"] for n in ray.nodes() if n.get("Alive")]
        self._node_cpus = max([int(r.get("CPU", 1)) for r in alive] or [1])
        self._node_memory = min([int(r.get("memory", self._memory)) for r in alive] or [self._memory])
        self._pending: Dict[ray.ObjectRef, Tuple[int, int]] = {}

    def capacity(self) -> Tuple[int, int]:
        return self._cpus, self._memory

    def submit(self, task: int, attempt: int, attempt_json: str, cpus: int, memory: int,
               name: str) -> None:
        cpus = max(1, min(cpus, self._node_cpus))
        memory = max(1, min(memory, self._node_memory))
        ref = _run_task.options(
            num_cpus=cpus, memory=memory, name=name, scheduling_strategy="SPREAD"
        ).remote(attempt_json)
        self._pending[ref] = (task, attempt)

    def wait(self, timeout: Optional[float]) -> Optional[Tuple[int, int, str, str]]:
        if not self._pending:
            return None
        ready, _ = ray.wait(list(self._pending), num_returns=1, timeout=timeout)
        if not ready:
            return None
        ref = ready[0]
        task, attempt = self._pending.pop(ref)
        try:
            return task, attempt, "ok", ray.get(ref)
        except Exception as e:  # the worker or its node died, or Ray could not run it
            return task, attempt, "crashed", f"the Ray task running it failed: {type(e).__name__}: {e}"
