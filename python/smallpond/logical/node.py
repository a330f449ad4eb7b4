"""The original smallpond's low-level API (``smallpond.logical.node``): a ``Context``, nodes
that form a plan, and ``LogicalPlan(ctx, root)``.

    ctx = Context()
    source = DataSourceNode(ctx, ParquetDataSet(["data/*.parquet"]))
    parts = HashPartitionNode(ctx, (source,), npartitions=8, hash_columns=["host"])
    counts = SqlEngineNode(ctx, (parts,), "select host, count(*) from {0} group by host")
    plan = LogicalPlan(ctx, counts)
    Driver().run(plan)            # or: smallpond.init(); DataFrame-free, see Driver

Nodes only describe the plan. Running it (``Driver.run``) turns every node into the
engine's own plan: SQL, partitioning and projections run on the Rust engine; the Python
nodes (``PythonScriptNode``, ``ArrowComputeNode``, ``ArrowStreamNode``, ``ArrowBatchNode``,
``PandasComputeNode``, ``PandasBatchNode``) run their ``process`` in worker processes, one
task per partition, with the original's ``RuntimeContext`` and task objects.
"""

from __future__ import annotations

import os
import re
import traceback
from collections import defaultdict
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple, Union

from smallpond.common import (
    DATA_PARTITION_COLUMN_NAME,
    DEFAULT_BATCH_SIZE,
    DEFAULT_ROW_GROUP_SIZE,
    GB,
    GENERATED_COLUMNS,
)
from smallpond.execution.task import (
    ArrowBatchTask,
    ArrowComputeTask,
    ArrowStreamTask,
    PandasBatchTask,
    PandasComputeTask,
    PartitionInfo,
    PythonScriptTask,
    RuntimeContext,
)
from smallpond.logical.dataset import (
    ArrowTableDataSet,
    CsvDataSet,
    DataSet,
    FileSet,
    JsonDataSet,
    PandasDataSet,
    ParquetDataSet,
    PartitionedDataSet,
    SqlQueryDataSet,
)
from smallpond._udf import UDFType, UserDefinedFunction

__all__ = [
    "NodeId",
    "Context",
    "Node",
    "DataSourceNode",
    "DataSinkNode",
    "PythonScriptNode",
    "ArrowComputeNode",
    "ArrowStreamNode",
    "ArrowBatchNode",
    "PandasComputeNode",
    "PandasBatchNode",
    "SqlEngineNode",
    "UnionNode",
    "RootNode",
    "ConsolidateNode",
    "PartitionNode",
    "RepeatPartitionNode",
    "UserDefinedPartitionNode",
    "UserPartitionedDataSourceNode",
    "EvenlyDistributedPartitionNode",
    "LoadPartitionedDataSetNode",
    "DataSetPartitionNode",
    "HashPartitionNode",
    "ShuffleNode",
    "RangePartitionNode",
    "ProjectionNode",
    "LimitNode",
    "LogicalPlan",
    "LogicalPlanVisitor",
]

_NAME = re.compile(r"[a-zA-Z0-9_]+")


class NodeId(int):
    def __str__(self) -> str:
        return f"{int(self):06d}"


class Context(object):
    """One plan's node ids and the UDFs its SQL nodes may call by name."""

    def __init__(self) -> None:
        self.next_node_id = 0
        self.udfs: Dict[str, Any] = {}

    def _new_node_id(self) -> NodeId:
        self.next_node_id += 1
        return NodeId(self.next_node_id)

    def create_function(
        self,
        name: str,
        func: Callable,
        params: Optional[List[UDFType]],
        return_type: Optional[UDFType],
        use_arrow_type: bool = False,
    ) -> str:
        """A Python scalar function that SQL nodes can call as ``name``."""
        self.udfs[name] = UserDefinedFunction(name, func, params, return_type, use_arrow_type)
        return name

    def create_external_module(self, module_path: str, name: Optional[str] = None) -> str:
        name = name or os.path.basename(module_path)
        self.udfs[name] = ("module", os.path.abspath(module_path))
        return name

    def create_duckdb_extension(self, extension_path: str, name: Optional[str] = None) -> str:
        name = name or os.path.basename(extension_path)
        self.udfs[name] = os.path.abspath(extension_path)
        return name


def _user_location() -> str:
    here = os.path.dirname(os.path.abspath(__file__))
    for frame in reversed(traceback.extract_stack()):
        if not os.path.abspath(frame.filename).startswith(here) and not frame.filename.endswith("dataframe.py"):
            return f"{frame.filename}:{frame.lineno}"
    return "?"


def _as_inputs(input_deps: Any, what: str) -> List["Node"]:
    if isinstance(input_deps, Node):
        return [input_deps]
    if not isinstance(input_deps, Iterable) or isinstance(input_deps, (str, bytes)):
        raise TypeError(f"{what}: input_deps must be a tuple of nodes, got {type(input_deps).__name__}")
    deps = list(input_deps)
    for d in deps:
        if not isinstance(d, Node):
            raise TypeError(f"{what}: input_deps must be nodes, got {type(d).__name__}")
    return deps


