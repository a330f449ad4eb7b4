"""The ``smallpond`` command of the wheel: the engine's command line (the same one as the
binary that cargo builds), run inside the extension module, so that the wheel carries one
copy of the engine. Its worker processes are ``python -m smallpond._cli __worker``.
"""

import signal
import sys


def main() -> None:
    # Ctrl-C and SIGTERM are the engine's: it cancels the job (status `cancelled`, nothing
    # published) and exits 130, as the native command does. Python's handlers step aside,
    # or the engine's handler would chain to them and Python would raise the handled Ctrl-C
    # again as a KeyboardInterrupt on the way out.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    from smallpond import _core

    worker = [sys.executable, "-m", "smallpond._cli"]
    sys.exit(_core.cli_main(["smallpond", *sys.argv[1:]], worker))


if __name__ == "__main__":
    main()
