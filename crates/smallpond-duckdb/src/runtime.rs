//! The DuckDB task runner: runs one attempt, publishes its output, writes its record.
//!
//! An attempt writes into its private directory, which is published by one rename; its
//! record is written last (the job-directory protocol: `smallpond_core::job`).

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, TryLockError};
use std::time::{SystemTime, UNIX_EPOCH};

use duckdb::Connection;

use smallpond_core::plan::{ParquetOptions, PartitionMethod, Udf};
use smallpond_core::task::{TaskAttempt, TaskError, TaskErrorKind, TaskKind, TaskRecord};
use smallpond_exec::TaskRunner;

use crate::error::io;
use crate::plugin::Plugins;
use crate::tasks::{self, Output};
use crate::{connection, Error, Result};

/// Runs tasks on DuckDB. `worker` names this worker in task records.
pub struct DuckDbRunner {
    worker: String,
    plugins: Plugins,
    /// The connections of the attempts running now (several, on threads), for
    /// [`TaskRunner::interrupt`].
    running: std::sync::Mutex<Vec<std::sync::Arc<duckdb::InterruptHandle>>>,
    /// This process's database, which attempt after attempt connects to instead of opening
    /// one of its own: an open costs 10-20 ms (DuckDB fills a catalog of thousands of
    /// functions), a connection microseconds. One attempt at a time holds it, as its
    /// settings (threads, memory limit, spill directory) are the database's; attempts
    /// running beside it on other threads, and those that would leave something in it
    /// (functions, loaded extensions, a query's set-up statements), open their own.
    database: Mutex<Option<Database>>,
    /// The name of that database's spill directory in a job's `temp/`, this runner's own
    /// (two databases spilling into one directory would collide on file names).
    spill_dir: String,
}

/// A database kept for the attempts of this process, and the settings it has now.
struct Database {
    conn: Connection,
    settings: String,
}

/// An attempt's connection: to the runner's database, held for the attempt, or to one of
/// its own.
enum TaskConnection<'a> {
    Own(Connection),
    Shared {
        conn: Connection,
        _database: MutexGuard<'a, Option<Database>>,
    },
}

impl std::ops::Deref for TaskConnection<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        match self {
            TaskConnection::Own(conn) | TaskConnection::Shared { conn, .. } => conn,
        }
    }
}

impl DuckDbRunner {
    pub fn new(worker: impl Into<String>) -> Self {
        Self {
            worker: worker.into(),
            plugins: Plugins::new(),
            running: std::sync::Mutex::new(Vec::new()),
            database: Mutex::new(None),
            spill_dir: {
                static RUNNERS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
                let n = RUNNERS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                format!("worker-{}-{n}", std::process::id())
            },
        }
    }