class Node(object):
    """The base class of all nodes."""

    enable_resource_boost = False

    def __init__(
        self,
        ctx: Context,
        input_deps: "Tuple[Node, ...]",
        output_name: Optional[str] = None,
        output_path: Optional[str] = None,
        cpu_limit: int = 1,
        gpu_limit: float = 0,
        memory_limit: Optional[int] = None,
    ) -> None:
        if not isinstance(ctx, Context):
            raise TypeError(f"{type(self).__name__}: the first argument must be a Context, got {type(ctx).__name__}")
        if output_name is not None and not _NAME.fullmatch(output_name):
            raise ValueError(f"output_name must match [a-zA-Z0-9_]+, got {output_name!r}")
        if output_path is not None and not os.path.isabs(output_path):
            raise ValueError(f"output_path must be an absolute path, got {output_path!r}")
        self.ctx = ctx
        self.id = ctx._new_node_id()
        self.input_deps: List[Node] = _as_inputs(input_deps, type(self).__name__)
        self.output_name = output_name
        self.output_path = output_path
        self.cpu_limit = max(cpu_limit or 0, (gpu_limit or 0) * 8) or None
        self.gpu_limit = gpu_limit
        self.memory_limit = memory_limit
        self.generated_tasks: List[str] = []
        self.perf_stats: Dict[str, Any] = {}
        self.perf_metrics: Dict[str, List[float]] = defaultdict(list)
        self.location = _user_location()

    def __repr__(self) -> str:
        return f"{type(self).__name__}-{self.id}"

    def __str__(self) -> str:
        return (
            f"{self!r}: input_deps={self.input_deps}, output_name={self.output_name}, "
            f"resource_limit={self.cpu_limit}CPUs/{self.gpu_limit}GPUs/{(self.memory_limit or 0) // GB}GB"
        )

    def slim_copy(self) -> "Node":
        import copy

        node = copy.copy(self)
        node.input_deps = []
        node.generated_tasks = []
        return node

    def add_perf_metrics(self, name: str, value: Union[List[float], float]) -> None:
        self.perf_metrics[name].append(value)

    def get_perf_stats(self, name: str) -> Any:
        return self.perf_stats.get(name)

    @property
    def num_partitions(self) -> int:
        raise NotImplementedError(f"{type(self).__name__}.num_partitions")

    def _options(self, **parquet: Any) -> Any:
        """The engine's task options of this node (``parquet``: compression, row_group_size)."""
        from smallpond import _core

        return _core.TaskOptions(
            cpu_limit=int(self.cpu_limit) if self.cpu_limit else None,
            memory_limit=int(self.memory_limit) if self.memory_limit else None,
            gpu_limit=float(self.gpu_limit) if self.gpu_limit else None,
            **parquet,
        )

    default_row_group_size = DEFAULT_ROW_GROUP_SIZE

    def _set_parquet(self, row_group_size: Optional[int], dictionary_encoding: bool,
                     compression: Optional[str], compression_level: Optional[int]) -> None:
        """The original's ``parquet_*`` options of a node that writes Parquet."""
        self.parquet_row_group_size = row_group_size or self.default_row_group_size
        self.parquet_dictionary_encoding = dictionary_encoding
        self.parquet_compression = compression
        self.parquet_compression_level = compression_level

    def _parquet(self) -> Dict[str, Any]:
        """The node's Parquet options, as the engine's ``compression`` / ``row_group_size``."""
        compression = self.parquet_compression
        return {
            "compression": str(compression).lower() if compression else "uncompressed",
            "row_group_size": int(self.parquet_row_group_size),
        }

    def _lower(self, low: "_Lowering") -> Any:
        raise NotImplementedError(f"{type(self).__name__} cannot run on this engine")


class DataSourceNode(Node):
    """A plan's input: a dataset (``None`` for an empty one)."""

    def __init__(self, ctx: Context, dataset: Optional[DataSet]) -> None:
        if dataset is not None and not isinstance(dataset, DataSet):
            raise TypeError(f"DataSourceNode needs a DataSet, got {type(dataset).__name__}")
        super().__init__(ctx, [])
        self.dataset = dataset if dataset is not None else ParquetDataSet([])

    def __str__(self) -> str:
        return super().__str__() + f", dataset=<{self.dataset}>"

    @property
    def num_partitions(self) -> int:
        return 1

    def _lower(self, low: "_Lowering") -> Any:
        return low.source(self.dataset)


DataSinkType = str


class DataSinkNode(Node):
    """Collects the output files of ``input_deps`` into ``output_path``: hard links (``link``,
    symbolic across file systems), copies (``copy``), links or copies (``link_or_copy``), or
    only a manifest listing them (``manifest``); every type writes ``.MANIFEST.txt`` but
    ``copy`` and ``link_or_copy``."""

    def __init__(
        self,
        ctx: Context,
        input_deps: Tuple[Node, ...],
        output_path: str,
        type: DataSinkType = "link",
        manifest_only: bool = False,
        is_final_node: bool = False,
    ) -> None:
        if type not in ("link", "copy", "link_or_copy", "manifest"):
            raise ValueError(f"invalid sink type: {type!r} (link, copy, link_or_copy or manifest)")
        if output_path is None:
            raise ValueError("DataSinkNode needs an output_path")
        super().__init__(ctx, input_deps, None, os.path.abspath(output_path), cpu_limit=1, gpu_limit=0, memory_limit=0)
        self.type = "manifest" if manifest_only else type
        self.is_final_node = is_final_node

    def __str__(self) -> str:
        return super().__str__() + f", output_path={self.output_path}, type={self.type}"

    @property
    def num_partitions(self) -> int:
        return 1

    def _lower(self, low: "_Lowering") -> Any:
        inputs = [low.core(d) for d in self.input_deps]
        merged = inputs[0].union(inputs[1:]) if len(inputs) > 1 else inputs[0]
        return low.sink(merged, self.output_path, self.type)


class _PythonNode(Node):
    """A node whose tasks run user Python code in the workers."""

    task_class: type = PythonScriptTask

    def __init__(self, ctx: Context, input_deps: Tuple[Node, ...], process_func: Optional[Callable],
                 output_name: Optional[str], output_path: Optional[str], cpu_limit: int,
                 gpu_limit: float, memory_limit: Optional[int]) -> None:
        super().__init__(ctx, input_deps, output_name, output_path, cpu_limit, gpu_limit, memory_limit)
        self.process_func = process_func

    def __str__(self) -> str:
        return super().__str__() + f", process_func={self.process_func}"

    @property
    def num_partitions(self) -> int:
        return self.input_deps[0].num_partitions if self.input_deps else 1

    def spawn(self, *args: Any, **kwargs: Any) -> Any:
        """The task object (override to return an instance of your task subclass)."""
        return self.task_class(*args, **kwargs)

    def process(self, runtime_ctx: RuntimeContext, *inputs: Any) -> Any:
        """Your code (override, or give ``process_func=``); what it gets and returns
        depends on the node: see the class."""
        raise NotImplementedError(f"{type(self).__name__}: give process_func= or override process()")

    def _task_args(self, runtime_ctx: RuntimeContext, partition_infos: List[PartitionInfo]) -> list:
        """The arguments the original passes to ``spawn`` (after ctx, deps, partitions)."""
        raise NotImplementedError

    def create_task(self, runtime_ctx: RuntimeContext, input_deps: list, partition_infos: List[PartitionInfo]) -> Any:
        """The task object of one partition (called in the worker)."""
        func = self.process_func or self.slim_copy().process
        return self.spawn(runtime_ctx, input_deps, partition_infos, func, *self._task_args(runtime_ctx, partition_infos))

    def _lower(self, low: "_Lowering") -> Any:
        from smallpond import _runtime

        inputs = [low.core(d) for d in self.input_deps]
        spec = _runtime.NodeScript(self.slim_copy(), self.num_partitions, _dimensions(self.input_deps))
        payload = _runtime.dumps(spec, f"{self!r} (its process function)")
        name = _runtime.function_name(self.process_func) if self.process_func else f"{type(self).__name__}.process"
        return low.session._core.script(f"{self!r}:{name}", payload, inputs, self._options())


