//! The execution plan: tasks, their inputs, and what a finished task leaves behind.
//!
//! A [`TaskSpec`] is planned before anything runs; its inputs may name outputs of other
//! tasks ([`Part::Task`]). When those have finished, the scheduler resolves them into
//! concrete file lists and hands a self-contained [`TaskAttempt`] to a worker, which may be
//! a thread, a process or a Ray task on another node: all it needs is in the attempt.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::job::JobDirs;
use crate::plan::{ExternalFunction, ParquetOptions, PartitionMethod, Udf};
use crate::{DataSet, NodeId, TaskId};

/// CPU and memory a task may use: DuckDB gets exactly this, and the scheduler never runs
/// more at once than the pool has. GPUs are only placed by pools that have them (Ray).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resources {
    pub cpus: u32,
    pub memory_bytes: u64,
    #[serde(default, skip_serializing_if = "Gpus::is_zero")]
    pub gpus: Gpus,
}

impl Resources {
    pub fn new(cpus: u32, memory_bytes: u64) -> Self {
        Self {
            cpus,
            memory_bytes,
            gpus: Gpus::default(),
        }
    }

    /// These resources, but no more CPUs (at least one) or memory than `total` has: what
    /// one machine of a pool can hold, or one task of it can ask for.
    pub fn at_most(self, total: Resources) -> Resources {
        Resources {
            cpus: self.cpus.clamp(1, total.cpus.max(1)),
            memory_bytes: self.memory_bytes.min(total.memory_bytes),
            gpus: self.gpus,
        }
    }
}

/// A number of GPUs, possibly fractional as Ray allows (0.5 = half a GPU), kept in
/// thousandths so that resources compare exactly.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(into = "f64", try_from = "f64")]
pub struct Gpus(u32);

impl Gpus {
    pub fn try_new(gpus: f64) -> crate::Result<Self> {
        if !(0.0..=1_000_000.0).contains(&gpus) {
            return Err(crate::Error::invalid(
                "gpu_limit",
                format!("must be a number of GPUs from 0 up, got {gpus}"),
            ));
        }
        Ok(Self((gpus * 1000.0).round() as u32))
    }

    pub fn get(self) -> f64 {
        f64::from(self.0) / 1000.0
    }

    pub fn is_zero(&self) -> bool {
        self.0 == 0
    }
}

impl From<Gpus> for f64 {
    fn from(g: Gpus) -> f64 {
        g.get()
    }
}

impl TryFrom<f64> for Gpus {
    type Error = crate::Error;
    fn try_from(gpus: f64) -> crate::Result<Self> {
        Gpus::try_new(gpus)
    }
}

/// One piece of a partition's data, possibly not yet produced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Part {
    /// Files that exist now.
    Data(DataSet),
    /// Output slot `slot` of task `task`.
    Task { task: TaskId, slot: u32 },
    /// Group `index` of `of` equal groups of the files of `parts` (split by whole files
    /// once the files are known).
    Split {
        parts: Vec<Part>,
        index: u32,
        of: u32,
    },
}

impl Part {
    /// Tasks that must finish before this part can be read.
    pub fn deps(&self, out: &mut Vec<TaskId>) {
        match self {
            Part::Data(_) => {}
            Part::Task { task, .. } => out.push(*task),
            Part::Split { parts, .. } => parts.iter().for_each(|p| p.deps(out)),
        }
    }

    /// Replaces task outputs by their files. `outputs(task, slot)` gives a finished task's
    /// files; the function is only called for tasks listed by [`Part::deps`].
    pub fn resolve(&self, outputs: &dyn Fn(TaskId, u32) -> DataSet) -> Vec<DataSet> {
        match self {
            Part::Data(d) => vec![d.clone()],
            Part::Task { task, slot } => vec![outputs(*task, *slot)],
            Part::Split { parts, index, of } => {
                let datasets: Vec<DataSet> =
                    parts.iter().flat_map(|p| p.resolve(outputs)).collect();
                split_datasets(&datasets, *index as usize, *of as usize)
            }
        }
    }
}

/// Group `index` of `of` equal groups of whole files over several datasets.
fn split_datasets(datasets: &[DataSet], index: usize, of: usize) -> Vec<DataSet> {
    let total: usize = datasets.iter().map(|d| d.files().len()).sum();
    let (base, extra) = (total / of, total % of);
    let start = index * base + index.min(extra);
    let end = start + base + usize::from(index < extra);
    let mut out = Vec::new();
    let mut offset = 0;
    for d in datasets {
        let n = d.files().len();
        let (lo, hi) = (start.max(offset), end.min(offset + n));
        if lo < hi {
            out.push(d.with_files(d.files()[lo - offset..hi - offset].to_vec()));
        }
        offset += n;
    }
    if out.is_empty() {
        if let Some(first) = datasets.first() {
            // Keep the format and schema so that an empty group is an empty relation.
            out.push(first.with_files(vec![]));
        }
    }
    out
}

/// One partition of a node's output: pieces of data plus an optional column projection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Partition {
    pub parts: Vec<Part>,
    pub columns: Option<Vec<String>>,
}