    /// A connection with the attempt's settings: to this process's database when it is
    /// free and `isolated` is false, else to a database of its own that spills into
    /// `temp`. This process's database spills into a directory of its own in the job
    /// (DuckDB keeps the directory it has spilled into: it cannot move to each attempt's),
    /// and settings that did not change are not set again (the four cost ~1 ms).
    fn connect(
        &self,
        a: &TaskAttempt,
        temp: &Path,
        keep_order: bool,
        isolated: bool,
        extensions: bool,
    ) -> Result<TaskConnection<'_>> {
        let database = match self.database.try_lock() {
            _ if isolated => None,
            Ok(guard) => Some(guard),
            Err(TryLockError::Poisoned(p)) => Some(p.into_inner()),
            Err(TryLockError::WouldBlock) => None,
        };
        if let Some(mut database) = database {
            let spill = a.job.temp().join(&self.spill_dir);
            let settings = connection::settings(&a.resources, &spill, keep_order);
            if database.as_ref().is_none_or(|db| db.settings != settings) {
                // DuckDB makes the spill directory, not its parent.
                let _ = std::fs::create_dir_all(a.job.temp());
            }
            // A database that cannot take these settings (it has spilled into another
            // job's directory) is replaced by a fresh one.
            for _ in 0..2 {
                if database.is_none() {
                    *database = Database::open();
                }
                let Some(db) = database.as_mut() else { break };
                match db.connect(&settings) {
                    Ok(conn) => {
                        return Ok(TaskConnection::Shared {
                            conn,
                            _database: database,
                        })
                    }
                    Err(e) => {
                        tracing::debug!("a new database for this attempt: {e}");
                        *database = None;
                    }
                }
            }
        }
        let conn = connection::open_with(&a.resources, temp, keep_order, extensions)?;
        Ok(TaskConnection::Own(conn))
    }

    /// Closes this process's database, so that the next attempt starts from a new one.
    fn forget_database(&self) {
        *self.database.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }

    /// Runs external functions (UDFs, `map_batches`) with these plugins.
    pub fn with_plugins(mut self, plugins: Plugins) -> Self {
        self.plugins = plugins;
        self
    }

    /// The attempt's record, and a line for its log about where the time went.
    fn run_attempt(&self, a: &TaskAttempt) -> Result<(TaskRecord, Option<String>)> {
        let start = unix_now();
        let pid = std::process::id();
        let mut shuffle = shuffle_fits(a);
        // A query's output is one file: a file of its own, no directory (see
        // `JobDirs::attempt_file`).
        let one_file = matches!(a.kind, TaskKind::Sql { .. });
        let (mut private, temp) = match one_file {
            true => a.job.attempt_file(a.task, a.attempt, pid)?,
            false => match a.job.attempt_dirs(a.task, a.attempt, pid, shuffle) {
                Ok(dirs) => dirs,
                Err(e) if shuffle => {
                    tracing::warn!(task = %a.task, "shuffle directory unusable ({e}); writing to staging/");
                    shuffle = false;
                    a.job.attempt_dirs(a.task, a.attempt, pid, false)?
                }
                Err(e) => return Err(e.into()),
            },
        };
        let remove_private = |private: &Path| {
            let _ = match one_file {
                true => std::fs::remove_file(private),
                false => std::fs::remove_dir_all(private),
            };
        };
        // Faults are injected after the work and before publishing, where a crash hurts
        // most; a sink publishes inside its work, so its fault comes first.
        let sink = matches!(a.kind, TaskKind::Sink { .. });
        let mut result = if sink && inject_fault(a) {
            Err(Error::InjectedFault)
        } else {
            self.execute(a, &private, &temp)
        };
        if shuffle && result.as_ref().is_err_and(out_of_space) {
            // The memory-backed shuffle directory filled up (other tasks' data since the
            // check): the same attempt again, into the job's staging directory.
            tracing::info!(task = %a.task, "shuffle directory full; writing to staging/");
            self.forget_database();
            remove_private(&private);
            (private, _) = a.job.attempt_dirs(a.task, a.attempt, pid, false)?;
            result = self.execute(a, &private, &temp);
        }
        let result = result.and_then(|out| {
            if !sink && inject_fault(a) {
                Err(Error::InjectedFault)
            } else {
                Ok(out)
            }
        });
        if result.is_err() {
            // Whatever a failed attempt left in this process's database goes with it.
            self.forget_database();
        }
        let _ = std::fs::remove_dir_all(&temp);
        let output = match result {
            Ok(output) => output,
            Err(e) => {
                remove_private(&private);
                return Err(e);
            }
        };
        let published = match one_file {
            true => a.job.publish_attempt_file(&private, a.task, a.attempt)?,
            false => a.job.publish_attempt(&private, a.task, a.attempt)?,
        };
        let relocate = |p: PathBuf| match p.strip_prefix(&private) {
            _ if p == private => published.clone(),
            Ok(rest) => published.join(rest),
            Err(_) => p,
        };
        let outputs: Vec<Vec<PathBuf>> = output
            .outputs
            .into_iter()
            .map(|files| files.into_iter().map(relocate).collect())
            .collect();
        let mut bytes = 0;
        // Files published into an object store are not counted.
        for f in outputs
            .iter()
            .flatten()
            .filter(|f| !smallpond_core::storage::is_remote(f))
        {
            bytes += std::fs::metadata(f).map_err(io(f))?.len();
        }
        let record = TaskRecord {
            task: a.task,
            node: a.node,
            node_kind: a.node_kind.clone(),
            partition: a.partition,
            attempt: a.attempt,
            fingerprint: a.fingerprint,
            host: hostname(),
            worker: format!("{}:{pid}", self.worker),
            start_us: start,
            end_us: unix_now(),
            rows: output.rows,
            bytes,
            outputs,
            schema_file: output.schema_file.map(relocate),
        };
        a.job.write_record(&record)?;
        tracing::debug!(task = %a.task, rows = record.rows, "task finished");
        Ok((record, output.detail))
    }

    /// Runs the attempt into `dir`, its private directory, or for a query its private file.
    fn execute(&self, a: &TaskAttempt, dir: &Path, temp: &Path) -> Result<Output> {
        let keep_order = match &a.kind {
            TaskKind::Sql { .. }
            | TaskKind::Sink { .. }
            | TaskKind::MapBatches { .. }
            | TaskKind::Script { .. } => true,
            TaskKind::HashPartition { .. } | TaskKind::RowsPartition { .. } => false,
        };
        let extensions = matches!(&a.kind, TaskKind::Sql { udfs, .. }
            if udfs.iter().any(|u| matches!(u, Udf::Extension(_))));
        if let TaskKind::Script { function } = &a.kind {
            return tasks::script::run(&self.plugins, function, a, dir, temp);
        }
        // What would stay in a database after the attempt: functions, extensions, whatever
        // set-up statements make.
        let isolated = matches!(&a.kind, TaskKind::Sql { udfs, setup, .. }
            if !udfs.is_empty() || !setup.is_empty());
        let conn = self.connect(a, temp, keep_order, isolated, extensions)?;
        let _running = Running::register(&self.running, conn.interrupt_handle());
        let writes_remote = matches!(&a.kind, TaskKind::Sink { path, .. }
            if smallpond_core::storage::is_remote(path));
        if writes_remote || crate::remote::reads_remote(&a.inputs) {
            crate::remote::enable(&conn, a.s3.as_ref())?;
        }
        let in_memory = a.job.shuffle.as_deref().is_some_and(|s| dir.starts_with(s));
        let single = |what: &str| -> Result<&smallpond_core::task::ResolvedPartition> {
            match a.inputs.as_slice() {
                [one] => Ok(one),
                _ => Err(Error::InvalidInput(format!(
                    "a {what} task needs exactly one input, got {}",
                    a.inputs.len()
                ))),
            }
        };
        match &a.kind {
            TaskKind::Sql {
                query,
                parquet,
                udfs,
                setup,
            } => {
                self.set_up_udfs(&conn, udfs)?;
                let values = crate::source::QueryValues::of(a);
                tasks::sql::run(&conn, setup, query, &a.inputs, &values, parquet, dir)
            }
            TaskKind::MapBatches {
                function,
                batch_size,
                parquet,
            } => tasks::map_batches::MapBatchesTask {
                function,
                batch_size: *batch_size,
                parquet,
                plugins: &self.plugins,
            }
            .run(&conn, single("map_batches")?, a.partition, dir),
            TaskKind::Script { .. } => unreachable!("run above, without a database"),
            TaskKind::HashPartition {
                npartitions,
                method,
                pre_query,
                partition_column,
                parquet,
                ..
            } => {
                let parquet = &shuffle_encoding(parquet, in_memory);
                if let PartitionMethod::Range(keys) = method {
                    let [input, bounds] = a.inputs.as_slice() else {
                        return Err(Error::InvalidInput(format!(
                            "a range partition task needs its input and the boundaries, got {} inputs",
                            a.inputs.len()
                        )));
                    };
                    return tasks::hash_partition::run_range(
                        &conn,
                        input,
                        bounds,
                        keys,
                        *npartitions,
                        parquet,
                        dir,
                    );
                }
                let values = crate::source::QueryValues::of(a);
                tasks::hash_partition::run(
                    &conn,
                    single("partition")?,
                    &tasks::hash_partition::Routing {
                        method,
                        n: *npartitions,
                        keep: partition_column.as_deref(),
                    },
                    pre_query.as_deref().map(|q| (q, &values)),
                    parquet,
                    dir,
                )
            }
            TaskKind::RowsPartition {
                npartitions,
                in_order,
                parquet,
                ..
            } => {
                let parquet = &shuffle_encoding(parquet, in_memory);
                let run = match in_order {
                    true => tasks::rows_partition::run_in_order,
                    false => tasks::rows_partition::run,
                };
                run(&conn, single("partition")?, *npartitions, parquet, dir)
            }
            TaskKind::Sink {
                path,
                parquet,
                keep_encoding,
                append,
            } => tasks::sink::SinkTask {
                path,
                parquet,
                keep_encoding: *keep_encoding,
                append: *append,
                job: &a.job,
                tag: format!("{}.{}", a.task, a.attempt),
                s3: a.s3.as_ref(),
            }
            .run(&conn, &a.inputs),
        }
    }
}

