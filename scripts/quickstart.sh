#!/usr/bin/env bash
# Sets everything up and runs the quick-start job on the embedded (local) engine:
# generate a Parquet file of prices, hash it 3 ways by ticker, min/max price per ticker,
# write Parquet, print the result.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/setup.sh
data="${1:-data}"
cargo run --locked -q -p smallpond --example quickstart -- "$data"
