use std::fmt;

use serde::{Deserialize, Serialize};

use crate::NodeId;

/// How a row's output partition is chosen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum PartitionMethod {
    /// `hash(keys...) % n`: equal keys land in the same partition.
    Hash(Vec<String>),
    /// A uniformly random partition per row.
    Random,
    /// The column already holds the partition index, which must lie in `0..n`.
    Column(String),
}

impl fmt::Display for PartitionMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PartitionMethod::Hash(keys) => write!(f, "hash_by={}", keys.join(",")),
            PartitionMethod::Random => write!(f, "random"),
            PartitionMethod::Column(c) => write!(f, "by={c}"),
        }
    }
}

/// Repartitions the input into `npartitions`. Every input partition is read once by one
/// task that writes all output partitions in that single pass.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HashPartitionNode {
    pub input: NodeId,
    pub npartitions: u32,
    pub method: PartitionMethod,
    /// A query (over `{0}`, the input partition) run before partitioning, e.g. a partial
    /// aggregation, so that the shuffle carries fewer rows. Set by the optimizer.
    #[serde(default)]
    pub pre_query: Option<String>,
    /// Also write each row's partition index into this column (UBIGINT), replacing a column
    /// of that name, as the original smallpond's `data_partition_column` does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition_column: Option<String>,
    pub options: crate::plan::TaskOptions,
}