impl DuckDbRunner {
    /// Loads extension files and registers plugin functions that a query calls.
    fn set_up_udfs(&self, conn: &duckdb::Connection, udfs: &[Udf]) -> Result<()> {
        for udf in udfs {
            match udf {
                Udf::Extension(path) => {
                    if !path.is_file() {
                        return Err(Error::InvalidInput(format!(
                            "DuckDB extension file {} does not exist",
                            path.display()
                        )));
                    }
                    let sql = format!("LOAD {}", crate::source::path_literal(path));
                    connection::execute(conn, &sql, &sql)?;
                }
                Udf::Scalar(function) => self
                    .plugins
                    .get(&function.runtime)?
                    .register_scalar(conn, function)
                    .map_err(|message| Error::Function {
                        name: function.name.clone(),
                        message,
                    })?,
            }
        }
        Ok(())
    }
}

impl TaskRunner for DuckDbRunner {
    fn run(&self, attempt: &TaskAttempt) -> std::result::Result<TaskRecord, TaskError> {
        let _span =
            tracing::info_span!("task", task = %attempt.task, attempt = attempt.attempt).entered();
        let started = std::time::Instant::now();
        let mut detail = None;
        let result = self.run_attempt(attempt).map(|(record, d)| {
            detail = d;
            record
        });
        let result = result.map_err(|e| {
            let mut error = TaskError::from(e);
            if error.kind == TaskErrorKind::OutOfMemory {
                error.message = format!(
                    "{} [this attempt's memory_limit: {} MB, spilling to its temp directory]",
                    error.message,
                    attempt.resources.memory_bytes / 1_000_000
                );
            }
            error
        });
        write_task_log(attempt, &self.worker, started.elapsed(), &result, detail);
        result
    }