class PythonScriptNode(_PythonNode):
    """Runs ``process(runtime_ctx, input_datasets, output_path) -> bool`` once per partition;
    the files it writes into ``output_path`` are the output."""

    task_class = PythonScriptTask

    def __init__(
        self,
        ctx: Context,
        input_deps: Tuple[Node, ...],
        *,
        process_func: Optional[Callable[[RuntimeContext, List[DataSet], str], bool]] = None,
        output_name: Optional[str] = None,
        output_path: Optional[str] = None,
        cpu_limit: int = 1,
        gpu_limit: float = 0,
        memory_limit: Optional[int] = None,
    ) -> None:
        super().__init__(ctx, input_deps, process_func, output_name, output_path, cpu_limit, gpu_limit, memory_limit)

    def _task_args(self, runtime_ctx: RuntimeContext, partition_infos: List[PartitionInfo]) -> list:
        return [self.output_name, self.output_path, self.cpu_limit, self.gpu_limit, self.memory_limit]


class ArrowComputeNode(_PythonNode):
    """Runs ``process(runtime_ctx, input_tables) -> pyarrow.Table`` once per partition, with
    every input partition loaded as one table; the result is written as Parquet."""

    default_row_group_size = DEFAULT_ROW_GROUP_SIZE
    task_class = ArrowComputeTask

    def __init__(
        self,
        ctx: Context,
        input_deps: Tuple[Node, ...],
        *,
        process_func: Optional[Callable] = None,
        parquet_row_group_size: Optional[int] = None,
        parquet_dictionary_encoding: bool = False,
        parquet_compression: Optional[str] = "ZSTD",
        parquet_compression_level: Optional[int] = 3,
        use_duckdb_reader: bool = False,
        output_name: Optional[str] = None,
        output_path: Optional[str] = None,
        cpu_limit: int = 1,
        gpu_limit: float = 0,
        memory_limit: Optional[int] = None,
    ) -> None:
        super().__init__(ctx, input_deps, process_func, output_name, output_path, cpu_limit, gpu_limit, memory_limit)
        self._set_parquet(parquet_row_group_size, parquet_dictionary_encoding, parquet_compression,
                          parquet_compression_level)
        self.use_duckdb_reader = use_duckdb_reader

    def _task_args(self, runtime_ctx: RuntimeContext, partition_infos: List[PartitionInfo]) -> list:
        return [
            self.parquet_row_group_size, self.parquet_dictionary_encoding, self.parquet_compression,
            self.parquet_compression_level, self.use_duckdb_reader, self.output_name, self.output_path,
            self.cpu_limit, self.gpu_limit, self.memory_limit,
        ]


class ArrowStreamNode(_PythonNode):
    """Runs ``process(runtime_ctx, input_readers) -> Iterable[pyarrow.Table]`` once per
    partition over record batch readers of the inputs; what it yields is written as it comes."""

    default_batch_size = DEFAULT_BATCH_SIZE
    default_row_group_size = DEFAULT_ROW_GROUP_SIZE
    default_secs_checkpoint_interval = 180
    task_class = ArrowStreamTask

    def __init__(
        self,
        ctx: Context,
        input_deps: Tuple[Node, ...],
        *,
        process_func: Optional[Callable] = None,
        background_io_thread: bool = True,
        streaming_batch_size: Optional[int] = None,
        secs_checkpoint_interval: Optional[int] = None,
        parquet_row_group_size: Optional[int] = None,
        parquet_dictionary_encoding: bool = False,
        parquet_compression: Optional[str] = "ZSTD",
        parquet_compression_level: Optional[int] = 3,
        use_duckdb_reader: bool = False,
        output_name: Optional[str] = None,
        output_path: Optional[str] = None,
        cpu_limit: int = 1,
        gpu_limit: float = 0,
        memory_limit: Optional[int] = None,
    ) -> None:
        super().__init__(ctx, input_deps, process_func, output_name, output_path, cpu_limit, gpu_limit, memory_limit)
        self.background_io_thread = background_io_thread and (self.cpu_limit or 1) > 1
        self.streaming_batch_size = streaming_batch_size or self.default_batch_size
        self.secs_checkpoint_interval = secs_checkpoint_interval or self.default_secs_checkpoint_interval
        self._set_parquet(parquet_row_group_size, parquet_dictionary_encoding, parquet_compression,
                          parquet_compression_level)
        self.use_duckdb_reader = use_duckdb_reader

    def __str__(self) -> str:
        return super().__str__() + f", streaming_batch_size={self.streaming_batch_size}"

    def _task_args(self, runtime_ctx: RuntimeContext, partition_infos: List[PartitionInfo]) -> list:
        return [
            self.background_io_thread, self.streaming_batch_size, self.secs_checkpoint_interval,
            self.parquet_row_group_size, self.parquet_dictionary_encoding, self.parquet_compression,
            self.parquet_compression_level, self.use_duckdb_reader, self.output_name, self.output_path,
            self.cpu_limit, self.gpu_limit, self.memory_limit,
        ]


class ArrowBatchNode(ArrowStreamNode):
    """Runs ``process(runtime_ctx, input_tables) -> pyarrow.Table`` on one batch of every
    input at a time."""

    task_class = ArrowBatchTask


class PandasComputeNode(ArrowComputeNode):
    """Like ``ArrowComputeNode`` with ``pandas.DataFrame``s in and out."""

    task_class = PandasComputeTask


class PandasBatchNode(ArrowStreamNode):
    """Like ``ArrowBatchNode`` with ``pandas.DataFrame``s in and out."""

    task_class = PandasBatchTask


