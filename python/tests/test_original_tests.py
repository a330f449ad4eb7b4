"""The original smallpond's own tests of its DataFrame API and sessions (tests/test_dataframe.py,
tests/test_session.py of 0.15.0, with its conftest and data generator, from its PyPI sources
via scripts/original.sh), run unchanged against our package: every one passes (the one it
skips itself stays skipped)."""

import os
import re
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FILES = ["__init__.py", "conftest.py", "datagen.py", "test_dataframe.py", "test_session.py"]


def test_the_originals_dataframe_and_session_tests_pass(tmp_path):
    done = subprocess.run(["bash", os.path.join(ROOT, "scripts", "original.sh")], capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert done.returncode == 0, done.stderr
    source = os.path.join(done.stdout.strip(), "tests")
    os.makedirs(tmp_path / "tests")
    for name in FILES:
        shutil.copy(os.path.join(source, name), tmp_path / "tests" / name)
    gen = subprocess.run([sys.executable, "-c", "from tests.datagen import generate_data; generate_data()"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert gen.returncode == 0 and os.path.isdir(tmp_path / "tests" / "data" / "mock_urls"), gen.stderr
    env = dict(os.environ, TEST_RUNTIME_ROOT=str(tmp_path / "runtime"))
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_dataframe.py", "tests/test_session.py"],
        cwd=tmp_path, capture_output=True, text=True, timeout=1200, env=env,
    )
    summary = run.stdout.strip().splitlines()[-1] if run.stdout.strip() else run.stderr
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-3000:]
    passed = int(re.search(r"(\d+) passed", summary).group(1))
    assert passed == 22 and "failed" not in summary and "error" not in summary, summary