    fn interrupt(&self) {
        for handle in self
            .running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
        {
            handle.interrupt();
        }
    }

    /// Opens this process's database before the first attempt: a process's first DuckDB
    /// database costs more than the next (page faults over the library's code, its one-time
    /// set-up): 22 ms against 10 ms with the official library, measured in
    /// docs/benchmarks.md.
    fn warm_up(&self) {
        let mut database = self.database.lock().unwrap_or_else(|p| p.into_inner());
        if database.is_none() {
            *database = Database::open();
        }
    }
}

impl Database {
    fn open() -> Option<Self> {
        let opened = connection::in_memory().and_then(|conn| {
            connection::execute(&conn, "SELECT 1", "SELECT 1")?;
            Ok(conn)
        });
        match opened {
            Ok(conn) => Some(Self {
                conn,
                settings: String::new(),
            }),
            Err(e) => {
                tracing::debug!("could not open the worker's database: {e}");
                None
            }
        }
    }

    /// A connection of its own (its temporary views die with it) with `settings`.
    fn connect(&mut self, settings: &str) -> Result<Connection> {
        let conn = self.conn.try_clone().map_err(|error| Error::Sql {
            sql: "connect to the worker's database".into(),
            error,
        })?;
        if self.settings != settings {
            self.settings.clear();
            connection::execute(&conn, settings, settings)?;
            self.settings = settings.to_string();
        }
        Ok(conn)
    }
}

/// An attempt's connection in [`DuckDbRunner`]'s list while it runs.
struct Running<'a> {
    list: &'a std::sync::Mutex<Vec<std::sync::Arc<duckdb::InterruptHandle>>>,
    handle: std::sync::Arc<duckdb::InterruptHandle>,
}

