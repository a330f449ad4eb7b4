#!/usr/bin/env bash
# Sets up a fresh machine for building smallpond-rs: the Python environment, the official
# DuckDB library (scripts/duckdb.sh, verified) and the build caches. Safe to run again; it
# only fetches or installs what is missing. Source it (the scripts do) or run it.
#   SP_SETUP_PYTHON=venv-test   also installs the test dependencies and Chromium (scripts/test.sh sets it)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

if ! command -v cargo >/dev/null 2>&1; then
    echo "setup: cargo is required (https://rustup.rs)" >&2
    exit 1
fi

if [ "${SMALLPOND_DUCKDB:-prebuilt}" = bundled ] && ! command -v ccache >/dev/null 2>&1; then
    # ccache keeps the ~55 CPU-minute DuckDB C++ source build across clones and profiles.
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "setup: installing ccache for the DuckDB source build" >&2
        (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ccache >/dev/null) \
            || echo "setup: could not install ccache; building without it" >&2
    else
        echo "setup: ccache not found; building DuckDB without a compiler cache" >&2
    fi
fi

# The tests open the job report page in a real browser (python/tests/test_report.py).
if [ "${SP_SETUP_PYTHON:-venv}" = venv-test ] && ! command -v chromium >/dev/null 2>&1 \
    && [ "${SP_SKIP_BROWSER:-0}" != 1 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "setup: installing Chromium (Debian) for the report page test" >&2
        (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
            --no-install-recommends chromium fonts-dejavu-core >/dev/null) \
            || { echo "setup: could not install chromium (SP_SKIP_BROWSER=1 skips its test)" >&2; exit 1; }
    else
        echo "setup: the tests need chromium: apt-get install chromium (or SP_SKIP_BROWSER=1)" >&2
        exit 1
    fi
fi

# The Python environment (.venv/) exists before any cargo build, so that env.sh can point
# pyo3 at its interpreter: then cargo and maturin builds share pyo3's build.
echo "setup: Python environment (.venv)" >&2
bash "$here/python.sh" "${SP_SETUP_PYTHON:-venv}"

# shellcheck source=env.sh
source "$here/env.sh"   # fetches and verifies libduckdb.so (scripts/duckdb.sh) if missing
mkdir -p "$CARGO_TARGET_DIR"
