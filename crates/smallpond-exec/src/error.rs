use std::path::PathBuf;

use smallpond_core::task::TaskError;
use smallpond_core::{NodeId, TaskId};

/// Why a job (one scheduler run) failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "{task} ({node_kind} {node}, partition {partition}) failed after {attempts} attempt(s): {error}"
    )]
    TaskFailed {
        task: TaskId,
        node: NodeId,
        node_kind: String,
        partition: u32,
        attempts: u32,
        /// Shown in the message; not a `source()` too, or a report of the chain says it twice.
        error: TaskError,
    },

    #[error("worker pool: {0}")]
    Pool(String),

    #[error("I/O error on {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("job cancelled")]
    Cancelled,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
