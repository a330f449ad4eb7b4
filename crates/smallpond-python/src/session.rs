//! `_core.Session` and `_core.DataFrame`: thin handles on the Rust API.

use std::path::PathBuf;
use std::sync::Arc;

use arrow::record_batch::RecordBatch;
use arrow_pyarrow::{FromPyArrow, IntoPyArrow};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use smallpond::{
    Event, ExternalFunction, Gpus, ParquetOptions, ParquetReadOptions, Partitioning, Plugins,
    PoolKind, Speculation, TaskOptions, Udf, WorkerCommand,
};

use crate::plugin::{PythonPlugin, RUNTIME};
use crate::{interruptible, py_err};

pub fn plugins() -> Plugins {
    Plugins::new().with(Arc::new(PythonPlugin))
}

fn value_error(what: &str, e: impl std::fmt::Display) -> PyErr {
    pyo3::exceptions::PyValueError::new_err(format!("{what}: {e}"))
}

#[pyclass(module = "smallpond._core", frozen)]
pub struct Session {
    inner: smallpond::Session,
    tally: crate::tally::Shared,
}

/// Per-node options, from the original's keyword arguments (already renamed by the Python
/// layer): `cpu_limit`, `memory_limit`, `gpu_limit`, `compression`, `row_group_size`.
/// A node's task options, checked once when made: `smallpond._core.TaskOptions(cpu_limit=...,
/// memory_limit=..., gpu_limit=..., compression=..., row_group_size=...)`.
#[pyclass(name = "TaskOptions", module = "smallpond._core", frozen)]
pub struct PyTaskOptions(TaskOptions);

#[pymethods]
impl PyTaskOptions {
    #[new]
    #[pyo3(signature = (cpu_limit=None, memory_limit=None, gpu_limit=None, compression=None, row_group_size=None))]
    fn new(
        cpu_limit: Option<u32>,
        memory_limit: Option<u64>,
        gpu_limit: Option<f64>,
        compression: Option<String>,
        row_group_size: Option<u64>,
    ) -> PyResult<Self> {
        let default = ParquetOptions::default();
        let parquet = ParquetOptions::try_new(
            compression.as_deref().unwrap_or(&default.compression),
            row_group_size.unwrap_or(default.row_group_size),
        )
        .map_err(|e| value_error("invalid option", e))?;
        if cpu_limit == Some(0) {
            return Err(value_error("cpu_limit", "must be at least 1"));
        }
        let gpu_limit =
            Gpus::try_new(gpu_limit.unwrap_or(0.0)).map_err(|e| value_error("gpu_limit", e))?;
        Ok(Self(TaskOptions {
            cpu_limit,
            memory_limit,
            gpu_limit,
            parquet,
        }))
    }

    fn __repr__(&self) -> String {
        format!("{:?}", self.0)
    }
}

/// How `DataFrame.repartition` distributes rows: `Partitioning.Files()`, `Rows()`,
/// `Hash(columns=[...])`, `Column(column=...)` or `Random()`.
#[pyclass(
    name = "Partitioning",
    module = "smallpond._core",
    frozen,
    eq,
    from_py_object
)]
#[derive(Clone, PartialEq)]
pub enum PyPartitioning {
    Files {},
    Rows {},
    Hash { columns: Vec<String> },
    Column { column: String },
    Random {},
}

impl From<PyPartitioning> for Partitioning {
    fn from(p: PyPartitioning) -> Self {
        match p {
            PyPartitioning::Files {} => Partitioning::Files,
            PyPartitioning::Rows {} => Partitioning::Rows,
            PyPartitioning::Hash { columns } => Partitioning::Hash(columns),
            PyPartitioning::Column { column } => Partitioning::Column(column),
            PyPartitioning::Random {} => Partitioning::Random,
        }
    }
}

/// A function a query may call: `Udf.Extension(path=...)` (a DuckDB extension file) or
/// `Udf.Python(name=..., payload=...)` (a pickled `smallpond._runtime.ScalarUdf`).
#[pyclass(name = "Udf", module = "smallpond._core", frozen, eq, from_py_object)]
#[derive(Clone, PartialEq)]
pub enum PyUdf {
    Extension { path: String },
    Python { name: String, payload: String },
}

impl From<PyUdf> for Udf {
    fn from(u: PyUdf) -> Self {
        match u {
            PyUdf::Extension { path } => Udf::Extension(PathBuf::from(path)),
            PyUdf::Python { name, payload } => Udf::Scalar(python_function(name, payload)),
        }
    }
}

