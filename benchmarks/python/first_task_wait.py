"""How long a job's first task waits for its worker process when the job starts right after
``init()``: W1 of the performance issue (``repartition(8, hash_by="host")`` and a GROUP BY,
written with ``write_parquet``), each run in a fresh interpreter, once right after ``init()``
and once after a pause that lets the worker start first.

    python first_task_wait.py INPUT_DIR WORK_DIR [RUNS]

INPUT_DIR holds the W1 input (``benchmarks/compare/generate.py``'s ``events``, e.g.
``/tmp/sp-compare/data/events-1``). The wait is the scheduler's time from ``started`` to
``finished`` of the first task (``log/events.jsonl``) minus the task's own time in its log
(``after N s``): what it spent before the worker took it. One JSON line per run.
"""

import glob
import json
import os
import re
import shutil
import subprocess
import sys

# One job in a fresh interpreter: argv = input dir, data root, output dir, pause (seconds).
JOB = """
import sys, time
import smallpond
data, root, out, pause = sys.argv[1:5]
sp = smallpond.init(data_root=root, progress=False)
time.sleep(float(pause))
df = sp.read_parquet(data + "/*.parquet").repartition(8, hash_by="host")
df = sp.partial_sql("SELECT host, count(*) AS n, sum(v) AS s FROM {0} GROUP BY host", df)
df.write_parquet(out)
sp.shutdown()
"""


def first_task_wait_ms(job_dir: str) -> float:
    events = [json.loads(line) for line in open(os.path.join(job_dir, "log", "events.jsonl"))]
    started = min(e["at_us"] for e in events if e["event"] == "started" and e["task"] == 0)
    finished = min(e["at_us"] for e in events if e["event"] == "finished" and e["task"] == 0)
    logs = "".join(open(p).read() for p in glob.glob(os.path.join(job_dir, "log", "*.log")))
    own = re.search(r"task-000000 attempt 1 .*?after ([0-9.]+)s", logs, re.S)
    if own is None:
        raise SystemExit(f"no log of the first task in {job_dir}")
    return (finished - started) / 1e3 - float(own.group(1)) * 1e3


def main() -> None:
    if len(sys.argv) not in (3, 4) or not os.path.isdir(sys.argv[1]):
        raise SystemExit(__doc__)
    data, work = sys.argv[1], sys.argv[2]
    runs = int(sys.argv[3]) if len(sys.argv) == 4 else 3
    for run in range(runs):
        for pause in (0.0, 0.5):
            root, out = os.path.join(work, "root"), os.path.join(work, "out")
            for d in (root, out):
                shutil.rmtree(d, ignore_errors=True)
            subprocess.run([sys.executable, "-c", JOB, data, root, out, str(pause)], check=True)
            (job_dir,) = glob.glob(os.path.join(root, "*", ""))
            wait = first_task_wait_ms(job_dir)
            print(json.dumps({"bench": "first-task-wait", "run": run, "pause_s": pause, "wait_ms": round(wait, 1)}), flush=True)


if __name__ == "__main__":
    main()
