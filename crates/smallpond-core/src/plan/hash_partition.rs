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
    /// Ranges of the sort key of `keys`, between boundaries that the task reads from its
    /// second input (see [`RangePartitionNode`](crate::plan::RangePartitionNode)).
    Range(Vec<SortKey>),
}

/// One key of a sort: a column (or an expression) and its direction. NULLs come last in
/// either direction, as in DuckDB's `ORDER BY`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SortKey {
    pub expr: String,
    #[serde(default)]
    pub descending: bool,
}

impl SortKey {
    pub fn asc(expr: impl Into<String>) -> Self {
        Self {
            expr: expr.into(),
            descending: false,
        }
    }

    pub fn desc(expr: impl Into<String>) -> Self {
        Self {
            expr: expr.into(),
            descending: true,
        }
    }
}

impl fmt::Display for SortKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let dir = if self.descending { " DESC" } else { "" };
        write!(f, "{}{dir}", self.expr)
    }
}

impl fmt::Display for PartitionMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PartitionMethod::Hash(keys) => write!(f, "hash_by={}", keys.join(",")),
            PartitionMethod::Random => write!(f, "random"),
            PartitionMethod::Column(c) => write!(f, "by={c}"),
            PartitionMethod::Range(keys) => {
                let keys: Vec<String> = keys.iter().map(ToString::to_string).collect();
                write!(f, "range_by={}", keys.join(","))
            }
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
    /// The output is a query's result, not shuffle data: the optimizer runs a user's SQL
    /// node in this shuffle's one producer. It is written where results go (the job's
    /// staging, as `options` ask), never to the shuffle directory.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub result: bool,
    pub options: crate::plan::TaskOptions,
}