fn udfs(udfs: Vec<PyUdf>) -> Vec<Udf> {
    udfs.into_iter().map(Udf::from).collect()
}

/// Runs a DataFrame builder without the GIL (it may list files) and wraps its result.
fn build(
    py: Python<'_>,
    f: impl FnOnce() -> smallpond::Result<smallpond::DataFrame> + Send,
) -> PyResult<DataFrame> {
    py.detach(f).map(DataFrame::from).map_err(py_err)
}

fn cores<'a>(dfs: &'a [PyRef<'_, DataFrame>]) -> Vec<&'a smallpond::DataFrame> {
    dfs.iter().map(|d| &d.inner).collect()
}

/// The options given, or the defaults.
fn task_options(options: Option<PyRef<'_, PyTaskOptions>>) -> TaskOptions {
    options.map(|o| o.0.clone()).unwrap_or_default()
}

fn event_dict<'py>(py: Python<'py>, event: &Event) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    match event {
        Event::JobStarted { stages } => {
            d.set_item("event", "job_started")?;
            d.set_item("tasks", stages.iter().map(|s| s.tasks).sum::<usize>())?;
            let names: Vec<(u32, String, usize)> = stages
                .iter()
                .map(|s| (s.node.0, s.node_kind.clone(), s.tasks))
                .collect();
            d.set_item("stages", names)?;
        }
        Event::TaskStarted {
            task,
            node,
            partition,
            attempt,
        } => {
            d.set_item("event", "task_started")?;
            d.set_item("task", task.0)?;
            d.set_item("node", node.0)?;
            d.set_item("partition", partition)?;
            d.set_item("attempt", attempt)?;
        }
        Event::TaskFinished {
            task,
            node,
            attempt,
            rows,
            bytes,
            reused,
            host,
            worker,
        } => {
            d.set_item("event", "task_finished")?;
            d.set_item("task", task.0)?;
            d.set_item("node", node.0)?;
            d.set_item("attempt", attempt)?;
            d.set_item("rows", rows)?;
            d.set_item("bytes", bytes)?;
            d.set_item("reused", reused)?;
            d.set_item("host", host)?;
            d.set_item("worker", worker)?;
        }
        Event::TaskFailed {
            task,
            node,
            attempt,
            error,
            will_retry,
        } => {
            d.set_item("event", "task_failed")?;
            d.set_item("task", task.0)?;
            d.set_item("node", node.0)?;
            d.set_item("attempt", attempt)?;
            d.set_item("error", error.message.clone())?;
            d.set_item("will_retry", will_retry)?;
        }
        Event::TaskSpeculated {
            task,
            node,
            partition,
            attempt,
        } => {
            d.set_item("event", "task_speculated")?;
            d.set_item("task", task.0)?;
            d.set_item("node", node.0)?;
            d.set_item("partition", partition)?;
            d.set_item("attempt", attempt)?;
        }
        Event::JobFinished { ok } => {
            d.set_item("event", "job_finished")?;
            d.set_item("ok", ok)?;
        }
    }
    Ok(d)
}

fn paths(paths: Vec<String>) -> Vec<PathBuf> {
    paths.into_iter().map(PathBuf::from).collect()
}

fn schema_pairs(schema: &[(String, String)]) -> Vec<(&str, &str)> {
    schema
        .iter()
        .map(|(n, t)| (n.as_str(), t.as_str()))
        .collect()
}

/// `pyarrow.Table` (or anything with the Arrow stream interface) to record batches.
fn batches_of(table: &Bound<'_, PyAny>) -> PyResult<Vec<RecordBatch>> {
    let table = arrow_pyarrow::Table::from_pyarrow_bound(table)?;
    let (batches, schema) = table.into_inner();
    if batches.is_empty() {
        // Keep the columns of an empty table: one empty batch carries the schema.
        return Ok(vec![RecordBatch::new_empty(schema)]);
    }
    Ok(batches)
}

