#!/usr/bin/env bash
# Sets everything up and runs the quick-start job on the embedded (local) engine:
# generate a Parquet file of prices, hash it 3 ways by ticker, min/max price per ticker,
# write Parquet, print the result. Then the same job in Python (the original API).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/setup.sh
data="${1:-data}"
# Build exactly as the tests do (whole workspace, all targets): cargo resolves features per
# selection, and another selection would redo the ~30 min DuckDB build.
cargo build --workspace --all-targets --locked
"$CARGO_TARGET_DIR/debug/examples/quickstart" "$data"
# The same job from Python, with the original smallpond API (`pip install .` into .venv/).
bash scripts/python.sh install
.venv/bin/python examples/quickstart.py "$data"