impl<'a> Running<'a> {
    fn register(
        list: &'a std::sync::Mutex<Vec<std::sync::Arc<duckdb::InterruptHandle>>>,
        handle: std::sync::Arc<duckdb::InterruptHandle>,
    ) -> Self {
        list.lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(std::sync::Arc::clone(&handle));
        Self { list, handle }
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.list
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|h| !std::sync::Arc::ptr_eq(h, &self.handle));
    }
}

/// Appends one attempt's story (what it ran, on which worker, and how it ended) to its
/// task's log if it failed or is not the task's first attempt, else to this process's
/// attempts log: a job of 1,000 tiny tasks that all succeed writes one log per worker, not
/// 1,000 files. Logging must never fail a task, so errors here are only traced.
fn write_task_log(
    a: &TaskAttempt,
    worker: &str,
    elapsed: std::time::Duration,
    result: &std::result::Result<TaskRecord, TaskError>,
    detail: Option<String>,
) {
    use std::io::Write;
    let what = match &a.kind {
        TaskKind::Sql { query, setup, .. } => {
            let before: String = setup.iter().map(|s| format!("{s}; ")).collect();
            format!("sql: {before}{query}")
        }
        TaskKind::MapBatches {
            function,
            batch_size,
            ..
        } => format!(
            "map_batches: {}:{} (batch_size {batch_size})",
            function.runtime, function.name
        ),
        TaskKind::Script { function } => {
            format!("script: {}:{}", function.runtime, function.name)
        }
        TaskKind::HashPartition {
            npartitions,
            method,
            pre_query,
            ..
        } => format!("partition {npartitions} ways by {method}, pre_query: {pre_query:?}"),
        TaskKind::RowsPartition {
            npartitions,
            in_order,
            ..
        } => match in_order {
            true => format!("partition {npartitions} ways by rows, in order"),
            false => format!("partition {npartitions} ways by rows"),
        },
        TaskKind::Sink { path, .. } => format!("publish to {}", path.display()),
    };
    let files: usize = a.inputs.iter().map(|p| p.files().count()).sum();
    let outcome = match result {
        Ok(r) => format!(
            "ok: {} rows, {} bytes, {} files",
            r.rows,
            r.bytes,
            r.outputs.iter().map(Vec::len).sum::<usize>()
        ),
        Err(e) => format!("failed (retryable: {}): {e}", e.retryable),
    };
    let host = hostname();
    let text = format!(
        "{a} on {worker}:{pid}@{host}\n  {what}\n  inputs: {files} files; cpus {cpus}, memory {mb} MB\n  {outcome} after {secs:.3}s\n{detail}",
        detail = detail.map(|d| format!("  {d}\n")).unwrap_or_default(),
        pid = std::process::id(),
        cpus = a.resources.cpus,
        mb = a.resources.memory_bytes / 1_000_000,
        secs = elapsed.as_secs_f64(),
    );
    let path = if result.is_err() || a.attempt > 1 {
        a.job.task_log(a.task)
    } else {
        a.job.attempts_log(&host, std::process::id())
    };
    // The driver's runner threads share a process, so they share its attempts log: one
    // story at a time.
    static APPEND: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one_at_a_time = APPEND.lock().unwrap_or_else(|p| p.into_inner());
    let written = std::fs::create_dir_all(a.job.log()).and_then(|()| {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)?
            .write_all(text.as_bytes())
    });
    if let Err(e) = written {
        tracing::warn!(path = %path.display(), "could not write the task log: {e}");
    }
}

/// How a partition task encodes its outputs: as its node asks, except in the memory-backed
/// shuffle directory, where a codec heavier than snappy (zstd, gzip, brotli) gives way to
/// snappy. Those files are read once by the next stage and deleted; a sink that publishes
/// them writes them anew with its own codec (they are not in `staging/`, so never linked).
/// On W2 (2 GiB of records hashed 16 ways by a column) the partition task took 5.3 s with
/// zstd, 3.9 s with snappy or uncompressed (docs/benchmarks.md).
fn shuffle_encoding(asked: &ParquetOptions, in_memory: bool) -> ParquetOptions {
    let heavy = matches!(asked.compression.as_str(), "zstd" | "gzip" | "brotli");
    let mut options = asked.clone();
    if in_memory && heavy {
        options.compression = "snappy".into();
    }
    options
}