#[pymethods]
impl Session {
    #[new]
    #[pyo3(signature = (*, data_root=None, job_id=None, job_time=None, num_executors=None,
        memory_limit=None, max_attempts=None, fault_inject_prob=None, speculation=None,
        worker_command=None, worker_env=None, on_event=None, pool=None, storage_options=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        data_root: Option<String>,
        job_id: Option<String>,
        job_time: Option<String>,
        num_executors: Option<u32>,
        memory_limit: Option<u64>,
        max_attempts: Option<u32>,
        fault_inject_prob: Option<f64>,
        speculation: Option<String>,
        worker_command: Option<Vec<String>>,
        worker_env: Option<Vec<(String, String)>>,
        on_event: Option<Py<PyAny>>,
        pool: Option<Py<PyAny>>,
        storage_options: Option<Vec<(String, String)>>,
    ) -> PyResult<Self> {
        let mut b = smallpond::Session::builder().plugins(plugins());
        if let Some(options) = storage_options {
            let mut s3 = smallpond_core::storage::S3Options::default();
            for (key, value) in &options {
                s3.set(key, value)
                    .map_err(|e| value_error("storage_options", e))?;
            }
            b = b.s3_options(s3);
        }
        if let Some(pool) = pool {
            let pool = Python::attach(|py| crate::pool::PyPool::new(py, pool))?;
            b = b.worker_pool(Box::new(pool));
        }
        if let Some(v) = data_root {
            b = b.data_root(v);
        }
        if let Some(v) = job_id {
            b = b.job_id(v);
        }
        if let Some(v) = job_time {
            b = b.job_time(v);
        }
        if let Some(v) = num_executors {
            b = b.num_executors(v);
        }
        if let Some(v) = memory_limit {
            b = b.memory_limit(v);
        }
        if let Some(v) = max_attempts {
            b = b.max_attempts(v);
        }
        if let Some(v) = fault_inject_prob {
            b = b.fault_inject_prob(v);
        }
        if let Some(v) = speculation {
            let mode: Speculation = v.parse().map_err(|e| value_error("speculation", e))?;
            b = b.speculation(mode);
        }
        if let Some(mut cmd) = worker_command {
            if cmd.is_empty() {
                return Err(value_error("worker_command", "is empty"));
            }
            let program = PathBuf::from(cmd.remove(0));
            b = b.pool(PoolKind::Processes(WorkerCommand {
                program,
                args: cmd,
                env: worker_env.unwrap_or_default(),
            }));
        }
        let tally = crate::tally::Shared::default();
        if let Some(callback) = on_event {
            let counts = Arc::clone(&tally);
            b = b.on_event(move |event| {
                use crate::tally::Tell;
                // Counted without the GIL; the lock is released before Python runs (whose
                // display thread takes it through `progress()`).
                let tell = counts
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .count(event);
                let (event_too, stage) = match tell {
                    Tell::Nothing => return,
                    Tell::Event => (true, None),
                    Tell::EventAndStage(event_too, row) => (event_too, Some(row)),
                };
                Python::attach(|py| {
                    let mut result = Ok(());
                    if event_too {
                        result = event_dict(py, event)
                            .and_then(|d| callback.call1(py, (d,)))
                            .map(|answer| {
                                // The job's start: a true answer asks for every task's events.
                                if matches!(event, Event::JobStarted { .. }) {
                                    let every = answer.is_truthy(py).unwrap_or(false);
                                    counts.lock().unwrap_or_else(|p| p.into_inner()).every_task =
                                        every;
                                }
                            });
                    }
                    if let Some(row) = stage {
                        let d = PyDict::new(py);
                        result = result
                            .and_then(|()| d.set_item("event", "stage_finished"))
                            .and_then(|()| d.set_item("stage", row))
                            .and_then(|()| callback.call1(py, (d,)).map(|_| ()));
                    }
                    if let Err(e) = result {
                        // A broken progress display must not fail the job.
                        e.print(py);
                    }
                })
            });
        }
        let inner = b.build().map_err(py_err)?;
        Ok(Self { inner, tally })
    }

    #[getter]
    fn job_id(&self) -> String {
        self.inner.job_id().to_string()
    }

    #[getter]
    fn job_dir(&self) -> String {
        self.inner.job_dir().display().to_string()
    }

    #[pyo3(signature = (paths, recursive=false, columns=None, union_by_name=false))]
    fn read_parquet(
        &self,
        py: Python<'_>,
        paths: Vec<String>,
        recursive: bool,
        columns: Option<Vec<String>>,
        union_by_name: bool,
    ) -> PyResult<DataFrame> {
        let options = ParquetReadOptions {
            recursive,
            columns,
            union_by_name,
        };
        build(py, || {
            self.inner.read_parquet_with(&self::paths(paths), options)
        })
    }

    /// Without `schema`, the columns are detected (and `header`/`delim` if not given).
    #[pyo3(signature = (paths, schema=None, delim=None, header=None))]
    fn read_csv(
        &self,
        py: Python<'_>,
        paths: Vec<String>,
        schema: Option<Vec<(String, String)>>,
        delim: Option<&str>,
        header: Option<bool>,
    ) -> PyResult<DataFrame> {
        let delim = delim
            .map(smallpond::csv_delimiter)
            .transpose()
            .map_err(|e| value_error("delim", e))?;
        let options = smallpond::CsvReadOptions {
            schema,
            header,
            delim,
        };
        build(py, || {
            self.inner.read_csv_with(&self::paths(paths), options)
        })
    }

    fn read_json(
        &self,
        py: Python<'_>,
        paths: Vec<String>,
        schema: Vec<(String, String)>,
    ) -> PyResult<DataFrame> {
        build(py, || {
            self.inner
                .read_json(&self::paths(paths), &schema_pairs(&schema))
        })
    }

    #[allow(clippy::wrong_self_convention)] // the original API's name
    fn from_arrow(&self, py: Python<'_>, table: &Bound<'_, PyAny>) -> PyResult<DataFrame> {
        let batches = batches_of(table)?;
        build(py, || self.inner.from_arrow(&batches))
    }

    /// `setup`: statements run before the query in each task's connection.
    #[pyo3(signature = (query, inputs, udfs=Vec::new(), setup=Vec::new(), options=None))]
    fn partial_sql(
        &self,
        py: Python<'_>,
        query: &str,
        inputs: Vec<PyRef<'_, DataFrame>>,
        udfs: Vec<PyUdf>,
        setup: Vec<String>,
        options: Option<PyRef<'_, PyTaskOptions>>,
    ) -> PyResult<DataFrame> {
        let (options, udfs, dfs) = (task_options(options), self::udfs(udfs), cores(&inputs));
        build(py, || {
            self.inner
                .partial_sql_statements(&setup, query, &dfs, options, udfs)
        })
    }

    /// A pickled `smallpond._runtime` script run once per partition over `inputs`.
    #[pyo3(signature = (name, payload, inputs, options=None))]
    fn script(
        &self,
        py: Python<'_>,
        name: String,
        payload: String,
        inputs: Vec<PyRef<'_, DataFrame>>,
        options: Option<PyRef<'_, PyTaskOptions>>,
    ) -> PyResult<DataFrame> {
        let options = task_options(options);
        let (function, dfs) = (python_function(name, payload), cores(&inputs));
        build(py, || self.inner.script(function, &dfs, options))
    }

    fn wait(&self, py: Python<'_>, dfs: Vec<PyRef<'_, DataFrame>>) -> PyResult<()> {
        let dfs: Vec<smallpond::DataFrame> = dfs.iter().map(|d| d.inner.clone()).collect();
        let session = self.inner.clone();
        interruptible(py, &self.inner.cancel_token(), move || {
            let refs: Vec<&smallpond::DataFrame> = dfs.iter().collect();
            session.wait(&refs)
        })
    }

    /// Checks and plans the DataFrames without running them: the number of tasks.
    fn plan(&self, py: Python<'_>, dfs: Vec<PyRef<'_, DataFrame>>) -> PyResult<usize> {
        let dfs: Vec<smallpond::DataFrame> = dfs.iter().map(|d| d.inner.clone()).collect();
        let session = self.inner.clone();
        interruptible(py, &self.inner.cancel_token(), move || {
            let refs: Vec<&smallpond::DataFrame> = dfs.iter().collect();
            session.plan(&refs)
        })
    }

    fn graph(&self) -> PyResult<String> {
        self.inner.graph().map_err(py_err)
    }

    /// The running (or last) job's stages: `(node, kind, tasks, done, reused, running,
    /// failed, rows, bytes, elapsed, eta)`, counted from every scheduler event.
    fn progress(&self) -> Vec<crate::tally::StageRow> {
        self.tally.lock().unwrap_or_else(|p| p.into_inner()).rows()
    }

    fn graph_svg(&self) -> PyResult<String> {
        self.inner.graph_svg().map_err(py_err)
    }

    fn timeline(&self) -> PyResult<String> {
        self.inner.timeline().map_err(py_err)
    }

    fn write_report(&self) -> PyResult<String> {
        let path = self.inner.write_report().map_err(py_err)?;
        Ok(path.display().to_string())
    }

    fn shutdown(&self, py: Python<'_>) -> PyResult<()> {
        py.detach(|| self.inner.shutdown()).map_err(py_err)
    }
}

