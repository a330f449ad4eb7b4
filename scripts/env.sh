# Sourced by the project's scripts: build caches that live outside the clone, so that a
# second clone (CI) on the same machine reuses the ~55 CPU-minute DuckDB C++ build.
# Override any of these by exporting them before running a script.
: "${SMALLPOND_CACHE:=$HOME/.cache/smallpond-rs}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$SMALLPOND_CACHE/target}"
export CCACHE_DIR="${CCACHE_DIR:-$SMALLPOND_CACHE/ccache}"
export CCACHE_MAXSIZE="${CCACHE_MAXSIZE:-8G}"
# The cc crate understands a wrapper in CC/CXX; ccache is installed by scripts/setup.sh.
if command -v ccache >/dev/null 2>&1; then
    export CC="${CC:-ccache cc}"
    export CXX="${CXX:-ccache c++}"
fi
# Use both cores for the DuckDB C++ build (cc-rs parallel compilation).
export NUM_JOBS="${NUM_JOBS:-$(nproc)}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
# maturin builds the extension with PYO3_PYTHON / PYO3_ENVIRONMENT_SIGNATURE set to the
# project's .venv interpreter. Setting the same values for cargo keeps pyo3's build-script
# fingerprint stable, so `cargo build` and `pip install .` do not rebuild pyo3 in turns.
_sp_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [ -x "$_sp_root/.venv/bin/python" ]; then
    export PYO3_PYTHON="${PYO3_PYTHON:-$_sp_root/.venv/bin/python}"
    export PYO3_ENVIRONMENT_SIGNATURE="${PYO3_ENVIRONMENT_SIGNATURE:-$("$PYO3_PYTHON" -c 'import sys, platform; print(f"{platform.python_implementation().lower()}-{sys.version_info[0]}.{sys.version_info[1]}-64bit")')}"
fi
unset _sp_root
