use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::NodeId;

/// Publishes the input as Parquet files in directory `path`, named `part-PPPPP-I.parquet`
/// so that their lexical order is the partition order. The directory appears complete or
/// not at all.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataSinkNode {
    pub input: NodeId,
    pub path: PathBuf,
    pub options: crate::plan::TaskOptions,
}