#[pyclass(module = "smallpond._core", frozen)]
pub struct DataFrame {
    inner: smallpond::DataFrame,
}

impl From<smallpond::DataFrame> for DataFrame {
    fn from(inner: smallpond::DataFrame) -> Self {
        Self { inner }
    }
}

fn table<'py>(
    py: Python<'py>,
    schema: Option<arrow::datatypes::SchemaRef>,
    batches: Vec<RecordBatch>,
) -> PyResult<Bound<'py, PyAny>> {
    let schema = match (schema, batches.first()) {
        (Some(s), _) => s,
        (None, Some(b)) => b.schema(),
        (None, None) => Arc::new(arrow::datatypes::Schema::empty()),
    };
    arrow_pyarrow::Table::try_new(batches, schema)
        .map_err(|e| value_error("result", e))?
        .into_pyarrow(py)
}

#[pymethods]
impl DataFrame {
    fn num_partitions(&self) -> PyResult<usize> {
        self.inner.num_partitions().map_err(py_err)
    }

    /// `partition_column` keeps each row's partition index (hash, column, random).
    #[pyo3(signature = (npartitions, how, partition_column=None, options=None))]
    fn repartition(
        &self,
        py: Python<'_>,
        npartitions: i64,
        how: PyPartitioning,
        partition_column: Option<String>,
        options: Option<PyRef<'_, PyTaskOptions>>,
    ) -> PyResult<DataFrame> {
        if npartitions < 1 || npartitions > i64::from(u32::MAX) {
            return Err(value_error(
                "npartitions",
                format!("must be at least 1, got {npartitions}"),
            ));
        }
        let (how, options) = (Partitioning::from(how), task_options(options));
        build(py, || {
            self.inner
                .repartition_keeping(npartitions as u32, how, options, partition_column)
        })
    }