/// Whether attempt `a` stages its outputs in the job's shuffle directory: a partition task
/// (its outputs are read once, by the next stage) that no sink reads, of a job that has
/// one, whose local inputs would take at most a quarter of the space free there and of the
/// memory available. The plainly encoded partitions take up to ~2.5 times their compressed
/// input (the GraySort records: 0.85 GB of snappy Parquet, 2.2 GB of partitions), so 4
/// times is the estimate.
fn shuffle_fits(a: &TaskAttempt) -> bool {
    let Some(dir) = &a.job.shuffle else {
        return false;
    };
    if !matches!(
        a.kind,
        TaskKind::HashPartition {
            published: false,
            ..
        } | TaskKind::RowsPartition {
            published: false,
            ..
        }
    ) {
        return false;
    }
    let mut input = 0u64;
    for file in a.inputs.iter().flat_map(|p| p.files()) {
        match std::fs::metadata(file) {
            Ok(m) if !smallpond_core::storage::is_remote(file) => input += m.len(),
            _ => return false,
        }
    }
    let free = free_bytes(dir).min(available_memory());
    input.saturating_mul(4).saturating_mul(4) <= free
}

/// The bytes an unprivileged writer may still put under `dir` (or its nearest existing
/// ancestor); 0 when unknown.
fn free_bytes(dir: &Path) -> u64 {
    let mut at = Some(dir);
    while let Some(d) = at {
        if let Ok(st) = rustix::fs::statvfs(d) {
            return st.f_bavail.saturating_mul(st.f_frsize);
        }
        at = d.parent();
    }
    0
}

/// `MemAvailable` of /proc/meminfo in bytes; 0 when unknown.
fn available_memory() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            let line = m.lines().find(|l| l.starts_with("MemAvailable:"))?;
            line.split_whitespace().nth(1)?.parse::<u64>().ok()
        })
        .map_or(0, |kib| kib.saturating_mul(1024))
}

/// Whether `e` says a file system is full (DuckDB's message or ours, ENOSPC).
fn out_of_space(e: &Error) -> bool {
    match e {
        Error::Io { source, .. } => source.raw_os_error() == Some(28),
        other => other.to_string().contains("No space left on device"),
    }
}

/// Draws whether this attempt fails on purpose, with probability `a.fault_inject_prob`.
fn inject_fault(a: &TaskAttempt) -> bool {
    use std::hash::{BuildHasher, Hasher};
    if a.fault_inject_prob <= 0.0 {
        return false;
    }
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(a.task.0);
    h.write_u32(a.attempt);
    h.write_u64(unix_now());
    let draw = (h.finish() >> 11) as f64 / (1u64 << 53) as f64;
    draw < a.fault_inject_prob
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

pub use smallpond_core::job::hostname;

#[cfg(test)]
mod tests {
    use super::out_of_space;
    use crate::Error;

    #[test]
    fn a_full_file_system_is_told_from_other_failures() {
        // DuckDB's own error for a write that finds no space (/dev/full always says so).
        let conn = duckdb::Connection::open_in_memory().unwrap();
        let write = |query: &str, file: &str| {
            crate::tasks::write_parquet_file(
                &conn,
                query,
                std::path::Path::new(file),
                &Default::default(),
                "write",
            )
            .unwrap_err()
        };
        let full = write("SELECT 1 AS x", "/dev/full");
        assert!(out_of_space(&full), "{full}");
        let ours = Error::Io {
            path: "/x".into(),
            source: std::io::Error::from_raw_os_error(28),
        };
        assert!(out_of_space(&ours));
        let other = write("SELECT nope", "/tmp/never-written.parquet");
        assert!(!out_of_space(&other), "{other}");
        let denied = Error::Io {
            path: "/x".into(),
            source: std::io::Error::from_raw_os_error(13),
        };
        assert!(!out_of_space(&denied));
    }
}
