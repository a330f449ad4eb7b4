"""Runs a command; prints its wall time and the peak RSS of its largest process.

    python measure.py CMD ARGS...   ->   {"secs": ..., "peak_rss_mb": ..., "returncode": ...}

The peak comes from getrusage(RUSAGE_CHILDREN): the largest resident set among the command
and the descendants it waited for (a process's own peak, not the sum over processes).
"""

import json
import resource
import subprocess
import sys
import time

start = time.perf_counter()
proc = subprocess.run(sys.argv[1:], capture_output=True, text=True)
secs = time.perf_counter() - start
peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(
    json.dumps(
        {
            "secs": round(secs, 3),
            "peak_rss_mb": round(peak_kib / 1024, 1),
            "returncode": proc.returncode,
            "stdout": proc.stdout[-2000:],
            "stderr": proc.stderr[-2000:],
        }
    )
)