class SqlEngineNode(Node):
    """Runs a DuckDB query (or a list of queries: all run, the last one's result is the
    output) on every partition: ``{0}``, ``{1}``... are the inputs' partitions."""

    max_udf_cpu_limit = 3
    default_cpu_limit = 1
    default_memory_limit = None
    default_row_group_size = DEFAULT_ROW_GROUP_SIZE
    enable_resource_boost = True

    def __init__(
        self,
        ctx: Context,
        input_deps: Tuple[Node, ...],
        sql_query: Union[str, Iterable[str]],
        *,
        udfs: Optional[List[Union[str, UserDefinedFunction]]] = None,
        per_thread_output: bool = True,
        materialize_output: bool = True,
        materialize_in_memory: bool = False,
        relax_memory_if_oom: Any = None,
        batched_processing: bool = False,
        extension_paths: Optional[List[str]] = None,
        udf_module_paths: Optional[List[str]] = None,
        enable_temp_directory: bool = False,
        parquet_row_group_size: Optional[int] = None,
        parquet_dictionary_encoding: bool = False,
        parquet_compression: Optional[str] = "ZSTD",
        parquet_compression_level: Optional[int] = 3,
        output_name: Optional[str] = None,
        output_path: Optional[str] = None,
        cpu_limit: Optional[int] = None,
        memory_limit: Optional[int] = None,
        cpu_overcommit_ratio: float = 1.0,
        memory_overcommit_ratio: float = 0.9,
    ) -> None:
        queries = [sql_query] if isinstance(sql_query, str) else list(sql_query)
        if not queries or not all(isinstance(q, str) for q in queries):
            raise TypeError("sql_query must be a query string or a non-empty list of query strings")
        # The engine decides a task's threads when the script does not say.
        super().__init__(ctx, input_deps, output_name, output_path, cpu_limit, 0, memory_limit)
        self.sql_queries = queries
        self.udfs: List[str] = [ctx.create_duckdb_extension(p) for p in extension_paths or []]
        self.udfs += [ctx.create_external_module(p) for p in udf_module_paths or []]
        for udf in udfs or []:
            if isinstance(udf, UserDefinedFunction):
                name = ctx.create_function(udf.name, udf.func, udf.params, udf.return_type, udf.use_arrow_type)
            elif isinstance(udf, str) and udf in ctx.udfs:
                name = udf
            elif isinstance(udf, str) and udf.endswith(".duckdb_extension"):
                name = ctx.create_duckdb_extension(udf)
            elif isinstance(udf, str) and udf.endswith(".so"):
                name = ctx.create_external_module(udf)
            else:
                raise ValueError(f"invalid udf: {udf!r} (a @udf function, a name from ctx.create_function, or a .duckdb_extension path)")
            self.udfs.append(name)
        self.per_thread_output = per_thread_output
        self.materialize_output = materialize_output
        self.materialize_in_memory = materialize_in_memory
        self.batched_processing = batched_processing
        self.enable_temp_directory = enable_temp_directory
        self._set_parquet(parquet_row_group_size, parquet_dictionary_encoding, parquet_compression,
                          parquet_compression_level)
        self.cpu_overcommit_ratio = cpu_overcommit_ratio
        self.memory_overcommit_ratio = memory_overcommit_ratio

    def __str__(self) -> str:
        return super().__str__() + f", sql_query=<{self.oneline_query[:100]}...>, udfs={self.udfs}"

    @property
    def oneline_query(self) -> str:
        return "; ".join(" ".join(q.split()) for q in self.sql_queries)

    @property
    def num_partitions(self) -> int:
        return self.input_deps[0].num_partitions if self.input_deps else 1

    def _udf_specs(self) -> list:
        from smallpond._udf import to_core

        specs: List[Any] = []
        for name in self.udfs:
            udf = self.ctx.udfs[name]
            if isinstance(udf, tuple):
                raise ValueError(
                    f"{self!r}: external UDF modules ({udf[1]}) are not supported; "
                    f"use @udf Python functions or DuckDB extension files"
                )
            specs.append(udf)
        return to_core(specs)

    def _lower(self, low: "_Lowering") -> Any:
        inputs = [low.core(d) for d in self.input_deps]
        *setup, query = self.sql_queries
        options = self._options(**self._parquet())
        return low.session._core.partial_sql(query, inputs, self._udf_specs(), setup, options)


class UnionNode(Node):
    """The partitions of all inputs, one after another."""

    def __init__(self, ctx: Context, input_deps: Tuple[Node, ...]) -> None:
        super().__init__(ctx, input_deps)

    @property
    def num_partitions(self) -> int:
        return sum(d.num_partitions for d in self.input_deps)

    def _lower(self, low: "_Lowering") -> Any:
        inputs = [low.core(d) for d in self.input_deps]
        if not inputs:
            raise ValueError("UnionNode needs at least one input")
        return inputs[0].union(inputs[1:]) if len(inputs) > 1 else inputs[0]


class RootNode(Node):
    """Runs all its inputs; outputs nothing."""

    def __init__(self, ctx: Context, input_deps: Tuple[Node, ...]) -> None:
        super().__init__(ctx, input_deps)

    @property
    def num_partitions(self) -> int:
        return 1

    def _lower(self, low: "_Lowering") -> Any:
        for d in self.input_deps:
            low.roots.append(low.core(d))
        return None


class ConsolidateNode(Node):
    """Merges partitions without moving data: with ``dimensions=[]``, into one."""

    def __init__(self, ctx: Context, input_dep: Node, dimensions: List[str]) -> None:
        if isinstance(dimensions, str) or not all(isinstance(d, str) for d in dimensions):
            raise TypeError(f"dimensions must be a list of strings, got {dimensions!r}")
        super().__init__(ctx, [input_dep])
        self.dimensions = set(list(dimensions) + [PartitionInfo.toplevel_dimension])

    def __str__(self) -> str:
        return super().__str__() + f", dimensions={self.dimensions}"

    def _kept(self) -> bool:
        """Whether the input's partitioning is kept (its dimension is among ``dimensions``)."""
        dim = getattr(self.input_deps[0], "dimension", None)
        return dim is not None and dim in self.dimensions

    @property
    def num_partitions(self) -> int:
        return self.input_deps[0].num_partitions if self._kept() else 1

    def _lower(self, low: "_Lowering") -> Any:
        df = low.core(self.input_deps[0])
        return df if self._kept() else df.consolidate()


