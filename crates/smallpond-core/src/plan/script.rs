use serde::{Deserialize, Serialize};

use crate::plan::{ExternalFunction, TaskOptions};
use crate::NodeId;

/// Runs an external function once per partition over all of its inputs' partitions at that
/// index (like a SQL node's inputs, they must have equal partition counts). The function gets
/// the inputs as datasets (files, format, columns) and a private output directory; every file
/// it leaves there is the output partition. The original smallpond's `PythonScriptNode`,
/// `ArrowComputeNode`, `ArrowStreamNode` and the pandas nodes are built on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScriptNode {
    pub inputs: Vec<NodeId>,
    pub function: ExternalFunction,
    pub options: TaskOptions,
}
