//! smallpond-exec: runs execution plans.
//!
//! ```text
//!  ExecutionPlan ──► scheduler::run ──submit──► WorkerPool ──► TaskRunner::run(attempt)
//!                        ▲    (retries, resources,   (threads | worker processes | Ray)
//!                        └──── completions ◄────────────┘
//! ```
//! The scheduler is written once against the [`WorkerPool`] trait; pools only decide where
//! an attempt runs. [`TaskRunner`] is the task runtime (DuckDB in `smallpond-duckdb`).

mod error;
pub mod pool;
mod runner;
pub mod scheduler;

pub use error::{Error, Result};
pub use pool::{Completion, WorkerPool};
pub use runner::TaskRunner;
pub use scheduler::{CancelToken, Event, SchedulerConfig, Stage};