class PartitionNode(Node):
    """The base class of partition nodes: ``npartitions`` output partitions."""

    max_num_producer_tasks = 100
    max_card_of_producers_x_consumers = 4_096_000

    def __init__(
        self,
        ctx: Context,
        input_deps: Tuple[Node, ...],
        npartitions: int,
        dimension: Optional[str] = None,
        nested: bool = False,
        output_name: Optional[str] = None,
        output_path: Optional[str] = None,
        cpu_limit: int = 1,
        memory_limit: Optional[int] = None,
    ) -> None:
        if isinstance(npartitions, bool) or not isinstance(npartitions, int):
            raise TypeError(f"npartitions must be an integer, got {npartitions!r}")
        if npartitions < 1:
            raise ValueError(f"npartitions must be at least 1, got {npartitions}")
        if dimension is not None and not _NAME.fullmatch(dimension):
            raise ValueError(f"dimension must match [a-zA-Z0-9_]+, got {dimension!r}")
        if nested and dimension is None:
            raise ValueError("a nested partition needs a dimension")
        super().__init__(ctx, input_deps, output_name, output_path, cpu_limit, 0, memory_limit)
        self.npartitions = npartitions
        self.dimension = dimension if dimension is not None else PartitionInfo.default_dimension
        self.nested = nested

    def __str__(self) -> str:
        return super().__str__() + f", npartitions={self.npartitions}, dimension={self.dimension}, nested={self.nested}"

    @property
    def num_partitions(self) -> int:
        return self.npartitions

    def _input(self, low: "_Lowering") -> Any:
        if self.nested:
            raise NotImplementedError(
                f"{self!r}: nested partitions (nested=True) are not supported by this engine; "
                f"partition the whole input instead"
            )
        inputs = [low.core(d) for d in self.input_deps]
        if not inputs:
            raise ValueError(f"{self!r} needs an input")
        return inputs[0].union(inputs[1:]) if len(inputs) > 1 else inputs[0]


class RepeatPartitionNode(PartitionNode):
    """Every input partition, ``npartitions`` times (a new, nested dimension)."""

    def __init__(self, ctx: Context, input_deps: Tuple[Node, ...], npartitions: int, dimension: str,
                 cpu_limit: int = 1, memory_limit: Optional[int] = None) -> None:
        super().__init__(ctx, input_deps, npartitions, dimension, nested=True, cpu_limit=cpu_limit, memory_limit=memory_limit)

    @property
    def num_partitions(self) -> int:
        return self.npartitions * sum(d.num_partitions for d in self.input_deps)

    def _lower(self, low: "_Lowering") -> Any:
        inputs = [low.core(d) for d in self.input_deps]
        df = inputs[0].union(inputs[1:]) if len(inputs) > 1 else inputs[0]
        return df.union([df] * (self.npartitions - 1)) if self.npartitions > 1 else df


class UserDefinedPartitionNode(PartitionNode):
    """Partitions by user code: ``partition(runtime_ctx, dataset) -> List[DataSet]`` gets the
    whole input (computed first) and returns ``npartitions`` datasets."""

    def __init__(self, ctx: Context, input_deps: Tuple[Node, ...], npartitions: int,
                 dimension: Optional[str] = None, nested: bool = False, cpu_limit: int = 1,
                 memory_limit: Optional[int] = None) -> None:
        super().__init__(ctx, input_deps, npartitions, dimension, nested, cpu_limit=cpu_limit, memory_limit=memory_limit)

    def partition(self, runtime_ctx: RuntimeContext, dataset: DataSet) -> List[DataSet]:
        raise NotImplementedError(f"{type(self).__name__}: override partition()")

    def _lower(self, low: "_Lowering") -> Any:
        if self.nested:
            raise NotImplementedError(f"{self!r}: nested partitions are not supported by this engine")
        dataset = low.computed_dataset(self.input_deps)
        parts = self.partition(low.runtime_ctx(), dataset)
        if len(parts) != self.npartitions:
            raise ValueError(f"{self!r}: partition() returned {len(parts)} datasets, expected {self.npartitions}")
        dfs = [low.source(p, allow_empty=True) for p in parts]
        return dfs[0].union(dfs[1:]) if len(dfs) > 1 else dfs[0]


class UserPartitionedDataSourceNode(UserDefinedPartitionNode):
    """A plan input already split into partitions: one dataset per partition."""

    max_num_producer_tasks = 1

    def __init__(self, ctx: Context, partitioned_datasets: List[DataSet], dimension: Optional[str] = None) -> None:
        if not all(isinstance(d, DataSet) for d in partitioned_datasets):
            raise TypeError("UserPartitionedDataSourceNode needs a list of DataSets")
        super().__init__(ctx, [DataSourceNode(ctx, dataset=None)], len(partitioned_datasets), dimension, nested=False)
        self.partitioned_datasets = list(partitioned_datasets)

    def partition(self, runtime_ctx: RuntimeContext, dataset: DataSet) -> List[DataSet]:
        return self.partitioned_datasets

    def _lower(self, low: "_Lowering") -> Any:
        dfs = [low.source(p, allow_empty=True) for p in self.partitioned_datasets]
        return dfs[0].union(dfs[1:]) if len(dfs) > 1 else dfs[0]


class EvenlyDistributedPartitionNode(PartitionNode):
    """Whole files (or, with ``partition_by_rows``, rows) spread evenly over ``npartitions``;
    ``random_shuffle`` sends every row to a random partition instead."""

    max_num_producer_tasks = 1

    def __init__(
        self,
        ctx: Context,
        input_deps: Tuple[Node, ...],
        npartitions: int,
        dimension: Optional[str] = None,
        nested: bool = False,
        *,
        partition_by_rows: bool = False,
        random_shuffle: bool = False,
        output_name: Optional[str] = None,
        output_path: Optional[str] = None,
        cpu_limit: int = 1,
        memory_limit: Optional[int] = None,
    ) -> None:
        super().__init__(ctx, input_deps, npartitions, dimension, nested, output_name=output_name,
                         output_path=output_path, cpu_limit=cpu_limit, memory_limit=memory_limit)
        self.partition_by_rows = partition_by_rows
        self.random_shuffle = random_shuffle

    def __str__(self) -> str:
        return super().__str__() + f", partition_by_rows={self.partition_by_rows}, random_shuffle={self.random_shuffle}"

    def _lower(self, low: "_Lowering") -> Any:
        df = self._input(low)
        from smallpond._core import Partitioning as P

        how = P.Random() if self.random_shuffle else (P.Rows() if self.partition_by_rows else P.Files())
        return df.repartition(self.npartitions, how)


