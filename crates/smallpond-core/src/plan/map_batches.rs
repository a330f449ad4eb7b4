use serde::{Deserialize, Serialize};

use crate::NodeId;

/// A function that the task runtime supplies under a name (e.g. `python`); the plan only
/// carries an opaque payload (for Python, the pickled function), so this crate stays free
/// of any language runtime.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExternalFunction {
    /// Which runtime plugin runs it.
    pub runtime: String,
    /// Shown in logs, progress and errors (e.g. the Python function's qualified name).
    pub name: String,
    /// Opaque to everything but the plugin.
    pub payload: String,
}

/// Runs an external function over each partition's rows in record batches of at most
/// `batch_size` rows; what it returns is the output partition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MapBatchesNode {
    pub input: NodeId,
    pub function: ExternalFunction,
    pub batch_size: u64,
    pub options: crate::plan::TaskOptions,
}

/// A user-defined function available to a SQL node's query.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Udf {
    /// A DuckDB extension file, loaded into the task's connection.
    Extension(std::path::PathBuf),
    /// A scalar function that a runtime plugin registers under `function.name`.
    Scalar(ExternalFunction),
}
