use serde::{Deserialize, Serialize};

use crate::NodeId;

/// The first `limit` rows of the input (in no particular order), as one partition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LimitNode {
    pub input: NodeId,
    pub limit: u64,
}
