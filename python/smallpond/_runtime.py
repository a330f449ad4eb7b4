"""What runs inside tasks: Python functions over Arrow data.

The driver pickles one of the objects below (with cloudpickle, so lambdas and closures
travel) into the plan; the Rust worker calls ``load`` once per payload and then
``apply``/``finish`` for ``map_batches`` tasks or ``call_batch`` for scalar UDFs.
"""

from __future__ import annotations

import base64
import functools
from typing import Any, Callable, Dict, List, Optional

from smallpond._lazy import lazy

pa = lazy("pyarrow")

_cache: Dict[str, Any] = {}


def dumps(obj: Any, what: str) -> str:
    """Pickles ``obj`` for the plan; an unpicklable function gets an error naming it."""
    import cloudpickle

    try:
        return base64.b64encode(cloudpickle.dumps(obj)).decode("ascii")
    except Exception as e:  # cloudpickle raises many kinds (TypeError, PicklingError, ...)
        hint = ""
        if _uses_loguru(obj):
            # The original's hint, word for word: loguru's logger holds its sinks' files.
            hint = (
                " HINT: DO NOT use externally imported loguru logger in your task. "
                "Please import it within the task."
            )
        raise TypeError(
            f"Can't pickle task: {what} cannot be sent to worker processes: it is not picklable "
            f"({type(e).__name__}: {e}). Functions must not capture locks, open files, "
            f"sockets or similar objects.{hint}"
        ) from e


def _uses_loguru(obj: Any) -> bool:
    """Whether a function (or one that ``obj`` holds) refers to a loguru logger."""
    import sys

    if "loguru" not in sys.modules:
        return False
    funcs = [getattr(obj, "func", obj), getattr(getattr(obj, "node", None), "process_func", None)]
    for func in funcs:
        code = getattr(func, "__code__", None)
        if code is None:
            continue
        names = set(code.co_names) | set(code.co_freevars)
        values = [getattr(func, "__globals__", {}).get(n) for n in names]
        values += [c.cell_contents for c in (getattr(func, "__closure__", None) or []) if _filled(c)]
        if any(type(v).__module__.startswith("loguru") for v in values):
            return True
    return False


def _filled(cell: Any) -> bool:
    try:
        cell.cell_contents
        return True
    except ValueError:
        return False


def load(payload: str) -> Any:
    obj = _cache.get(payload)
    if obj is None:
        import pickle

        obj = pickle.loads(base64.b64decode(payload))
        _cache[payload] = obj
    return obj


def _to_batches(table: pa.Table) -> List[pa.RecordBatch]:
    return [b for b in table.to_batches() if b.num_rows > 0]


