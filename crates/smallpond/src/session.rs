//! A session: one job directory, one worker pool, and the plan that DataFrames grow.
//!
//! ```text
//!  data_root/<job_time>.<job_id>/
//!      config/   plan-NNN.json, tasks-NNN.json   (one pair per action that ran tasks)
//!      log/      events.jsonl, report.html, timeline.json, graph.{json,svg,txt}, task logs
//!      staging/  task outputs and completed-task records (removed after success)
//!      temp/     DuckDB spill files                      (removed after success)
//!      output/
//!      status    running | success | failure
//! ```

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use smallpond_core::dataset::{
    resolve_paths, Column, CsvDataSet, CsvDetect, CsvDialect, JsonDataSet, ParquetDataSet,
    RemoteStats,
};
use smallpond_core::job::{JobDirs, JobLock, JobStatus};
use smallpond_core::plan::{
    DataSourceNode, ExternalFunction, LogicalPlan, Node, PartitionMethod, ScriptNode, SqlNode,
    TaskOptions, Udf,
};
use smallpond_core::planner::{Planner, PlannerConfig};
use smallpond_core::storage::{self, S3Options};
use smallpond_core::task::{ExecutionPlan, ResolvedPartition, Resources, TaskRecord};
use smallpond_core::{DataSet, Error as PlanError, JobId, NodeId, TaskId};
use smallpond_duckdb::{DuckDbRunner, Plugins};
use smallpond_exec::pool::{local_resources, LocalPool, WorkerCommand};
use smallpond_exec::scheduler::{self, Event, SchedulerConfig, Speculation};
use smallpond_exec::WorkerPool;

use crate::checks::Checks;
use crate::error::io;
use crate::optimizer::Rewrite;
use crate::report::{self, journal::Journal};
use crate::{DataFrame, Error, Result};

/// Called with every scheduler event (progress bars, logs).
pub type EventHandler = Box<dyn FnMut(&Event) + Send>;

/// Where tasks run.
#[derive(Debug, Clone)]
pub enum PoolKind {
    /// Threads of this process (default): nothing to start.
    Threads,
    /// Worker processes started with this command; a crashing task cannot take the
    /// driver down. The CLI uses `smallpond __worker`.
    Processes(WorkerCommand),
}

/// Options of [`Session::builder`].
pub struct SessionBuilder {
    data_root: Option<PathBuf>,
    job_id: Option<String>,
    num_executors: Option<u32>,
    memory_bytes: Option<u64>,
    max_attempts: u32,
    fault_inject_prob: Option<f64>,
    speculation: Speculation,
    pool: PoolKind,
    on_event: Option<EventHandler>,
    plugins: Plugins,
    job_time: Option<String>,
    custom_pool: Option<Box<dyn WorkerPool>>,
    s3: S3Options,
    shuffle_dir: Option<Option<PathBuf>>,
}

impl SessionBuilder {
    /// Where a local pool's partition tasks put their outputs, the data that the next stage
    /// reads once: a directory under `base`, which should be memory-backed (`None`: in the
    /// job directory's `staging/` with everything else). Default `$SP_SHUFFLE_DIR` (`off`
    /// for none), else `/dev/shm` when it is a tmpfs. Ray pools always use `staging/`.
    pub fn shuffle_dir(mut self, base: Option<PathBuf>) -> Self {
        self.shuffle_dir = Some(base);
        self
    }

    /// How to reach S3 (`s3://` paths), over what the environment says (`AWS_ACCESS_KEY_ID`,
    /// `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_REGION`, `AWS_ENDPOINT_URL`):
    /// the fields set here win.
    pub fn s3_options(mut self, options: S3Options) -> Self {
        self.s3 = options;
        self
    }

    /// Root of job directories; default `$SP_DATA_ROOT` or `<tmp>/smallpond`.
    pub fn data_root(mut self, path: impl Into<PathBuf>) -> Self {
        self.data_root = Some(path.into());
        self
    }

    /// Job id; a job id that has a directory under the data root resumes that job.
    /// Default `$SP_JOBID` or a fresh random id.
    pub fn job_id(mut self, id: impl Into<String>) -> Self {
        self.job_id = Some(id.into());
        self
    }

    /// CPUs (concurrent task slots) to use; default `$SP_NUM_EXECUTORS` or all cores.
    pub fn num_executors(mut self, n: u32) -> Self {
        self.num_executors = Some(n);
        self
    }

    /// Memory shared by running tasks; default the machine's memory.
    pub fn memory_limit(mut self, bytes: u64) -> Self {
        self.memory_bytes = Some(bytes);
        self
    }

    /// Attempts per task, the first included (default 3).
    pub fn max_attempts(mut self, n: u32) -> Self {
        self.max_attempts = n.max(1);
        self
    }

    /// Makes each task attempt fail on purpose with probability `p` (as the original's
    /// `fault_inject_prob`); default `$SP_FAULT_INJECT_PROB` or 0.
    pub fn fault_inject_prob(mut self, p: f64) -> Self {
        self.fault_inject_prob = Some(p);
        self
    }

    /// Speculative execution of stragglers (default: enabled).
    pub fn speculation(mut self, mode: Speculation) -> Self {
        self.speculation = mode;
        self
    }

    pub fn pool(mut self, pool: PoolKind) -> Self {
        self.pool = pool;
        self
    }

