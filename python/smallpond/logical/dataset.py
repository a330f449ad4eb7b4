"""The original smallpond's datasets (``smallpond.logical.dataset``): which files hold some
data and how to read them.

A dataset is given to ``DataSourceNode`` as a plan's input, and handed to user code by the
low-level nodes (``PythonScriptNode`` gets its inputs as datasets). Reading one here uses
pyarrow (Parquet, as the original) or the ``duckdb`` package (everything else, or when a
connection is given); the engine itself reads them with its own DuckDB.
"""

from __future__ import annotations

import copy
import glob
import os
from collections import OrderedDict
from typing import Any, Dict, List, Optional, Union

import pyarrow as arrow

from smallpond.common import DEFAULT_BATCH_SIZE, GB

__all__ = [
    "DataSet",
    "PartitionedDataSet",
    "FileSet",
    "CsvDataSet",
    "JsonDataSet",
    "ParquetDataSet",
    "SqlQueryDataSet",
    "ArrowTableDataSet",
    "PandasDataSet",
]


def _has_magic(path: str) -> bool:
    return glob.has_magic(path)


def _quote(text: str) -> str:
    return "'" + str(text).replace("'", "''") + "'"


def _columns_literal(schema: Dict[str, str]) -> str:
    """DuckDB's ``columns={...}`` entries of a schema."""
    return ", ".join(f"{_quote(k)}: {_quote(v)}" for k, v in schema.items())


def _duckdb(conn: Any = None) -> Any:
    if conn is not None:
        return conn
    import duckdb

    return duckdb.connect()


