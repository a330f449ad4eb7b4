"""The original smallpond's ``smallpond.execution.task``: what user functions of the
low-level nodes receive at run time.

``RuntimeContext`` describes the job (its directories, the machine); ``runtime_ctx.task`` is
the running task, an instance of one of the task classes below (or of the user's subclass,
returned by the node's ``spawn``). The engine plans and schedules the tasks; in the worker,
``smallpond._runtime.run_script`` builds the task object and calls its ``run()``, which
reads the inputs, calls the user's ``process`` and writes the output into the task's
private directory (``runtime_output_abspath``), published atomically when it succeeds.
"""

from __future__ import annotations

import itertools
import math
import os
import random
import sys
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable, Dict, Iterable, List, Optional, Union

import pyarrow as arrow

from smallpond.common import (
    DATA_PARTITION_COLUMN_NAME,
    DEFAULT_BATCH_SIZE,
    DEFAULT_ROW_GROUP_SIZE,
    GB,
    INPUT_VIEW_PREFIX,
    KB,
    MB,
    RAND_SEED_BYTE_LEN,
    TB,
    OutOfMemory,
    clamp_row_group_bytes,
    round_up,
)
from smallpond.logical.dataset import DataSet, FileSet, ParquetDataSet

__all__ = [
    "JobId",
    "TaskId",
    "TaskRuntimeId",
    "RuntimeContext",
    "PartitionInfo",
    "Task",
    "PythonScriptTask",
    "ArrowComputeTask",
    "ArrowStreamTask",
    "ArrowBatchTask",
    "PandasComputeTask",
    "PandasBatchTask",
    "StreamOutput",
    "ExecutionPlan",
]


class JobId(uuid.UUID):
    @staticmethod
    def new() -> "JobId":
        return JobId(int=uuid.uuid4().int)


class TaskId(int):
    def __str__(self) -> str:
        return f"{int(self):06d}"


@dataclass(frozen=True)
class TaskRuntimeId:
    id: TaskId
    epoch: int
    retry: int

    def __str__(self) -> str:
        return f"{self.id}.{self.epoch}.{self.retry}"


def _physical_cpus() -> int:
    try:
        import psutil

        return psutil.cpu_count(logical=False) or os.cpu_count() or 1
    except ImportError:
        return os.cpu_count() or 1


def _memory() -> tuple:
    try:
        import psutil

        vm = psutil.virtual_memory()
        return vm.total, vm.available
    except ImportError:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        return total, total


