#!/usr/bin/env bash
# Sets up a fresh machine for building smallpond-rs: system packages and build caches.
# Safe to run again; it only installs what is missing. Source it or run it.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

if ! command -v ccache >/dev/null 2>&1; then
    # ccache keeps the ~55 CPU-minute DuckDB C++ build across clones and cargo profiles.
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "setup: installing ccache" >&2
        (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ccache >/dev/null) \
            || echo "setup: could not install ccache; building without it" >&2
    else
        echo "setup: ccache not found; building without a compiler cache" >&2
    fi
fi

if ! command -v cargo >/dev/null 2>&1; then
    echo "setup: cargo is required (https://rustup.rs)" >&2
    exit 1
fi

# The Python environment (.venv/) exists before any cargo build, so that env.sh can point
# pyo3 at its interpreter: then cargo and maturin builds share pyo3's build.
bash "$here/python.sh" venv

# shellcheck source=env.sh
source "$here/env.sh"
mkdir -p "$CARGO_TARGET_DIR" "$CCACHE_DIR"
