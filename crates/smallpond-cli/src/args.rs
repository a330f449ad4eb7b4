//! Command-line arguments.

use std::path::PathBuf;

use clap::{ArgGroup, Parser, Subcommand, ValueEnum};

/// smallpond: run DuckDB SQL over partitioned data, in parallel, on every core.
///
/// Example: per-ticker price ranges, with the input hashed 3 ways by ticker:
///
///   smallpond query "SELECT ticker, min(price), max(price) FROM {0} GROUP BY ticker" \
///       --input 'prices/*.parquet' --partitions 3 --hash-by ticker --output out/
///
/// Every job leaves a directory under the data root: `smallpond status` tells how it is
/// going (or how it ended), and its `log/report.html` shows the plan, the tasks of every
/// stage, the slowest tasks and the errors.
///
/// Logging: SMALLPOND_LOG=info (or debug, or a filter such as smallpond_exec=debug) prints
/// the engine's events to stderr; the default prints errors only.
#[derive(Debug, Parser)]
#[command(name = "smallpond", version, about, long_about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a SQL query on every partition of the inputs and write Parquet files.
    ///
    /// `{0}` in the query is the first --input, `{1}` the second, and so on. All inputs are
    /// partitioned the same way, so two inputs hashed by the same key can be joined per
    /// partition. Output files are named part-PPPPP-IIII.parquet, in partition order; the
    /// output directory appears complete or not at all.
    Query(Box<QueryArgs>),

    /// How a job is going, or how it ended: state, stages, the failing task, its report.
    ///
    /// Reads the job directory only, so it works from any process or machine that sees it,
    /// and tells a job whose driver was killed (`died`) from one that still runs.
    Status(StatusArgs),

    /// Write a job's report page, timeline and plan graph again, from its directory
    /// (`log/report.html`, `log/timeline.json`, `log/graph.svg`); prints the page's path.
    Report {
        /// The job's directory.
        job_dir: PathBuf,
    },

    /// Run a benchmark workload on the engine (see docs/benchmarks.md).
    #[command(subcommand)]
    Bench(BenchCommand),

    /// Internal: serve tasks on stdin/stdout (started by the driver).
    #[command(name = "__worker", hide = true)]
    Worker,
}

#[derive(Debug, clap::Args)]
#[command(group(ArgGroup::new("which").args(["job_dir", "data_root"]).required(true)))]
pub struct StatusArgs {
    /// The job's directory (`DATA_ROOT/<job_time>.<job_id>`).
    pub job_dir: Option<PathBuf>,

    /// List the last jobs under this data root instead, newest first.
    #[arg(long, value_name = "DIR")]
    pub data_root: Option<PathBuf>,

    /// How many jobs --data-root lists.
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub last: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Parquet,
    Csv,
    Json,
}

#[derive(Debug, clap::Args)]
#[command(group(ArgGroup::new("how").args(["hash_by", "by", "by_rows"])))]
pub struct QueryArgs {
    /// The DuckDB query; `{0}`, `{1}`, ... stand for the inputs.
    pub sql: String,

    /// Input files: a path, a glob or a directory. Repeat for `{1}`, `{2}`, ...
    #[arg(short, long = "input", value_name = "GLOB")]
    pub inputs: Vec<String>,

    /// Format of the input files.
    #[arg(long, value_enum, default_value = "parquet")]
    pub format: Format,

    /// Columns of CSV/JSON input: "name TYPE, name TYPE" with DuckDB types (required for
    /// JSON). Without it, a CSV input's columns are detected by DuckDB's sniffer from its
    /// first file (names from a header line, types from a sample).
    #[arg(long, value_name = "COLUMNS")]
    pub schema: Option<String>,

    /// Field delimiter of CSV input (`\t` or `tab` for a tab). Default: `,` with --schema,
    /// detected without.
    #[arg(long)]
    pub delim: Option<String>,

    /// Whether CSV files start with a header line. Default: no with --schema, detected
    /// without.
    #[arg(long, value_name = "BOOL")]
    pub header: Option<bool>,

    /// Number of partitions (default: 1 per input, i.e. no repartitioning).
    #[arg(short = 'n', long, value_name = "N")]
    pub partitions: Option<u32>,

    /// Partition rows by the hash of these columns.
    #[arg(long, value_name = "COL[,COL...]", value_delimiter = ',')]
    pub hash_by: Option<Vec<String>>,

    /// Partition by a column that already holds the partition index (0..N-1).
    #[arg(long, value_name = "COL")]
    pub by: Option<String>,

    /// Partition into equal row counts (default without --hash-by/--by: by whole files).
    #[arg(long)]
    pub by_rows: bool,