    /// Runs tasks on this pool (e.g. a Ray cluster's) instead of a local one; its
    /// capacity is what the planner and scheduler divide among tasks.
    pub fn worker_pool(mut self, pool: Box<dyn WorkerPool>) -> Self {
        self.custom_pool = Some(pool);
        self
    }

    /// Runtimes for external functions (UDFs, `map_batches`) of tasks that run in this
    /// process's threads. Worker processes load their own.
    pub fn plugins(mut self, plugins: Plugins) -> Self {
        self.plugins = plugins;
        self
    }

    /// The time part of a new job's directory name (`<job_time>.<job_id>`); default now (UTC).
    pub fn job_time(mut self, time: impl Into<String>) -> Self {
        self.job_time = Some(time.into());
        self
    }

    pub fn on_event(mut self, handler: impl FnMut(&Event) + Send + 'static) -> Self {
        self.on_event = Some(Box::new(handler));
        self
    }

    pub fn build(self) -> Result<Session> {
        let data_root = self
            .data_root
            .or_else(|| std::env::var_os("SP_DATA_ROOT").map(PathBuf::from))
            .unwrap_or_else(|| std::env::temp_dir().join("smallpond"));
        let given_id = self.job_id.or_else(|| std::env::var("SP_JOBID").ok());
        // Only a job whose id was given can be run again: a failed one keeps its shuffle
        // data for that; with a random id nobody could, so it does not.
        let rerunnable = given_id.is_some();
        let job_id = match given_id {
            Some(id) => JobId::try_new(id)?,
            None => JobId::try_new(random_id())?,
        };
        let num_executors = match self.num_executors {
            Some(n) => n,
            None => env_number("SP_NUM_EXECUTORS")?.unwrap_or(local_resources().cpus),
        };
        let fault_inject_prob = match self.fault_inject_prob {
            Some(p) => p,
            None => env_number("SP_FAULT_INJECT_PROB")?.unwrap_or(0.0),
        };
        if !(0.0..1.0).contains(&fault_inject_prob) {
            return Err(PlanError::invalid(
                "fault_inject_prob",
                format!("must be in [0, 1), got {fault_inject_prob}"),
            )
            .into());
        }
        if num_executors == 0 {
            return Err(PlanError::invalid("num_executors", "must be at least 1").into());
        }
        // A local pool's size; a custom pool (Ray) tells its own.
        let capacity = Resources::new(
            num_executors,
            self.memory_bytes.unwrap_or(local_resources().memory_bytes),
        );
        let (dirs, lock) = JobDirs::open(&data_root, &job_id, self.job_time)?;
        let shuffle_base = match self.shuffle_dir {
            _ if self.custom_pool.is_some() => None, // other machines' workers: shared storage
            Some(base) => base,
            None => default_shuffle_base(),
        };
        let dirs = match shuffle_base {
            None => dirs,
            Some(base) => {
                smallpond_core::job::sweep_shuffle(&base);
                match dirs.clone().with_shuffle(&base) {
                    Ok(with) => with,
                    Err(e) => {
                        tracing::warn!("shuffle data stays in staging/: {e}");
                        dirs
                    }
                }
            }
        };
        let journal = Journal::open(&dirs.log(), job_id.as_str())?;
        let pool: Box<dyn WorkerPool> = match (self.custom_pool, self.pool) {
            (Some(custom), _) => custom,
            (None, pool) => match pool {
                PoolKind::Threads => Box::new(LocalPool::threads(
                    Arc::new(
                        DuckDbRunner::new(format!("thread@{}", smallpond_duckdb::hostname()))
                            .with_plugins(self.plugins),
                    ),
                    capacity,
                )),
                PoolKind::Processes(command) => Box::new(LocalPool::processes(command, capacity)),
            },
        };
        // The driver's own DuckDB (plan-time checks, reads of results) opens meanwhile, as
        // the workers start: the first DataFrame operation would otherwise wait for it.
        let _ = std::thread::Builder::new()
            .name("smallpond-warm-up".into())
            .spawn(|| drop(smallpond_duckdb::connection::shared()));
        tracing::info!(job = %job_id, root = %dirs.root.display(), "session started");
        Ok(Session {
            inner: Arc::new(Inner {
                job_id,
                dirs,
                rerunnable,
                scheduler: SchedulerConfig {
                    max_attempts: self.max_attempts,
                    resume: true,
                    fault_inject_prob,
                    speculation: self.speculation,
                    s3: Some(S3Options::from_env().overridden_by(&self.s3))
                        .filter(|o| *o != S3Options::default()),
                    ..SchedulerConfig::default()
                },
                report_us: Default::default(),
                state: Mutex::new(State {
                    plan: LogicalPlan::new(),
                    computed: HashMap::new(),
                    next_task: 0,
                    runs: 0,
                    ended: JobStatus::Success,
                    closed: false,
                    pool: Some(pool),
                    on_event: self.on_event,
                    arrow_inputs: 0,
                    lock: Some(lock),
                    checks: Default::default(),
                    rewrites: HashMap::new(),
                    added: BTreeMap::new(),
                    optimized: HashSet::new(),
                    journal,
                }),
            }),
        })
    }
}

