use serde::{Deserialize, Serialize};

use crate::NodeId;

/// Splits the input into `npartitions`: by whole files (no data is read or written), or
/// by rows (one task counts and writes equal row ranges), or with `in_order` by rows
/// keeping their order: partition `i` holds the rows after those of partition `i - 1`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvenlyDistributedNode {
    pub input: NodeId,
    pub npartitions: u32,
    pub by_rows: bool,
    /// With `by_rows`: the rows keep their order across the partitions, and a large input
    /// is cut between Parquet row groups, which are copied as they are (not decoded), so
    /// each partition holds the ideal row count to within a row group. A global sort on
    /// one machine is one `ORDER BY`, cut this way.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub in_order: bool,
    pub options: crate::plan::TaskOptions,
}