    /// Sort the query's result globally by these keys (columns or expressions, each
    /// optionally followed by ASC or DESC; NULLs last): the output files, in partition order,
    /// are sorted. The result keeps its number of partitions, each a range of the keys.
    #[arg(long, value_name = "KEY[ DESC][,KEY...]", value_delimiter = ',')]
    pub order_by: Option<Vec<String>>,

    /// Output directory for the Parquet files.
    #[arg(short, long, value_name = "DIR")]
    pub output: PathBuf,

    /// Where job directories (staging, logs) are kept [env: SP_DATA_ROOT].
    #[arg(long, value_name = "DIR")]
    pub data_root: Option<PathBuf>,

    /// CPUs to use (default: all) [env: SP_NUM_EXECUTORS].
    #[arg(long, value_name = "N")]
    pub threads: Option<u32>,

    /// Job id: re-running with the same id and data root resumes the job [env: SP_JOBID].
    #[arg(long, value_name = "ID")]
    pub job_id: Option<String>,

    /// Attempts per task, the first included.
    #[arg(long, default_value_t = 3, value_name = "N")]
    pub max_attempts: u32,

    /// Make each task attempt fail on purpose with probability P (tests retries)
    /// [env: SP_FAULT_INJECT_PROB].
    #[arg(long, value_name = "P")]
    pub fault_inject: Option<f64>,

    /// Speculative execution of stragglers: disable, enable or aggressive.
    #[arg(long, default_value = "enable", value_name = "MODE")]
    pub speculative_exec: smallpond::Speculation,

    /// Parquet compression of the output.
    #[arg(long, default_value = "zstd")]
    pub compression: String,

    /// Run tasks in threads of this process instead of worker processes.
    #[arg(long)]
    pub in_process: bool,

    /// Print no progress.
    #[arg(short, long)]
    pub quiet: bool,

    /// Check and plan the job without running it: print the plan (each node with its
    /// partitions, the optimizer's rewrites marked) and how many tasks would run, and draw
    /// it as JOB_DIR/log/graph.svg.
    #[arg(long)]
    pub explain: bool,
}

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// GraySort: generate gensort records in parallel tasks, range-partition them by key,
    /// sort each partition, write Parquet and validate the result (order, count, checksum).
    ///
    /// Prints one JSON line: records, bytes, seconds per phase, records/s and MiB/s of the
    /// sort (partition + sort + write), and the validation result.
    Graysort(GraysortArgs),
}

#[derive(Debug, clap::Args)]
pub struct GraysortArgs {
    /// Data to sort, e.g. 2GiB, 500MB (100-byte records).
    #[arg(long, default_value = "1GiB")]
    pub size: String,

    /// Output partitions (sort tasks); default 4 per core.
    #[arg(short = 'n', long, value_name = "N")]
    pub partitions: Option<u32>,

    /// Generator tasks; default one per core.
    #[arg(long, value_name = "N")]
    pub generators: Option<u32>,

    /// ASCII records (gensort -a) instead of binary ones.
    #[arg(long)]
    pub ascii: bool,

    /// Where the sorted Parquet files go; default a directory in the job's directory.
    #[arg(short, long, value_name = "DIR")]
    pub output: Option<PathBuf>,

    /// Parquet compression of the sorted output (and of the generated input).
    #[arg(long, default_value = "snappy")]
    pub compression: String,

    /// Parquet compression of the range-partitioned intermediate files: none, now that they
    /// are in memory (/dev/shm), costs the least; LZ4 did while they were on disk
    /// (docs/benchmarks.md).
    #[arg(long, value_name = "COMPRESSION", default_value = "uncompressed")]
    pub shuffle_compression: String,

    /// Keep the generated records in DIR, and reuse them if DIR already holds the same
    /// records (then generation is skipped).
    #[arg(long, value_name = "DIR")]
    pub input: Option<PathBuf>,

    /// Root of job directories [env: SP_DATA_ROOT].
    #[arg(long, value_name = "DIR")]
    pub data_root: Option<PathBuf>,

    /// Concurrent task slots (default: all cores) [env: SP_NUM_EXECUTORS].
    #[arg(long, value_name = "N")]
    pub threads: Option<u32>,

    /// Keep the sorted output (by default it is removed after validation).
    #[arg(long)]
    pub keep: bool,

    /// Sort with the DataFrame's global sort (`sort` by key: on one machine one ORDER BY
    /// cut in order, on several sampled range boundaries) instead of range-partitioning by
    /// the generator's key-prefix column. Intermediate and output files are then both in
    /// --compression.
    #[arg(long)]
    pub global_sort: bool,
}
