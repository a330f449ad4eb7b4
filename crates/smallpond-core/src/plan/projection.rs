use serde::{Deserialize, Serialize};

use crate::NodeId;

/// Keeps only `columns`; no data is copied, readers just read fewer columns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectionNode {
    pub input: NodeId,
    pub columns: Vec<String>,
}
