//! The logical plan: a DAG of nodes built by DataFrame operations.
//!
//! ```text
//!  DataSource ──► HashPartition(3, ticker) ──► Sql("select ... group by ticker") ──► DataSink
//! ```
//!
//! Nodes live in an append-only arena ([`LogicalPlan`]) and name their inputs by [`NodeId`],
//! so the whole plan serialises to JSON as it is and a node, once added, never changes:
//! a computed node's output can be reused by every later action of the session.
//!
//! Each variant of [`Node`] is one struct in its own file; the planner (`crate::planner`)
//! has one arm per variant, with no catch-all, so a new node kind cannot be forgotten there.

mod consolidate;
mod data_sink;
mod data_source;
mod evenly_distributed;
mod hash_partition;
mod limit;
mod map_batches;
mod projection;
mod range_partition;
mod script;
pub mod sql;
mod union;

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

pub use consolidate::ConsolidateNode;
pub use data_sink::DataSinkNode;
pub use data_source::DataSourceNode;
pub use evenly_distributed::EvenlyDistributedNode;
pub use hash_partition::{HashPartitionNode, PartitionMethod, SortKey};
pub use limit::LimitNode;
pub use map_batches::{ExternalFunction, MapBatchesNode, Udf};
pub use projection::ProjectionNode;
pub use range_partition::RangePartitionNode;
pub use script::ScriptNode;
pub use sql::{placeholders, SqlNode};

use crate::task::Gpus;
use crate::{Error, NodeId, Result};
pub use union::UnionNode;

/// How a task writes its Parquet output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParquetOptions {
    /// DuckDB's COMPRESSION option: `zstd`, `snappy`, `lz4`, `gzip`, `uncompressed`.
    pub compression: String,
    /// Rows per row group.
    pub row_group_size: u64,
    /// Whether columns may be dictionary-encoded (DuckDB tries every column, strings and
    /// numbers alike, and gives up on columns of many distinct values). Off for data written
    /// to be read back once (a sort's ranges, a join's hashed sides), where trying costs more
    /// than it saves. Serialised as `string_dictionary` before it covered every column.
    #[serde(
        default = "yes",
        skip_serializing_if = "is_true",
        alias = "string_dictionary"
    )]
    pub dictionary: bool,
}

fn yes() -> bool {
    true
}

fn is_true(v: &bool) -> bool {
    *v
}

impl Default for ParquetOptions {
    fn default() -> Self {
        Self {
            compression: "zstd".into(),
            row_group_size: 122_880,
            dictionary: true,
        }
    }
}

impl ParquetOptions {
    pub fn try_new(compression: &str, row_group_size: u64) -> Result<Self> {
        const KNOWN: [&str; 6] = ["zstd", "snappy", "lz4", "gzip", "uncompressed", "brotli"];
        let compression = compression.to_ascii_lowercase();
        if !KNOWN.contains(&compression.as_str()) {
            return Err(Error::invalid(
                "compression",
                format!("{compression:?} is not one of {KNOWN:?}"),
            ));
        }
        if row_group_size == 0 {
            return Err(Error::invalid("row_group_size", "must be at least 1"));
        }
        Ok(Self {
            compression,
            row_group_size,
            dictionary: true,
        })
    }
}

/// Per-node options that end up on every task of the node.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskOptions {
    /// DuckDB threads (and scheduler CPU slots) per task; `None` = the planner decides.
    pub cpu_limit: Option<u32>,
    /// DuckDB `memory_limit` per task in bytes; `None` = a share of the machine's memory.
    pub memory_limit: Option<u64>,
    /// GPUs per task, for pools that place tasks on GPUs (Ray's `num_gpus`).
    #[serde(default, skip_serializing_if = "Gpus::is_zero")]
    pub gpu_limit: Gpus,
    pub parquet: ParquetOptions,
}

/// One node of the logical plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Node {
    DataSource(DataSourceNode),
    EvenlyDistributed(EvenlyDistributedNode),
    HashPartition(HashPartitionNode),
    RangePartition(RangePartitionNode),
    Sql(SqlNode),
    Limit(LimitNode),
    MapBatches(MapBatchesNode),
    Script(ScriptNode),
    Projection(ProjectionNode),
    Consolidate(ConsolidateNode),
    Union(UnionNode),
    DataSink(DataSinkNode),
}

