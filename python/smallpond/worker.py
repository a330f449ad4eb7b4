"""Joins this machine to a Ray cluster as smallpond workers, as the original's worker.py:

    python -m smallpond.worker --ray_address HEAD:6379 [--log_dir DIR] [--bind_numa_node]

Runs `ray start --address ... --num-cpus <physical cores> --memory <RAM> --block` (one per
NUMA node with --bind_numa_node, under numactl) and stays in the foreground until stopped.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys


def physical_cores() -> int:
    try:
        cores = set()
        with open("/proc/cpuinfo") as f:
            phys = core = None
            for line in f:
                if line.startswith("physical id"):
                    phys = line.split(":")[1].strip()
                elif line.startswith("core id"):
                    core = line.split(":")[1].strip()
                elif not line.strip() and core is not None:
                    cores.add((phys, core))
                    phys = core = None
        return max(1, len(cores)) if cores else (os.cpu_count() or 1)
    except OSError:
        return os.cpu_count() or 1


def memory_bytes() -> int:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def ray_command() -> list:
    ray = shutil.which("ray", path=os.path.dirname(sys.executable)) or shutil.which("ray")
    if ray is None:
        raise SystemExit("smallpond.worker needs Ray: pip install 'smallpond[ray]'")
    return [ray]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m smallpond.worker", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ray_address", required=True, help="address of the Ray cluster's head")
    p.add_argument("--log_dir", default=None, help="where to write this host's log")
    p.add_argument("--bind_numa_node", action="store_true",
                   help="one Ray node per NUMA node, bound to it with numactl")
    p.add_argument("--num_cpus", type=int, default=None, help="default: physical cores")
    args = p.parse_args(argv)
    cpus = args.num_cpus or physical_cores()
    memory = memory_bytes()
    log = None
    if args.log_dir:
        os.makedirs(args.log_dir, exist_ok=True)
        log = open(os.path.join(args.log_dir, f"{socket.gethostname()}.log"), "a")
    base = ray_command() + ["start", "--address", args.ray_address, "--block"]
    if not args.bind_numa_node:
        cmd = base + ["--num-cpus", str(cpus), "--memory", str(memory)]
        return subprocess.run(cmd, stdout=log, stderr=log).returncode
    if shutil.which("numactl") is None:
        raise SystemExit("--bind_numa_node needs numactl")
    nodes = len([d for d in os.listdir("/sys/devices/system/node") if d.startswith("node")])
    procs = [
        subprocess.Popen(
            ["numactl", "-N", str(i), "-m", str(i)] + base
            + ["--num-cpus", str(max(1, cpus // nodes)), "--memory", str(memory // nodes)],
            stdout=log, stderr=log,
        )
        for i in range(nodes)
    ]
    return max(p.wait() for p in procs)


if __name__ == "__main__":
    sys.exit(main())