class LoadPartitionedDataSetNode(PartitionNode):
    """Rows into the partition that their ``data_partition_column`` names (0..n-1)."""

    max_num_producer_tasks = 10

    def __init__(
        self,
        ctx: Context,
        input_deps: Tuple[Node, ...],
        npartitions: int,
        dimension: Optional[str] = None,
        nested: bool = False,
        data_partition_column: Optional[str] = None,
        hive_partitioning: bool = False,
        cpu_limit: int = 1,
        memory_limit: Optional[int] = None,
    ) -> None:
        if not (dimension or data_partition_column):
            raise ValueError("LoadPartitionedDataSetNode needs a dimension or a data_partition_column")
        super().__init__(ctx, input_deps, npartitions, dimension or data_partition_column, nested,
                         cpu_limit=cpu_limit, memory_limit=memory_limit)
        self.data_partition_column = data_partition_column or dimension
        self.hive_partitioning = hive_partitioning

    def _lower(self, low: "_Lowering") -> Any:
        df = self._input(low)
        from smallpond._core import Partitioning

        column = self.data_partition_column
        return df.repartition(self.npartitions, Partitioning.Column(column=column), column)


def DataSetPartitionNode(
    ctx: Context,
    input_deps: Tuple[Node, ...],
    npartitions: int,
    *,
    partition_by_rows: bool = False,
    random_shuffle: bool = False,
    data_partition_column: Optional[str] = None,
) -> PartitionNode:
    """Partitions the outputs of ``input_deps`` into ``npartitions``: evenly by files, by rows
    (``partition_by_rows``), randomly (``random_shuffle``), or by the partition index in
    ``data_partition_column``."""
    if partition_by_rows and data_partition_column is not None:
        raise ValueError("partition_by_rows and data_partition_column cannot both be set")
    if data_partition_column is None:
        return EvenlyDistributedPartitionNode(
            ctx, input_deps, npartitions, partition_by_rows=partition_by_rows, random_shuffle=random_shuffle
        )
    return LoadPartitionedDataSetNode(ctx, input_deps, npartitions, data_partition_column=data_partition_column)


class HashPartitionNode(PartitionNode):
    """Rows into ``npartitions`` by the hash of ``hash_columns`` (or randomly, with
    ``random_shuffle``; or by the partition index already in ``data_partition_column``, with
    ``shuffle_only``). Each row's partition index is kept in ``data_partition_column``
    (``__data_partition__`` by default) unless ``drop_partition_column``."""

    default_cpu_limit = 1
    default_memory_limit = None
    default_data_partition_column = DATA_PARTITION_COLUMN_NAME
    default_engine_type = "duckdb"
    default_row_group_size = DEFAULT_ROW_GROUP_SIZE
    max_num_producer_tasks = 1000
    enable_resource_boost = True

    def __init__(
        self,
        ctx: Context,
        input_deps: Tuple[Node, ...],
        npartitions: int,
        hash_columns: Optional[List[str]] = None,
        data_partition_column: Optional[str] = None,
        *,
        dimension: Optional[str] = None,
        nested: bool = False,
        engine_type: Optional[str] = None,
        random_shuffle: bool = False,
        shuffle_only: bool = False,
        drop_partition_column: bool = False,
        use_parquet_writer: bool = False,
        hive_partitioning: bool = False,
        parquet_row_group_size: Optional[int] = None,
        parquet_dictionary_encoding: bool = False,
        parquet_compression: Optional[str] = "ZSTD",
        parquet_compression_level: Optional[int] = 3,
        output_name: Optional[str] = None,
        output_path: Optional[str] = None,
        cpu_limit: Optional[int] = None,
        memory_limit: Optional[int] = None,
    ) -> None:
        if random_shuffle and shuffle_only:
            raise ValueError("random_shuffle and shuffle_only cannot both be set")
        if shuffle_only and data_partition_column is None:
            raise ValueError("shuffle_only needs data_partition_column")
        if data_partition_column is not None and not _NAME.fullmatch(data_partition_column):
            raise ValueError(f"data_partition_column must match [a-zA-Z0-9_]+, got {data_partition_column!r}")
        if engine_type not in (None, "duckdb", "arrow"):
            raise ValueError(f"unknown engine_type {engine_type!r} (duckdb or arrow)")
        if isinstance(hash_columns, str):
            hash_columns = [hash_columns]
        if not (random_shuffle or shuffle_only or hash_columns):
            raise ValueError(f"{type(self).__name__} needs hash_columns, random_shuffle=True or shuffle_only=True")
        data_partition_column = data_partition_column or self.default_data_partition_column
        super().__init__(ctx, input_deps, npartitions, dimension or data_partition_column, nested,
                         output_name, output_path, cpu_limit or self.default_cpu_limit,
                         memory_limit or self.default_memory_limit)
        self.hash_columns = ["random()"] if random_shuffle else hash_columns
        self.data_partition_column = data_partition_column
        # Both engines give the same rows; this one always partitions with DuckDB.
        self.engine_type = engine_type or self.default_engine_type
        self.random_shuffle = random_shuffle
        self.shuffle_only = shuffle_only
        self.drop_partition_column = drop_partition_column
        self.use_parquet_writer = use_parquet_writer
        self.hive_partitioning = hive_partitioning and self.engine_type == "duckdb"
        self._set_parquet(parquet_row_group_size, parquet_dictionary_encoding, parquet_compression,
                          parquet_compression_level)

    def __str__(self) -> str:
        return (
            super().__str__()
            + f", hash_columns={self.hash_columns}, data_partition_column={self.data_partition_column}, "
            f"engine_type={self.engine_type}"
        )

    def _lower(self, low: "_Lowering") -> Any:
        from smallpond._core import Partitioning as P

        df = self._input(low)
        if self.shuffle_only:
            how = P.Column(column=self.data_partition_column)
        elif self.random_shuffle:
            how = P.Random()
        else:
            how = P.Hash(columns=list(self.hash_columns))
        keep = None if self.drop_partition_column else self.data_partition_column
        options = self._options(**self._parquet())
        if self.shuffle_only and self.drop_partition_column:
            # The rows keep every column but the index they were routed by.
            routed = df.repartition(self.npartitions, how, None, options)
            q = f"select * exclude ({_ident(self.data_partition_column)}) from {{0}}"
            return low.session._core.partial_sql(q, [routed])
        return df.repartition(self.npartitions, how, keep, options)


