#!/usr/bin/env bash
# Fetches the original smallpond's examples, benchmarks and tests (DeepSeek's smallpond 0.15.0, its
# source distribution on PyPI) into the cache, outside the clone, checked against the SHA-256
# pinned here. The tests run those scripts unchanged on our package (python/tests/
# test_original_scripts.py); nothing of them is part of this project.
#
#   scripts/original.sh        fetch (if missing) and verify; prints the directory holding
#                              examples/, benchmarks/ and tests/
set -euo pipefail

VERSION=0.15.0
SDIST_SHA256=0a4f13e4a159ea640b16ef0095dc4b9316f54752f655794c540eb9911b00de6f

: "${SMALLPOND_CACHE:=$HOME/.cache/smallpond-rs}"
dest="$SMALLPOND_CACHE/original/$VERSION"
say() { echo "original: $*" >&2; }

if [ -f "$dest/.verified" ]; then
    echo "$dest"
    exit 0
fi

python="${PYTHON:-python3}"
[ -x .venv/bin/python ] && python=.venv/bin/python
say "fetching smallpond $VERSION's source distribution from PyPI into $dest"
mkdir -p "$SMALLPOND_CACHE/original"
work="$(mktemp -d "$SMALLPOND_CACHE/original/.fetch.XXXXXX")"
trap 'rm -rf "$work"' EXIT
"$python" -m pip download -q --disable-pip-version-check --no-deps --no-binary :all: \
    "smallpond==$VERSION" -d "$work"
sdist="$work/smallpond-$VERSION.tar.gz"
got="$(sha256sum "$sdist" | cut -d' ' -f1)"
if [ "$got" != "$SDIST_SHA256" ]; then
    say "$sdist has SHA-256 $got, not the pinned $SDIST_SHA256: refused"
    exit 1
fi
tar -xzf "$sdist" -C "$work" "smallpond-$VERSION/examples" "smallpond-$VERSION/benchmarks" \
    "smallpond-$VERSION/tests"
rm -rf "$dest"
mv "$work/smallpond-$VERSION" "$dest"
touch "$dest/.verified"
echo "$dest"
