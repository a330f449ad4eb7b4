"""Building a 1,000-node LogicalPlan with the original's node API and planning it, on the
original smallpond (its Planner) and on ours (lowering onto the engine, its plan-time checks
and planner; nothing runs). Runnable unchanged on both:

    python plan_1000.py WORK_DIR [NODES]

The plan: 250 chains of DataSource -> DataSetPartitionNode(4) -> HashPartitionNode(8) ->
SqlEngineNode (GROUP BY), joined by a RootNode. Prints one JSON line: build and plan seconds.
"""

import json
import os
import sys
import time

work = sys.argv[1]
nodes = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
data = os.path.join(work, "plan_input.parquet")
if not os.path.exists(data):
    import pyarrow as pa
    import pyarrow.parquet as pq

    os.makedirs(work, exist_ok=True)
    pq.write_table(pa.table({"k": list(range(100)), "v": [float(i) for i in range(100)]}), data)

from smallpond.logical.dataset import ParquetDataSet  # noqa: E402
from smallpond.logical.node import (  # noqa: E402
    Context,
    DataSetPartitionNode,
    DataSourceNode,
    HashPartitionNode,
    LogicalPlan,
    RootNode,
    SqlEngineNode,
)

t0 = time.perf_counter()
ctx = Context()
tips = []
for _ in range(nodes // 4):
    src = DataSourceNode(ctx, ParquetDataSet([data]))
    parts = DataSetPartitionNode(ctx, (src,), npartitions=4)
    hashed = HashPartitionNode(ctx, (parts,), npartitions=8, hash_columns=["k"])
    tips.append(SqlEngineNode(ctx, (hashed,), "select k, sum(v) as s from {0} group by k"))
plan = LogicalPlan(ctx, RootNode(ctx, tips))
t1 = time.perf_counter()

try:
    from smallpond.execution.driver import execute_plan  # ours
except ImportError:
    execute_plan = None
if execute_plan is None:
    # The original: its planner turns the logical plan into tasks.
    from datetime import datetime

    from smallpond.execution.task import JobId, RuntimeContext
    from smallpond.logical.planner import Planner

    rc = RuntimeContext(JobId.new(), datetime.now(), os.path.join(work, "root"))
    rc.initialize(exec_id="bench")
    t2 = time.perf_counter()
    exec_plan = Planner(rc).create_exec_plan(plan)
    tasks = len(exec_plan.tasks)
    system = "original"
else:
    import smallpond
    from smallpond.logical.node import _Lowering

    sp = smallpond.init(data_root=os.path.join(work, "root"), progress=False)
    t2 = time.perf_counter()
    low = _Lowering(sp)
    low.core(plan.root_node)
    tasks = sp._core.plan(low.roots)
    system = "smallpond-rs"
t3 = time.perf_counter()
print(json.dumps({
    "bench": "plan_1000", "system": system, "nodes": len(plan.nodes), "tasks": tasks,
    "build_secs": round(t1 - t0, 4), "plan_secs": round(t3 - t2, 4), "total_secs": round(t1 - t0 + t3 - t2, 4),
}))