    /// Every row to a random partition, then rows shuffled within each partition.
    #[pyo3(signature = (partition_column=None, options=None))]
    fn random_shuffle(
        &self,
        py: Python<'_>,
        partition_column: Option<String>,
        options: Option<PyRef<'_, PyTaskOptions>>,
    ) -> PyResult<DataFrame> {
        let options = task_options(options);
        build(py, || {
            self.inner.random_shuffle_with(options, partition_column)
        })
    }

    /// Rows where the SQL `predicate` holds (which may call `udfs`).
    #[pyo3(signature = (predicate, udfs=Vec::new(), options=None))]
    fn filter(
        &self,
        py: Python<'_>,
        predicate: &str,
        udfs: Vec<PyUdf>,
        options: Option<PyRef<'_, PyTaskOptions>>,
    ) -> PyResult<DataFrame> {
        let (udfs, options) = (self::udfs(udfs), task_options(options));
        build(py, || self.inner.filter_with(predicate, options, udfs))
    }

    /// `SELECT select_list FROM partition` (which may call `udfs`).
    #[pyo3(signature = (select_list, udfs=Vec::new(), options=None))]
    fn map(
        &self,
        py: Python<'_>,
        select_list: &str,
        udfs: Vec<PyUdf>,
        options: Option<PyRef<'_, PyTaskOptions>>,
    ) -> PyResult<DataFrame> {
        let (udfs, options) = (self::udfs(udfs), task_options(options));
        build(py, || self.inner.map_with(select_list, options, udfs))
    }

    /// Each partition sorted by `columns` (each may carry `ASC`/`DESC`; may call `udfs`).
    #[pyo3(signature = (columns, udfs=Vec::new(), options=None))]
    fn partial_sort(
        &self,
        py: Python<'_>,
        columns: Vec<String>,
        udfs: Vec<PyUdf>,
        options: Option<PyRef<'_, PyTaskOptions>>,
    ) -> PyResult<DataFrame> {
        let (udfs, options) = (self::udfs(udfs), task_options(options));
        build(py, || self.inner.partial_sort_with(&columns, options, udfs))
    }

    /// All rows sorted by `keys` (`(column or expression, descending)`), globally, into
    /// `npartitions` ranges (default: as many partitions as now).
    #[pyo3(signature = (keys, npartitions=None, options=None))]
    fn sort(
        &self,
        py: Python<'_>,
        keys: Vec<(String, bool)>,
        npartitions: Option<u32>,
        options: Option<PyRef<'_, PyTaskOptions>>,
    ) -> PyResult<DataFrame> {
        let keys: Vec<smallpond::SortKey> = keys
            .into_iter()
            .map(|(expr, descending)| smallpond::SortKey { expr, descending })
            .collect();
        let options = task_options(options);
        build(py, || self.inner.sort_with(&keys, npartitions, options))
    }

