#!/usr/bin/env bash
# Sets everything up and runs the whole test suite: formatting, lints, every test, and the
# wheel installed where there is no toolchain. This is exactly what CI runs (.ci/run).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export SP_SETUP_PYTHON=venv-test
source scripts/setup.sh

step() { echo "== $* ($(date +%H:%M:%S))" >&2; }

# One profile for the tests, the quick start and the wheel (release): one compilation.
step "build (cargo build --release; the first build takes minutes)"
# shellcheck disable=SC2086
cargo build --release --workspace --all-targets --locked $SP_CARGO_FEATURES

step "cargo fmt --check"
cargo fmt --all --check

step "cargo clippy"
# shellcheck disable=SC2086
cargo clippy --release --workspace --all-targets --locked $SP_CARGO_FEATURES -- -D warnings

step "cargo test"
# shellcheck disable=SC2086
cargo test --release --workspace --locked $SP_CARGO_FEATURES

step "the wheel, installed into .venv"
bash scripts/python.sh install

step "pytest"
.venv/bin/python -m pytest python/tests -q

step "the wheel in an empty venv without a toolchain"
bash scripts/wheel.sh check "$(ls "$CARGO_TARGET_DIR"/wheels/smallpond_rs-*.whl)"