class BatchFunction:
    """A user function over a partition's rows, applied batch by batch.

    mode: ``map`` (row dict -> row dict), ``flat_map`` (row dict -> list of row dicts),
    ``filter`` (row dict -> bool) or ``map_batches`` (pyarrow.Table -> pyarrow.Table).
    """

    def __init__(self, mode: str, func: Callable, schema: Optional[pa.Schema] = None):
        self.mode = mode
        self.func = func
        self.schema = schema
        self._seen: Optional[pa.Schema] = None

    def _rows_to_table(self, rows: List[Any]) -> pa.Table:
        if rows and not isinstance(rows[0], dict):
            raise TypeError(
                f"{self.mode} function {_name(self.func)} must return "
                f"{'a dict' if self.mode == 'map' else 'dicts'} (one per output row), "
                f"got {type(rows[0]).__name__}"
            )
        if self.schema is not None:
            return pa.Table.from_pylist(rows, schema=self.schema)
        # Every key any row has is a column (NULL where a row lacks it); pyarrow alone
        # would take the first row's keys and drop the others' values.
        keys = list(dict.fromkeys(k for row in rows for k in row))
        if self._seen is not None:
            new = [k for k in keys if k not in self._seen.names]
            if new:
                raise ValueError(
                    f"{self.mode} function {_name(self.func)} returned rows with keys {new} "
                    f"that the partition's earlier rows did not have (their columns: "
                    f"{self._seen.names}); give schema= to declare the output's columns"
                )
            return pa.Table.from_pylist(rows, schema=self._seen)
        table = pa.Table.from_pylist([{k: row.get(k) for k in keys} for row in rows])
        if rows:
            self._seen = table.schema
        return table

    def apply(self, batch: pa.RecordBatch) -> List[pa.RecordBatch]:
        if self.mode == "map":
            rows = [self.func(row) for row in batch.to_pylist()]
            return _to_batches(self._rows_to_table(rows))
        if self.mode == "flat_map":
            rows = []
            for row in batch.to_pylist():
                out = self.func(row)
                if isinstance(out, dict):
                    raise TypeError(
                        f"flat_map function {_name(self.func)} must return a list of dicts, got a dict"
                    )
                rows.extend(out)
            return _to_batches(self._rows_to_table(rows))
        if self.mode == "filter":
            mask = pa.array([bool(self.func(row)) for row in batch.to_pylist()], pa.bool_())
            out = batch.filter(mask)
            return [out] if out.num_rows else []
        if self.mode == "map_batches":
            result = self.func(pa.Table.from_batches([batch]))
            if isinstance(result, pa.RecordBatch):
                result = pa.Table.from_batches([result])
            if not isinstance(result, pa.Table):
                raise TypeError(
                    f"map_batches function {_name(self.func)} must return a pyarrow.Table, "
                    f"got {type(result).__name__}"
                )
            if self._seen is None:
                self._seen = result.schema
            elif result.schema != self._seen:
                try:
                    result = result.cast(self._seen)
                except (pa.ArrowInvalid, pa.ArrowNotImplementedError, ValueError) as e:
                    raise TypeError(
                        f"map_batches function {_name(self.func)} returned tables with "
                        f"different schemas: {self._seen} and {result.schema}"
                    ) from e
            return _to_batches(result)
        raise ValueError(f"unknown batch function mode {self.mode!r}")

    def finish(self, input_schema: pa.Schema) -> Optional[pa.Schema]:
        """The output schema, needed when no rows came out."""
        if self.mode == "filter":
            return input_schema
        if self.schema is not None:
            return self.schema
        if self._seen is not None:
            return self._seen
        if self.mode == "map_batches":
            try:
                result = self.func(input_schema.empty_table())
                if isinstance(result, (pa.Table, pa.RecordBatch)):
                    return result.schema
            except Exception:
                return None
        return None


# DuckDB type names to Arrow types, for UDF results (made on first use: pyarrow is imported
# only when Arrow is needed).
@functools.lru_cache(maxsize=None)
def _arrow_types() -> Dict[str, Any]:
    return {
        "BOOLEAN": pa.bool_(),
        "TINYINT": pa.int8(),
        "SMALLINT": pa.int16(),
        "INTEGER": pa.int32(),
        "BIGINT": pa.int64(),
        "UTINYINT": pa.uint8(),
        "USMALLINT": pa.uint16(),
        "UINTEGER": pa.uint32(),
        "UBIGINT": pa.uint64(),
        "FLOAT": pa.float32(),
        "DOUBLE": pa.float64(),
        "VARCHAR": pa.string(),
        "BLOB": pa.binary(),
        "DATE": pa.date32(),
        "TIMESTAMP": pa.timestamp("us"),
        "TIMESTAMP_MS": pa.timestamp("ms"),
        "TIMESTAMP_NS": pa.timestamp("ns"),
        "TIMESTAMP_S": pa.timestamp("s"),
    }


def arrow_type(name: str) -> pa.DataType:
    name = name.strip().upper()
    if name.startswith("LIST(") and name.endswith(")"):
        return pa.list_(arrow_type(name[5:-1]))
    if name.endswith("[]"):
        return pa.list_(arrow_type(name[:-2]))
    try:
        return _arrow_types()[name]
    except KeyError:
        raise TypeError(f"UDF type {name} is not supported") from None