impl Partition {
    pub fn from_part(part: Part) -> Self {
        Self {
            parts: vec![part],
            columns: None,
        }
    }

    pub fn deps(&self) -> Vec<TaskId> {
        let mut out = Vec::new();
        self.parts.iter().for_each(|p| p.deps(&mut out));
        out
    }

    pub fn resolve(&self, outputs: &dyn Fn(TaskId, u32) -> DataSet) -> ResolvedPartition {
        ResolvedPartition {
            datasets: self.parts.iter().flat_map(|p| p.resolve(outputs)).collect(),
            columns: self.columns.clone(),
        }
    }
}

/// A partition whose files are all known: what a worker reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResolvedPartition {
    pub datasets: Vec<DataSet>,
    pub columns: Option<Vec<String>>,
}

impl ResolvedPartition {
    pub fn files(&self) -> impl Iterator<Item = &PathBuf> {
        self.datasets.iter().flat_map(|d| d.files())
    }

    pub fn to_partition(&self) -> Partition {
        Partition {
            parts: self.datasets.iter().cloned().map(Part::Data).collect(),
            columns: self.columns.clone(),
        }
    }
}

/// What a task does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum TaskKind {
    /// Runs `query` with `{i}` bound to input `i`; one output slot.
    Sql {
        query: String,
        parquet: ParquetOptions,
        /// Set up in the connection before the query runs.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        udfs: Vec<Udf>,
        /// Statements run before `query` in the same connection.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        setup: Vec<String>,
    },
    /// Streams its one input through an external function in batches; one output slot.
    MapBatches {
        function: ExternalFunction,
        batch_size: u64,
        parquet: ParquetOptions,
    },
    /// Calls an external function with all inputs and a directory; every file it leaves
    /// there is the output (one slot).
    Script { function: ExternalFunction },
    /// Reads its one input once and writes `npartitions` output slots.
    HashPartition {
        npartitions: u32,
        method: PartitionMethod,
        /// Run over the input (as `{0}`) before partitioning.
        pre_query: Option<String>,
        /// See `HashPartitionNode::partition_column`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        partition_column: Option<String>,
        parquet: ParquetOptions,
        /// Whether a sink (or a script, which may be one) reads the output, or the output is
        /// a query's result (`HashPartitionNode::result`): it then stays out of the
        /// memory-backed shuffle directory, on the file system of `staging/`, where
        /// publishing it is a hard link instead of a copy.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        published: bool,
    },
    /// Splits its one input into `npartitions` slots of equal row counts.
    RowsPartition {
        npartitions: u32,
        /// See `EvenlyDistributedNode::in_order`.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        in_order: bool,
        parquet: ParquetOptions,
        /// As for `HashPartition`.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        published: bool,
    },
    /// Publishes all inputs (one per partition) as Parquet files in directory `path`.
    Sink {
        path: PathBuf,
        parquet: ParquetOptions,
        /// Link task outputs whatever their encoding (`parquet` then only applies to data
        /// that must be written anew, e.g. input files).
        #[serde(default)]
        keep_encoding: bool,
        /// See `DataSinkNode::append`.
        #[serde(default)]
        append: bool,
    },
}

impl TaskKind {
    /// How many output slots the task fills.
    pub fn slots(&self) -> u32 {
        match self {
            TaskKind::Sql { .. }
            | TaskKind::MapBatches { .. }
            | TaskKind::Script { .. }
            | TaskKind::Sink { .. } => 1,
            TaskKind::HashPartition { npartitions, .. }
            | TaskKind::RowsPartition { npartitions, .. } => *npartitions,
        }
    }
}

/// A planned task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskSpec {
    pub id: TaskId,
    pub node: NodeId,
    pub node_kind: String,
    /// Index of the partition this task computes (or reads, for partitioners).
    pub partition: u32,
    pub kind: TaskKind,
    pub inputs: Vec<Partition>,
    pub resources: Resources,
}

impl TaskSpec {
    /// What identifies the task's result, so that a later run of the job reuses its record
    /// only when it would compute the same thing: a stable hash (FNV-1a) of the engine's
    /// version, the node, partition, kind (query, options) and inputs, the size and
    /// modification time of every input file, and the fingerprint of every task whose
    /// output it reads (`producer`), so that a change anywhere upstream changes it. Not the
    /// resources it gets. A file that cannot be read hashes as missing.
    pub fn fingerprint(&self, producer: &dyn Fn(TaskId) -> u64) -> u64 {
        let json =
            serde_json::to_vec(&(ENGINE, &self.node, self.partition, &self.kind, &self.inputs))
                .expect("tasks serialise");
        let mut h = Fnv::default();
        h.write(&json);
        for partition in &self.inputs {
            for part in &partition.parts {
                part.identity(producer, &mut h);
            }
        }
        h.0
    }

    pub fn deps(&self) -> Vec<TaskId> {
        let mut deps: Vec<TaskId> = self.inputs.iter().flat_map(|p| p.deps()).collect();
        deps.sort();
        deps.dedup();
        deps
    }
}

