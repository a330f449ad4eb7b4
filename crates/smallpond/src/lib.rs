//! smallpond-rs: partitioned DuckDB jobs on one machine or many — the Rust API.
//!
//! A [`Session`] reads data into [`DataFrame`]s; DataFrame operations build a logical
//! plan; actions (`count`, `to_arrow`, `write_parquet`, ...) plan it into one task per
//! partition and run the tasks on DuckDB, in parallel, with retries.
//!
//! ```text
//!  Session / DataFrame ──► LogicalPlan ──► Planner ──► tasks ──► Scheduler ──► WorkerPool
//!      (this crate)        (smallpond-core)              (smallpond-exec)   (smallpond-duckdb)
//! ```
//!
//! ```no_run
//! use smallpond::{Partitioning, Session};
//!
//! # fn main() -> smallpond::Result<()> {
//! let sp = Session::builder().build()?;
//! let prices = sp.read_parquet(&["prices.parquet"])?;
//! let parts = prices.repartition(3, Partitioning::hash(&["ticker"]))?;
//! let stats = sp.partial_sql(
//!     "SELECT ticker, min(price) AS low, max(price) AS high FROM {0} GROUP BY ticker",
//!     &[&parts],
//! )?;
//! stats.write_parquet("output/")?;
//! println!("{} tickers", stats.count()?); // reuses the computed result
//! # Ok(()) }
//! ```

mod checks;
mod dataframe;
mod error;
mod optimizer;
pub mod progress;
pub mod report;
mod session;

pub use dataframe::{DataFrame, JoinHow, JoinOptions, Partitioning, BROADCAST_BYTES};
pub use error::{Error, Result};
pub use session::{
    CsvReadOptions, EventHandler, ParquetReadOptions, PoolKind, Session, SessionBuilder,
};
pub use smallpond_core::plan::{ExternalFunction, ParquetOptions, SortKey, TaskOptions, Udf};
pub use smallpond_core::storage::S3Options;
pub use smallpond_core::task::Gpus;
pub use smallpond_duckdb::{Plugin, PluginError, Plugins, ScriptCall};
pub use smallpond_exec::pool::WorkerCommand;
pub use smallpond_exec::scheduler::{Event, Speculation, Stage};

/// The CSV delimiter a user wrote (one character, or `\t` for a tab), for
/// [`Session::read_csv`].
pub fn csv_delimiter(text: &str) -> Result<char> {
    Ok(smallpond_core::dataset::CsvDataSet::delimiter(text)?)
}

/// Pretty-prints Arrow batches as a table.
pub fn pretty(batches: &[arrow::record_batch::RecordBatch]) -> String {
    arrow::util::pretty::pretty_format_batches(batches)
        .map(|t| t.to_string())
        .unwrap_or_else(|e| format!("<cannot format: {e}>"))
}

pub use arrow;
