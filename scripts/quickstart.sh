#!/usr/bin/env bash
# Sets everything up and runs the quick-start job on the embedded (local) engine:
# generate a Parquet file of prices, hash it 3 ways by ticker, min/max price per ticker,
# write Parquet, print the result. Then the same job in Python (the original API), from the
# wheel installed into .venv. A few minutes on a fresh machine (docs/benchmarks.md).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/setup.sh
step() { echo "== $* ($(date +%H:%M:%S))" >&2; }
data="${1:-data}"
# The release profile, as the tests and the wheel: one compilation serves all three. The
# extension is in the selection so that cargo resolves the features the wheel's build does.
step "build the Rust quick start and the extension (cargo build --release: minutes)"
# shellcheck disable=SC2086
cargo build --release --locked -p smallpond --example quickstart -p smallpond-python \
    $SP_CARGO_FEATURES
step "run it"
"$CARGO_TARGET_DIR/release/examples/quickstart" "$data"
step "build the wheel and install it into .venv"
bash scripts/python.sh install
step "the same job from Python (the original smallpond API)"
.venv/bin/python examples/quickstart.py "$data"
