"""What a new file costs on a file system, right after many were deleted: on an ext4 without a
journal, each new inode steps over those freed in the last minute.

    python inode_cost.py DIR [DELETED] [CREATED]

Creates 1,000 and then CREATED (default 4,000) one-byte files under DIR, deletes them and
DELETED (default 5,000) more, then creates 1,000 and CREATED again. Prints one JSON line:
seconds for each batch.
"""

import json
import os
import shutil
import sys
import time


def create(d: str, n: int) -> float:
    os.makedirs(d)
    t = time.perf_counter()
    for i in range(n):
        with open(os.path.join(d, f"f{i}"), "w") as f:
            f.write("x")
    return time.perf_counter() - t


def main() -> None:
    base = os.path.join(sys.argv[1], "inode-cost")
    deleted = int(sys.argv[2]) if len(sys.argv) > 2 else 5000
    created = int(sys.argv[3]) if len(sys.argv) > 3 else 4000
    shutil.rmtree(base, ignore_errors=True)
    out = {"bench": "inode-cost", "dir": sys.argv[1], "deleted": deleted, "created": created}
    out["before_1000_s"] = round(create(os.path.join(base, "a"), 1000), 3)
    out[f"before_{created}_s"] = round(create(os.path.join(base, "b"), created), 3)
    create(os.path.join(base, "c"), max(0, deleted - 1000 - created))
    for d in "abc":
        shutil.rmtree(os.path.join(base, d))
    out["after_1000_s"] = round(create(os.path.join(base, "d"), 1000), 3)
    out[f"after_{created}_s"] = round(create(os.path.join(base, "e"), created), 3)
    shutil.rmtree(base)
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