class ScalarUdf:
    """A Python scalar function callable from SQL (see ``smallpond.udf``, in ``smallpond._udf``)."""

    def __init__(
        self,
        name: str,
        func: Callable,
        params: List[str],
        return_type: str,
        use_arrow_type: bool = False,
    ):
        self.name = name
        self.func = func
        self.params = params
        self.return_type = return_type
        self.use_arrow_type = use_arrow_type
        self._arrow_return = arrow_type(return_type)

    def call_batch(self, batch: pa.RecordBatch) -> pa.Array:
        if self.use_arrow_type:
            out = self.func(*batch.columns)
            if isinstance(out, pa.ChunkedArray):
                out = out.combine_chunks()
            return out
        columns = [c.to_pylist() for c in batch.columns]
        if columns:
            # DuckDB's default NULL handling: any NULL argument gives NULL.
            values = [
                None if any(a is None for a in args) else self.func(*args)
                for args in zip(*columns)
            ]
        else:
            values = [self.func() for _ in range(batch.num_rows)]
        return pa.array(values, type=self._arrow_return)


def _name(func: Any) -> str:
    return getattr(func, "__qualname__", None) or getattr(func, "__name__", None) or repr(func)


def function_name(func: Any) -> str:
    module = getattr(func, "__module__", None)
    name = _name(func)
    return f"{module}.{name}" if module and module != "__main__" else name


def run_script(payload: str, context: str, output_dir: str, temp_dir: str) -> None:
    """Runs a script task (see ``smallpond_duckdb::tasks::script``): ``context`` is the
    attempt as JSON, ``output_dir`` the private directory whose files are the output."""
    import json

    load(payload).run(json.loads(context), output_dir, temp_dir)


class NodeScript:
    """One of the original's Python nodes (a slim copy, without its inputs), run as the task
    of one partition with the original's ``RuntimeContext`` and task object."""

    def __init__(self, node: Any, npartitions: int, dimensions: List[str]):
        self.node = node
        self.npartitions = npartitions
        self.dimensions = dimensions

    def run(self, context: Dict[str, Any], output_dir: str, temp_dir: str) -> None:
        from smallpond.execution.task import PartitionInfo, RuntimeContext, TaskId
        from smallpond.logical.dataset import from_engine

        runtime_ctx = RuntimeContext.of_job_dir(context["job_dir"])
        index = int(context["partition"])
        infos = [PartitionInfo(index, self.npartitions, PartitionInfo.toplevel_dimension)]
        infos += [PartitionInfo(index, self.npartitions, d) for d in self.dimensions]
        task = self.node.create_task(runtime_ctx, [], infos)
        task.id = TaskId(int(context["task"]))
        task.node_id = self.node.id
        task.retry_count = int(context["attempt"])
        task.cpu_limit = int(context["cpus"])
        task.memory_limit = int(context["memory_bytes"])
        task.gpu_limit = float(context["gpus"])
        task._output_dir = output_dir
        task._temp_dir = temp_dir
        task._seed = int(context["rand_seed"])
        task.input_datasets = [from_engine(p) for p in context["inputs"]]
        if task.run() is False:
            raise RuntimeError(f"{task.key} of {self.node!r}: process() returned False")


def _unique_names(paths: List[str]) -> List[str]:
    """The files' names, numbered (``name.<i>.ext``) when two would collide."""
    import os

    names = [os.path.basename(p) for p in paths]
    if len(set(names)) == len(names):
        return names
    return [f"{stem}.{i}{ext}" for i, (stem, ext) in enumerate(os.path.splitext(n) for n in names)]


