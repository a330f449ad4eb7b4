use serde::{Deserialize, Serialize};

use crate::NodeId;

/// Splits the input into `npartitions`: by whole files (no data is read or written), or
/// by rows (one task counts and writes equal row ranges).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvenlyDistributedNode {
    pub input: NodeId,
    pub npartitions: u32,
    pub by_rows: bool,
    pub options: crate::plan::TaskOptions,
}