/// The engine's version, in every fingerprint: a record of another version is not reused.
const ENGINE: &str = concat!("smallpond-rs ", env!("CARGO_PKG_VERSION"));

/// FNV-1a, 64 bits: stable across runs, platforms and Rust versions.
struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv {
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
}

impl Part {
    /// Feeds what the part's data is, beyond its description, to `h`: the fingerprints of
    /// producing tasks and the size and modification time of files.
    fn identity(&self, producer: &dyn Fn(TaskId) -> u64, h: &mut Fnv) {
        match self {
            Part::Data(dataset) => {
                for file in dataset.files() {
                    match dataset.stat(file) {
                        Some(stat) => {
                            h.write(&stat.size.to_le_bytes());
                            h.write(&stat.modified_us.to_le_bytes());
                        }
                        None => h.write(b"missing"),
                    }
                }
            }
            Part::Task { task, .. } => h.write(&producer(*task).to_le_bytes()),
            Part::Split { parts, .. } => parts.iter().for_each(|p| p.identity(producer, h)),
        }
    }
}

impl fmt::Display for TaskSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({} {}, partition {})",
            self.id, self.node_kind, self.node, self.partition
        )
    }
}

/// A resolved task, ready to run anywhere.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskAttempt {
    pub task: TaskId,
    pub attempt: u32,
    pub node: NodeId,
    pub node_kind: String,
    pub partition: u32,
    pub kind: TaskKind,
    pub inputs: Vec<ResolvedPartition>,
    pub resources: Resources,
    pub job: JobDirs,
    /// [`TaskSpec::fingerprint`] of the planned task, copied into its record.
    #[serde(default)]
    pub fingerprint: u64,
    /// Probability that the runtime fails this attempt on purpose after doing its work
    /// (fault injection, to prove that retries and atomic publishing hold).
    #[serde(default)]
    pub fault_inject_prob: f64,
    /// How to reach S3, for the tasks of a job that reads or writes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3: Option<crate::storage::S3Options>,
}

impl fmt::Display for TaskAttempt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} attempt {} ({} {}, partition {})",
            self.task, self.attempt, self.node_kind, self.node, self.partition
        )
    }
}

/// What a finished task leaves behind, as JSON in `staging/<task>.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskRecord {
    pub task: TaskId,
    pub node: NodeId,
    pub node_kind: String,
    pub partition: u32,
    pub attempt: u32,
    /// Identifies what the task computes; a resumed job reuses a record only if it matches.
    #[serde(default)]
    pub fingerprint: u64,
    pub host: String,
    pub worker: String,
    /// Unix time in microseconds (integers, so a record reads back exactly as written).
    pub start_us: u64,
    pub end_us: u64,
    pub rows: u64,
    pub bytes: u64,
    /// Output files per slot.
    pub outputs: Vec<Vec<PathBuf>>,
    /// A file with the output's schema, for slots that received no rows.
    pub schema_file: Option<PathBuf>,
}

impl TaskRecord {
    /// Slot `slot` of the output as a dataset (empty slots keep the schema).
    pub fn slot(&self, slot: u32) -> DataSet {
        let files = self.outputs.get(slot as usize).cloned().unwrap_or_default();
        let schema_file = if files.is_empty() {
            self.schema_file.clone()
        } else {
            None
        };
        DataSet::Parquet(crate::dataset::ParquetDataSet {
            files,
            columns: None,
            union_by_name: false,
            schema_file,
            remote: Default::default(),
        })
    }
}

/// Why an attempt failed, in a form that crosses process and node boundaries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum TaskErrorKind {
    /// DuckDB rejected or failed the query.
    Sql { sql: String },
    /// The input is wrong (bad key, corrupt file, ...): retrying will not help.
    InvalidInput,
    /// A file system operation failed.
    Io { path: PathBuf },
    /// The process running the task died.
    Crashed,
    /// DuckDB ran out of its memory limit (after spilling what it could).
    OutOfMemory,
    /// Anything else.
    Other,
}

/// A failed attempt: the error chain as text plus what kind of failure it was.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskError {
    pub kind: TaskErrorKind,
    pub message: String,
    /// Whether another attempt may succeed.
    pub retryable: bool,
}

impl fmt::Display for TaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            TaskErrorKind::Sql { sql } => write!(f, "{}\n  query: {}", self.message, sql),
            TaskErrorKind::Io { path } => write!(f, "{} ({})", self.message, path.display()),
            _ => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for TaskError {}

/// The planner's result: tasks in a runnable order plus the output partitions of each node.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ExecutionPlan {
    pub tasks: Vec<TaskSpec>,
    pub outputs: BTreeMap<NodeId, Vec<Partition>>,
}

impl fmt::Display for ExecutionPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for t in &self.tasks {
            let deps: Vec<String> = t.deps().iter().map(|d| d.to_string()).collect();
            writeln!(f, "{t} cpus={} deps=[{}]", t.resources.cpus, deps.join(","))?;
        }
        Ok(())
    }
}