/// `$SP_SHUFFLE_DIR` (`off` or empty for none), else `/dev/shm` if it is a tmpfs: a
/// partition's outputs are written once and read once, so memory is where they cost least
/// (the 2 GB global sort took 13.5 s with its ranges on this machine's ext4, 10.7 s with them
/// here: block allocation and write-back), as in Ray's object store.
fn default_shuffle_base() -> Option<PathBuf> {
    match std::env::var_os("SP_SHUFFLE_DIR") {
        Some(v) if v.is_empty() || v == "off" => None,
        Some(v) => Some(PathBuf::from(v)),
        None => {
            let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
            let tmpfs = mounts.lines().any(|l| {
                let mut f = l.split_whitespace();
                (f.nth(1), f.next()) == (Some("/dev/shm"), Some("tmpfs"))
            });
            tmpfs.then(|| PathBuf::from("/dev/shm"))
        }
    }
}

/// A number from environment variable `name`, if it is set; an error names a bad value.
fn env_number<T: std::str::FromStr>(name: &str) -> Result<Option<T>> {
    match std::env::var(name) {
        Ok(v) => match v.trim().parse() {
            Ok(n) => Ok(Some(n)),
            Err(_) => Err(PlanError::invalid(name, format!("{v:?} is not a number")).into()),
        },
        Err(_) => Ok(None),
    }
}

fn random_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.write_u32(std::process::id());
    format!("{:016x}", h.finish())
}

pub(crate) struct Inner {
    job_id: JobId,
    dirs: JobDirs,
    /// The job id was given (not random), so that a failed job can be run again.
    rerunnable: bool,
    pub(crate) scheduler: SchedulerConfig,
    state: Mutex<State>,
    /// Time spent writing the report, timeline and graph files, in microseconds.
    report_us: std::sync::atomic::AtomicU64,
}

struct State {
    plan: LogicalPlan,
    computed: HashMap<NodeId, Vec<ResolvedPartition>>,
    next_task: u32,
    runs: u32,
    /// How the session ends: success, unless a run failed or was cancelled (the latest).
    ended: JobStatus,
    closed: bool,
    pool: Option<Box<dyn WorkerPool>>,
    on_event: Option<EventHandler>,
    arrow_inputs: u32,
    /// Held until shutdown: no other driver opens this job meanwhile.
    lock: Option<JobLock>,
    checks: Checks,
    /// The optimizer's rewrites of SQL nodes, made by the first action that computes them
    /// (the plan keeps the nodes as the user built them; the rewrites' own nodes are
    /// appended to it and listed in `added`).
    rewrites: HashMap<NodeId, Node>,
    added: BTreeMap<NodeId, NodeId>,
    optimized: HashSet<NodeId>,
    /// `log/events.jsonl`: every scheduler event, as it happens.
    journal: Journal,
}

fn known_bytes(state: &State, id: NodeId) -> Option<u64> {
    if let Some(parts) = state.computed.get(&id) {
        return parts
            .iter()
            .flat_map(|p| &p.datasets)
            .map(DataSet::known_size)
            .sum();
    }
    match state.plan.get(id).ok()? {
        Node::DataSource(n) => n.dataset.known_size(),
        Node::Projection(n) => known_bytes(state, n.input),
        Node::Consolidate(n) => known_bytes(state, n.input),
        Node::Union(n) => n.inputs.iter().map(|i| known_bytes(state, *i)).sum(),
        _ => None,
    }
}