impl Node {
    /// The nodes this one reads.
    pub fn inputs(&self) -> Vec<NodeId> {
        match self {
            Node::DataSource(_) => vec![],
            Node::EvenlyDistributed(n) => vec![n.input],
            Node::HashPartition(n) => vec![n.input],
            Node::RangePartition(n) => vec![n.input, n.bounds],
            Node::Sql(n) => n.inputs.clone(),
            Node::Limit(n) => vec![n.input],
            Node::MapBatches(n) => vec![n.input],
            Node::Script(n) => n.inputs.clone(),
            Node::Projection(n) => vec![n.input],
            Node::Consolidate(n) => vec![n.input],
            Node::Union(n) => n.inputs.clone(),
            Node::DataSink(n) => vec![n.input],
        }
    }

    /// A short name for logs, progress bars and task records.
    pub fn kind(&self) -> &'static str {
        match self {
            Node::DataSource(_) => "DataSource",
            Node::EvenlyDistributed(_) => "EvenlyDistributedPartition",
            Node::HashPartition(_) => "HashPartition",
            Node::RangePartition(_) => "RangePartition",
            Node::Sql(_) => "SqlEngine",
            Node::Limit(_) => "Limit",
            Node::MapBatches(_) => "MapBatches",
            Node::Script(_) => "Script",
            Node::Projection(_) => "Projection",
            Node::Consolidate(_) => "Consolidate",
            Node::Union(_) => "Union",
            Node::DataSink(_) => "DataSink",
        }
    }
}

impl fmt::Display for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Node::DataSource(n) => write!(f, "DataSource({} files)", n.dataset.files().len()),
            Node::EvenlyDistributed(n) => write!(
                f,
                "EvenlyDistributedPartition(n={}, by_rows={}{})",
                n.npartitions,
                n.by_rows,
                if n.in_order { ", in order" } else { "" }
            ),
            Node::HashPartition(n) => {
                write!(f, "HashPartition(n={}, {}", n.npartitions, n.method)?;
                match &n.pre_query {
                    Some(q) => write!(f, ", pre_query={q:?})"),
                    None => write!(f, ")"),
                }
            }
            Node::RangePartition(n) => {
                let keys: Vec<String> = n.keys.iter().map(ToString::to_string).collect();
                write!(
                    f,
                    "RangePartition(n={}, by={})",
                    n.npartitions,
                    keys.join(", ")
                )
            }
            Node::Sql(n) => write!(f, "SqlEngine({:?})", n.query),
            Node::Limit(n) => write!(f, "Limit({})", n.limit),
            Node::MapBatches(n) => write!(
                f,
                "MapBatches({}:{}, batch_size={})",
                n.function.runtime, n.function.name, n.batch_size
            ),
            Node::Script(n) => write!(
                f,
                "Script({}:{}, {} inputs)",
                n.function.runtime,
                n.function.name,
                n.inputs.len()
            ),
            Node::Projection(n) => write!(f, "Projection({})", n.columns.join(", ")),
            Node::Consolidate(_) => write!(f, "Consolidate"),
            Node::Union(n) => write!(f, "Union({} inputs)", n.inputs.len()),
            Node::DataSink(n) => write!(f, "DataSink({})", n.path.display()),
        }
    }
}

/// An arena of nodes; ids are dense and increasing, so inputs always precede their users.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct LogicalPlan {
    nodes: BTreeMap<NodeId, Node>,
}

impl LogicalPlan {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a node after checking that its inputs exist.
    pub fn add(&mut self, node: Node) -> Result<NodeId> {
        for input in node.inputs() {
            if !self.nodes.contains_key(&input) {
                return Err(Error::UnknownNode(input));
            }
        }
        let id = NodeId(self.nodes.len() as u32);
        self.nodes.insert(id, node);
        Ok(id)
    }

