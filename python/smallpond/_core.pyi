"""Type stubs for the compiled extension module ``smallpond._core``."""

from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import pyarrow as pa

__version__: str

class SmallpondError(Exception):
    """A job or plan failed; the message carries the whole cause chain."""

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
        on_event: Optional[Callable[[Dict[str, Any]], None]] = None,
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
    def read_csv(self, paths: List[str], schema: List[Tuple[str, str]], delim: str) -> DataFrame: ...
    def read_json(self, paths: List[str], schema: List[Tuple[str, str]]) -> DataFrame: ...
    def from_arrow(self, table: pa.Table) -> DataFrame: ...
    def partial_sql(
        self,
        query: str,
        inputs: Sequence[DataFrame],
        udfs: Sequence[Tuple[str, str, str]] = ...,
        setup: Sequence[str] = ...,
        cpu_limit: Optional[int] = None,
        memory_limit: Optional[int] = None,
        gpu_limit: Optional[float] = None,
        compression: Optional[str] = None,
        row_group_size: Optional[int] = None,
    ) -> DataFrame: ...
    def script(
        self,
        name: str,
        payload: str,
        inputs: Sequence[DataFrame],
        cpu_limit: Optional[int] = None,
        memory_limit: Optional[int] = None,
        gpu_limit: Optional[float] = None,
    ) -> DataFrame: ...
    def wait(self, dfs: Sequence[DataFrame]) -> None: ...
    def plan(self, dfs: Sequence[DataFrame]) -> int: ...
    def graph(self) -> str: ...
    def shutdown(self) -> None: ...

class DataFrame:
    def num_partitions(self) -> int: ...
    def repartition(
        self,
        npartitions: int,
        how: str,
        columns: Sequence[str] = ...,
        partition_column: Optional[str] = None,
        cpu_limit: Optional[int] = None,
        memory_limit: Optional[int] = None,
        gpu_limit: Optional[float] = None,
        compression: Optional[str] = None,
        row_group_size: Optional[int] = None,
    ) -> DataFrame: ...
    def select(self, columns: Sequence[str]) -> DataFrame: ...
    def consolidate(self) -> DataFrame: ...
    def random_shuffle(self) -> DataFrame: ...
    def map_batches(
        self,
        name: str,
        payload: str,
        batch_size: int,
        cpu_limit: Optional[int] = None,
        memory_limit: Optional[int] = None,
        gpu_limit: Optional[float] = None,
        compression: Optional[str] = None,
        row_group_size: Optional[int] = None,
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