class DataSet(object):
    """Files given as paths or glob patterns (resolved, sorted, when first needed)."""

    def __init__(
        self,
        paths: Union[str, List[str]],
        root_dir: Optional[str] = "",
        recursive: bool = False,
        columns: Optional[List[str]] = None,
        union_by_name: bool = False,
    ) -> None:
        if isinstance(paths, (str, os.PathLike)):
            paths = [os.fspath(paths)]
        if not isinstance(paths, (list, tuple)):
            raise TypeError(f"paths must be a path or a list of paths, got {type(paths).__name__}")
        self.paths: List[str] = [os.fspath(p) for p in paths]
        self.root_dir = os.path.abspath(root_dir) if root_dir is not None else None
        self.recursive = recursive
        self.columns = list(columns) if columns is not None else None
        self._union_by_name = union_by_name
        self._resolved_paths: Optional[List[str]] = None
        self._absolute_paths: Optional[List[str]] = None
        self._resolved_num_rows: Optional[int] = None

    def __str__(self) -> str:
        return (
            f"{self.__class__.__name__}: paths[{len(self.paths)}]={self.paths[:3]}..., "
            f"root_dir={self.root_dir}, columns={self.columns}"
        )

    __repr__ = __str__

    @property
    def _resolved_path_str(self) -> str:
        return ", ".join(_quote(p) for p in self.resolved_paths)

    @property
    def _column_str(self) -> str:
        return ", ".join(self.columns) if self.columns else "*"

    @property
    def union_by_name(self) -> bool:
        return self._union_by_name or self.columns is not None

    @property
    def udfs(self) -> list:
        return []

    @staticmethod
    def merge(datasets: "List[DataSet]") -> "DataSet":
        """One dataset of all these datasets' files (they must be of one kind)."""
        if not datasets:
            raise ValueError("merge needs at least one dataset")
        kinds = {type(d) for d in datasets}
        if len(kinds) != 1:
            raise TypeError(f"cannot merge datasets of different kinds: {sorted(k.__name__ for k in kinds)}")
        return type(datasets[0]).merge(datasets)

    def reset(self, paths: Optional[List[str]] = None, root_dir: Optional[str] = "", recursive=None) -> None:
        self.paths = list(paths or [])
        self.root_dir = os.path.abspath(root_dir) if root_dir is not None else None
        self.recursive = recursive if recursive is not None else self.recursive
        self._resolved_paths = None
        self._absolute_paths = None
        self._resolved_num_rows = None

    @property
    def num_files(self) -> int:
        return len(self.resolved_paths)

    @property
    def num_rows(self) -> int:
        if self._resolved_num_rows is None:
            row = _duckdb().sql(f"select count(*) from {self.sql_query_fragment()}").fetchone()
            self._resolved_num_rows = int(row[0])
        return self._resolved_num_rows

    @property
    def empty(self) -> bool:
        return len(self.resolved_paths) == 0

    @property
    def absolute_paths(self) -> List[str]:
        """The paths (patterns kept), sorted, under ``root_dir`` when relative."""
        if self._absolute_paths is None:
            if self.root_dir is None:
                self._absolute_paths = sorted(self.paths)
            else:
                self._absolute_paths = [os.path.join(self.root_dir, p) for p in sorted(self.paths)]
        return self._absolute_paths

    @property
    def resolved_paths(self) -> List[str]:
        """Every file, patterns expanded, sorted."""
        if self._resolved_paths is None:
            self._resolved_paths = sorted(f for path in self.absolute_paths for f in self._expand(path))
        return self._resolved_paths

    def _expand(self, path: str) -> List[str]:
        """The files one of the paths stands for."""
        return glob.glob(path, recursive=self.recursive) if _has_magic(path) else [path]

    def sql_query_fragment(self, filesystem: Any = None, conn: Any = None) -> str:
        """A parenthesised DuckDB relation of this dataset's rows."""
        raise NotImplementedError(f"{type(self).__name__} cannot be read with SQL")

    def log(self, num_rows: int = 200) -> None:
        """Prints the first ``num_rows`` rows (to stderr: a task's log)."""
        import sys

        import pandas as pd

        with pd.option_context("display.max_columns", None, "display.max_rows", None,
                               "display.max_colwidth", None, "display.expand_frame_repr", False):
            print(f"{self} ->\n{self.to_pandas().head(num_rows)}", file=sys.stderr, flush=True)

    def to_pandas(self) -> Any:
        return self.to_arrow_table().to_pandas()

    def to_arrow_table(self, max_workers: int = 16, filesystem: Any = None, conn: Any = None) -> arrow.Table:
        sql = f"select {self._column_str} from {self.sql_query_fragment(filesystem, conn)}"
        return _duckdb(conn).sql(sql).to_arrow_table()

    def to_batch_reader(
        self, batch_size: int = DEFAULT_BATCH_SIZE, filesystem: Any = None, conn: Any = None
    ) -> arrow.RecordBatchReader:
        sql = f"select {self._column_str} from {self.sql_query_fragment(filesystem, conn)}"
        return _duckdb(conn).sql(sql).to_arrow_reader(batch_size)

    def partition_by_files(self, npartition: int, random_shuffle: bool = False) -> "List[DataSet]":
        """``npartition`` datasets of consecutive whole files (counts differ by at most one)."""
        from smallpond.common import split_into_rows

        paths = list(self.resolved_paths)
        if random_shuffle:
            import random

            random.Random(len(paths)).shuffle(paths)
        out = []
        for group in split_into_rows(paths, npartition):
            part = copy.copy(self)
            part.reset(group, root_dir=None)
            out.append(part)
        return out


class PartitionedDataSet(DataSet):
    """A list of datasets, one per partition."""

    def __init__(self, datasets: List[DataSet]) -> None:
        super().__init__([p for d in datasets for p in d.absolute_paths], root_dir=None)
        self.datasets = list(datasets)

    def __getitem__(self, key: int) -> DataSet:
        return self.datasets[key]

    def __len__(self) -> int:
        return len(self.datasets)

    @staticmethod
    def merge(datasets: "List[PartitionedDataSet]") -> DataSet:
        return PartitionedDataSet([d for p in datasets for d in p.datasets])


class FileSet(DataSet):
    """Files of any format, handed to user code by their paths."""

    @staticmethod
    def merge(datasets: "List[FileSet]") -> "FileSet":
        return FileSet([p for d in datasets for p in d.absolute_paths], root_dir=None)

    def to_arrow_table(self, max_workers: int = 16, filesystem: Any = None, conn: Any = None) -> arrow.Table:
        return arrow.table({"resolved_paths": self.resolved_paths})

    def to_batch_reader(self, batch_size: int = DEFAULT_BATCH_SIZE, filesystem: Any = None, conn: Any = None):
        return self.to_arrow_table().to_reader(batch_size)


def _schema_items(schema: Any, what: str) -> "OrderedDict[str, str]":
    if isinstance(schema, dict):
        return OrderedDict((str(k), str(v)) for k, v in schema.items())
    if isinstance(schema, (list, tuple)):
        return OrderedDict((str(k), str(v)) for k, v in schema)
    raise TypeError(f"{what}: schema must be a dict of column name to DuckDB type, got {type(schema).__name__}")