class RuntimeContext(object):
    """The configuration of a running job and where its files are."""

    def __init__(
        self,
        job_id: Any,
        job_time: Any,
        data_root: str,
        *,
        num_executors: int = 1,
        random_seed: Optional[int] = None,
        env_overrides: Optional[Dict[str, str]] = None,
        bind_numa_node: bool = False,
        enforce_memory_limit: bool = False,
        max_usable_cpu_count: int = 1024,
        max_usable_gpu_count: int = 1024,
        max_usable_memory_size: int = 16 * TB,
        secs_wq_poll_interval: float = 0.5,
        secs_executor_probe_interval: float = 30,
        max_num_missed_probes: int = 6,
        fault_inject_prob: float = 0.0,
        enable_profiling: bool = False,
        enable_diagnostic_metrics: bool = False,
        remove_empty_parquet: bool = False,
        skip_task_with_empty_input: bool = False,
        shared_log_root: Optional[str] = None,
        console_log_level: str = "INFO",
        file_log_level: str = "DEBUG",
        disable_log_rotation: bool = False,
        output_path: Optional[str] = None,
        job_root: Optional[str] = None,
    ) -> None:
        self.job_id = job_id
        self.job_time = job_time
        self.data_root = data_root
        self.next_task_id = 0
        self.num_executors = num_executors
        self.random_seed: int = random_seed or int.from_bytes(os.urandom(RAND_SEED_BYTE_LEN), sys.byteorder)
        self.env_overrides = env_overrides or {}
        self.bind_numa_node = bind_numa_node
        self.numa_node_id: Optional[int] = None
        self.enforce_memory_limit = enforce_memory_limit
        self.max_usable_cpu_count = max_usable_cpu_count
        self.max_usable_gpu_count = max_usable_gpu_count
        self.max_usable_memory_size = max_usable_memory_size
        self.secs_wq_poll_interval = secs_wq_poll_interval
        self.secs_executor_probe_interval = secs_executor_probe_interval
        self.max_num_missed_probes = max_num_missed_probes
        self.fault_inject_prob = fault_inject_prob
        self.enable_profiling = enable_profiling
        self.enable_diagnostic_metrics = enable_diagnostic_metrics
        self.remove_empty_parquet = remove_empty_parquet
        self.skip_task_with_empty_input = skip_task_with_empty_input
        self.console_log_level = console_log_level
        self.file_log_level = file_log_level
        self.disable_log_rotation = disable_log_rotation
        # The engine names a job's directory itself (an existing one of the id is resumed).
        self.job_root = os.path.abspath(job_root or os.path.join(data_root, self.job_root_dirname))
        self.shared_log_root = (
            os.path.join(shared_log_root, os.path.basename(self.job_root)) if shared_log_root else None
        )
        self.config_root = os.path.join(self.job_root, "config")
        # The engine's record of finished tasks is its staging directory: what the
        # original's queue directory was (kept while the job runs or after it failed).
        self.queue_root = os.path.join(self.job_root, "staging")
        self.output_root = os.path.join(self.job_root, "output")
        self.staging_root = os.path.join(self.job_root, "staging")
        self.temp_root = os.path.join(self.job_root, "temp")
        self.log_root = os.path.join(self.job_root, "log")
        self.final_output_path = os.path.abspath(output_path) if output_path else None
        self.current_task: Optional[Task] = None
        self.started_task_dir = os.path.join(self.staging_root, "started_tasks")
        self.completed_task_dir = os.path.join(self.staging_root, "completed_tasks")

    @classmethod
    def of_job_dir(cls, job_dir: str, **kwargs: Any) -> "RuntimeContext":
        """The context of the engine's job directory ``<data_root>/<job_time>.<job_id>``."""
        job_dir = os.path.abspath(job_dir)
        name = os.path.basename(job_dir)
        time_part, _, job_id = name.partition(".")
        try:
            job_time: Any = datetime.strptime(time_part, "%Y-%m-%d-%H-%M-%S")
        except ValueError:
            job_time, job_id = None, name
        return cls(job_id, job_time, os.path.dirname(job_dir), job_root=job_dir, **kwargs)

    def __repr__(self) -> str:
        return f"RuntimeContext(job_id={self.job_id!r}, job_root={self.job_root!r})"

    @property
    def job_root_dirname(self) -> str:
        if isinstance(self.job_time, datetime):
            return f"{self.job_time:%Y-%m-%d-%H-%M-%S}.{self.job_id}"
        return str(self.job_id)

    @property
    def job_status_path(self) -> str:
        # The engine's status file (running / success / failed / cancelled).
        return os.path.join(self.job_root, "status")

    @property
    def runtime_ctx_path(self) -> str:
        return os.path.join(self.config_root, "runtime_ctx.pickle")

    @property
    def logcial_plan_path(self) -> str:
        return os.path.join(self.config_root, "logical_plan.pickle")

    @property
    def logcial_plan_graph_path(self) -> str:
        return os.path.join(self.log_root, "graph")

    @property
    def exec_plan_path(self) -> str:
        return os.path.join(self.config_root, "exec_plan.pickle")

    @property
    def numa_node_count(self) -> int:
        return 1

    @property
    def physical_cpu_count(self) -> int:
        return _physical_cpus()

    @property
    def available_memory(self) -> int:
        return _memory()[1]

    @property
    def total_memory(self) -> int:
        return _memory()[0]

    @property
    def usable_cpu_count(self) -> int:
        return min(self.max_usable_cpu_count, self.physical_cpu_count)

    @property
    def usable_memory_size(self) -> int:
        return min(self.max_usable_memory_size, self.total_memory)

    @property
    def usable_gpu_count(self) -> int:
        return 0

    @property
    def secs_executor_probe_timeout(self) -> float:
        return self.secs_executor_probe_interval * self.max_num_missed_probes

    @property
    def task(self) -> "Optional[Task]":
        return self.current_task

    def set_current_task(self, task: "Optional[Task]" = None) -> "RuntimeContext":
        import copy

        ctx = copy.copy(self)
        ctx.current_task = task
        return ctx

    def new_task_id(self) -> TaskId:
        self.next_task_id += 1
        return TaskId(self.next_task_id)


