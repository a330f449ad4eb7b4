use serde::{Deserialize, Serialize};

use crate::plan::SortKey;
use crate::NodeId;

/// Splits the input into `npartitions` ranges of its sort key (the first holds the
/// smallest keys), between the `npartitions - 1` boundaries that node `bounds` computed
/// (one column, `bound`, of sort keys in order; fewer rows when the input has few keys).
/// Like a hash partition, each input partition is read once by one task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RangePartitionNode {
    pub input: NodeId,
    pub bounds: NodeId,
    pub npartitions: u32,
    pub keys: Vec<SortKey>,
    pub options: crate::plan::TaskOptions,
}
