"""The original smallpond API (``Session``, ``DataFrame``) on the smallpond-rs engine.

Everything here only translates arguments and results: the Rust core (``smallpond._core``)
plans, schedules and runs the tasks on DuckDB. Python functions given to ``map``,
``filter``, ``flat_map`` and ``map_batches`` are pickled and run in worker processes.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Dict, List, Optional, Union

from smallpond._lazy import lazy

pa = lazy("pyarrow")

from smallpond import _core, _runtime
from smallpond._progress import Progress

_log = logging.getLogger("smallpond")
# A library's logger: silent until the application configures logging.
_log.addHandler(logging.NullHandler())
from smallpond._udf import UdfSpec, to_core

SmallpondError = _core.SmallpondError

# Options of the original's nodes that have no effect here (the engine decides), accepted
# so that existing scripts run unchanged.
_IGNORED_NODE_OPTIONS = {
    "parquet_dictionary_encoding",
    "parquet_compression_level",
    "per_thread_output",
    "materialize_output",
    "materialize_in_memory",
    "relax_memory_if_oom",
    "batched_processing",
    "enable_temp_directory",
    "cpu_overcommit_ratio",
    "memory_overcommit_ratio",
    "dimension",
    "nested",
    "engine_type",
    "shuffle_only",
    "use_parquet_writer",
    "hive_partitioning",
    "use_duckdb_reader",
}

_IGNORED_SESSION_OPTIONS = {
    "memory_allocator",
    "_remove_output_root",
    "enable_profiling",
    "enable_diagnostic_metrics",
    "enable_sched_state_dump",
    "remove_empty_parquet",
    "skip_task_with_empty_input",
    "console_log_level",
    "file_log_level",
    "disable_log_rotation",
    "output_path",
    "shared_log_root",
}


def _node_options(kwargs: Dict[str, Any], what: str, allow_udfs: bool = False) -> Dict[str, Any]:
    """The original's node keyword options, as ``_core`` arguments: ``options`` (a
    ``_core.TaskOptions``, checked when made) and, where allowed, ``udfs``."""
    task: Dict[str, Any] = {}
    out: Dict[str, Any] = {}
    for key, value in kwargs.items():
        if key == "cpu_limit":
            task["cpu_limit"] = None if value is None else int(value)
        elif key == "memory_limit":
            task["memory_limit"] = None if value is None else int(value)
        elif key == "gpu_limit":
            task["gpu_limit"] = None if value is None else float(value)
        elif key == "parquet_row_group_size":
            task["row_group_size"] = None if value is None else int(value)
        elif key == "parquet_compression":
            task["compression"] = None if value is None else str(value).lower()
        elif key == "udfs" and allow_udfs:
            out["udfs"] = to_core(value)
        elif key in ("extension_paths",) and allow_udfs:
            out.setdefault("udfs", []).extend(to_core(list(value or [])))
        elif key in _IGNORED_NODE_OPTIONS:
            continue
        else:
            raise TypeError(f"{what}() got an unexpected keyword argument {key!r}")
    out["options"] = _core.TaskOptions(**task)
    return out


def _publish_options(kwargs: Dict[str, Any]) -> Optional[tuple]:
    """The original's ``output_name`` / ``output_path`` node options: where the node's output
    is also published (``output_path/output_name``, by default under the job's ``output/``)."""
    name, path = kwargs.pop("output_name", None), kwargs.pop("output_path", None)
    if name is None and path is None:
        return None
    if name is not None and not re.fullmatch(r"[a-zA-Z0-9_]+", str(name)):
        raise ValueError(f"output_name must match [a-zA-Z0-9_]+, got {name!r}")
    return (name, path)


def _paths(paths: Union[str, os.PathLike, List[Union[str, os.PathLike]]]) -> List[str]:
    if isinstance(paths, (str, os.PathLike)):
        return [os.fspath(paths)]
    if not isinstance(paths, (list, tuple)):
        raise TypeError(f"paths must be a path or a list of paths, got {type(paths).__name__}")
    return [os.fspath(p) for p in paths]


def _schema_pairs(schema: Any, what: str) -> List[tuple]:
    if isinstance(schema, dict):
        return [(str(k), str(v)) for k, v in schema.items()]
    if isinstance(schema, pa.Schema):
        raise TypeError(f"{what}: give the schema as {{column: DuckDB type}}, not a pyarrow.Schema")
    if isinstance(schema, (list, tuple)):
        return [(str(k), str(v)) for k, v in schema]
    raise TypeError(f"{what}: schema must be a dict of column name to DuckDB type")


def _count(what: str, value: Any) -> Optional[int]:
    """A whole number from 0 up (from an argument or an environment variable), or None."""
    if value is None or value == "":
        return None
    try:
        n = int(value)
    except (TypeError, ValueError):
        n = -1
    if n < 0 or (isinstance(value, float) and not value.is_integer()):
        raise ValueError(f"{what} must be a whole number from 0 up, got {value!r}")
    return n


def _job_time(value: Any) -> Optional[str]:
    if value is None:
        value = os.environ.get("SP_JOB_TIME") or None
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if isinstance(value, (int, float)):
        value = datetime.fromtimestamp(value, tz=timezone.utc)
    if not isinstance(value, datetime):
        raise TypeError(f"job_time must be a datetime, a timestamp or an ISO string, got {value!r}")
    return value.strftime("%Y-%m-%d-%H-%M-%S")


@dataclass
class SessionConfig:
    """What a session was started with (the original's ``Session.config``)."""

    job_id: Optional[str]
    job_time: Any
    data_root: Optional[str]
    num_executors: int
    ray_address: Optional[str]
    bind_numa_node: bool
    memory_allocator: str
    remove_output_root: bool


class Session:
    """A smallpond session: one job directory, one pool of workers, DataFrames that share
    computed results. Create it with ``smallpond.init()``."""

    def __init__(
        self,
        job_id: Optional[str] = None,
        job_time: Any = None,
        job_name: Optional[str] = None,
        data_root: Optional[str] = None,
        num_executors: Optional[int] = None,
        ray_address: Optional[str] = None,
        bind_numa_node: Optional[bool] = None,
        platform: Optional[str] = None,
        **kwargs: Any,
    ) -> None:
        ray_address = os.environ.get("SP_RAY_ADDRESS") or ray_address
        platform = os.environ.get("SP_PLATFORM") or platform
        if platform not in (None, "", "local", "default"):
            raise ValueError(f"platform {platform!r} is not supported; use the default (local)")
        self.job_name = (
            os.environ.get("SP_JOB_NAME")
            or job_name
            or os.path.basename(sys.argv[0] if sys.argv and sys.argv[0] else "smallpond")
        )
        # The environment wins, as in the original.
        num_executors = _count("num_executors", os.environ.get("SP_NUM_EXECUTORS") or num_executors)
        options: Dict[str, Any] = {}
        progress = kwargs.pop("progress", None)
        pool = kwargs.pop("pool", "processes")
        storage_options = kwargs.pop("storage_options", None)
        if storage_options is not None:
            if not isinstance(storage_options, dict):
                raise TypeError("storage_options must be a dict, e.g. {'aws_endpoint_url': ...}")
            options["storage_options"] = [
                (str(k), str(v).lower() if isinstance(v, bool) else str(v))
                for k, v in storage_options.items()
            ]
        for key, value in kwargs.items():
            if key == "fault_inject_prob":
                options["fault_inject_prob"] = float(value)
            elif key == "memory_limit":
                options["memory_limit"] = int(value)
            elif key == "max_attempts":
                options["max_attempts"] = int(value)
            elif key == "max_fail_count":
                options["max_attempts"] = int(value) + 1
            elif key == "speculative_exec":
                options["speculation"] = str(value)
            elif key in _IGNORED_SESSION_OPTIONS:
                continue
            else:
                # The original accepts and ignores any keyword; say so instead of failing.
                import warnings

                warnings.warn(f"init(): unknown keyword argument {key!r} is ignored", stacklevel=3)
        self._ray_pool = None
        if ray_address:
            try:
                from smallpond._ray import RayPool
            except ImportError as e:
                raise ImportError(
                    f"ray_address={ray_address!r} needs Ray: pip install 'smallpond[ray]'"
                ) from e
            # On Ray, num_executors is how many executors to start and join to the cluster.
            executors = num_executors or 0
            self._ray_pool = RayPool(ray_address, num_executors=executors)
            options["pool"] = self._ray_pool
            num_executors = None
        elif pool == "processes":
            import smallpond

            options["worker_command"], options["worker_env"] = smallpond._worker_command()
        elif pool != "threads":
            raise ValueError(f"pool must be 'processes' or 'threads', got {pool!r}")
        self.config = SessionConfig(
            job_id=None,
            job_time=job_time,
            data_root=os.environ.get("SP_DATA_ROOT") or data_root,
            num_executors=num_executors or 0,
            ray_address=ray_address,
            bind_numa_node=bool(bind_numa_node),
            memory_allocator=str(kwargs.get("memory_allocator") or "system"),
            remove_output_root=bool(kwargs.get("_remove_output_root", True)),
        )
        self._progress = Progress(progress, label=self.job_name)
        self._core = _core.Session(
            data_root=os.environ.get("SP_DATA_ROOT") or data_root,
            job_id=os.environ.get("SP_JOBID") or job_id,
            job_time=_job_time(job_time),
            num_executors=num_executors or None,
            on_event=self._progress,
            **options,
        )
        self._shutdown = False
        self._progress.report_path = os.path.join(self._core.job_dir, "log", "report.html")
        self._progress.snapshot = self._core.progress
        self.config.job_id = self._core.job_id
        self.config.data_root = os.path.dirname(self._core.job_dir)
        if self._ray_pool is not None and executors > 0:
            try:
                self._ray_pool.start_executors(executors, os.path.join(self.job_dir, "log"))
            except BaseException:
                self.shutdown()
                raise

    @property
    def job_id(self) -> str:
        return self._core.job_id

    @property
    def _runtime_ctx(self) -> Any:
        """The original's ``RuntimeContext`` of this session's job (directories, machine)."""
        ctx = self.__dict__.get("_runtime_ctx_value")
        if ctx is None:
            from smallpond.execution.task import RuntimeContext

            ctx = RuntimeContext.of_job_dir(self.job_dir, num_executors=self.config.num_executors)
            self.__dict__["_runtime_ctx_value"] = ctx
        return ctx

    runtime_ctx = _runtime_ctx

    @property
    def job_dir(self) -> str:
        return self._core.job_dir

    def __repr__(self) -> str:
        return f"Session(job_id={self.job_id!r}, job_dir={self.job_dir!r})"

    # sources

    def read_parquet(
        self,
        paths: Union[str, List[str]],
        recursive: bool = False,
        columns: Optional[List[str]] = None,
        union_by_name: bool = False,
    ) -> "DataFrame":
        """Parquet files: paths, globs or directories."""
        return DataFrame(
            self, self._core.read_parquet(_paths(paths), recursive, columns, union_by_name)
        )

    def read_csv(
        self,
        paths: Union[str, List[str]],
        schema: Optional[Dict[str, str]] = None,
        delim: Optional[str] = None,
        header: Optional[bool] = None,
    ) -> "DataFrame":
        """CSV files. With ``schema`` = {column: DuckDB type}, as in the original: no header
        line unless ``header=True``, ``delim`` ``","`` unless given. Without it, DuckDB's
        sniffer detects the columns (names from a header line, types from a sample) in the
        first file when the job is planned, and the header line and delimiter when not
        given; every partition then reads the same columns. ``delim`` is one character, or
        ``r"\\t"`` for a tab as DuckDB reads it."""
        if delim is not None and not isinstance(delim, str):
            raise ValueError(f"delim must be a string, got {delim!r}")
        if header is not None and not isinstance(header, bool):
            raise TypeError(f"header must be True, False or None, got {header!r}")
        pairs = None if schema is None else _schema_pairs(schema, "read_csv")
        return DataFrame(self, self._core.read_csv(_paths(paths), pairs, delim, header))

    def read_json(self, paths: Union[str, List[str]], schema: Dict[str, str]) -> "DataFrame":
        """Newline-delimited JSON files with ``schema`` = {column: DuckDB type}."""
        return DataFrame(
            self, self._core.read_json(_paths(paths), _schema_pairs(schema, "read_json"))
        )

    def from_items(self, items: List[Any]) -> "DataFrame":
        """Python objects: dicts become rows, anything else a column ``item``."""
        if not isinstance(items, list):
            raise TypeError(f"items must be a list, got {type(items).__name__}")
        if not items:
            raise ValueError("items must not be empty")
        if isinstance(items[0], dict):
            return self.from_arrow(pa.Table.from_pylist(items))
        return self.from_arrow(pa.table({"item": items}))

    def from_pandas(self, df: Any) -> "DataFrame":
        return self.from_arrow(pa.Table.from_pandas(df, preserve_index=False))

    def from_arrow(self, table: Union[pa.Table, pa.RecordBatch]) -> "DataFrame":
        if isinstance(table, pa.RecordBatch):
            table = pa.Table.from_batches([table])
        if not isinstance(table, pa.Table):
            raise TypeError(f"from_arrow needs a pyarrow.Table, got {type(table).__name__}")
        return DataFrame(self, self._core.from_arrow(table))

    # SQL

    def partial_sql(self, query: Union[str, List[str]], *inputs: "DataFrame", **kwargs: Any) -> "DataFrame":
        """Runs ``query`` on every partition; ``{0}``, ``{1}``... are the inputs' partitions
        (which must have equal partition counts). Without inputs the query runs once. A list
        of queries runs in order in one connection; the last one's result is the output."""
        for i in inputs:
            if not isinstance(i, DataFrame):
                raise TypeError(f"partial_sql inputs must be DataFrames, got {type(i).__name__}")
        queries = [query] if isinstance(query, str) else list(query)
        if not queries or not all(isinstance(q, str) for q in queries):
            raise TypeError("partial_sql needs a query string or a non-empty list of them")
        *setup, last = queries
        publish = _publish_options(kwargs)
        options = _node_options(kwargs, "partial_sql", allow_udfs=True)
        core = self._core.partial_sql(last, [i._df for i in inputs], setup=setup, **options)
        df = DataFrame(self, core)
        df._pending = [p for i in inputs for p in i._pending]
        return df._published(publish, "partial_sql")

    # actions

    def wait(self, *dfs: "DataFrame") -> None:
        """Computes all the given DataFrames in one run."""
        self._core.wait([d._df for d in dfs] + [p for d in dfs for p in d._pending])
        for d in dfs:
            d._pending = []

    def graph(self) -> Any:
        """The logical plan of every DataFrame built so far: a ``graphviz.Digraph`` when the
        ``graphviz`` package is installed (as the original), else text, one node per line."""
        text = self._core.graph()
        try:
            from graphviz import Digraph
        except ImportError:
            return text
        dot = Digraph(comment="smallpond")
        for line in text.splitlines():
            head, _, deps = line.rpartition(" <- [")
            node, _, label = head.partition(" ")
            dot.node(node, f"{node} {label}")
            for dep in filter(None, (d.strip() for d in deps.rstrip("]").split(","))):
                dot.edge(dep, node)
        return dot

    def dump_graph(self, path: Optional[str] = None) -> str:
        """Writes the plan graph to ``path`` (default ``JOB_DIR/log/graph``): an SVG image
        at ``path + ".svg"`` (drawn by smallpond, no graphviz program needed), and the DOT
        source at ``path`` with a PNG beside it when graphviz's ``dot`` program is
        installed, as the original. Returns the path."""
        path = path or os.path.join(self.job_dir, "log", "graph")
        with open(path + ".svg", "w") as f:
            f.write(self._core.graph_svg())
        graph = self.graph()
        if isinstance(graph, str):
            with open(path, "w") as f:
                f.write(graph)
            return path
        graph.save(path)
        try:
            graph.render(path, format="png")
        except Exception as e:  # graphviz.ExecutableNotFound without the `dot` program
            _log.debug("dump_graph: wrote %s and %s.svg, no PNG (%s)", path, path, e)
        return path

    def dump_timeline(self, path: Optional[str] = None) -> str:
        """Writes the job's timeline to ``path`` (default ``JOB_DIR/log/timeline.json``, which
        every run also writes) in the Chrome trace-event format: open it in
        https://ui.perfetto.dev or ``chrome://tracing``. One bar per task attempt (failed
        ones, retries and speculative copies marked), one lane per worker slot, one
        process per host, and a lane per stage. Returns the path."""
        path = path or os.path.join(self.job_dir, "log", "timeline.json")
        with open(path, "w") as f:
            f.write(self._core.timeline())
        return path

    def report(self) -> str:
        """Writes the job's report page now and returns its path, ``JOB_DIR/log/report.html``
        (also written after every run and at shutdown): one self-contained file with the
        plan, the tasks of each stage, the slowest tasks and the errors."""
        return self._core.write_report()

    def shutdown(self) -> None:
        """Stops the workers and cleans up the job's temporary files (also at exit)."""
        if not self._shutdown:
            self._shutdown = True
            try:
                self._core.shutdown()
            finally:
                if self._ray_pool is not None:
                    self._ray_pool.close()


def _partition_column(kwargs: Dict[str, Any]) -> Optional[str]:
    """The column a hash or random repartition keeps each row's partition in: the original's
    ``data_partition_column`` (``__data_partition__``), none with ``drop_partition_column``."""
    column = kwargs.pop("data_partition_column", None) or "__data_partition__"
    return None if kwargs.pop("drop_partition_column", False) else str(column)


def _by_list(by: Union[str, List[str]]) -> List[str]:
    return [by] if isinstance(by, str) else list(by)


class DataFrame:
    """A lazy, partitioned table. Operations build a plan; actions (``count``,
    ``take``, ``to_arrow``, ``write_parquet``, ...) run it, and results stay cached."""

    def __init__(self, session: Session, df: Any) -> None:
        self.session = session
        self._df = df
        # Sinks of output_name/output_path options of this DataFrame and its inputs: they
        # run with the first action that computes it (as the original writes them then).
        self._pending: List[Any] = []

    def _new(self, df: Any, publish: Optional[tuple] = None, what: str = "") -> "DataFrame":
        child = DataFrame(self.session, df)
        child._pending = list(self._pending)
        return child._published(publish, what)

    def _published(self, publish: Optional[tuple], what: str) -> "DataFrame":
        if publish is not None:
            from smallpond import _runtime

            name, path = publish
            root = path or self.session._runtime_ctx.output_root
            target = os.path.join(os.path.abspath(os.fspath(root)), name or what)
            payload = _runtime.dumps(_runtime.SinkScript(target, "link"), f"sink to {target}")
            sink = self.session._core.script(
                f"DataSink({target})", payload, [self._df.consolidate()], _core.TaskOptions(cpu_limit=1)
            )
            self._pending.append(sink)
        return self

    def _flush(self) -> None:
        """Runs the pending output_name/output_path sinks (with this DataFrame)."""
        if self._pending:
            self.session._core.wait([self._df] + self._pending)
            self._pending = []

    def _sql(self, build: Callable[..., Any], kwargs: Dict[str, Any], what: str) -> "DataFrame":
        """A SQL node built by ``build(**options)`` (one of ``_core.DataFrame``'s methods)."""
        publish = _publish_options(kwargs)
        return self._new(build(**_node_options(kwargs, what, allow_udfs=True)), publish, what)

    def _batches(self, mode: str, func: Callable, schema: Optional[pa.Schema],
                 batch_size: int, kwargs: Dict[str, Any], what: str) -> "DataFrame":
        if schema is not None and not isinstance(schema, pa.Schema):
            raise TypeError(f"{what}: schema must be a pyarrow.Schema, got {type(schema).__name__}")
        if int(batch_size) < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        publish = _publish_options(kwargs)
        options = _node_options(kwargs, what)
        name = _runtime.function_name(func)
        payload = _runtime.dumps(
            _runtime.BatchFunction(mode, func, schema), f"{what} function {name}"
        )
        return self._new(self._df.map_batches(name, payload, int(batch_size), **options), publish, what)

    def __repr__(self) -> str:
        return f"DataFrame({self._df.num_partitions()} partitions)"

    @property
    def num_partitions(self) -> int:
        return self._df.num_partitions()

    # partitioning

    def repartition(
        self,
        npartitions: int,
        hash_by: Union[str, List[str], None] = None,
        by: Optional[str] = None,
        by_rows: bool = False,
        **kwargs: Any,
    ) -> "DataFrame":
        """``repartition(n)`` evenly by files, ``by_rows=True`` evenly by rows,
        ``hash_by=cols`` by hash of columns, ``by=col`` by a partition-index column."""
        if by is not None and hash_by is not None:
            raise ValueError("cannot specify both by and hash_by")
        random = bool(kwargs.pop("random_shuffle", False))
        keep = _partition_column(kwargs)
        publish = _publish_options(kwargs)
        options = _node_options(kwargs, "repartition")
        P = _core.Partitioning
        if by is not None:
            how, keep = P.Column(column=by), None
        elif hash_by is not None:
            how = P.Hash(columns=_by_list(hash_by))
        elif random:
            how = P.Random()
        else:
            how, keep = (P.Rows() if by_rows else P.Files()), None
        return self._new(self._df.repartition(int(npartitions), how, keep, **options), publish, "repartition")

    def random_shuffle(self, **kwargs: Any) -> "DataFrame":
        """Every row to a random partition, rows shuffled within partitions (the partition
        index kept in ``__data_partition__``, as in the original)."""
        keep = _partition_column(kwargs)
        publish = _publish_options(kwargs)
        options = _node_options(kwargs, "random_shuffle")
        return self._new(self._df.random_shuffle(keep, **options), publish, "random_shuffle")

    def partial_sort(self, by: Union[str, List[str]], **kwargs: Any) -> "DataFrame":
        """Sorts each partition, e.g. ``by=['a', 'b desc']``."""
        cols = _by_list(by)
        if not cols:
            raise ValueError("partial_sort needs at least one column")
        return self._sql(lambda **o: self._df.partial_sort(cols, **o), kwargs, "partial_sort")

    def sort(
        self,
        by: Union[str, List[str]],
        descending: Union[bool, List[bool]] = False,
        npartitions: Optional[int] = None,
        **kwargs: Any,
    ) -> "DataFrame":
        """Sorts all rows by ``by`` (columns or SQL expressions): read in partition order,
        the result is globally sorted, NULLs last as in DuckDB. ``descending`` is one flag
        or one per key. Into ``npartitions`` ranges of about equal size (default: as many
        partitions as now): on one machine one ``ORDER BY`` cut in order, on several the
        keys sampled once to choose the ranges."""
        cols = _by_list(by)
        if not cols:
            raise ValueError("sort needs at least one column")
        if isinstance(descending, bool):
            flags = [descending] * len(cols)
        elif isinstance(descending, (list, tuple)) and all(isinstance(d, bool) for d in descending):
            flags = list(descending)
        else:
            raise TypeError(f"descending must be a bool or a list of bools, got {descending!r}")
        if len(flags) != len(cols):
            raise ValueError(f"descending has {len(flags)} flags for {len(cols)} sort keys")
        if npartitions is not None and (isinstance(npartitions, bool) or not isinstance(npartitions, int)):
            raise TypeError(f"npartitions must be an int, got {npartitions!r}")
        publish = _publish_options(kwargs)
        options = _node_options(kwargs, "sort")
        keys = list(zip(cols, flags))
        return self._new(self._df.sort(keys, npartitions, **options), publish, "sort")

    def join(
        self,
        other: "DataFrame",
        on: Union[str, List[str]],
        how: str = "inner",
        npartitions: Optional[int] = None,
        broadcast_bytes: Optional[int] = None,
        **kwargs: Any,
    ) -> "DataFrame":
        """Joins with ``other`` on the key columns ``on``: the rows and columns of DuckDB's
        ``SELECT * FROM self <how> JOIN other USING (on)`` (``how``: inner, left, right,
        outer, semi or anti; NULL keys match nothing). Both sides are hash-partitioned by the
        keys into ``npartitions`` (default: the larger partition count) and joined partition
        by partition; a side already hash-partitioned by these keys into as many partitions
        is not repartitioned. A side whose files hold at most ``broadcast_bytes`` (default
        16 MiB, ``0`` turns it off) is broadcast to every partition of the other instead."""
        if not isinstance(other, DataFrame):
            raise TypeError(f"join needs a DataFrame to join with, got {type(other).__name__}")
        if other.session is not self.session:
            raise ValueError("join: both DataFrames must belong to the same session")
        keys = _by_list(on) if isinstance(on, (str, list, tuple)) else []
        if not keys or not all(isinstance(k, str) for k in keys):
            raise TypeError(f"join: on must be a column name or a list of them, got {on!r}")
        if not isinstance(how, str):
            raise TypeError(f"join: how must be a string, got {how!r}")
        for name, value in (("npartitions", npartitions), ("broadcast_bytes", broadcast_bytes)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                raise TypeError(f"join: {name} must be an int, got {value!r}")
        if broadcast_bytes is not None and broadcast_bytes < 0:
            raise ValueError(f"join: broadcast_bytes must be at least 0, got {broadcast_bytes}")
        publish = _publish_options(kwargs)
        options = _node_options(kwargs, "join")
        core = self._df.join(other._df, keys, how, npartitions, broadcast_bytes, **options)
        child = self._new(core)
        child._pending += other._pending
        return child._published(publish, "join")

    # row operations

    def filter(self, sql_or_func: Union[str, Callable[[Dict[str, Any]], bool]], **kwargs: Any) -> "DataFrame":
        """Keeps rows where a SQL predicate holds, or where ``func(row_dict)`` is true."""
        if isinstance(sql_or_func, str):
            return self._sql(lambda **o: self._df.filter(sql_or_func, **o), kwargs, "filter")
        if callable(sql_or_func):
            return self._batches("filter", sql_or_func, None, 122880, kwargs, "filter")
        raise ValueError("condition must be a SQL expression or a predicate function")

    def map(
        self,
        sql_or_func: Union[str, Callable[[Dict[str, Any]], Dict[str, Any]]],
        *,
        schema: Optional[pa.Schema] = None,
        **kwargs: Any,
    ) -> "DataFrame":
        """``map('a + b AS c')`` (SQL select list, may call ``udfs``) or
        ``map(lambda row: {...})`` (row dict to row dict; ``schema`` optional)."""
        return self._select_or_rows("map", sql_or_func, schema, kwargs)

    def flat_map(
        self,
        sql_or_func: Union[str, Callable[[Dict[str, Any]], List[Dict[str, Any]]]],
        *,
        schema: Optional[pa.Schema] = None,
        **kwargs: Any,
    ) -> "DataFrame":
        """``flat_map('unnest(...) AS c')`` or ``flat_map(lambda row: [{...}, ...])``."""
        return self._select_or_rows("flat_map", sql_or_func, schema, kwargs)

    def _select_or_rows(self, mode: str, sql_or_func: Any, schema: Optional[pa.Schema],
                        kwargs: Dict[str, Any]) -> "DataFrame":
        """`map`/`flat_map`: a SQL select list, or a Python function of row dicts."""
        if isinstance(sql_or_func, str):
            return self._sql(lambda **o: self._df.map(sql_or_func, **o), kwargs, mode)
        if callable(sql_or_func):
            return self._batches(mode, sql_or_func, schema, 122880, kwargs, mode)
        raise ValueError(f"must be a SQL expression or a function: {sql_or_func!r}")

    def map_batches(
        self,
        func: Callable[[pa.Table], pa.Table],
        *,
        batch_size: int = 122880,
        **kwargs: Any,
    ) -> "DataFrame":
        """``func(pyarrow.Table) -> pyarrow.Table`` on batches of at most ``batch_size`` rows."""
        if not callable(func):
            raise TypeError(f"map_batches needs a function, got {type(func).__name__}")
        return self._batches("map_batches", func, None, batch_size, kwargs, "map_batches")

    def limit(self, limit: int) -> "DataFrame":
        """At most ``limit`` rows, in one partition."""
        if int(limit) < 0:
            raise ValueError(f"limit must not be negative, got {limit}")
        return self._new(self._df.limit(int(limit)))

    # output

    def write_parquet(self, path: str, overwrite: bool = False) -> None:
        """Writes Parquet files into directory ``path``, complete or not at all. As in the
        original, they are added to the files already there (named after the job, so that
        jobs do not collide); with ``overwrite=True`` they replace an earlier result."""
        self.write_parquet_lazy(path, overwrite).compute()

    def write_parquet_lazy(self, path: str, overwrite: bool = False) -> "DataFrame":
        """A DataFrame that writes ``path`` when computed (see ``Session.wait``). ``path`` may
        be ``s3://bucket/prefix``: the files are staged beside it and copied in only once
        all are written."""
        target = os.fspath(path)
        if "://" not in target:
            target = os.path.abspath(target)
        return self._new(self._df.write_parquet_lazy(target, not overwrite))

    # actions

    def compute(self) -> None:
        self._flush()
        self._df.compute()

    def is_computed(self) -> bool:
        return self._df.is_computed()

    def recompute(self) -> "DataFrame":
        """Forgets cached results of this DataFrame and its inputs."""
        self._df.recompute()
        return self

    def count(self) -> int:
        self._flush()
        return self._df.count()

    def take(self, limit: int) -> List[Dict[str, Any]]:
        """Up to ``limit`` rows as dicts."""
        if int(limit) < 0:
            raise ValueError(f"limit must not be negative, got {limit}")
        self._flush()
        return self._df.to_arrow(int(limit)).to_pylist()

    def take_all(self) -> List[Dict[str, Any]]:
        """Every row as a dict."""
        self._flush()
        return self._df.to_arrow().to_pylist()

    def to_arrow(self) -> pa.Table:
        self._flush()
        return self._df.to_arrow()

    def to_pandas(self) -> Any:
        self._flush()
        return self._df.to_arrow().to_pandas()