class CsvDataSet(DataSet):
    """Delimited text files with an explicit schema ({column: DuckDB type})."""

    def __init__(
        self,
        paths: List[str],
        schema: Dict[str, str],
        delim: str = ",",
        max_line_size: Optional[int] = None,
        parallel: bool = True,
        header: bool = False,
        root_dir: Optional[str] = "",
        recursive: bool = False,
        columns: Optional[List[str]] = None,
        union_by_name: bool = False,
    ) -> None:
        super().__init__(paths, root_dir, recursive, columns, union_by_name)
        self.schema = _schema_items(schema, "CsvDataSet")
        self.delim = delim
        self.max_line_size = max_line_size
        self.parallel = parallel
        self.header = header

    @staticmethod
    def merge(datasets: "List[CsvDataSet]") -> "CsvDataSet":
        first = datasets[0]
        return CsvDataSet(
            [p for d in datasets for p in d.absolute_paths],
            first.schema,
            first.delim,
            first.max_line_size,
            first.parallel,
            first.header,
            root_dir=None,
            recursive=any(d.recursive for d in datasets),
            columns=first.columns,
            union_by_name=any(d.union_by_name for d in datasets),
        )

    def sql_query_fragment(self, filesystem: Any = None, conn: Any = None) -> str:
        schema = _columns_literal(self.schema)
        line = f"max_line_size={self.max_line_size}, " if self.max_line_size is not None else ""
        return (
            f"( select {self._column_str} from read_csv([ {self._resolved_path_str} ], "
            f"delim={_quote(self.delim)}, columns={{ {schema} }}, header={self.header}, "
            f"{line}parallel={self.parallel}, union_by_name={self.union_by_name}) )"
        )


class JsonDataSet(DataSet):
    """JSON files (newline-delimited by default) with an explicit schema."""

    def __init__(
        self,
        paths: List[str],
        schema: Dict[str, str],
        format: str = "newline_delimited",
        max_object_size: int = 1 * GB,
        root_dir: Optional[str] = "",
        recursive: bool = False,
        columns: Optional[List[str]] = None,
        union_by_name: bool = False,
    ) -> None:
        super().__init__(paths, root_dir, recursive, columns, union_by_name)
        self.schema = _schema_items(schema, "JsonDataSet")
        self.format = format
        self.max_object_size = max_object_size

    @staticmethod
    def merge(datasets: "List[JsonDataSet]") -> "JsonDataSet":
        first = datasets[0]
        return JsonDataSet(
            [p for d in datasets for p in d.absolute_paths],
            first.schema,
            first.format,
            first.max_object_size,
            root_dir=None,
            recursive=any(d.recursive for d in datasets),
            columns=first.columns,
            union_by_name=any(d.union_by_name for d in datasets),
        )

    def sql_query_fragment(self, filesystem: Any = None, conn: Any = None) -> str:
        schema = _columns_literal(self.schema)
        return (
            f"( select {self._column_str} from read_json([ {self._resolved_path_str} ], "
            f"format={_quote(self.format)}, columns={{ {schema} }}, "
            f"maximum_object_size={self.max_object_size}, union_by_name={self.union_by_name}) )"
        )


