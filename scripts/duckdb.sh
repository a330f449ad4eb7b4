#!/usr/bin/env bash
# Fetches the official prebuilt DuckDB C library (libduckdb.so) into the build cache, outside
# the clone, and checks it against the SHA-256 pinned here. The `duckdb` crate links it
# (DUCKDB_LIB_DIR, set by scripts/env.sh) instead of compiling DuckDB's C++ (~55 CPU-minutes).
#
#   scripts/duckdb.sh          fetch (if missing) and verify; prints the library's directory
#
# It also fetches DuckDB's own httpfs extension of the same version (s3:// and https:// paths)
# from PyPI (duckdb-extension-httpfs, through pip) into $SMALLPOND_CACHE/duckdb/extensions/,
# where the engine looks for it (crates/smallpond-duckdb/src/remote.rs).
#
# The DuckDB project publishes its Linux x86-64 library in the npm package below (the same
# build its Node.js client loads; Parquet and JSON are built in). Elsewhere, or to compile
# DuckDB from source, set SMALLPOND_DUCKDB=bundled (see README, "Developing").
set -euo pipefail

# The pin: DuckDB 1.5.5, the version the `duckdb` crate (=1.10505.0) is generated for, and the
# newest whose extensions are on PyPI (duckdb-extension-httpfs 1.5.5; an extension loads only
# into the DuckDB version it was built for).
DUCKDB_VERSION=1.5.5
NPM_PACKAGE=@duckdb/node-bindings-linux-x64
NPM_VERSION=1.5.5-r.5
TARBALL_SHA256=86d2bda909785550e8a14a57a8a4584827aff0e268d8f1a58c3fd48559f7020e
LIBRARY_SHA256=fc23f12e376c47be520f75221288281906e7942e8fd6f6ce4849198ba60d0405
HTTPFS_WHEEL_SHA256=84913dbe172ccb54368de2c4a020c38ca8b0e76f99df548f7fac37934cc7826f
HTTPFS_SHA256=887c392b1e49128d11667c81e3698d8b00dfdeb456771acf66d05a0f74f7b7d8

: "${SMALLPOND_CACHE:=$HOME/.cache/smallpond-rs}"
dest="$SMALLPOND_CACHE/duckdb/$NPM_VERSION"
say() { echo "duckdb: $*" >&2; }

sha256() { sha256sum "$1" | cut -d' ' -f1; }

if [ "$(uname -s)-$(uname -m)" != Linux-x86_64 ] || ! getconf GNU_LIBC_VERSION >/dev/null 2>&1; then
    say "no prebuilt library is pinned for $(uname -s) $(uname -m); build DuckDB from source" \
        "with SMALLPOND_DUCKDB=bundled (about 30 minutes on 2 cores)"
    exit 1
fi

# The httpfs extension: optional (only s3:// and https:// paths need it), so a failure to
# fetch it is said and the set-up goes on.
fetch_httpfs() {
    local dir="$SMALLPOND_CACHE/duckdb/extensions/v$DUCKDB_VERSION"
    local file="$dir/httpfs.duckdb_extension"
    if [ -f "$file" ] && [ "$(sha256 "$file")" = "$HTTPFS_SHA256" ]; then
        return 0
    fi
    say "fetching DuckDB's httpfs extension $DUCKDB_VERSION (duckdb-extension-httpfs, 7 MB) into $dir"
    mkdir -p "$dir"
    local work
    work="$(mktemp -d "$dir/.fetch.XXXXXX")"
    if ! python3 -m pip download -q --disable-pip-version-check --no-deps \
            "duckdb-extension-httpfs==$DUCKDB_VERSION" -d "$work" >&2; then
        say "pip download duckdb-extension-httpfs==$DUCKDB_VERSION failed: s3:// and https:// paths will not work"
        rm -rf "$work"
        return 0
    fi
    local wheels=("$work"/*.whl)
    local wheel="${wheels[0]}"
    if [ "$(sha256 "$wheel")" != "$HTTPFS_WHEEL_SHA256" ]; then
        say "checksum mismatch for $(basename "$wheel"): expected $HTTPFS_WHEEL_SHA256"
        rm -rf "$work"
        return 1
    fi
    python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extract(sys.argv[2], sys.argv[3])' \
        "$wheel" "duckdb_extension_httpfs/extensions/v$DUCKDB_VERSION/httpfs.duckdb_extension" "$work"
    local got
    got="$(sha256 "$work/duckdb_extension_httpfs/extensions/v$DUCKDB_VERSION/httpfs.duckdb_extension")"
    if [ "$got" != "$HTTPFS_SHA256" ]; then
        say "checksum mismatch for httpfs.duckdb_extension: expected $HTTPFS_SHA256, got $got"
        rm -rf "$work"
        return 1
    fi
    mv "$work/duckdb_extension_httpfs/extensions/v$DUCKDB_VERSION/httpfs.duckdb_extension" "$file"
    rm -rf "$work"
    say "httpfs.duckdb_extension $DUCKDB_VERSION verified (sha256 $HTTPFS_SHA256)"
}

if [ -f "$dest/libduckdb.so" ] && [ "$(sha256 "$dest/libduckdb.so")" = "$LIBRARY_SHA256" ]; then
    fetch_httpfs
    echo "$dest"
    exit 0
fi

say "fetching the official libduckdb.so $DUCKDB_VERSION ($NPM_PACKAGE@$NPM_VERSION, 24 MB) into $dest"
mkdir -p "$SMALLPOND_CACHE/duckdb"
work="$(mktemp -d "$SMALLPOND_CACHE/duckdb/.fetch.XXXXXX")"
trap 'rm -rf "$work"' EXIT
tarball="$work/package.tgz"
if command -v npm >/dev/null 2>&1; then
    (cd "$work" && npm pack --silent "$NPM_PACKAGE@$NPM_VERSION" >/dev/null) \
        || { say "npm pack $NPM_PACKAGE@$NPM_VERSION failed"; exit 1; }
    mv "$work"/*.tgz "$tarball"
else
    # The same file, from the registry npm uses, for machines without Node.js.
    url="https://registry.npmjs.org/$NPM_PACKAGE/-/${NPM_PACKAGE#*/}-$NPM_VERSION.tgz"
    say "npm not found; downloading $url"
    python3 -c 'import sys, urllib.request; urllib.request.urlretrieve(sys.argv[1], sys.argv[2])' \
        "$url" "$tarball" || { say "downloading $url failed"; exit 1; }
fi
got="$(sha256 "$tarball")"
if [ "$got" != "$TARBALL_SHA256" ]; then
    say "checksum mismatch for $NPM_PACKAGE@$NPM_VERSION: expected $TARBALL_SHA256, got $got"
    exit 1
fi
tar -xzf "$tarball" -C "$work" package/libduckdb.so package/LICENSE
got="$(sha256 "$work/package/libduckdb.so")"
if [ "$got" != "$LIBRARY_SHA256" ]; then
    say "checksum mismatch for libduckdb.so: expected $LIBRARY_SHA256, got $got"
    exit 1
fi
# Publish whole or not at all: a directory renamed into place, never a half-written library.
mv "$work/package" "$work/lib"
rm -rf "$dest"
mv "$work/lib" "$dest"
say "libduckdb.so $DUCKDB_VERSION verified (sha256 $LIBRARY_SHA256)"
fetch_httpfs
echo "$dest"
