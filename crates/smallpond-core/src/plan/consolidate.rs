use serde::{Deserialize, Serialize};

use crate::NodeId;

/// Merges all partitions of the input into one (file lists only; no data is copied).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsolidateNode {
    pub input: NodeId,
}
