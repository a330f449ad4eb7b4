//! smallpond-core: datasets, the logical plan and the planner of smallpond-rs.
//!
//! This crate knows nothing of DuckDB, processes or Python; everything in it is plain,
//! serialisable data and pure functions over it, so it compiles in seconds and is tested
//! with plain data.
//!
//! ```
//! use std::collections::HashMap;
//! use smallpond_core::plan::*;
//! use smallpond_core::planner::{Planner, PlannerConfig};
//! use smallpond_core::DataSet;
//!
//! let mut plan = LogicalPlan::new();
//! let src = plan.add(Node::DataSource(DataSourceNode {
//!     dataset: DataSet::parquet(vec!["prices.parquet".into()]),
//! })).unwrap();
//! let parts = plan.add(Node::HashPartition(HashPartitionNode {
//!     input: src,
//!     npartitions: 3,
//!     method: PartitionMethod::Hash(vec!["ticker".into()]),
//!     pre_query: None,
//!     partition_column: None,
//!     result: false,
//!     options: TaskOptions::default(),
//! })).unwrap();
//! let agg = plan.add(Node::Sql(SqlNode::try_new(
//!     vec![parts],
//!     "SELECT ticker, min(price), max(price) FROM {0} GROUP BY ticker",
//!     TaskOptions::default(),
//! ).unwrap())).unwrap();
//! let config = PlannerConfig::single_machine(2, 1 << 30);
//! let exec = Planner::new(&plan, &HashMap::new(), config, 0).plan(&[agg]).unwrap();
//! assert_eq!(exec.tasks.len(), 1 + 3); // one hash partitioner, three SQL tasks
//! ```

pub mod dataset;
mod error;
mod ids;
pub mod job;
pub mod plan;
pub mod planner;
pub mod storage;
pub mod task;

pub use dataset::DataSet;
pub use error::{Error, Result};
pub use ids::{JobId, NodeId, TaskId};