impl Inner {
    fn state(&self) -> Result<MutexGuard<'_, State>> {
        let state = self
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if state.closed {
            return Err(Error::ShutDown);
        }
        Ok(state)
    }

    /// Whether every task of the pool runs on one machine (a local pool, or a cluster of
    /// one node): data moved between tasks then stays on the same CPUs and disk.
    pub(crate) fn one_machine(&self) -> Result<bool> {
        let state = self.state()?;
        let pool = state.pool.as_ref().ok_or(Error::ShutDown)?;
        Ok(pool.largest_task().cpus >= pool.capacity().cpus)
    }

    pub(crate) fn add(self: &Arc<Self>, node: Node) -> Result<DataFrame> {
        let id = self.state()?.plan.add(node)?;
        Ok(DataFrame::new(Arc::clone(self), id))
    }

    /// Adds a SQL node, reading pruned shuffles where the query needs fewer columns.
    pub(crate) fn add_sql(
        self: &Arc<Self>,
        inputs: Vec<NodeId>,
        setup: &[String],
        query: &str,
        options: TaskOptions,
        udfs: Vec<Udf>,
    ) -> Result<DataFrame> {
        // Added as written; the optimizer rewrites it when an action computes it.
        let node = SqlNode::try_new(inputs, query, options)?.with_setup(setup.to_vec())?;
        self.add(Node::Sql(SqlNode { udfs, ..node }))
    }

    /// How tasks reach S3; the driver's reads of object stores use the same.
    pub(crate) fn s3(&self) -> Option<&S3Options> {
        self.scheduler.s3.as_ref()
    }

    pub(crate) fn num_partitions(&self, id: NodeId) -> Result<usize> {
        Ok(self.state()?.plan.num_partitions(id)?)
    }

    /// The bytes of the files node `id` reads or wrote, when known before it runs: a data
    /// source's, a computed node's, and what only regroups them (projections, unions).
    pub(crate) fn known_bytes(&self, id: NodeId) -> Option<u64> {
        let state = self.state().ok()?;
        known_bytes(&state, id)
    }

    /// `(keys, n)` when node `id`'s partition `i` holds exactly the rows with
    /// `hash(keys) % n = i`: a hash partition, or a projection of one keeping its keys.
    pub(crate) fn hash_partitioning(&self, id: NodeId) -> Option<(Vec<String>, u32)> {
        let state = self.state().ok()?;
        let mut id = id;
        loop {
            match state.plan.get(id).ok()? {
                Node::HashPartition(h) => {
                    let PartitionMethod::Hash(keys) = &h.method else {
                        return None;
                    };
                    return Some((keys.clone(), h.npartitions));
                }
                Node::Projection(p) => id = p.input,
                _ => return None,
            }
        }
    }

    pub(crate) fn is_computed(&self, id: NodeId) -> bool {
        self.state().is_ok_and(|s| s.computed.contains_key(&id))
    }

    /// Forgets the outputs of `id` and everything it depends on (data sources excepted),
    /// so that the next action computes them again.
    pub(crate) fn invalidate(&self, id: NodeId) -> Result<()> {
        let mut state = self.state()?;
        // What it reads as it runs: the optimizer's shuffles too.
        let ancestors = planning_view(&state)?.ancestors(id)?;
        for node in ancestors {
            state.computed.remove(&node);
        }
        Ok(())
    }

    /// Computes `roots` (reusing whatever is computed already) and returns their partitions.
    /// Checks and plans `roots` as an action would, without running anything: the number
    /// of tasks that would run.
    pub(crate) fn plan_only(&self, roots: &[NodeId]) -> Result<usize> {
        let mut guard = self.state()?;
        Ok(plan_missing(&mut guard, roots)?.map_or(0, |(_, exec)| exec.tasks.len()))
    }

    pub(crate) fn compute(&self, roots: &[NodeId]) -> Result<Vec<Vec<ResolvedPartition>>> {
        let mut guard = self.state()?;
        let state = &mut *guard;
        if let Some((missing, exec)) = plan_missing(state, roots)? {
            state.next_task = Planner::next_task_id(&exec, state.next_task);
            state.runs += 1;
            let run = state.runs;
            self.write_json(
                &format!("plan-{run:03}.json"),
                &planning_view(state)?.subplan(&missing)?,
            )?;
            self.write_json(&format!("tasks-{run:03}.json"), &exec)?;
            self.write_graph(state)?;
            let pool = state.pool.as_mut().ok_or(Error::ShutDown)?;
            let journal = &mut state.journal;
            let handler = &mut state.on_event;
            let mut refreshed = std::time::Instant::now();
            let mut forward = |e: &Event| {
                journal.record(run, e);
                if let Some(handler) = handler.as_mut() {
                    handler(e);
                }
                // A long run's page and timeline follow it.
                if refreshed.elapsed() >= report::REFRESH {
                    refreshed = std::time::Instant::now();
                    self.write_report();
                }
            };
            let result = scheduler::run(
                &exec,
                &self.dirs,
                pool.as_mut(),
                &self.scheduler,
                &mut forward,
            );
            let records = match result {
                Ok(records) => {
                    state.journal.run_ended(JobStatus::Success, None);
                    self.write_report();
                    records
                }
                Err(e) => {
                    let status = match e {
                        smallpond_exec::Error::Cancelled => {
                            // Ready for the next job of the session.
                            self.scheduler.cancel.reset();
                            JobStatus::Cancelled
                        }
                        _ => JobStatus::Failure,
                    };
                    state.ended = status;
                    let _ = self.dirs.set_status(status);
                    state.journal.run_ended(status, Some(e.to_string()));
                    self.write_report();
                    return Err(e.into());
                }
            };
            let outputs = |task: TaskId, slot: u32| -> DataSet { records[&task].slot(slot) };
            for (node, partitions) in &exec.outputs {
                let resolved = partitions.iter().map(|p| p.resolve(&outputs)).collect();
                state.computed.insert(*node, resolved);
            }
            self.write_records(run, &records)?;
        }
        Ok(roots.iter().map(|r| state.computed[r].clone()).collect())
    }

    /// `log/graph.json`: the plan as the report draws it.
    fn write_graph(&self, state: &State) -> Result<()> {
        let json = serde_json::to_vec_pretty(&plan_graph(state)).expect("graphs serialise");
        report::replace(&self.dirs.log().join("graph.json"), &json)
    }

    /// The job's page, timeline and graph images; a job does not fail for want of them.
    fn write_report(&self) {
        let start = std::time::Instant::now();
        if let Err(e) = report::write(&self.dirs.root) {
            let dir = self.dirs.root.display();
            tracing::warn!("{dir}: cannot write the job report: {e}");
        }
        let spent = start.elapsed().as_micros() as u64;
        self.report_us
            .fetch_add(spent, std::sync::atomic::Ordering::Relaxed);
    }

    fn write_json(&self, name: &str, value: &impl serde::Serialize) -> Result<()> {
        let path = self.dirs.config().join(name);
        let json = serde_json::to_vec_pretty(value).expect("plans serialise");
        std::fs::write(&path, json).map_err(io(path))
    }

    /// Keeps a copy of the task records in `log/` (staging is removed after success).
    fn write_records(&self, run: u32, records: &HashMap<TaskId, TaskRecord>) -> Result<()> {
        let mut all: Vec<&TaskRecord> = records.values().collect();
        all.sort_by_key(|r| r.task);
        let path = self.dirs.log().join(format!("tasks-{run:03}.json"));
        let json = serde_json::to_vec_pretty(&all).expect("records serialise");
        std::fs::write(&path, json).map_err(io(path))
    }

    fn materialise_arrow(&self, batches: &[arrow::record_batch::RecordBatch]) -> Result<PathBuf> {
        let n = {
            let mut state = self.state()?;
            state.arrow_inputs += 1;
            state.arrow_inputs
        };
        let dir = self.dirs.staging().join("arrow");
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        let written = dir.join(format!(".new-{n:05}-{}.parquet", std::process::id()));
        smallpond_duckdb::read::write_arrow(batches, &written)?;
        Ok(self.dirs.store_input(&written)?)
    }

    fn shutdown(&self) -> Result<()> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if state.closed {
            return Ok(());
        }
        state.closed = true;
        state.pool = None; // stops worker threads / processes
        state.computed.clear();
        if state.ended != JobStatus::Success {
            tracing::info!(job = %self.job_id, status = %state.ended, "session ended; staging kept for inspection and resume");
        }
        let finished = self.dirs.finish(state.ended);
        if !self.rerunnable {
            if let Some(dir) = &self.dirs.shuffle {
                // Nothing could reuse it, and it holds memory.
                let _ = std::fs::remove_dir_all(dir);
            }
        }
        if state.runs > 0 {
            self.write_report(); // with the final status
        }
        // What seeing the job cost it (benchmarks/python/report_overhead.py reads this).
        tracing::debug!(
            journal_ms = state.journal.spent.as_secs_f64() * 1e3,
            report_ms = self.report_us.load(std::sync::atomic::Ordering::Relaxed) as f64 / 1e3,
            "time spent on the job's journal and report files"
        );
        state.lock = None; // the final status is written: another driver may take over
        Ok(finished?)
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Err(e) = self.shutdown() {
            tracing::warn!("session shutdown: {e}");
        }
    }
}

