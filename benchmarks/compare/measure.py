"""Runs a command; prints its wall time and its peak memory.

    python measure.py CMD ARGS...   ->   {"secs": ..., "peak_mb": ..., "peak_rss_mb": ..., ...}

`peak_mb` is the largest sum, over samples taken every 0.2 s, of the proportional set sizes
(Pss: a page shared by n processes counts 1/n in each, so the shared DuckDB library counts
once, not once per worker) of the command and all its descendants, plus what /dev/shm gained
since the start (a shuffle kept in memory, Ray's object store; pages of it that a process
maps count twice, which overcounts Ray, never us). `peak_rss_mb` is the largest resident set
of one process (getrusage), which sampling cannot miss.
"""

import json
import os
import resource
import subprocess
import sys
import time

PAGE = os.sysconf("SC_PAGE_SIZE")


def shm_used():
    try:
        st = os.statvfs("/dev/shm")
    except OSError:
        return 0
    return (st.f_blocks - st.f_bfree) * st.f_frsize


def pss(pid):
    """The proportional set size of a process in bytes (its resident set where the kernel
    has no smaps_rollup)."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * PAGE
    except OSError:
        return 0


def tree_memory(root):
    """The summed Pss of `root` and its descendants, in bytes."""
    children = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
        children.setdefault(ppid, []).append(int(name))
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += pss(pid)
        todo.extend(children.get(pid, ()))
    return total


def main():
    shm0 = shm_used()
    start = time.perf_counter()
    proc = subprocess.Popen(sys.argv[1:], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = 0
    while True:
        try:
            # A timed-out communicate() loses nothing: the retry returns all the output.
            out, err = proc.communicate(timeout=0.2)
            break
        except subprocess.TimeoutExpired:
            peak = max(peak, tree_memory(proc.pid) + max(0, shm_used() - shm0))
    secs = time.perf_counter() - start
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(
        json.dumps(
            {
                "secs": round(secs, 3),
                "peak_mb": round(max(peak, peak_kib * 1024) / 2**20, 1),
                "peak_rss_mb": round(peak_kib / 1024, 1),
                "returncode": proc.returncode,
                "stdout": out[-2000:],
                "stderr": err[-2000:],
            }
        )
    )


if __name__ == "__main__":
    main()
