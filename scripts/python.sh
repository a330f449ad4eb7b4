#!/usr/bin/env bash
# The project's Python environment.
#   scripts/python.sh venv      creates .venv/ (if missing) with the build and test dependencies
#   scripts/python.sh install   also installs this package into it: `pip install .` (maturin)
# Install after the Cargo workspace build: maturin builds the extension on the same `dev`
# profile and target directory, so it reuses the DuckDB build (scripts/env.sh sets them).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/env.sh

python="${PYTHON:-}"
if [ -z "$python" ]; then
    for candidate in python3.11 python3.12 python3.13 python3.10 python3.9 python3; do
        if command -v "$candidate" >/dev/null 2>&1; then python="$candidate"; break; fi
    done
fi
if [ -z "$python" ] || ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 9))'; then
    echo "python: Python 3.9 or newer is required" >&2
    exit 1
fi
if [ ! -x .venv/bin/python ]; then
    echo "python: creating .venv with $python" >&2
    "$python" -m venv .venv
fi
export PATH="$PWD/.venv/bin:$PATH"
# Build and test dependencies (maturin builds the extension; pytest runs the suite; Ray for
# the multi-node tests, which start a three-node cluster on this machine).
.venv/bin/python -m pip install -q --disable-pip-version-check \
    "maturin>=1.7,<2" "pyarrow>=14" numpy pandas "cloudpickle>=2" "pytest>=7" "ray>=2.9"
[ "${1:-install}" = venv ] && exit 0
# The package itself. No build isolation: maturin is in .venv already, and the build must
# see CARGO_TARGET_DIR (and the dev profile) to reuse the workspace's DuckDB build.
.venv/bin/python -m pip install -q --disable-pip-version-check --no-build-isolation --no-deps .