/// Options of [`Session::read_parquet_with`].
#[derive(Debug, Clone, Default)]
pub struct ParquetReadOptions {
    pub recursive: bool,
    pub columns: Option<Vec<String>>,
    pub union_by_name: bool,
}

/// Options of [`Session::read_csv_with`]. Without a schema, DuckDB's sniffer detects the
/// columns (names from a header line, types from a sample) in the first file, once, when
/// an action first plans the source, and every partition reads with what it found; so do
/// `header` and `delim` when not given. With a schema, the files have no header line
/// unless `header` says so, and `delim` is `,` unless given.
#[derive(Debug, Clone, Default)]
pub struct CsvReadOptions {
    /// `(name, DuckDB type)` pairs.
    pub schema: Option<Vec<(String, String)>>,
    pub header: Option<bool>,
    pub delim: Option<char>,
}

/// The entry point: reads data into DataFrames and runs their actions.
///
/// ```no_run
/// # fn main() -> smallpond::Result<()> {
/// let sp = smallpond::Session::builder().build()?;
/// let df = sp.read_parquet(&["prices.parquet"])?;
/// let df = df.repartition(3, smallpond::Partitioning::hash(&["ticker"]))?;
/// let df = sp.partial_sql("SELECT ticker, min(price), max(price) FROM {0} GROUP BY ticker", &[&df])?;
/// df.write_parquet("output/")?;
/// # Ok(()) }
/// ```
/// Clones share the session (one job directory, one pool); it shuts down with the last.
#[derive(Clone)]
pub struct Session {
    inner: Arc<Inner>,
}

/// The roots not computed yet and their execution plan, after checking their queries
/// (errors before any work); `None` when all are computed.
fn plan_missing(
    state: &mut State,
    roots: &[NodeId],
) -> Result<Option<(Vec<NodeId>, ExecutionPlan)>> {
    let missing: Vec<NodeId> = roots
        .iter()
        .copied()
        .filter(|r| !state.computed.contains_key(r))
        .collect();
    if missing.is_empty() {
        return Ok(None);
    }
    detect_sources(state, &missing)?;
    // Checked as the user wrote it, before anything is rewritten or runs.
    state.checks.check_all(&state.plan, &missing)?;
    optimize(state, &missing)?;
    // Asked on every run: a cluster may have gained or lost nodes since the last.
    let pool = state.pool.as_ref().ok_or(Error::ShutDown)?;
    let config = PlannerConfig::new(pool.capacity(), pool.largest_task());
    let view = planning_view(state)?;
    let exec = Planner::new(&view, &state.computed, config, state.next_task).plan(&missing)?;
    Ok(Some((missing, exec)))
}

/// Detects the columns of the CSV sources `roots` read that have no schema (once: the node
/// keeps what was found, so that every later action and task reads the same columns).
fn detect_sources(state: &mut State, roots: &[NodeId]) -> Result<()> {
    let mut todo = std::collections::BTreeSet::new();
    for &root in roots {
        todo.extend(state.plan.ancestors(root)?);
    }
    for id in todo {
        let Node::DataSource(DataSourceNode {
            dataset: DataSet::Csv(d),
        }) = state.plan.get(id)?
        else {
            continue;
        };
        if d.detect.is_none() {
            continue;
        }
        let dataset = DataSet::Csv(smallpond_duckdb::source::detect_csv(d)?);
        state
            .plan
            .replace(id, Node::DataSource(DataSourceNode { dataset }))?;
    }
    Ok(())
}