class ParquetDataSet(DataSet):
    """Parquet files."""

    def __init__(
        self,
        paths: List[str],
        root_dir: Optional[str] = "",
        recursive: bool = False,
        columns: Optional[List[str]] = None,
        generated_columns: Optional[List[str]] = None,
        union_by_name: bool = False,
    ) -> None:
        super().__init__(paths, root_dir, recursive, columns, union_by_name)
        self.generated_columns = list(generated_columns or [])
        # A file whose schema an empty dataset has (an engine output without rows).
        self._schema_file: Optional[str] = None

    @property
    def _column_str(self) -> str:
        if not self.columns:
            return "*"
        if "*" in self.columns:
            return ", ".join(self.columns)
        return ", ".join(self.columns + self.generated_columns)

    def _expand(self, path: str) -> List[str]:
        # A directory stands for its Parquet files (below it, with `recursive`).
        if not _has_magic(path) and os.path.isdir(path):
            pattern = "**/*.parquet" if self.recursive else "*.parquet"
            return glob.glob(os.path.join(path, pattern), recursive=self.recursive)
        return super()._expand(path)

    @staticmethod
    def merge(datasets: "List[ParquetDataSet]") -> "ParquetDataSet":
        first = datasets[0]
        merged = ParquetDataSet(
            [p for d in datasets for p in d.absolute_paths],
            root_dir=None,
            recursive=any(d.recursive for d in datasets),
            columns=first.columns,
            generated_columns=first.generated_columns,
            union_by_name=any(d.union_by_name for d in datasets),
        )
        merged._schema_file = next((d._schema_file for d in datasets if d._schema_file), None)
        return merged

    @staticmethod
    def create_from(table: arrow.Table, output_dir: str, filename: str = "data") -> "ParquetDataSet":
        import pyarrow.parquet as pq

        os.makedirs(output_dir, exist_ok=True)
        path = os.path.join(output_dir, f"{filename}-0.parquet")
        pq.write_table(table, path)
        return ParquetDataSet([os.path.join(output_dir, f"{filename}*.parquet")])

    @property
    def num_rows(self) -> int:
        if self._resolved_num_rows is None:
            import pyarrow.parquet as pq

            self._resolved_num_rows = sum(pq.ParquetFile(p).metadata.num_rows for p in self.resolved_paths)
        return self._resolved_num_rows

    @property
    def estimated_data_size(self) -> int:
        return sum(os.path.getsize(p) for p in self.resolved_paths)

    def sql_query_fragment(self, filesystem: Any = None, conn: Any = None) -> str:
        paths = self.resolved_paths
        if not paths:
            if self._schema_file is None:
                raise ValueError(f"{self} has no files and no schema to read an empty relation with")
            return f"( select {self._column_str} from read_parquet({_quote(self._schema_file)}) limit 0 )"
        extra = "".join(f", {c}=true" for c in self.generated_columns)
        return (
            f"( select {self._column_str} from read_parquet([ {self._resolved_path_str} ], "
            f"union_by_name={self.union_by_name}{extra}) )"
        )

    def _arrow_columns(self) -> Optional[List[str]]:
        if not self.columns or "*" in self.columns:
            return None
        return list(self.columns)

    def to_arrow_table(self, max_workers: int = 16, filesystem: Any = None, conn: Any = None) -> arrow.Table:
        if conn is not None or self.generated_columns or self.union_by_name and not self.columns:
            return super().to_arrow_table(max_workers, filesystem, conn)
        import pyarrow.parquet as pq

        paths = self.resolved_paths or ([self._schema_file] if self._schema_file else [])
        if not paths:
            return arrow.table({})
        tables = [pq.read_table(p, columns=self._arrow_columns()) for p in paths]
        table = arrow.concat_tables(tables, promote_options="default") if len(tables) > 1 else tables[0]
        return table if self.resolved_paths else table.slice(0, 0)

    def to_batch_reader(
        self, batch_size: int = DEFAULT_BATCH_SIZE, filesystem: Any = None, conn: Any = None
    ) -> arrow.RecordBatchReader:
        if conn is not None or self.generated_columns:
            return super().to_batch_reader(batch_size, filesystem, conn)
        import pyarrow.parquet as pq

        paths = self.resolved_paths
        columns = self._arrow_columns()
        if not paths:
            return self.to_arrow_table().to_reader(batch_size)
        schema = pq.ParquetFile(paths[0]).schema_arrow
        if columns is not None:
            schema = arrow.schema([schema.field(c) for c in columns])

        def batches():
            for p in paths:
                yield from pq.ParquetFile(p).iter_batches(batch_size=batch_size, columns=columns)

        return arrow.RecordBatchReader.from_batches(schema, batches())


class SqlQueryDataSet(DataSet):
    """The rows of a DuckDB query (run where it is read)."""

    def __init__(self, sql_query: str, query_builder: Any = None) -> None:
        super().__init__([], root_dir=None)
        self.sql_query = sql_query
        self.query_builder = query_builder

    def __str__(self) -> str:
        return f"SqlQueryDataSet: {self.sql_query!r}"

    __repr__ = __str__

    @property
    def num_rows(self) -> int:
        row = _duckdb().sql(f"select count(*) from ({self.sql_query})").fetchone()
        return int(row[0])

    @property
    def empty(self) -> bool:
        return False

    def sql_query_fragment(self, filesystem: Any = None, conn: Any = None) -> str:
        query = self.query_builder(filesystem) if self.query_builder else self.sql_query
        return f"( {query} )"


