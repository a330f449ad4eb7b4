//! smallpond-duckdb: the task runtime. One task runs on one DuckDB connection configured
//! with the task's threads, memory limit and temp directory; it reads its inputs straight
//! from their files with DuckDB's readers and writes Parquet.
//!
//! ```text
//!  TaskAttempt ──► DuckDbRunner::run ──► tasks::{sql, hash_partition, rows_partition, sink}
//!                        │                         │ COPY (...) TO private dir
//!                        └── publish (rename) ◄────┘ then write the task record
//! ```
//!
//! ```no_run
//! use smallpond_duckdb::read;
//! use smallpond_core::task::ResolvedPartition;
//! use smallpond_core::DataSet;
//!
//! let part = ResolvedPartition {
//!     datasets: vec![DataSet::parquet(vec!["prices.parquet".into()])],
//!     columns: None,
//! };
//! let rows = read::count(&[part]).unwrap();
//! println!("{rows} rows");
//! ```

pub mod analyze;
pub mod bind;
pub mod connection;
mod error;
pub mod plugin;
mod publish;
pub mod read;
pub mod remote;
mod runtime;
mod s3;
pub mod source;
pub mod tasks;
pub mod unify;

pub use error::{Error, Result};
pub use plugin::{Plugin, PluginError, Plugins, ScriptCall};
pub use runtime::{hostname, DuckDbRunner};