class PartitionInfo(object):
    """Partition ``index`` of ``npartitions`` in partition dimension ``dimension``."""

    toplevel_dimension = "@toplevel@"
    default_dimension = DATA_PARTITION_COLUMN_NAME

    __slots__ = ("index", "npartitions", "dimension")

    def __init__(self, index: int = 0, npartitions: int = 1, dimension: str = toplevel_dimension) -> None:
        self.index = index
        self.npartitions = npartitions
        self.dimension = dimension

    def __str__(self) -> str:
        return f"{self.dimension}[{self.index}/{self.npartitions}]"

    __repr__ = __str__

    def __lt__(self, other: "PartitionInfo") -> bool:
        return (self.dimension, self.index) < (other.dimension, other.index)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PartitionInfo) and (self.dimension, self.index) == (other.dimension, other.index)

    def __hash__(self) -> int:
        return hash((self.dimension, self.index))


class Task(object):
    """A task of a low-level node, as user code sees it in the worker."""

    def __init__(
        self,
        ctx: RuntimeContext,
        input_deps: "List[Task]",
        partition_infos: List[PartitionInfo],
        output_name: Optional[str] = None,
        output_path: Optional[str] = None,
        cpu_limit: int = 1,
        gpu_limit: float = 0,
        memory_limit: Optional[int] = None,
    ) -> None:
        self.ctx = ctx
        self.id = ctx.new_task_id()
        self.node_id = 0
        self.sched_epoch = 0
        self.retry_count = 0
        self.output_name = output_name
        self.output_root = output_path
        self.cpu_limit = cpu_limit or 1
        self.gpu_limit = gpu_limit or 0
        self.memory_limit = memory_limit
        self._partition_infos = sorted(partition_infos or [PartitionInfo()])
        self.input_deps = {f"dep-{i}": d for i, d in enumerate(input_deps or [])}
        self.input_datasets: List[DataSet] = []
        self.dataset: Optional[DataSet] = None
        self.runtime_state = None
        self.perf_metrics: Dict[str, Any] = defaultdict(int)
        self._timer_start: Optional[float] = None
        self._np_randgen = None
        self._py_randgen = None
        # Set by the engine for the attempt: its private output and scratch directories.
        self._output_dir: Optional[str] = None
        self._temp_dir: Optional[str] = None
        self._seed: int = 0

    @property
    def key(self) -> str:
        return f"{type(self).__name__}-{self.id}"

    def __repr__(self) -> str:
        return f"{self.key}.{self.sched_epoch}.{self.retry_count},{self.node_id}"

    def __str__(self) -> str:
        return (
            f"{self!r}: partition_infos={self.partition_infos}, "
            f"resource_limit={self.cpu_limit}CPUs/{self.gpu_limit}GPUs/{(self.memory_limit or 0) // GB}GB"
        )

    # partitions

    @property
    def partition_infos(self) -> tuple:
        return tuple(self._partition_infos)

    @property
    def partition_infos_as_dict(self) -> Dict[str, int]:
        return {info.dimension: info.index for info in self._partition_infos}

    @property
    def partition_dims(self) -> tuple:
        return tuple(info.dimension for info in self._partition_infos)

    def get_partition_info(self, dimension: str) -> PartitionInfo:
        for info in self._partition_infos:
            if info.dimension == dimension:
                return info
        raise KeyError(f"cannot find dimension {dimension} in {self._partition_infos}")

    @property
    def local_rank(self) -> int:
        """This task's partition index among its node's tasks."""
        return self.get_partition_info(PartitionInfo.toplevel_dimension).index

    @property
    def any_input_empty(self) -> bool:
        return any(d.empty for d in self.input_datasets)

    @property
    def skip_when_any_input_empty(self) -> bool:
        return self.ctx.skip_task_with_empty_input and self.any_input_empty

    # output locations

    @property
    def runtime_id(self) -> TaskRuntimeId:
        return TaskRuntimeId(self.id, self.sched_epoch, self.retry_count)

    @property
    def default_output_name(self) -> str:
        return ".".join(map(str, filter(None, [type(self).__name__, self.node_id])))

    @property
    def output_filename(self) -> str:
        return f"{self.output_name or self.default_output_name}-{self.ctx.job_id}.{self.runtime_id}"

    @property
    def output_dirname(self) -> str:
        return os.path.join(self.output_name or self.default_output_name, f"{self.ctx.job_id}.{self.runtime_id}")

    @property
    def runtime_output_abspath(self) -> str:
        """Where the task writes its output; published as a whole when the task succeeds."""
        if self._output_dir is None:
            return os.path.join(self.ctx.staging_root, self.output_dirname)
        return self._output_dir

    @property
    def final_output_abspath(self) -> str:
        return self.runtime_output_abspath

    @property
    def temp_abspath(self) -> str:
        if self._temp_dir is None:
            return os.path.join(self.ctx.temp_root, self.output_dirname)
        return self._temp_dir

    # randomness: the same for every attempt of the task (derived from what it computes)

    @property
    def random_seed_bytes(self) -> bytes:
        return int(self.id).to_bytes(4, sys.byteorder) + (self._seed or self.ctx.random_seed).to_bytes(
            RAND_SEED_BYTE_LEN, sys.byteorder
        )

    @property
    def numpy_random_gen(self):
        if self._np_randgen is None:
            import numpy as np

            self._np_randgen = np.random.default_rng(int.from_bytes(self.random_seed_bytes, sys.byteorder))
        return self._np_randgen

    @property
    def python_random_gen(self) -> random.Random:
        if self._py_randgen is None:
            self._py_randgen = random.Random(int.from_bytes(self.random_seed_bytes, sys.byteorder))
        return self._py_randgen

    def random_uint32(self) -> int:
        return self.python_random_gen.randint(0, 0x7FFFFFFF)

    def random_float(self) -> float:
        return self.python_random_gen.random()

    @property
    def random_seed_uint32(self) -> int:
        return int.from_bytes(self.random_seed_bytes[:4], sys.byteorder) ^ (self._seed & 0xFFFFFFFF)

    @property
    def random_seed_long(self) -> int:
        return int.from_bytes(self.random_seed_bytes, sys.byteorder)

    # metrics

    def add_elapsed_time(self, metric_name: Optional[str] = None) -> float:
        """Starts the timer, or adds the time since the last call to ``metric_name``."""
        now = time.time()
        if self._timer_start is None or metric_name is None:
            self._timer_start = now
            return 0.0
        elapsed = now - self._timer_start
        self.perf_metrics[metric_name] += elapsed
        self._timer_start = now
        return elapsed

    def merge_metrics(self, metrics: Dict[str, Any]) -> None:
        for name, value in metrics.items():
            self.perf_metrics[name] += value

    def compute_avg_row_size(self, nbytes: int, num_rows: int) -> int:
        return max(1, nbytes // num_rows) if num_rows > 0 else 1

    def run(self) -> bool:
        raise NotImplementedError

    def _user_process(self, *args: Any) -> Any:
        """The default ``process``: the node's ``process_func``."""
        func = getattr(self, "process_func", None)
        if func is None:
            raise NotImplementedError(f"{type(self).__name__} has no process function: give process_func= or override process()")
        return func(*args)

    def _pandas_process(self, runtime_ctx: RuntimeContext, input_tables: List[arrow.Table]) -> Optional[arrow.Table]:
        """``process`` over pandas DataFrames, its result back as a table."""
        out = self.process(runtime_ctx, [t.to_pandas() for t in input_tables])
        return None if out is None else arrow.Table.from_pandas(out, preserve_index=False)


class ExecSqlQueryMixin(Task):
    """DuckDB connections set up as the task's own (threads, memory, seed, UDFs)."""

    enable_temp_directory = False
    cpu_overcommit_ratio = 1.0
    memory_overcommit_ratio = 1.0
    input_view_index = 0
    parquet_compression: Optional[str] = None
    parquet_compression_level: Optional[int] = None

    @property
    def rand_seed_float(self) -> float:
        return random.Random(self.random_seed_long).random()

    @property
    def rand_seed_uint32(self) -> int:
        return random.Random(self.random_seed_long).randint(0, 0x7FFFFFFF)

    def prepare_connection(self, conn: Any) -> None:
        """Sets ``conn`` up as the engine sets up its own task connections."""
        cpus = max(1, math.ceil(self.cpu_limit * self.cpu_overcommit_ratio))
        memory = round_up((self.memory_limit or 4 * GB) * self.memory_overcommit_ratio, MB)
        conn.execute(f"select setseed({self.rand_seed_float * 2 - 1})")
        conn.execute(f"SET threads TO {cpus}")
        conn.execute(f"SET memory_limit='{memory // MB}MB'")
        temp = self.temp_abspath if self.enable_temp_directory else ""
        conn.execute(f"SET temp_directory='{temp}'")
        conn.execute("SET enable_object_cache=true")
        conn.execute("SET arrow_large_buffer_size=true")
        conn.execute("SET preserve_insertion_order=false")
        conn.execute("SET max_expression_depth=10000")
        for udf in getattr(self, "_udfs", []):
            udf.bind(conn)

    def create_input_views(self, conn: Any, input_datasets: List[DataSet], filesystem: Any = None) -> List[str]:
        """One view per dataset in ``conn``; returns their names, in order."""
        names = []
        for dataset in input_datasets:
            ExecSqlQueryMixin.input_view_index += 1
            name = f"{INPUT_VIEW_PREFIX}_{self.id}_{ExecSqlQueryMixin.input_view_index:06d}"
            conn.sql(f"CREATE VIEW {name} AS {dataset.sql_query_fragment(filesystem, conn)}")
            names.append(name)
        return names


def _duckdb_connection(task: ExecSqlQueryMixin) -> Any:
    import duckdb

    conn = duckdb.connect(database=":memory:", config={"allow_unsigned_extensions": "true"})
    task.prepare_connection(conn)
    return conn


class PythonScriptTask(ExecSqlQueryMixin, Task):
    def __init__(
        self,
        ctx: RuntimeContext,
        input_deps: List[Task],
        partition_infos: List[PartitionInfo],
        process_func: Optional[Callable[[RuntimeContext, List[DataSet], str], bool]] = None,
        output_name: Optional[str] = None,
        output_path: Optional[str] = None,
        cpu_limit: Optional[int] = None,
        gpu_limit: Optional[float] = None,
        memory_limit: Optional[int] = None,
    ) -> None:
        super().__init__(ctx, input_deps, partition_infos, output_name, output_path, cpu_limit, gpu_limit, memory_limit)
        self.process_func = process_func

    def process(self, runtime_ctx: RuntimeContext, input_datasets: List[DataSet], output_path: str) -> bool:
        return self._user_process(runtime_ctx, input_datasets, output_path)

    def run(self) -> bool:
        self.add_elapsed_time()
        if self.skip_when_any_input_empty:
            return True
        ok = self.process(self.ctx.set_current_task(self), self.input_datasets, self.runtime_output_abspath)
        self.dataset = FileSet(["*"], root_dir=self.final_output_abspath)
        return ok


class ParquetOutputMixin(object):
    """The Parquet options of a task whose Python code's tables are written by pyarrow."""

    def _init_parquet(self, row_group_size: int, dictionary_encoding: bool, compression: Optional[str],
                      compression_level: Optional[int], use_duckdb_reader: bool) -> None:
        self.parquet_row_group_size = row_group_size or DEFAULT_ROW_GROUP_SIZE
        self.parquet_row_group_bytes = clamp_row_group_bytes(self.parquet_row_group_size * 4 * KB)
        self.parquet_dictionary_encoding = dictionary_encoding
        self.parquet_compression = compression
        self.parquet_compression_level = compression_level
        self.use_duckdb_reader = use_duckdb_reader

    def _writer_options(self) -> Dict[str, Any]:
        """``pyarrow.parquet`` writer options (no compression when it is ``None``)."""
        compression = self.parquet_compression if self.parquet_compression is not None else "NONE"
        leveled = str(compression).upper() in ("ZSTD", "GZIP", "BROTLI")
        return {
            "compression": compression,
            "compression_level": self.parquet_compression_level if leveled else None,
            "use_dictionary": self.parquet_dictionary_encoding,
        }


class ArrowComputeTask(ParquetOutputMixin, ExecSqlQueryMixin, Task):
    cpu_overcommit_ratio = 0.5
    memory_overcommit_ratio = 0.5

    def __init__(
        self,
        ctx: RuntimeContext,
        input_deps: List[Task],
        partition_infos: List[PartitionInfo],
        process_func: Optional[Callable[[RuntimeContext, List[arrow.Table]], arrow.Table]] = None,
        parquet_row_group_size: int = DEFAULT_ROW_GROUP_SIZE,
        parquet_dictionary_encoding: bool = False,
        parquet_compression: Optional[str] = "ZSTD",
        parquet_compression_level: Optional[int] = 3,
        use_duckdb_reader: bool = False,
        output_name: Optional[str] = None,
        output_path: Optional[str] = None,
        cpu_limit: Optional[int] = None,
        gpu_limit: Optional[float] = None,
        memory_limit: Optional[int] = None,
    ) -> None:
        super().__init__(ctx, input_deps, partition_infos, output_name, output_path, cpu_limit, gpu_limit, memory_limit)
        self.process_func = process_func
        self._init_parquet(parquet_row_group_size, parquet_dictionary_encoding, parquet_compression,
                           parquet_compression_level, use_duckdb_reader)

    def _call_process(self, runtime_ctx: RuntimeContext, input_tables: List[arrow.Table]) -> Optional[arrow.Table]:
        return self.process(runtime_ctx, input_tables)

    def process(self, runtime_ctx: RuntimeContext, input_tables: List[arrow.Table]) -> arrow.Table:
        return self._user_process(runtime_ctx, input_tables)

    def run(self) -> bool:
        self.add_elapsed_time()
        if self.skip_when_any_input_empty:
            return True
        conn = _duckdb_connection(self) if self.use_duckdb_reader else None
        try:
            tables = [d.to_arrow_table(max_workers=self.cpu_limit, conn=conn) for d in self.input_datasets]
        except arrow.lib.ArrowMemoryError as e:
            raise OutOfMemory(f"{self.key} ran out of memory reading its inputs") from e
        finally:
            if conn is not None:
                conn.close()
        self.perf_metrics["num input rows"] += sum(t.num_rows for t in tables)
        self.add_elapsed_time("input load time (secs)")
        output = self._call_process(self.ctx.set_current_task(self), tables)
        self.add_elapsed_time("compute time (secs)")
        return self.dump_output(output)

    def dump_output(self, output_table: Optional[arrow.Table]) -> bool:
        if output_table is None:
            return True
        if isinstance(output_table, arrow.RecordBatch):
            output_table = arrow.Table.from_batches([output_table])
        if not isinstance(output_table, arrow.Table):
            raise TypeError(f"{type(self).__name__}.process must return a pyarrow.Table, got {type(output_table).__name__}")
        import pyarrow.parquet as pq

        path = os.path.join(self.runtime_output_abspath, f"{self.output_filename}-0.parquet")
        pq.write_table(output_table, path, row_group_size=self.parquet_row_group_size, **self._writer_options())
        self.perf_metrics["num output rows"] += output_table.num_rows
        self.add_elapsed_time("output dump time (secs)")
        return True


class StreamOutput(object):
    """A table an ``ArrowStreamNode`` yields, with the input batches it accounts for."""

    __slots__ = ("output_table", "batch_indices", "force_checkpoint")

    def __init__(self, output_table: arrow.Table, batch_indices: Optional[List[int]] = None, force_checkpoint: bool = False) -> None:
        self.output_table = output_table
        self.batch_indices = batch_indices or []
        self.force_checkpoint = force_checkpoint and bool(batch_indices)


class ArrowStreamTask(ParquetOutputMixin, ExecSqlQueryMixin, Task):
    """Reads its inputs as record batch readers; writes what ``process`` yields as it comes."""

    def __init__(
        self,
        ctx: RuntimeContext,
        input_deps: List[Task],
        partition_infos: List[PartitionInfo],
        process_func: Optional[Callable[[RuntimeContext, List[arrow.RecordBatchReader]], Iterable[arrow.Table]]] = None,
        background_io_thread: bool = True,
        streaming_batch_size: int = DEFAULT_BATCH_SIZE,
        secs_checkpoint_interval: Optional[int] = None,
        parquet_row_group_size: int = DEFAULT_ROW_GROUP_SIZE,
        parquet_dictionary_encoding: bool = False,
        parquet_compression: Optional[str] = "ZSTD",
        parquet_compression_level: Optional[int] = 3,
        use_duckdb_reader: bool = False,
        output_name: Optional[str] = None,
        output_path: Optional[str] = None,
        cpu_limit: Optional[int] = None,
        gpu_limit: Optional[float] = None,
        memory_limit: Optional[int] = None,
    ) -> None:
        super().__init__(ctx, input_deps, partition_infos, output_name, output_path, cpu_limit, gpu_limit, memory_limit)
        self.process_func = process_func
        self.background_io_thread = background_io_thread
        self.streaming_batch_size = streaming_batch_size or DEFAULT_BATCH_SIZE
        self.streaming_batch_count = 1
        self.secs_checkpoint_interval = secs_checkpoint_interval
        self._init_parquet(parquet_row_group_size, parquet_dictionary_encoding, parquet_compression,
                           parquet_compression_level, use_duckdb_reader)

    def _wrap_output(self, output: Union[arrow.Table, StreamOutput], batch_indices: Optional[List[int]] = None) -> StreamOutput:
        if isinstance(output, StreamOutput):
            return output
        if isinstance(output, arrow.RecordBatch):
            output = arrow.Table.from_batches([output])
        if not isinstance(output, arrow.Table):
            raise TypeError(f"{type(self).__name__}.process must yield pyarrow.Tables, got {type(output).__name__}")
        return StreamOutput(output, batch_indices)

    def _call_process(self, runtime_ctx: RuntimeContext, input_readers: List[arrow.RecordBatchReader]) -> Iterable[StreamOutput]:
        outputs = self.process(runtime_ctx, input_readers)
        if outputs is None:
            return
        for output in outputs:
            yield self._wrap_output(output)

    def process(self, runtime_ctx: RuntimeContext, input_readers: List[arrow.RecordBatchReader]) -> Iterable[arrow.Table]:
        return self._user_process(runtime_ctx, input_readers)

    def run(self) -> bool:
        self.add_elapsed_time()
        if self.skip_when_any_input_empty:
            return True
        conn = _duckdb_connection(self) if self.use_duckdb_reader else None
        try:
            readers = [d.to_batch_reader(batch_size=self.streaming_batch_size, conn=conn) for d in self.input_datasets]
            return self.dump_output(self._call_process(self.ctx.set_current_task(self), readers))
        except arrow.lib.ArrowMemoryError as e:
            raise OutOfMemory(f"{self.key} ran out of memory") from e
        finally:
            if conn is not None:
                conn.close()

    def dump_output(self, output_iter: Iterable[StreamOutput]) -> bool:
        """Writes the stream into Parquet files of whole row groups, one file at a time."""
        import pyarrow.parquet as pq

        writer = None
        buffered: Optional[arrow.Table] = None
        schema: Optional[arrow.Schema] = None
        path = os.path.join(self.runtime_output_abspath, f"{self.output_filename}-0.parquet")
        try:
            for output in output_iter:
                self.add_elapsed_time("compute time (secs)")
                table = output.output_table
                if schema is None:
                    schema = table.schema
                    writer = pq.ParquetWriter(path, schema, **self._writer_options())
                    buffered = table.slice(0, 0)
                elif table.schema != schema:
                    table = table.cast(schema)
                if table.num_rows == 0:
                    continue
                buffered = arrow.concat_tables([buffered, table])
                if buffered.num_rows >= self.parquet_row_group_size:
                    full = buffered.num_rows - buffered.num_rows % self.parquet_row_group_size
                    writer.write_table(buffered.slice(0, full), self.parquet_row_group_size)
                    self.perf_metrics["num output rows"] += full
                    buffered = buffered.slice(full)
                    self.add_elapsed_time("output dump time (secs)")
            if writer is not None:
                if buffered.num_rows:
                    writer.write_table(buffered, self.parquet_row_group_size)
                    self.perf_metrics["num output rows"] += buffered.num_rows
                writer.close()
                writer = None
                self.add_elapsed_time("output dump time (secs)")
        finally:
            if writer is not None:
                writer.close()
        return True


class ArrowBatchTask(ArrowStreamTask):
    """Calls ``process`` with one batch of every input at a time (inputs read in step)."""

    def _call_process(self, runtime_ctx: RuntimeContext, input_readers: List[arrow.RecordBatchReader]) -> Iterable[StreamOutput]:
        for index, batches in enumerate(itertools.zip_longest(*input_readers, fillvalue=None)):
            tables = [
                reader.schema.empty_table() if batch is None else arrow.Table.from_batches([batch], reader.schema)
                for reader, batch in zip(input_readers, batches)
            ]
            output = self._process_batches(runtime_ctx, tables)
            if output is not None:
                yield self._wrap_output(output, [index] * len(batches))

    def _process_batches(self, runtime_ctx: RuntimeContext, input_tables: List[arrow.Table]) -> Optional[arrow.Table]:
        return self.process(runtime_ctx, input_tables)

    def process(self, runtime_ctx: RuntimeContext, input_tables: List[arrow.Table]) -> arrow.Table:
        return self._user_process(runtime_ctx, input_tables)


class PandasComputeTask(ArrowComputeTask):
    def _call_process(self, runtime_ctx: RuntimeContext, input_tables: List[arrow.Table]) -> Optional[arrow.Table]:
        return self._pandas_process(runtime_ctx, input_tables)

    def process(self, runtime_ctx: RuntimeContext, input_dfs: List[Any]) -> Any:
        return self._user_process(runtime_ctx, input_dfs)


class PandasBatchTask(ArrowBatchTask):
    def _process_batches(self, runtime_ctx: RuntimeContext, input_tables: List[arrow.Table]) -> Optional[arrow.Table]:
        return self._pandas_process(runtime_ctx, input_tables)

    def process(self, runtime_ctx: RuntimeContext, input_dfs: List[Any]) -> Any:
        return self._user_process(runtime_ctx, input_dfs)


class ExecutionPlan(object):
    """What ``Driver.run`` returns: whether the job succeeded and where its outputs are."""

    def __init__(self, ctx: RuntimeContext, logical_plan: Any, successful: bool,
                 final_output: Optional[DataSet], named_outputs: Dict[str, DataSet],
                 final_output_path: Optional[str] = None) -> None:
        self.ctx = ctx
        self.logical_plan = logical_plan
        self._successful = successful
        self._final_output = final_output
        self._named_outputs = named_outputs
        self._final_output_path = final_output_path

    def __repr__(self) -> str:
        return f"ExecutionPlan(job_root={self.ctx.job_root!r}, successful={self._successful})"

    @property
    def successful(self) -> bool:
        return self._successful

    @property
    def final_output(self) -> Optional[DataSet]:
        return self._final_output

    @property
    def final_output_path(self) -> Optional[str]:
        return self._final_output_path

    @property
    def named_outputs(self) -> Dict[str, DataSet]:
        return dict(self._named_outputs)

    def get_output(self, output_name: str) -> Optional[DataSet]:
        return self._named_outputs.get(output_name)

    @property
    def analyzed_logical_plan(self) -> Any:
        return self.logical_plan
