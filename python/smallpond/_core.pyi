"""Type stubs for the compiled extension module ``smallpond._core``."""

from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import pyarrow as pa

__version__: str

class SmallpondError(Exception):
    """A job or plan failed; the message carries the whole cause chain."""

class TaskOptions:
    """A node's task options, checked when made (the defaults: the engine decides)."""

    def __init__(
        self,
        cpu_limit: Optional[int] = None,
        memory_limit: Optional[int] = None,
        gpu_limit: Optional[float] = None,
        compression: Optional[str] = None,
        row_group_size: Optional[int] = None,
    ) -> None: ...

class Partitioning:
    """How ``DataFrame.repartition`` distributes rows (one class per way)."""

    class Files(Partitioning):
        """Whole files, evenly (no data is read or written)."""
        def __init__(self) -> None: ...
    class Rows(Partitioning):
        """Equal row counts."""
        def __init__(self) -> None: ...
    class Hash(Partitioning):
        """``hash(columns) % n``: equal keys land in the same partition."""
        columns: List[str]
        def __init__(self, columns: Sequence[str]) -> None: ...
    class Column(Partitioning):
        """The column holds each row's partition index."""
        column: str
        def __init__(self, column: str) -> None: ...
    class Random(Partitioning):
        """A random partition per row."""
        def __init__(self) -> None: ...

class Udf:
    """A function a query may call."""

    class Extension(Udf):
        """A DuckDB extension file (``*.duckdb_extension``)."""
        path: str
        def __init__(self, path: str) -> None: ...
    class Python(Udf):
        """A pickled ``smallpond._runtime.ScalarUdf``."""
        name: str
        payload: str
        def __init__(self, name: str, payload: str) -> None: ...

class Session:
    def __init__(
        self,
        *,
        data_root: Optional[str] = None,
        job_id: Optional[str] = None,
        job_time: Optional[str] = None,
        num_executors: Optional[int] = None,
        memory_limit: Optional[int] = None,
        max_attempts: Optional[int] = None,
        fault_inject_prob: Optional[float] = None,
        speculation: Optional[str] = None,
        worker_command: Optional[List[str]] = None,
        worker_env: Optional[List[Tuple[str, str]]] = None,
        on_event: Optional[Callable[[Dict[str, Any]], Optional[bool]]] = None,
        pool: Optional[Any] = None,
        storage_options: Optional[List[Tuple[str, str]]] = None,
    ) -> None: ...
    @property
    def job_id(self) -> str: ...
    @property
    def job_dir(self) -> str: ...
    def read_parquet(
        self,
        paths: List[str],
        recursive: bool = False,
        columns: Optional[List[str]] = None,
        union_by_name: bool = False,
    ) -> DataFrame: ...
    def read_csv(
        self,
        paths: List[str],
        schema: Optional[List[Tuple[str, str]]] = None,
        delim: Optional[str] = None,
        header: Optional[bool] = None,
    ) -> DataFrame: ...
    def read_json(self, paths: List[str], schema: List[Tuple[str, str]]) -> DataFrame: ...
    def from_arrow(self, table: pa.Table) -> DataFrame: ...
    def partial_sql(
        self,
        query: str,
        inputs: Sequence[DataFrame],
        udfs: Sequence[Udf] = ...,
        setup: Sequence[str] = ...,
        options: Optional[TaskOptions] = None,
    ) -> DataFrame: ...
    def script(
        self,
        name: str,
        payload: str,
        inputs: Sequence[DataFrame],
        options: Optional[TaskOptions] = None,
    ) -> DataFrame: ...
    def wait(self, dfs: Sequence[DataFrame]) -> None: ...
    def plan(self, dfs: Sequence[DataFrame]) -> int: ...
    def graph(self) -> str: ...
    def progress(self) -> List[Tuple[int, str, int, int, int, int, int, int, int, Optional[float], Optional[float]]]: ...
    def graph_svg(self) -> str: ...
    def timeline(self) -> str: ...
    def write_report(self) -> str: ...
    def shutdown(self) -> None: ...

class DataFrame:
    def num_partitions(self) -> int: ...
    def repartition(
        self,
        npartitions: int,
        how: Partitioning,
        partition_column: Optional[str] = None,
        options: Optional[TaskOptions] = None,
    ) -> DataFrame: ...
    def random_shuffle(
        self, partition_column: Optional[str] = None, options: Optional[TaskOptions] = None
    ) -> DataFrame: ...
    def filter(
        self, predicate: str, udfs: Sequence[Udf] = ..., options: Optional[TaskOptions] = None
    ) -> DataFrame: ...
    def map(
        self, select_list: str, udfs: Sequence[Udf] = ..., options: Optional[TaskOptions] = None
    ) -> DataFrame: ...
    def partial_sort(
        self, columns: Sequence[str], udfs: Sequence[Udf] = ..., options: Optional[TaskOptions] = None
    ) -> DataFrame: ...
    def sort(
        self,
        keys: Sequence[Tuple[str, bool]],
        npartitions: Optional[int] = None,
        options: Optional[TaskOptions] = None,
    ) -> DataFrame: ...
    def join(
        self,
        other: DataFrame,
        on: Sequence[str],
        how: str = "inner",
        npartitions: Optional[int] = None,
        broadcast_bytes: Optional[int] = None,
        options: Optional[TaskOptions] = None,
    ) -> DataFrame: ...
    def select(self, columns: Sequence[str]) -> DataFrame: ...
    def consolidate(self) -> DataFrame: ...
    def map_batches(
        self,
        name: str,
        payload: str,
        batch_size: int,
        options: Optional[TaskOptions] = None,
    ) -> DataFrame: ...
    def limit(self, n: int) -> DataFrame: ...
    def union(self, others: Sequence[DataFrame]) -> DataFrame: ...
    def write_parquet_lazy(self, path: str, append: bool = False) -> DataFrame: ...
    def compute(self) -> None: ...
    def is_computed(self) -> bool: ...
    def recompute(self) -> DataFrame: ...
    def count(self) -> int: ...
    def to_arrow(self, limit: Optional[int] = None) -> pa.Table: ...
    def files(self) -> List[List[str]]: ...

def serve_worker(output_fd: int) -> None: ...
def run_task(attempt_json: str, worker: str) -> str: ...
def cli_main(argv: Sequence[str], worker: Sequence[str]) -> int: ...
def prestart_worker(command: Sequence[str], env: Sequence[Tuple[str, str]]) -> None: ...