/// Rewrites the SQL nodes `roots` need that were not considered yet (the rewrites move
/// parts of a query into the shuffle before it: not with UDFs, which the shuffle does not
/// set up, nor with setup statements, whose tables it does not have). A SQL node over a
/// SQL node that only it reads, not computed yet nor asked for itself, takes the inner
/// query in (`optimizer::fuse_sql`); inputs come first, so a chain folds into one query.
fn optimize(state: &mut State, roots: &[NodeId]) -> Result<()> {
    let mut todo = std::collections::BTreeSet::new();
    for &root in roots {
        todo.extend(state.plan.ancestors(root)?);
    }
    let mut readers: HashMap<NodeId, usize> = HashMap::new();
    for (_, node) in state.plan.iter() {
        for input in node.inputs() {
            *readers.entry(input).or_default() += 1;
        }
    }
    for id in todo {
        if !state.optimized.insert(id) {
            continue;
        }
        let Node::Sql(user) = state.plan.get(id)?.clone() else {
            continue;
        };
        if !user.udfs.is_empty() || !user.setup.is_empty() {
            continue;
        }
        let mut n = user.clone();
        if let [inner_id] = n.inputs[..] {
            let private = readers.get(&inner_id) == Some(&1)
                && !roots.contains(&inner_id)
                && !state.computed.contains_key(&inner_id);
            let inner = match state.rewrites.get(&inner_id) {
                Some(rewritten) => rewritten,
                None => state.plan.get(inner_id)?,
            };
            if let (true, Node::Sql(inner)) = (private, inner) {
                if let Some(fused) = crate::optimizer::fuse_sql(&n, inner_id, inner) {
                    tracing::debug!(query = %fused.query, "one query for SQL over SQL");
                    n = fused;
                }
            }
        }
        let first_new = state.plan.next_id();
        let computed = |node: NodeId| state.computed.contains_key(&node);
        let rewrite = crate::optimizer::optimize_sql(&mut state.plan, &n, &computed);
        for new in first_new.0..state.plan.next_id().0 {
            state.added.insert(NodeId(new), id);
        }
        match rewrite {
            Rewrite::Shuffle(hash) => {
                state.rewrites.insert(id, Node::HashPartition(hash));
            }
            Rewrite::Sql { query, inputs } if query != user.query || inputs != user.inputs => {
                let rewritten = Node::Sql(SqlNode { query, inputs, ..n });
                state.rewrites.insert(id, rewritten);
            }
            Rewrite::Sql { .. } => {}
        }
    }
    Ok(())
}

/// The user's plan with the optimizer's rewrites marked, for graphs.
fn plan_graph(state: &State) -> report::PlanGraph {
    let nodes = state
        .plan
        .iter()
        .map(|(id, node)| report::GraphNode {
            id,
            kind: node.kind().to_string(),
            label: node.to_string(),
            inputs: node.inputs(),
            partitions: state.plan.num_partitions(id).ok(),
            optimized: match state.rewrites.get(&id) {
                Some(Node::Sql(r)) => Some(report::Rewrite {
                    query: r.query.clone(),
                    inputs: r.inputs.clone(),
                }),
                Some(Node::HashPartition(h)) => Some(report::Rewrite {
                    query: format!(
                        "{}, then partitioned {} ways by {}",
                        h.pre_query.as_deref().unwrap_or("{0}"),
                        h.npartitions,
                        h.method
                    ),
                    inputs: vec![h.input],
                }),
                _ => None,
            },
            added_for: state.added.get(&id).copied(),
        })
        .collect();
    report::PlanGraph { nodes }
}

/// The plan as it runs: the user's nodes with the optimizer's rewrites in place.
fn planning_view(state: &State) -> Result<std::borrow::Cow<'_, LogicalPlan>> {
    if state.rewrites.is_empty() {
        return Ok(std::borrow::Cow::Borrowed(&state.plan));
    }
    Ok(std::borrow::Cow::Owned(
        state.plan.with_replaced(&state.rewrites)?,
    ))
}

impl Session {
    pub fn builder() -> SessionBuilder {
        SessionBuilder {
            data_root: None,
            job_id: None,
            num_executors: None,
            memory_bytes: None,
            max_attempts: 3,
            fault_inject_prob: None,
            speculation: Speculation::Enabled,
            pool: PoolKind::Threads,
            on_event: None,
            plugins: Plugins::new(),
            job_time: None,
            custom_pool: None,
            s3: S3Options::default(),
            shuffle_dir: None,
        }
    }

    pub fn job_id(&self) -> &JobId {
        &self.inner.job_id
    }

    /// This job's directory under the data root.
    pub fn job_dir(&self) -> &Path {
        &self.inner.dirs.root
    }

    /// Where partition tasks put their outputs, if not in the job directory's `staging/`
    /// ([`SessionBuilder::shuffle_dir`]): this job's directory on a memory-backed file system.
    pub fn shuffle_dir(&self) -> Option<&Path> {
        self.inner.dirs.shuffle.as_deref()
    }

