/// Errors of the Rust API: each layer's error, kept whole so the cause chain is visible.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Plan(#[from] smallpond_core::Error),

    #[error(transparent)]
    Job(#[from] smallpond_exec::Error),

    #[error(transparent)]
    Runtime(#[from] smallpond_duckdb::Error),

    /// A query that cannot run on its inputs, found when its DataFrame was built.
    #[error(transparent)]
    Query(#[from] smallpond_duckdb::bind::QueryError),

    #[error("I/O error on {}: {source}", path.display())]
    Io {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("the session has been shut down")]
    ShutDown,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

pub(crate) fn io(path: impl Into<std::path::PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
    let path = path.into();
    move |source| Error::Io { path, source }
}
