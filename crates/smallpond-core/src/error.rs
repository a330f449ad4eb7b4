//! Errors of plan building and planning.

use std::path::PathBuf;

/// Everything that can go wrong before a single task runs: bad arguments, missing input,
/// a plan that cannot be turned into tasks.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid argument `{argument}`: {reason}")]
    InvalidArgument { argument: String, reason: String },

    #[error("input path does not exist: {}", path.display())]
    PathNotFound { path: PathBuf },

    #[error(
        "{path:?}: the {scheme}:// scheme is not supported; paths are local or shared file \
         systems, s3:// (S3-compatible object stores) or http(s):// (read only)"
    )]
    UnsupportedScheme { path: String, scheme: String },

    #[error("input {} is not a regular file but {kind}; give files or directories of files", path.display())]
    NotARegularFile { path: PathBuf, kind: &'static str },

    #[error("no file matches {pattern:?}")]
    EmptyGlob { pattern: String },

    #[error("invalid glob pattern {pattern:?}: {reason}")]
    BadGlob { pattern: String, reason: String },

    #[error("query references {{{index}}} but {given} input(s) were given: {query}")]
    PlaceholderOutOfRange {
        index: usize,
        given: usize,
        query: String,
    },

    #[error("inputs must have the same number of partitions, got {counts:?}: {query}")]
    PartitionMismatch { counts: Vec<usize>, query: String },

    #[error("unknown node {0}")]
    UnknownNode(crate::NodeId),

    #[error(
        "job {job_id:?} is in use by another driver ({holder}): its directory {} has one \
         driver at a time; choose another job_id, or wait until that job ends",
        dir.display()
    )]
    JobInUse {
        job_id: String,
        dir: PathBuf,
        holder: String,
    },

    #[error("I/O error on {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn invalid(argument: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::InvalidArgument {
            argument: argument.into(),
            reason: reason.into(),
        }
    }
}
