"""What seeing a job costs it (issue 15's target: under 2% of W6's wall time).

    python report_overhead.py WORK_DIR [TASKS]

Runs W6 (1,000 tiny tasks, as benchmarks/python/tiny_tasks.py) and measures, inside the job,
the time spent on everything that shows it: the journal's appends and the report, timeline
and graph files (the engine's own accounting, logged at shutdown with
SMALLPOND_LOG=smallpond::session=debug), and the Python progress display and logger (every
call of the event callback, timed here: wall, and the calling thread's CPU). Prints one JSON
line with each part and their share of the job's wall time (init to shutdown). The wall
times are upper bounds: on a machine whose cores the workers keep busy, the driver's thread
is also descheduled inside them.
"""

import json
import os
import re
import sys
import tempfile
import time

work = sys.argv[1]
tasks = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tiny_tasks import w6_input  # noqa: E402

data = w6_input(work)

os.environ["SMALLPOND_LOG"] = "smallpond::session=debug"
# The engine logs to fd 2: keep it in a file to read its accounting back.
log = tempfile.TemporaryFile(mode="w+")
saved = os.dup(2)
os.dup2(log.fileno(), 2)

import smallpond  # noqa: E402
from smallpond import _progress  # noqa: E402

spent = [0.0, 0, 0.0]
call = _progress.Progress.__call__


def timed(self, event):
    t, c = time.perf_counter(), time.thread_time()
    call(self, event)
    spent[0] += time.perf_counter() - t
    spent[1] += 1
    spent[2] += time.thread_time() - c


_progress.Progress.__call__ = timed

t0 = time.perf_counter()
sp = smallpond.init(data_root=os.path.join(work, "root"))
df = sp.read_parquet(data).repartition(tasks, by_rows=True).map("k, v * 2 AS v")
rows = df.count()
sp.shutdown()
wall = time.perf_counter() - t0
os.dup2(saved, 2)
log.seek(0)
text = log.read()
assert rows == 200_000, rows
found = re.search(r"journal_ms=([\d.]+) report_ms=([\d.]+)", text)
assert found, f"no accounting line in the engine's log:\n{text[-2000:]}"
journal_ms, report_ms = float(found.group(1)), float(found.group(2))
progress_ms = spent[0] * 1e3
total_ms = journal_ms + report_ms + progress_ms
print(
    json.dumps(
        {
            "bench": "report-overhead",
            "tasks": tasks,
            "wall_s": round(wall, 3),
            "journal_ms": round(journal_ms, 1),
            "report_ms": round(report_ms, 1),
            "progress_ms": round(progress_ms, 1),
            "progress_cpu_ms": round(spent[2] * 1e3, 1),
            "python_calls": spent[1],
            "overhead_pct": round(100 * total_ms / (wall * 1e3), 2),
        }
    ),
    flush=True,
)
