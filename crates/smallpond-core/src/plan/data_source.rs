use serde::{Deserialize, Serialize};

use crate::DataSet;

/// Files that already exist: the leaves of every plan. One partition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataSourceNode {
    pub dataset: DataSet,
}