    /// The files that `paths` name, in order: local paths as [`resolve_paths`] resolves
    /// them, URLs as their store lists them (with what it says of each file).
    fn resolve(
        &self,
        paths: &[impl AsRef<Path>],
        recursive: bool,
        extension: &str,
    ) -> Result<(Vec<PathBuf>, RemoteStats)> {
        if paths.is_empty() {
            return Err(PlanError::invalid("paths", "no input path was given").into());
        }
        let (mut files, mut remote) = (Vec::new(), RemoteStats::new());
        let mut conn = None;
        for path in paths {
            let path = path.as_ref();
            if !storage::Scheme::of(path)?.is_remote() {
                files.extend(resolve_paths(&[path], recursive, extension)?);
                continue;
            }
            if conn.is_none() {
                conn = Some(smallpond_duckdb::remote::driver_connection(
                    self.inner.s3(),
                )?);
            }
            let listed =
                smallpond_duckdb::remote::list(conn.as_ref().unwrap(), path, recursive, extension)?;
            remote.extend(smallpond_duckdb::remote::stats(&listed));
            files.extend(listed.into_iter().map(|(f, _)| f));
        }
        Ok((files, remote))
    }

    fn source(&self, dataset: DataSet) -> Result<DataFrame> {
        self.inner.add(Node::DataSource(DataSourceNode { dataset }))
    }

    /// Parquet files: paths, globs or directories.
    pub fn read_parquet<P: AsRef<Path>>(&self, paths: &[P]) -> Result<DataFrame> {
        self.read_parquet_with(paths, ParquetReadOptions::default())
    }

    pub fn read_parquet_with<P: AsRef<Path>>(
        &self,
        paths: &[P],
        options: ParquetReadOptions,
    ) -> Result<DataFrame> {
        if options.columns.as_ref().is_some_and(Vec::is_empty) {
            return Err(
                PlanError::invalid("columns", "an empty column list selects nothing").into(),
            );
        }
        let (files, remote) = self.resolve(paths, options.recursive, ".parquet")?;
        self.source(DataSet::Parquet(ParquetDataSet {
            files,
            columns: options.columns,
            union_by_name: options.union_by_name,
            schema_file: None,
            remote,
        }))
    }

    /// Delimited text with an explicit schema (`(name, DuckDB type)` pairs), no header line.
    pub fn read_csv<P: AsRef<Path>>(
        &self,
        paths: &[P],
        schema: &[(&str, &str)],
        delim: char,
    ) -> Result<DataFrame> {
        let schema = schema
            .iter()
            .map(|(n, t)| (n.to_string(), t.to_string()))
            .collect();
        let options = CsvReadOptions {
            schema: Some(schema),
            header: Some(false),
            delim: Some(delim),
        };
        self.read_csv_with(paths, options)
    }

    /// Delimited text, with its columns given or detected (see [`CsvReadOptions`]).
    pub fn read_csv_with<P: AsRef<Path>>(
        &self,
        paths: &[P],
        options: CsvReadOptions,
    ) -> Result<DataFrame> {
        let (files, remote) = self.resolve(paths, false, ".csv")?;
        let detect = match options.schema {
            Some(_) => None,
            None => Some(CsvDetect {
                header: options.header,
                delim: options.delim,
            }),
        };
        let schema = match &options.schema {
            Some(pairs) => {
                let pairs: Vec<(&str, &str)> = pairs
                    .iter()
                    .map(|(n, t)| (n.as_str(), t.as_str()))
                    .collect();
                columns(&pairs)?
            }
            None => Vec::new(),
        };
        self.source(DataSet::Csv(CsvDataSet {
            files,
            schema,
            delim: options.delim.unwrap_or(','),
            header: options.header.unwrap_or(false),
            dialect: CsvDialect::default(),
            detect,
            remote,
        }))
    }

    /// Newline-delimited JSON with an explicit schema.
    pub fn read_json<P: AsRef<Path>>(
        &self,
        paths: &[P],
        schema: &[(&str, &str)],
    ) -> Result<DataFrame> {
        let (files, remote) = self.resolve(paths, false, ".json")?;
        self.source(DataSet::Json(JsonDataSet {
            files,
            schema: columns(schema)?,
            remote,
        }))
    }

    /// In-memory Arrow data, written into the job directory so that any worker can read it.
    pub fn from_arrow(&self, batches: &[arrow::record_batch::RecordBatch]) -> Result<DataFrame> {
        let path = self.inner.materialise_arrow(batches)?;
        self.source(DataSet::parquet(vec![path]))
    }

    /// The inputs' nodes, which must have equal partition counts (`what` names the user).
    fn aligned(&self, inputs: &[&DataFrame], what: &str) -> Result<Vec<NodeId>> {
        let ids: Vec<NodeId> = inputs.iter().map(|d| d.node()).collect();
        let counts: Vec<usize> = ids
            .iter()
            .map(|i| self.inner.num_partitions(*i))
            .collect::<Result<_>>()?;
        if counts.windows(2).any(|w| w[0] != w[1]) {
            return Err(PlanError::PartitionMismatch {
                counts,
                query: what.to_string(),
            }
            .into());
        }
        Ok(ids)
    }

    /// A DuckDB query over DataFrames: `{0}` is the first input's partition, `{1}` the
    /// second's, ... (inputs must have the same number of partitions). Without inputs the
    /// query runs once.
    pub fn partial_sql(&self, query: &str, inputs: &[&DataFrame]) -> Result<DataFrame> {
        self.partial_sql_with(query, inputs, TaskOptions::default())
    }

