use serde::{Deserialize, Serialize};

use crate::NodeId;

/// The partitions of all inputs, one after another (no data is copied).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnionNode {
    pub inputs: Vec<NodeId>,
}
