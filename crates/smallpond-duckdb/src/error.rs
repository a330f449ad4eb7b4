use std::path::PathBuf;

use smallpond_core::task::{TaskError, TaskErrorKind};

/// What can go wrong inside one task (or one driver-side read).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// DuckDB's message without its excerpt of the statement (ours: `COPY (...) TO`, with
    /// internal view names), which the user would not recognise: `sql` is what is shown.
    #[error("{}", duckdb_message(error))]
    Sql { sql: String, error: duckdb::Error },

    #[error("I/O error on {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("invalid input: {0}")]
    InvalidInput(String),

    #[error("partitioning lost rows: read {rows_in} rows, wrote {rows_out}")]
    RowCountMismatch { rows_in: u64, rows_out: u64 },

    #[error("injected fault (fault_inject_prob)")]
    InjectedFault,

    #[error("function {name} failed: {message}")]
    Function { name: String, message: String },

    #[error("writing Parquet {}: {message}", path.display())]
    Parquet { path: PathBuf, message: String },

    /// An object store refused or did not answer a request (`what`: copy, delete, ...).
    #[error("{what}: {message}")]
    Storage { what: String, message: String },
}

/// Job-directory operations (`smallpond_core::job`) fail on a path.
impl From<smallpond_core::Error> for Error {
    fn from(e: smallpond_core::Error) -> Self {
        match e {
            smallpond_core::Error::Io { path, source } => Error::Io { path, source },
            other => Error::InvalidInput(other.to_string()),
        }
    }
}

/// A DuckDB error's message, without the `LINE n: <statement>` excerpt and its caret, and
/// with internal view names given back as `{0}`, `{1}`, ...
pub(crate) fn duckdb_message(error: &duckdb::Error) -> String {
    let text = error.to_string();
    let kept = match text.find("\n\nLINE ") {
        // The excerpt is two lines, the statement and its caret; keep what follows them.
        Some(at) => match text[at + 2..].splitn(3, '\n').nth(2) {
            Some(rest) if !rest.is_empty() => format!("{}\n{rest}", &text[..at]),
            _ => text[..at].to_string(),
        },
        None => text,
    };
    crate::bind::user_text(&kept)
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
    let path = path.into();
    move |source| Error::Io { path, source }
}

/// DuckDB error classes that describe the query or the data, not the moment: another
/// attempt would fail the same way.
const PERMANENT: [&str; 9] = [
    "Parser Error",
    "Binder Error",
    "Catalog Error",
    "Invalid Input Error",
    "Conversion Error",
    "Syntax Error",
    "Not implemented Error",
    "Constraint Error",
    "Out of Range Error",
];

impl Error {
    /// Whether another attempt may succeed. DuckDB reports its error class as the start of
    /// the message (`Binder Error: ...`); that class is the only part looked at.
    pub fn retryable(&self) -> bool {
        match self {
            Error::Sql { error, .. } => {
                let message = error.to_string();
                !PERMANENT.iter().any(|class| message.starts_with(class))
            }
            Error::Io { .. }
            | Error::RowCountMismatch { .. }
            | Error::InjectedFault
            | Error::Storage { .. } => true,
            Error::InvalidInput(_) | Error::Parquet { .. } | Error::Function { .. } => false,
        }
    }
}

impl From<Error> for TaskError {
    fn from(e: Error) -> Self {
        let retryable = e.retryable();
        let kind = match &e {
            Error::Sql { error, .. } if error.to_string().starts_with("Out of Memory Error") => {
                TaskErrorKind::OutOfMemory
            }
            Error::Sql { sql, .. } => TaskErrorKind::Sql { sql: sql.clone() },
            Error::Io { path, .. } => TaskErrorKind::Io { path: path.clone() },
            Error::InvalidInput(_) | Error::Parquet { .. } => TaskErrorKind::InvalidInput,
            Error::RowCountMismatch { .. }
            | Error::InjectedFault
            | Error::Function { .. }
            | Error::Storage { .. } => TaskErrorKind::Other,
        };
        TaskError {
            kind,
            message: e.to_string(),
            retryable,
        }
    }
}
