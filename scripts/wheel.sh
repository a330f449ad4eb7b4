#!/usr/bin/env bash
# The wheel: what `pip install smallpond-rs` gives a user.
#
#   scripts/wheel.sh build          builds it (maturin, release profile) and prints its path
#   scripts/wheel.sh check WHEEL    installs it into a new virtual environment in an empty
#                                   directory, with no Rust toolchain and no build cache in
#                                   sight, and runs the Python quick start and `smallpond
#                                   query` there; then proves that a mixed install with
#                                   DeepSeek's smallpond is refused, in both orders
#
# The wheel carries the extension (`smallpond._core`, which also runs the `smallpond`
# command), the official libduckdb.so under a name of its own (smallpond_rs.libs/), and the
# guard against mixing with the original. It needs nothing from this repository or machine.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
say() { echo "wheel: $*" >&2; }

build() {
    source scripts/env.sh
    export PATH="$PWD/.venv/bin:$PATH"
    local out="$CARGO_TARGET_DIR/wheels"
    rm -rf "$out"
    # maturin moves the linked extension out of cargo's directory and patches it in place
    # (the library's new name, its run path); the file is a hard link to cargo's own copy,
    # so the next build would find the patched file fresh and fail to repair it
    # (PyO3/maturin#2680). Removing it makes cargo link again (seconds).
    rm -rf "$CARGO_TARGET_DIR/maturin" "$CARGO_TARGET_DIR"/release/lib_core.so \
        "$CARGO_TARGET_DIR"/release/deps/lib_core.so
    say "building the wheel (maturin build --release)"
    # SMALLPOND_WHEEL=1: no run path to this machine's build cache in the extension.
    # shellcheck disable=SC2086
    SMALLPOND_WHEEL=1 maturin build --release --locked --quiet $SP_CARGO_FEATURES -o "$out" >&2
    local wheel
    wheel="$(ls "$out"/smallpond_rs-*.whl)"
    say "built $wheel ($(du -m "$wheel" | cut -f1) MB)"
    echo "$wheel"
}

check() {
    local wheel
    wheel="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
    local version
    version="$(basename "$wheel" | cut -d- -f2)"
    local python
    python="$(.venv/bin/python -c 'import sys; print(sys._base_executable)')"
    local quickstart="$PWD/examples/quickstart.py"
    local room
    room="$(mktemp -d "${TMPDIR:-/tmp}/smallpond-wheel-check.XXXXXX")"
    trap 'rm -rf "$room"' RETURN
    mkdir "$room/home"
    # A clean environment: no cargo, rustc or maturin on PATH, no CARGO_*/DUCKDB_* variables,
    # an empty HOME (so no ~/.cache/smallpond-rs), pip's download cache kept for speed.
    local pip_cache
    pip_cache="$(.venv/bin/python -m pip cache dir 2>/dev/null || echo "$HOME/.cache/pip")"
    run() {
        (cd "$room" && env -i HOME="$room/home" PATH="$room/venv/bin:/usr/bin:/bin" \
            LANG=C.UTF-8 PIP_CACHE_DIR="$pip_cache" PIP_DISABLE_PIP_VERSION_CHECK=1 "$@")
    }
    fail() { say "FAILED: $*"; exit 1; }

    "$python" -m venv "$room/venv"
    for tool in cargo rustc rustup maturin; do
        if run sh -c "command -v $tool" >/dev/null; then fail "$tool is on the check's PATH"; fi
    done
    local start end
    start=$(date +%s%N)
    run python -m pip install -q "$wheel"
    end=$(date +%s%N)
    say "installed into an empty venv in $(( (end - start) / 1000000 )) ms" \
        "($(du -sm "$room/venv" | cut -f1) MB with its dependencies)"

    # The library the extension loads is the wheel's copy, found through a relative path.
    local core
    core="$(echo "$room"/venv/lib/python*/site-packages/smallpond/_core.abi3.so)"
    if readelf -d "$core" | grep -E 'R(UN)?PATH' | grep -v '\$ORIGIN' | grep -q .; then
        fail "the extension has a run path outside the wheel: $(readelf -d "$core" | grep PATH)"
    fi
    # (With SMALLPOND_DUCKDB=bundled DuckDB is linked in statically: no library to load.)
    if readelf -d "$core" | grep -q 'NEEDED.*libduckdb'; then
        run ldd "$core" | grep -q "$room/venv/.*smallpond_rs.libs/libduckdb-" \
            || fail "the extension does not load the wheel's libduckdb: $(run ldd "$core")"
    fi

    [ "$(run smallpond --version)" = "smallpond $version" ] \
        || fail "smallpond --version says '$(run smallpond --version)', not 'smallpond $version'"
    [ "$(run python -c 'import smallpond; print(smallpond.__version__)')" = "$version" ] \
        || fail "smallpond.__version__ is not $version"

    # The Python quick start, on prices made with pyarrow (there is no Rust here).
    run python - <<'EOF'
import os
import pyarrow as pa
import pyarrow.parquet as pq
n = 100_000
os.makedirs("data/prices")
pq.write_table(pa.table({
    "ticker": [f"T{i % 100:03d}" for i in range(n)],
    "day": [i // 100 for i in range(n)],
    "price": [50.0 + (i * 7919) % 1000 / 10.0 for i in range(n)],
}), "data/prices/prices.parquet")
EOF
    run python "$quickstart" data >"$room/quickstart.out" \
        || fail "the Python quick start failed: $(cat "$room/quickstart.out")"
    grep -q "T000" "$room/quickstart.out" || fail "the quick start printed no tickers"
    # And the command line, over the same prices.
    run smallpond query "SELECT ticker, count(*) AS n FROM {0} GROUP BY ticker" \
        --input 'data/prices/*.parquet' --partitions 3 --hash-by ticker --output out --quiet \
        || fail "smallpond query failed"
    [ "$(run python -c 'import pyarrow.dataset as d; t = d.dataset("out").to_table(); print(t.num_rows, sum(t.column("n").to_pylist()))')" = "100 100000" ] \
        || fail "smallpond query wrote the wrong result"
    say "the quick start and smallpond query ran from the wheel"

    # Mixed installs with DeepSeek's smallpond (its own files only: --no-deps) are refused,
    # whichever came first.
    expect_refused() {
        local out
        if out="$(run python -c 'import smallpond' 2>&1)"; then
            fail "import smallpond worked with both installed ($1)"
        fi
        echo "$out" | grep -q "both smallpond-rs and DeepSeek's smallpond (smallpond 0.15.0)" \
            || fail "the mixed install ($1) did not explain itself: $out"
    }
    run python -m pip install -q --no-deps smallpond==0.15.0
    expect_refused "the original installed after smallpond-rs"
    run python -m pip uninstall -q -y smallpond smallpond-rs
    run python -m pip install -q --no-deps smallpond==0.15.0
    run python -m pip install -q --no-deps "$wheel"
    expect_refused "smallpond-rs installed after the original"
    run python -m pip uninstall -q -y smallpond smallpond-rs
    run python -m pip install -q --no-deps --force-reinstall "$wheel"
    run python -c 'import smallpond' || fail "a clean reinstall does not import"
    say "a mixed install with DeepSeek's smallpond is refused in both orders, with the fix"
}

case "${1:-}" in
    build) build ;;
    check) [ $# -eq 2 ] || { echo "usage: scripts/wheel.sh check WHEEL" >&2; exit 2; }; check "$2" ;;
    *) echo "usage: scripts/wheel.sh build | check WHEEL" >&2; exit 2 ;;
esac