def _job_owned(path: str, context: Dict[str, Any]) -> bool:
    """Whether ``path`` is one of the job's own files, which go when it ends: in its
    ``staging/`` or its shuffle directory."""
    import os

    owned = [os.path.join(context["job_dir"], "staging")]
    if context.get("shuffle_dir"):
        owned.append(context["shuffle_dir"])
    return any(path.startswith(d + os.sep) for d in owned)


class SinkScript:
    """A ``DataSinkNode``: links, copies or lists the input files in ``path``."""

    manifest_filename = ".MANIFEST.txt"

    def __init__(self, path: str, kind: str):
        self.path = path
        self.kind = kind

    def run(self, context: Dict[str, Any], output_dir: str, temp_dir: str) -> None:
        import os

        os.makedirs(self.path, exist_ok=True)
        sources, made = [], []
        for i, partition in enumerate(context["inputs"]):
            parquet = [d.get("Parquet") for d in partition["datasets"]]
            if partition.get("columns") is None and all(d is not None and d.get("columns") is None for d in parquet):
                sources += [str(f) for d in parquet for f in d["files"]]
            else:
                # A projection, CSV or JSON: what the sink holds is Parquet of those rows.
                made.append(self._materialise(partition, i, context))
        if self.kind == "manifest":
            # Only listed; the job's own files go when it ends, so those are kept (linked)
            # in the job's output directory.
            keep = os.path.join(context["job_dir"], "output", f".sink-{context['task']:06d}")
            listed = [self._place(s, os.path.join(keep, n), context) if _job_owned(s, context) else s
                      for s, n in zip(sources, _unique_names(sources))]
        else:
            listed = [self._place(s, os.path.join(self.path, n), context)
                      for s, n in zip(sources, _unique_names(sources))]
        if self.kind in ("link", "manifest"):
            manifest = os.path.join(self.path, self.manifest_filename)
            tmp = f"{manifest}.{context['task']}.tmp"
            with open(tmp, "w") as f:
                for p in listed + made:
                    print(p, file=f)
            os.replace(tmp, manifest)

    def _place(self, src: str, dst: str, context: Dict[str, Any]) -> str:
        """``src`` at ``dst``, complete or not at all: a hard link (``link``: a symbolic one
        across file systems) or a copy (``copy``; ``link_or_copy`` across file systems)."""
        import os
        import shutil

        os.makedirs(os.path.dirname(dst), exist_ok=True)
        tmp = os.path.join(os.path.dirname(dst), f".{os.path.basename(dst)}.{context['task']}.{context['attempt']}.tmp")
        if os.path.lexists(tmp):
            os.unlink(tmp)
        same_fs = os.stat(src).st_dev == os.stat(os.path.dirname(dst)).st_dev
        # A symbolic link to shuffle data (in memory, gone when the job ends) would dangle.
        copy_across = self.kind == "link_or_copy" or _job_owned(src, context)
        if self.kind == "copy" or (copy_across and not same_fs):
            with open(src, "rb") as fin, open(tmp, "wb") as fout:
                shutil.copyfileobj(fin, fout, length=16 << 20)
        elif same_fs:
            os.link(src, tmp)
        else:
            os.symlink(src, tmp)
        os.replace(tmp, dst)
        return dst

    def _materialise(self, partition: Dict[str, Any], index: int, context: Dict[str, Any]) -> str:
        """Writes the partition's rows as ``part-<task>-<index>.parquet`` in the sink's
        directory (renamed into place when complete)."""
        import os

        import duckdb

        from smallpond.logical.dataset import from_engine

        path = os.path.join(self.path, f"part-{context['task']:06d}-{index:05d}.parquet")
        tmp = os.path.join(self.path, f".{os.path.basename(path)}.{context['attempt']}.tmp")
        fragment = from_engine(partition).sql_query_fragment()
        literal = "'" + tmp.replace("'", "''") + "'"
        with duckdb.connect() as conn:
            conn.execute(f"COPY (SELECT * FROM {fragment}) TO {literal} (FORMAT parquet)")
        os.replace(tmp, path)
        return path
