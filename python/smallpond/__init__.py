"""smallpond on a Rust core: the original smallpond API, planned, scheduled and run on
DuckDB by the smallpond-rs engine.

    import smallpond
    sp = smallpond.init()
    df = sp.read_parquet("prices/*.parquet")
    df = df.repartition(3, hash_by="ticker")
    df = sp.partial_sql("SELECT ticker, min(price), max(price) FROM {0} GROUP BY ticker", df)
    df.write_parquet("output/")
"""

from __future__ import annotations

import os
import sys

from smallpond import _core
from smallpond._core import SmallpondError
from smallpond._core import __version__ as _core_version

# Worker processes (`python -m smallpond._worker`) import this module and need only `_core`:
# `typing` and `logging` (~20 ms with what they import) wait for the modules that use them.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Optional

    from smallpond.dataframe import DataFrame, Session
    from smallpond._udf import UDFType, udf


def _find_httpfs() -> None:
    """Tells the engine (here and in worker processes, which inherit the environment) where
    the ``duckdb-extension-httpfs`` package keeps DuckDB's httpfs extension, which reads
    and writes ``s3://`` and reads ``https://`` paths."""
    if os.environ.get("SP_HTTPFS_EXTENSION"):
        return
    import importlib.util

    spec = importlib.util.find_spec("duckdb_extension_httpfs")
    for root in (spec.submodule_search_locations or []) if spec else []:
        path = os.path.join(root, "extensions", "v1.5.5", "httpfs.duckdb_extension")
        if os.path.isfile(path):
            os.environ["SP_HTTPFS_EXTENSION"] = path
            return


_find_httpfs()

__version__ = _core_version
__all__ = ["init", "Session", "DataFrame", "SmallpondError", "UDFType", "udf"]

# Imported on first use, so that worker processes (`python -m smallpond._worker`), which
# only need `_core`, start without loading pyarrow and pandas.
_LAZY = {
    "Session": "smallpond.dataframe",
    "DataFrame": "smallpond.dataframe",
    "UDFType": "smallpond._udf",
    "udf": "smallpond._udf",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'smallpond' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def _worker_command() -> "tuple[list[str], list[tuple[str, str]]]":
    """How a local pool starts its worker processes: the command, and the environment it
    adds (this interpreter's import path, so that workers import what the driver does)."""
    path = [p or os.getcwd() for p in sys.path]
    return [sys.executable, "-m", "smallpond._worker"], [("PYTHONPATH", os.pathsep.join(path))]


def init(
    job_id: Optional[str] = None,
    job_time: Any = None,
    job_name: Optional[str] = None,
    data_root: Optional[str] = None,
    num_executors: Optional[int] = None,
    ray_address: Optional[str] = None,
    bind_numa_node: Optional[bool] = None,
    platform: Optional[str] = None,
    **kwargs: Any,
) -> "Session":
    """Starts a session on the embedded engine (no services; milliseconds).

    Every argument is optional and, as in the original, the environment overrides it:
    ``SP_JOBID``, ``SP_JOB_TIME``, ``SP_JOB_NAME``, ``SP_DATA_ROOT``, ``SP_NUM_EXECUTORS``
    (concurrent tasks; default all cores), ``SP_RAY_ADDRESS``, ``SP_PLATFORM``.
    Keyword options: ``fault_inject_prob``, ``memory_limit`` (bytes), ``max_fail_count`` /
    ``max_attempts``, ``speculative_exec`` (``disable|enable|aggressive``), ``progress``
    (``False`` prints nothing; by default per-stage bars on a terminal, a table in a
    notebook, plain lines elsewhere, and a summary line at the end) and ``pool``
    (``processes``, the default, or ``threads``). ``storage_options`` (a dict) says how to
    reach S3 for ``s3://`` paths, over the ``AWS_*`` environment variables:
    ``aws_endpoint_url``, ``aws_region``, ``aws_access_key_id``, ``aws_secret_access_key``,
    ``aws_session_token``, ``aws_url_style`` (``path`` or ``vhost``), ``aws_use_ssl``.
    Shut down at interpreter exit.

    Every job leaves ``JOB_DIR/log/report.html`` (plan, tasks per stage, slowest tasks,
    errors), ``timeline.json`` (Chrome trace) and ``graph.svg``; ``smallpond status
    JOB_DIR`` tells how it is going. The ``smallpond`` logger gets the engine's events;
    ``SMALLPOND_LOG=info`` prints the engine's own logs to stderr.
    """
    import atexit

    # The session's first worker starts now, while the DataFrame API is imported (30-40 ms)
    # instead of after; a session that ends up with another pool lets it go.
    local = kwargs.get("pool", "processes") == "processes"
    if local and not (os.environ.get("SP_RAY_ADDRESS") or ray_address):
        try:
            _core.prestart_worker(*_worker_command())
        except OSError:
            pass  # the pool starts its workers itself, and reports what fails
    from smallpond.dataframe import Session

    session = Session(
        job_id=job_id,
        job_time=job_time,
        job_name=job_name,
        data_root=data_root,
        num_executors=num_executors,
        ray_address=ray_address,
        bind_numa_node=bind_numa_node,
        platform=platform,
        **kwargs,
    )
    atexit.register(session.shutdown)
    return session