    /// A copy in which some nodes are replaced (the optimizer's rewrites, for planning): a
    /// replacement may read any node of the plan, so ids need not increase along its edges.
    pub fn with_replaced<'a>(
        &self,
        replacements: impl IntoIterator<Item = (&'a NodeId, &'a Node)>,
    ) -> Result<LogicalPlan> {
        let mut nodes = self.nodes.clone();
        for (id, node) in replacements {
            for input in node.inputs() {
                if !nodes.contains_key(&input) {
                    return Err(Error::UnknownNode(input));
                }
            }
            *nodes.get_mut(id).ok_or(Error::UnknownNode(*id))? = node.clone();
        }
        Ok(LogicalPlan { nodes })
    }

    /// Puts `node` in the place of node `id`; it must read the same inputs (what a node is
    /// resolved into before planning, e.g. a CSV source once its columns are detected).
    pub fn replace(&mut self, id: NodeId, node: Node) -> Result<()> {
        let old = self.nodes.get_mut(&id).ok_or(Error::UnknownNode(id))?;
        if old.inputs() != node.inputs() {
            return Err(Error::invalid(
                "replace",
                format!("node {} would change its inputs", id.0),
            ));
        }
        *old = node;
        Ok(())
    }

    /// The id the next added node gets.
    pub fn next_id(&self) -> NodeId {
        NodeId(self.nodes.len() as u32)
    }

    pub fn get(&self, id: NodeId) -> Result<&Node> {
        self.nodes.get(&id).ok_or(Error::UnknownNode(id))
    }

    /// `root` and every node it depends on, inputs first.
    pub fn ancestors(&self, root: NodeId) -> Result<Vec<NodeId>> {
        let mut seen = std::collections::BTreeSet::new();
        let mut stack = vec![root];
        while let Some(id) = stack.pop() {
            if seen.insert(id) {
                stack.extend(self.get(id)?.inputs());
            }
        }
        // Ids increase along edges, so ascending order is a topological order (in a
        // `with_replaced` copy it is only the set of them).
        Ok(seen.into_iter().collect())
    }

    /// The sub-plan that `roots` need, as a standalone plan (for `config/` and `graph()`).
    pub fn subplan(&self, roots: &[NodeId]) -> Result<LogicalPlan> {
        let mut nodes = BTreeMap::new();
        for root in roots {
            for id in self.ancestors(*root)? {
                nodes.insert(id, self.get(id)?.clone());
            }
        }
        Ok(LogicalPlan { nodes })
    }

    pub fn iter(&self) -> impl Iterator<Item = (NodeId, &Node)> {
        self.nodes.iter().map(|(id, n)| (*id, n))
    }

    /// How many partitions a node's output has; known before anything runs.
    pub fn num_partitions(&self, id: NodeId) -> Result<usize> {
        Ok(match self.get(id)? {
            Node::DataSource(_) | Node::Limit(_) | Node::Consolidate(_) | Node::DataSink(_) => 1,
            Node::EvenlyDistributed(n) => n.npartitions as usize,
            Node::HashPartition(n) => n.npartitions as usize,
            Node::RangePartition(n) => n.npartitions as usize,
            Node::Sql(n) => match n.inputs.first() {
                Some(first) => self.num_partitions(*first)?,
                None => 1,
            },
            Node::Script(n) => match n.inputs.first() {
                Some(first) => self.num_partitions(*first)?,
                None => 1,
            },
            Node::Projection(n) => self.num_partitions(n.input)?,
            Node::MapBatches(n) => self.num_partitions(n.input)?,
            Node::Union(n) => {
                let mut total = 0;
                for input in &n.inputs {
                    total += self.num_partitions(*input)?;
                }
                total
            }
        })
    }

    /// A readable tree of `root`, one node per line, inputs indented below their user.
    pub fn explain(&self, root: NodeId) -> Result<String> {
        fn walk(plan: &LogicalPlan, id: NodeId, depth: usize, out: &mut String) -> Result<()> {
            let node = plan.get(id)?;
            out.push_str(&format!("{}{} {}\n", "  ".repeat(depth), id, node));
            for input in node.inputs() {
                walk(plan, input, depth + 1, out)?;
            }
            Ok(())
        }
        let mut out = String::new();
        walk(self, root, 0, &mut out)?;
        Ok(out)
    }
}
