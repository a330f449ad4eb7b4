"""A worker process: ``python -m smallpond._worker``, started by the session.

The driver sends tasks on stdin and reads results on the original stdout. Anything user
code prints goes to stderr instead, so it cannot corrupt that channel.
"""

import os
import sys


def main() -> None:
    protocol_fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    from smallpond import _core

    _core.serve_worker(protocol_fd)


if __name__ == "__main__":
    main()