class ShuffleNode(HashPartitionNode):
    """Rows into the partition their ``data_partition_column`` holds (``0..npartitions-1``)."""

    def __init__(
        self,
        ctx: Context,
        input_deps: Tuple[Node, ...],
        npartitions: int,
        data_partition_column: Optional[str] = None,
        *,
        dimension: Optional[str] = None,
        nested: bool = False,
        engine_type: Optional[str] = None,
        use_parquet_writer: bool = False,
        hive_partitioning: bool = False,
        parquet_row_group_size: Optional[int] = None,
        parquet_dictionary_encoding: bool = False,
        parquet_compression: Optional[str] = "ZSTD",
        parquet_compression_level: Optional[int] = 3,
        output_name: Optional[str] = None,
        output_path: Optional[str] = None,
        cpu_limit: Optional[int] = None,
        memory_limit: Optional[int] = None,
    ) -> None:
        super().__init__(
            ctx, input_deps, npartitions, hash_columns=None,
            data_partition_column=data_partition_column or self.default_data_partition_column,
            dimension=dimension, nested=nested, engine_type=engine_type, random_shuffle=False,
            shuffle_only=True, drop_partition_column=False, use_parquet_writer=use_parquet_writer,
            hive_partitioning=hive_partitioning, parquet_row_group_size=parquet_row_group_size,
            parquet_dictionary_encoding=parquet_dictionary_encoding, parquet_compression=parquet_compression,
            parquet_compression_level=parquet_compression_level, output_name=output_name,
            output_path=output_path, cpu_limit=cpu_limit, memory_limit=memory_limit,
        )


class RangePartitionNode(PartitionNode):
    """Not supported by this engine (as in the original, it has no implementation)."""

    def __init__(self, ctx: Context, input_deps: Tuple[Node, ...], split_points: List[Any], dimension: Optional[str] = None,
                 nested: bool = False, output_name: Optional[str] = None, output_path: Optional[str] = None,
                 cpu_limit: int = 16, memory_limit: Optional[int] = None) -> None:
        super().__init__(ctx, input_deps, len(split_points) + 1, dimension, nested, output_name, output_path, cpu_limit, memory_limit)
        self.split_points = split_points


def _dimensions(nodes: List[Node]) -> List[str]:
    """The partition dimensions the inputs' partitions carry (their nearest partitioner's)."""
    out: List[str] = []
    for node in nodes:
        while node is not None and not isinstance(node, PartitionNode):
            node = node.input_deps[0] if node.input_deps and not isinstance(node, ConsolidateNode) else None
        if node is not None and node.dimension not in out:
            out.append(node.dimension)
    return out


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class ProjectionNode(Node):
    """Only ``columns`` of the input (``None``: all of them)."""

    def __init__(
        self,
        ctx: Context,
        input_dep: Node,
        columns: Optional[List[str]] = None,
        generated_columns: Optional[List[str]] = None,
        union_by_name: Optional[bool] = None,
    ) -> None:
        columns = list(columns or ["*"])
        generated_columns = list(generated_columns or [])
        bad = [c for c in generated_columns if c not in GENERATED_COLUMNS]
        if bad:
            raise ValueError(f"invalid generated columns {bad} (they are {list(GENERATED_COLUMNS)})")
        if set(columns) & set(generated_columns):
            raise ValueError(f"columns {columns} and generated columns {generated_columns} overlap")
        super().__init__(ctx, [input_dep])
        self.columns = columns
        self.generated_columns = generated_columns
        self.union_by_name = union_by_name

    def __str__(self) -> str:
        return super().__str__() + f", columns={self.columns}, generated_columns={self.generated_columns}"

    @property
    def num_partitions(self) -> int:
        return self.input_deps[0].num_partitions

    def _lower(self, low: "_Lowering") -> Any:
        df = low.core(self.input_deps[0])
        if self.generated_columns:
            raise NotImplementedError(
                f"{self!r}: generated_columns {self.generated_columns} are not supported by this engine"
            )
        if self.columns == ["*"]:
            return df
        if all(_NAME.fullmatch(c) for c in self.columns):
            return df.select(self.columns)
        return low.session._core.partial_sql(f"select {', '.join(self.columns)} from {{0}}", [df])


class LimitNode(SqlEngineNode):
    """At most ``limit`` rows of the input, in one partition."""

    def __init__(self, ctx: Context, input_dep: Node, limit: int) -> None:
        super().__init__(ctx, (input_dep,), f"select * from {{0}} limit {int(limit)}")
        self.limit = int(limit)

    @property
    def num_partitions(self) -> int:
        return 1

    def __str__(self) -> str:
        return super().__str__() + f", limit={self.limit}"

    def _lower(self, low: "_Lowering") -> Any:
        return low.core(self.input_deps[0]).limit(self.limit)


class LogicalPlanVisitor(object):
    """Visits a plan's nodes (the original's visitor, by node kind)."""

    def visit(self, node: Node, depth: int = 0) -> Any:
        kinds = [
            (DataSourceNode, self.visit_data_source_node),
            (DataSinkNode, self.visit_data_sink_node),
            (RootNode, self.visit_root_node),
            (UnionNode, self.visit_union_node),
            (ConsolidateNode, self.visit_consolidate_node),
            (PartitionNode, self.visit_partition_node),
            (PythonScriptNode, self.visit_python_script_node),
            (ArrowComputeNode, self.visit_arrow_compute_node),
            (ArrowStreamNode, self.visit_arrow_stream_node),
            (LimitNode, self.visit_limit_node),
            (SqlEngineNode, self.visit_query_engine_node),
            (ProjectionNode, self.visit_projection_node),
        ]
        for kind, method in kinds:
            if isinstance(node, kind):
                return method(node, depth)
        return self.generic_visit(node, depth)

    def generic_visit(self, node: Node, depth: int) -> Any:
        for dep in node.input_deps:
            self.visit(dep, depth + 1)

    visit_data_source_node = generic_visit
    visit_data_sink_node = generic_visit
    visit_root_node = generic_visit
    visit_union_node = generic_visit
    visit_consolidate_node = generic_visit
    visit_partition_node = generic_visit
    visit_python_script_node = generic_visit
    visit_arrow_compute_node = generic_visit
    visit_arrow_stream_node = generic_visit
    visit_query_engine_node = generic_visit
    visit_projection_node = generic_visit
    visit_limit_node = generic_visit