    /// `SELECT * FROM self <how> JOIN other USING (on)`, partition by partition: both
    /// sides hashed by `on` alike, or a side of at most `broadcast_bytes` broadcast.
    #[pyo3(signature = (other, on, how="inner", npartitions=None, broadcast_bytes=None, options=None))]
    #[allow(clippy::too_many_arguments)]
    fn join(
        &self,
        py: Python<'_>,
        other: PyRef<'_, DataFrame>,
        on: Vec<String>,
        how: &str,
        npartitions: Option<u32>,
        broadcast_bytes: Option<u64>,
        options: Option<PyRef<'_, PyTaskOptions>>,
    ) -> PyResult<DataFrame> {
        let how: smallpond::JoinHow = how.parse().map_err(py_err)?;
        let options = smallpond::JoinOptions {
            npartitions,
            broadcast_bytes: broadcast_bytes.unwrap_or(smallpond::BROADCAST_BYTES),
            options: task_options(options),
        };
        let other = &other.inner;
        build(py, || self.inner.join_with(other, &on, how, options))
    }

    /// Only these columns (no data is copied).
    fn select(&self, py: Python<'_>, columns: Vec<String>) -> PyResult<DataFrame> {
        build(py, || self.inner.select(&columns))
    }

    /// All partitions as one (no data is copied).
    fn consolidate(&self, py: Python<'_>) -> PyResult<DataFrame> {
        build(py, || self.inner.consolidate())
    }

    /// Streams partitions through a pickled `smallpond._runtime` function object.
    #[pyo3(signature = (name, payload, batch_size, options=None))]
    fn map_batches(
        &self,
        py: Python<'_>,
        name: String,
        payload: String,
        batch_size: u64,
        options: Option<PyRef<'_, PyTaskOptions>>,
    ) -> PyResult<DataFrame> {
        let (function, options) = (python_function(name, payload), task_options(options));
        build(py, || self.inner.map_batches(function, batch_size, options))
    }

    fn limit(&self, py: Python<'_>, n: u64) -> PyResult<DataFrame> {
        build(py, || self.inner.limit(n))
    }

    fn union(&self, py: Python<'_>, others: Vec<PyRef<'_, DataFrame>>) -> PyResult<DataFrame> {
        let refs = cores(&others);
        build(py, || self.inner.union(&refs))
    }

    /// `append`: add to the directory's files instead of replacing them.
    #[pyo3(signature = (path, append=false))]
    fn write_parquet_lazy(&self, py: Python<'_>, path: &str, append: bool) -> PyResult<DataFrame> {
        build(py, || match append {
            true => self.inner.append_parquet_lazy(path),
            false => self.inner.write_parquet_lazy(path),
        })
    }

    fn compute(&self, py: Python<'_>) -> PyResult<()> {
        let df = self.inner.clone();
        interruptible(py, &self.inner.cancel_token(), move || df.compute())
    }

    fn is_computed(&self) -> bool {
        self.inner.is_computed()
    }

    fn recompute(&self, py: Python<'_>) -> PyResult<DataFrame> {
        build(py, || self.inner.recompute())
    }

    fn count(&self, py: Python<'_>) -> PyResult<u64> {
        let df = self.inner.clone();
        interruptible(py, &self.inner.cancel_token(), move || df.count())
    }

    /// A `pyarrow.Table` of all rows (or the first `limit`).
    #[pyo3(signature = (limit=None))]
    fn to_arrow<'py>(&self, py: Python<'py>, limit: Option<u64>) -> PyResult<Bound<'py, PyAny>> {
        let df = self.inner.clone();
        let (schema, batches) = interruptible(py, &self.inner.cancel_token(), move || {
            df.to_arrow_table(limit, true)
        })?;
        table(py, schema, batches)
    }

    /// Paths of the computed partitions' files, one list per partition.
    fn files<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let df = self.inner.clone();
        let files = interruptible(py, &self.inner.cancel_token(), move || df.files())?;
        let lists: Vec<Vec<String>> = files
            .into_iter()
            .map(|p| p.into_iter().map(|f| f.display().to_string()).collect())
            .collect();
        PyList::new(py, lists)
    }
}

/// A pickled `smallpond._runtime` object as a function of the `python` plugin.
fn python_function(name: String, payload: String) -> ExternalFunction {
    ExternalFunction {
        runtime: RUNTIME.into(),
        name,
        payload,
    }
}
