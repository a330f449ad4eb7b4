#!/usr/bin/env bash
# Sets everything up and runs the whole test suite: formatting, lints, every test.
# This is exactly what CI runs (.ci/run).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/setup.sh

step() { echo "== $* ($(date +%H:%M:%S))" >&2; }

step "build (the first build compiles DuckDB from source: ~30 min on 2 cores)"
cargo build --workspace --all-targets --locked

step "cargo fmt --check"
cargo fmt --all --check

step "cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo test"
cargo test --workspace --locked

step "python package (pip install . into .venv)"
bash scripts/python.sh install

step "pytest"
.venv/bin/python -m pytest python/tests -q