class LogicalPlan(object):
    """A plan: the root node and everything it depends on."""

    def __init__(self, ctx: Context, root_node: Node) -> None:
        if not isinstance(root_node, Node):
            raise TypeError(f"LogicalPlan needs a root node, got {type(root_node).__name__}")
        self.ctx = ctx
        self.root_node = root_node

    def __str__(self) -> str:
        return self.explain_str()

    def explain_str(self) -> str:
        """The plan as a tree, one node per line, inputs indented below their users."""
        visited = set()

        def to_str(node: Node, depth: int = 0) -> List[str]:
            lines = ["  " * depth + str(node) + ", file= " + node.location]
            if node.id in visited:
                return lines + ["  " * depth + " (omitted ...)"]
            visited.add(node.id)
            for name, stats in node.perf_stats.items():
                lines.append("  " * depth + f" | {name}: {stats}")
            for dep in node.input_deps:
                lines.extend(to_str(dep, depth + 1))
            return lines

        return os.linesep.join(to_str(self.root_node))

    def graph(self) -> Any:
        """A ``graphviz.Digraph`` of the plan (its DOT text when graphviz is not installed)."""
        try:
            from graphviz import Digraph
        except ImportError:
            lines = ["digraph {", '  // smallpond']
            for node in self.nodes.values():
                lines.append(f'  {node.id} [label="{node!r}"]')
                for dep in node.input_deps:
                    lines.append(f"  {dep.id} -> {node.id}")
            lines.append("}")
            return "\n".join(lines)
        dot = Digraph(comment="smallpond")
        for node in self.nodes.values():
            dot.node(str(node.id), repr(node))
            for dep in node.input_deps:
                dot.edge(str(dep.id), str(node.id))
        return dot

    @property
    def nodes(self) -> Dict[NodeId, Node]:
        nodes: Dict[NodeId, Node] = {}

        def collect(node: Node) -> None:
            if node.id in nodes:
                return
            nodes[node.id] = node
            for dep in node.input_deps:
                collect(dep)

        collect(self.root_node)
        return nodes


class _Lowering(object):
    """Turns nodes into the engine's DataFrames (``smallpond._core``), each node once."""

    def __init__(self, session: Any, output_path: Optional[str] = None) -> None:
        self.session = session
        self.memo: Dict[int, Any] = {}
        self.roots: List[Any] = []
        # (node, directory, sink) of nodes with an output_name or output_path: their output
        # is linked there as the job runs (the job's own files are removed when it ends).
        self.published: List[Tuple[Node, str, Any]] = []
        self.output_path = output_path

    def core(self, node: Node) -> Any:
        key = id(node)
        if key not in self.memo:
            df = node._lower(self)
            self.memo[key] = df
            if df is not None and not isinstance(node, (DataSinkNode, RootNode)):
                if node.output_name or node.output_path:
                    root = node.output_path or self.output_path or self.runtime_ctx().output_root
                    path = os.path.join(os.path.abspath(root), node.output_name or f"{type(node).__name__}-{node.id}")
                    self.published.append((node, path, self.sink(df, path, "link")))
        return self.memo[key]

    def sink(self, df: Any, path: str, kind: str) -> Any:
        """A task that links (``link``, ``copy``, ``link_or_copy``, ``manifest``) the files of
        ``df`` into directory ``path`` (see ``smallpond._runtime.SinkScript``)."""
        from smallpond import _runtime

        payload = _runtime.dumps(_runtime.SinkScript(os.path.abspath(path), kind), f"sink to {path}")
        from smallpond import _core

        options = _core.TaskOptions(cpu_limit=1)
        return self.session._core.script(f"DataSink({path})", payload, [df.consolidate()], options)

    def runtime_ctx(self) -> RuntimeContext:
        return self.session._runtime_ctx

    def source(self, dataset: DataSet, allow_empty: bool = False) -> Any:
        core = self.session._core
        if isinstance(dataset, PartitionedDataSet):
            dfs = [self.source(d, allow_empty) for d in dataset.datasets]
            return dfs[0].union(dfs[1:]) if len(dfs) > 1 else dfs[0]
        if isinstance(dataset, ArrowTableDataSet):
            return core.from_arrow(dataset.table)
        if isinstance(dataset, PandasDataSet):
            import pyarrow as pa

            return core.from_arrow(pa.Table.from_pandas(dataset.df, preserve_index=False))
        if isinstance(dataset, SqlQueryDataSet):
            return core.partial_sql(dataset.sql_query, [])
        if isinstance(dataset, FileSet):
            raise NotImplementedError(
                "a FileSet cannot be a plan's input here: give its files as a ParquetDataSet, "
                "or read them in a PythonScriptNode"
            )
        paths = dataset.absolute_paths
        if not paths:
            raise ValueError(f"{dataset} has no paths: a data source needs files")
        if isinstance(dataset, ParquetDataSet):
            if dataset.generated_columns:
                raise NotImplementedError(f"generated_columns {dataset.generated_columns} are not supported by this engine")
            return core.read_parquet(paths, dataset.recursive, dataset.columns, dataset._union_by_name)
        if isinstance(dataset, CsvDataSet):
            df = core.read_csv(paths, list(dataset.schema.items()), dataset.delim, bool(dataset.header))
            return df.select(dataset.columns) if dataset.columns else df
        if isinstance(dataset, JsonDataSet):
            df = core.read_json(paths, list(dataset.schema.items()))
            return df.select(dataset.columns) if dataset.columns else df
        raise TypeError(f"{type(dataset).__name__} cannot be a data source")

    def computed_dataset(self, nodes: List[Node]) -> DataSet:
        """The files of these nodes' outputs, computed now, as one dataset."""
        files: List[str] = []
        for node in nodes:
            df = self.core(node)
            df.compute()
            files.extend(f for part in df.files() for f in part)
        return ParquetDataSet(files, root_dir=None)