class ArrowTableDataSet(DataSet):
    """An in-memory ``pyarrow.Table``."""

    def __init__(self, table: arrow.Table) -> None:
        if isinstance(table, arrow.RecordBatch):
            table = arrow.Table.from_batches([table])
        if not isinstance(table, arrow.Table):
            raise TypeError(f"ArrowTableDataSet needs a pyarrow.Table, got {type(table).__name__}")
        super().__init__([], root_dir=None)
        self.table = table

    def __str__(self) -> str:
        return f"ArrowTableDataSet: {self.table.num_rows} rows, columns={self.table.column_names}"

    __repr__ = __str__

    @property
    def num_rows(self) -> int:
        return self.table.num_rows

    @property
    def empty(self) -> bool:
        return False

    def to_arrow_table(self, max_workers: int = 16, filesystem: Any = None, conn: Any = None) -> arrow.Table:
        return self.table

    def to_batch_reader(self, batch_size: int = DEFAULT_BATCH_SIZE, filesystem: Any = None, conn: Any = None):
        return self.table.to_reader(batch_size)

    def sql_query_fragment(self, filesystem: Any = None, conn: Any = None) -> str:
        if conn is None:
            raise ValueError("ArrowTableDataSet.sql_query_fragment needs the connection to register the table in")
        name = f"arrow_table_{id(self.table)}"
        conn.register(name, self.table)
        return f"( select {self._column_str} from {name} )"


class PandasDataSet(DataSet):
    """An in-memory ``pandas.DataFrame``."""

    def __init__(self, df: Any) -> None:
        super().__init__([], root_dir=None)
        self.df = df

    def __str__(self) -> str:
        return f"PandasDataSet: {len(self.df)} rows"

    __repr__ = __str__

    @property
    def num_rows(self) -> int:
        return len(self.df)

    @property
    def empty(self) -> bool:
        return False

    def to_pandas(self) -> Any:
        return self.df

    def to_arrow_table(self, max_workers: int = 16, filesystem: Any = None, conn: Any = None) -> arrow.Table:
        return arrow.Table.from_pandas(self.df, preserve_index=False)

    def to_batch_reader(self, batch_size: int = DEFAULT_BATCH_SIZE, filesystem: Any = None, conn: Any = None):
        return self.to_arrow_table().to_reader(batch_size)

    def sql_query_fragment(self, filesystem: Any = None, conn: Any = None) -> str:
        if conn is None:
            raise ValueError("PandasDataSet.sql_query_fragment needs the connection to register the frame in")
        name = f"pandas_df_{id(self.df)}"
        conn.register(name, self.df)
        return f"( select {self._column_str} from {name} )"


def from_engine(partition: Dict[str, Any]) -> DataSet:
    """The dataset of one partition the engine hands to a script task (its JSON form:
    ``{"datasets": [{"Parquet": {...}} | {"Csv": {...}} | {"Json": {...}}], "columns": ...}``)."""
    columns = partition.get("columns")
    datasets: List[DataSet] = []
    for entry in partition.get("datasets", []):
        (kind, d), = entry.items()
        files = [str(f) for f in d["files"]]
        if kind == "Parquet":
            ds: DataSet = ParquetDataSet(
                files, root_dir=None, columns=columns or d.get("columns"), union_by_name=d.get("union_by_name", False)
            )
            ds._schema_file = d.get("schema_file")
        elif kind == "Csv":
            delim = d["delim"]
            ds = CsvDataSet(
                files,
                OrderedDict((c["name"], c["data_type"]) for c in d["schema"]),
                delim=r"\t" if delim == "\t" else delim,
                header=d.get("header", False),
                root_dir=None,
                columns=columns,
            )
        elif kind == "Json":
            ds = JsonDataSet(
                files, OrderedDict((c["name"], c["data_type"]) for c in d["schema"]), root_dir=None, columns=columns
            )
        else:
            raise ValueError(f"unknown dataset kind {kind!r} from the engine")
        datasets.append(ds)
    if not datasets:
        return ParquetDataSet([], root_dir=None)
    # Parts of one partition that are empty only carry the schema: keep the others.
    with_files = [d for d in datasets if d.paths] or datasets[:1]
    if len(with_files) == 1:
        return with_files[0]
    if len({type(d) for d in with_files}) == 1:
        return DataSet.merge(with_files)
    return PartitionedDataSet(with_files)
