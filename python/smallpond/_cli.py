"""The ``smallpond`` command of the wheel: the engine's command line (the same one as the
binary that cargo builds), run inside the extension module, so that the wheel carries one
copy of the engine. Its worker processes are ``python -m smallpond._cli __worker``.
"""

import signal
import sys


def main() -> None:
    # Behave as the native command does: Ctrl-C ends it at once. (Python's own handler only
    # sets a flag, which the Rust code running the job never looks at.)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    from smallpond import _core

    worker = [sys.executable, "-m", "smallpond._cli"]
    sys.exit(_core.cli_main(["smallpond", *sys.argv[1:]], worker))


if __name__ == "__main__":
    main()
