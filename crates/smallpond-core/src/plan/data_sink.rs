use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::NodeId;

/// Publishes the input as Parquet files in directory `path`, named `part-PPPPP-I.parquet`
/// so that their lexical order is the partition order. The directory appears complete or
/// not at all.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataSinkNode {
    pub input: NodeId,
    pub path: PathBuf,
    pub options: crate::plan::TaskOptions,
    /// Publish task outputs as they are encoded (as the original smallpond does), rather
    /// than re-encode those not written with `options.parquet`.
    #[serde(default)]
    pub keep_encoding: bool,
    /// Add the files to what the directory holds (same-named files replaced), as the
    /// original smallpond's `write_parquet` does, instead of replacing the directory.
    #[serde(default)]
    pub append: bool,
}