    pub fn partial_sql_with(
        &self,
        query: &str,
        inputs: &[&DataFrame],
        options: TaskOptions,
    ) -> Result<DataFrame> {
        self.partial_sql_udfs(query, inputs, options, Vec::new())
    }

    /// An external function (e.g. a Python function) run once per partition over all
    /// `inputs`' partitions at that index (equal partition counts; without inputs, once).
    /// It gets the input datasets and a directory; every file it writes there is the
    /// output partition (see `smallpond_core::plan::ScriptNode`).
    pub fn script(
        &self,
        function: ExternalFunction,
        inputs: &[&DataFrame],
        options: TaskOptions,
    ) -> Result<DataFrame> {
        let ids = self.aligned(inputs, &format!("script {}", function.name))?;
        self.inner.add(Node::Script(ScriptNode {
            inputs: ids,
            function,
            options,
        }))
    }

    /// Like [`Session::partial_sql_udfs`] with `setup` statements run first in each task's
    /// connection (the original smallpond's list of queries: all run, the last one's result
    /// is the output).
    pub fn partial_sql_statements(
        &self,
        setup: &[String],
        query: &str,
        inputs: &[&DataFrame],
        options: TaskOptions,
        udfs: Vec<Udf>,
    ) -> Result<DataFrame> {
        if setup.is_empty() {
            return self.partial_sql_udfs(query, inputs, options, udfs);
        }
        let ids = self.aligned(inputs, query)?;
        self.inner.add_sql(ids, setup, query, options, udfs)
    }

    /// Like [`Session::partial_sql_with`]; the query may call `udfs` (DuckDB extension
    /// files, or scalar functions of a plugin runtime).
    pub fn partial_sql_udfs(
        &self,
        query: &str,
        inputs: &[&DataFrame],
        options: TaskOptions,
        udfs: Vec<Udf>,
    ) -> Result<DataFrame> {
        let ids = self.aligned(inputs, query)?;
        self.inner.add_sql(ids, &[], query, options, udfs)
    }

    /// Computes all given DataFrames in one run (e.g. several `write_parquet_lazy`).
    pub fn wait(&self, dfs: &[&DataFrame]) -> Result<()> {
        let ids: Vec<NodeId> = dfs.iter().map(|d| d.node()).collect();
        self.inner.compute(&ids).map(|_| ())
    }

    /// The logical plan of every DataFrame built so far, as text.
    /// Checks and plans these DataFrames as an action would, without running anything;
    /// returns how many tasks would run.
    pub fn plan(&self, dfs: &[&DataFrame]) -> Result<usize> {
        let roots: Vec<NodeId> = dfs.iter().map(|d| d.node()).collect();
        self.inner.plan_only(&roots)
    }

    /// The plan of every DataFrame built so far as text, one node per line: its partitions,
    /// the optimizer's rewrites said as such, and once it ran its rows, bytes and time.
    pub fn graph(&self) -> Result<String> {
        let graph = plan_graph(&*self.inner.state()?);
        Ok(graph.text(self.node_totals().as_ref()))
    }

    /// The plan graph as an SVG image, with the same as [`Session::graph`] (drawn here,
    /// no graphviz needed).
    pub fn graph_svg(&self) -> Result<String> {
        let graph = plan_graph(&*self.inner.state()?);
        Ok(graph.svg(self.node_totals().as_ref()))
    }

    /// What each node did in the job's runs so far, from its journal; None before any ran.
    fn node_totals(&self) -> Option<HashMap<NodeId, report::NodeTotals>> {
        let view = report::JobView::read(self.job_dir()).ok()?;
        (!view.runs.is_empty()).then(|| view.node_totals())
    }

    /// The job's timeline so far, in the Chrome trace-event format (Perfetto,
    /// `chrome://tracing`): a bar per task attempt, a lane per worker slot.
    pub fn timeline(&self) -> Result<String> {
        Ok(report::chrome_trace(&report::JobView::read(
            self.job_dir(),
        )?))
    }

    /// Writes the job's report page (and timeline, graph images) now; returns the page's
    /// path. The session also writes them after every run and at shutdown.
    pub fn write_report(&self) -> Result<PathBuf> {
        report::write(self.job_dir())?;
        Ok(self.job_dir().join(report::REPORT))
    }

    /// Stops the workers; after success removes `staging/` and `temp/`, after a failure
    /// keeps them. Also happens when the session is dropped.
    pub fn shutdown(&self) -> Result<()> {
        self.inner.shutdown()
    }

    /// Cancels the job running now, from any thread: its running tasks are stopped, it
    /// returns an error (`smallpond_exec::Error::Cancelled`), publishes nothing, and the
    /// job's status is `cancelled` (a re-run with the same job id resumes it). The session
    /// stays usable.
    pub fn cancel(&self) {
        self.inner.scheduler.cancel.cancel();
    }

    /// What [`Session::cancel`] sets, for a signal handler to hold.
    pub fn cancel_token(&self) -> smallpond_exec::CancelToken {
        self.inner.scheduler.cancel.clone()
    }
}

fn columns(schema: &[(&str, &str)]) -> Result<Vec<Column>> {
    if schema.is_empty() {
        return Err(PlanError::invalid("schema", "at least one column must be declared").into());
    }
    Ok(schema.iter().map(|(n, t)| Column::new(*n, *t)).collect())
}
