//! Plan rewrites applied while DataFrames are built.
//!
//! **Shuffle only what is used.** A shuffle pays for every byte it carries: writing five
//! columns into hash partitions costs several times writing the two that the next query
//! reads. When a SQL node reads a hash partition of a data source and the query names only
//! some of the source's columns, the SQL node reads a new hash partition of a projection of
//! the source instead (the original hash node is left as it is, for anyone else reading it).

use std::collections::BTreeSet;

use smallpond_core::plan::{HashPartitionNode, LogicalPlan, Node, PartitionMethod, ProjectionNode};
use smallpond_core::NodeId;

/// Returns the inputs a SQL node with `query` should read instead of `inputs`, adding the
/// pruned shuffles to `plan`. Any analysis failure keeps the inputs as they are.
pub fn prune_shuffled_columns(
    plan: &mut LogicalPlan,
    query: &str,
    inputs: &[NodeId],
) -> Vec<NodeId> {
    let Some(used) = smallpond_duckdb::analyze::referenced_columns(query) else {
        return inputs.to_vec();
    };
    inputs
        .iter()
        .map(|&input| prune_one(plan, &used, input).unwrap_or(input))
        .collect()
}

fn prune_one(plan: &mut LogicalPlan, used: &BTreeSet<String>, input: NodeId) -> Option<NodeId> {
    let Node::HashPartition(hash) = plan.get(input).ok()?.clone() else {
        return None;
    };
    let (dataset, projection) = match plan.get(hash.input).ok()? {
        Node::DataSource(src) => (src.dataset.clone(), None),
        Node::Projection(p) => match plan.get(p.input).ok()? {
            Node::DataSource(src) => (src.dataset.clone(), Some(p.columns.clone())),
            _ => return None,
        },
        _ => return None,
    };
    let all = smallpond_duckdb::analyze::columns(&dataset, projection.as_deref()).ok()?;
    let keys: Vec<String> = match &hash.method {
        PartitionMethod::Hash(keys) => keys.iter().map(|k| k.to_lowercase()).collect(),
        PartitionMethod::Column(c) => vec![c.to_lowercase()],
        PartitionMethod::Random => vec![],
    };
    let keep: Vec<String> = all
        .iter()
        .filter(|c| {
            let c = c.to_lowercase();
            used.contains(&c) || keys.contains(&c)
        })
        .cloned()
        .collect();
    if keep.is_empty() || keep.len() == all.len() {
        return None;
    }
    tracing::debug!(?keep, "shuffling only the columns the query uses");
    let projected = plan
        .add(Node::Projection(ProjectionNode {
            input: hash.input,
            columns: keep,
        }))
        .ok()?;
    plan.add(Node::HashPartition(HashPartitionNode {
        input: projected,
        ..hash
    }))
    .ok()
}
