# Sourced by the project's scripts (and by you, before running cargo by hand): where DuckDB
# comes from, and build caches that live outside the clone, so that a second clone (CI) on
# the same machine reuses the build. Override any of these by exporting them first.
_sp_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
: "${SMALLPOND_CACHE:=$HOME/.cache/smallpond-rs}"
export SMALLPOND_CACHE
# DuckDB: `prebuilt` (default) links the official libduckdb.so 1.5.5, which scripts/duckdb.sh
# fetches into the cache (once) and verifies against its pinned SHA-256; `bundled` compiles
# DuckDB from source (~55 CPU-minutes, for platforms without a prebuilt library). A
# DUCKDB_LIB_DIR you exported yourself (a libduckdb.so 1.5.5 of your own) is used as it is.
export SMALLPOND_DUCKDB="${SMALLPOND_DUCKDB:-prebuilt}"
case "$SMALLPOND_DUCKDB" in
    prebuilt)
        if [ -z "${DUCKDB_LIB_DIR:-}" ]; then
            DUCKDB_LIB_DIR="$(bash "$_sp_root/scripts/duckdb.sh")" || return 1 2>/dev/null || exit 1
        fi
        export DUCKDB_LIB_DIR
        SP_CARGO_FEATURES=""
        ;;
    bundled)
        unset DUCKDB_LIB_DIR
        SP_CARGO_FEATURES="--features=smallpond-duckdb/bundled-duckdb"
        # Separate artifacts: switching back and forth must not redo either build.
        export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$SMALLPOND_CACHE/target-bundled}"
        export CCACHE_DIR="${CCACHE_DIR:-$SMALLPOND_CACHE/ccache}"
        export CCACHE_MAXSIZE="${CCACHE_MAXSIZE:-8G}"
        # The cc crate understands a wrapper in CC/CXX (ccache: scripts/setup.sh).
        if command -v ccache >/dev/null 2>&1; then
            export CC="${CC:-ccache cc}"
            export CXX="${CXX:-ccache c++}"
        fi
        # Use every core for the DuckDB C++ build (cc-rs parallel compilation).
        export NUM_JOBS="${NUM_JOBS:-$(nproc)}"
        ;;
    *)
        echo "SMALLPOND_DUCKDB must be prebuilt or bundled, got '$SMALLPOND_DUCKDB'" >&2
        return 1 2>/dev/null || exit 1
        ;;
esac
export SP_CARGO_FEATURES
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$SMALLPOND_CACHE/target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
# maturin builds the extension with PYO3_PYTHON / PYO3_ENVIRONMENT_SIGNATURE set to the
# project's .venv interpreter. Setting the same values for cargo keeps pyo3's build-script
# fingerprint stable, so `cargo build` and `pip install .` do not rebuild pyo3 in turns.
if [ -x "$_sp_root/.venv/bin/python" ]; then
    export PYO3_PYTHON="${PYO3_PYTHON:-$_sp_root/.venv/bin/python}"
    export PYO3_ENVIRONMENT_SIGNATURE="${PYO3_ENVIRONMENT_SIGNATURE:-$("$PYO3_PYTHON" -c 'import sys, platform; print(f"{platform.python_implementation().lower()}-{sys.version_info[0]}.{sys.version_info[1]}-64bit")')}"
fi
unset _sp_root
