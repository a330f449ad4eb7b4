"""scripts/duckdb.sh: the official DuckDB library, fetched into the build cache and checked
against the SHA-256s pinned in the script, or refused."""

import gzip
import hashlib
import io
import os
import shutil
import subprocess
import sys
import tarfile

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(ROOT, "scripts", "duckdb.sh")


def pinned(name):
    for line in open(SCRIPT):
        if line.startswith(name + "="):
            return line.split("=", 1)[1].strip()
    raise AssertionError(f"{name} is not pinned in {SCRIPT}")


def fetch(cache, path=None):
    env = dict(os.environ, SMALLPOND_CACHE=str(cache))
    if path is not None:
        env["PATH"] = path
    return subprocess.run(
        ["bash", SCRIPT], capture_output=True, text=True, env=env, timeout=300
    )


def library(cache):
    return cache / "duckdb" / pinned("NPM_VERSION") / "libduckdb.so"


def sha256(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def tools_without_npm(tmp_path):
    """A PATH with what the script needs and no npm: the registry download is used."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ["bash", "sha256sum", "cut", "mkdir", "mktemp", "tar", "gzip", "mv", "rm",
                 "uname", "getconf", "cat", "dirname"]:
        found = shutil.which(tool)
        assert found, tool
        os.symlink(found, bin_dir / tool)
    # The interpreter itself, not a version manager's shim.
    os.symlink(os.path.realpath(sys._base_executable), bin_dir / "python3")
    return str(bin_dir)


@pytest.fixture(scope="module")
def fetched(tmp_path_factory):
    """One real fetch from the npm registry, without npm on PATH."""
    tmp = tmp_path_factory.mktemp("fetch")
    cache = tmp / "cache"
    out = fetch(cache, path=tools_without_npm(tmp))
    assert out.returncode == 0, out.stderr
    assert "npm not found" in out.stderr
    return cache, out


def test_the_library_is_fetched_and_matches_the_pin(fetched):
    cache, out = fetched
    assert out.stdout.strip() == str(library(cache).parent)
    assert sha256(library(cache)) == pinned("LIBRARY_SHA256")
    # No fetch directory is left behind.
    assert sorted(os.listdir(cache / "duckdb")) == [pinned("NPM_VERSION"), "extensions"]


def test_the_httpfs_extension_is_fetched_beside_it_and_matches_the_pin(fetched):
    cache, out = fetched
    version = pinned("DUCKDB_VERSION")
    extensions = cache / "duckdb" / "extensions" / f"v{version}"
    assert os.listdir(extensions) == ["httpfs.duckdb_extension"], out.stderr
    assert sha256(extensions / "httpfs.duckdb_extension") == pinned("HTTPFS_SHA256")


def test_a_verified_library_is_not_fetched_again(fetched, tmp_path):
    cache, _ = fetched
    # No network tools at all: the script must not need them.
    bin_dir = tmp_path / "bin-none"
    bin_dir.mkdir()
    for tool in ["bash", "sha256sum", "cut", "uname", "getconf"]:
        os.symlink(shutil.which(tool), bin_dir / tool)
    out = fetch(cache, path=str(bin_dir))
    assert out.returncode == 0, out.stderr
    assert "fetching" not in out.stderr


def test_a_corrupted_library_is_replaced(fetched, tmp_path):
    cache = tmp_path / "cache"
    shutil.copytree(fetched[0], cache)
    with open(library(cache), "r+b") as f:
        f.seek(4096)
        f.write(b"\0" * 64)
    assert sha256(library(cache)) != pinned("LIBRARY_SHA256")
    out = fetch(cache)
    assert out.returncode == 0, out.stderr
    assert "fetching" in out.stderr
    assert sha256(library(cache)) == pinned("LIBRARY_SHA256")


def test_a_package_that_does_not_match_the_pin_is_refused(tmp_path):
    """An `npm` that hands over another tarball: the script refuses it and publishes
    nothing."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in [("package/libduckdb.so", b"not duckdb"), ("package/LICENSE", b"")]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    tarball = tmp_path / "evil.tgz"
    tarball.write_bytes(gzip.compress(buf.getvalue()))
    bin_dir = tools_without_npm(tmp_path)
    npm = os.path.join(bin_dir, "npm")
    with open(npm, "w") as f:
        f.write(f"#!/bin/sh\ncp {tarball} ./duckdb-node-bindings-linux-x64.tgz\n")
    os.chmod(npm, 0o755)
    os.symlink(shutil.which("cp"), os.path.join(bin_dir, "cp"))
    cache = tmp_path / "cache"
    out = fetch(cache, path=bin_dir)
    assert out.returncode != 0
    assert "checksum mismatch" in out.stderr
    assert pinned("TARBALL_SHA256") in out.stderr
    assert not library(cache).exists()
    assert os.listdir(cache / "duckdb") == []
