//! Plan rewrites, made when an action first computes a SQL node (after its checks, before
//! planning); the session keeps the user's nodes and plans with the rewrites in place.
//!
//! **Aggregate before the shuffle.** `SELECT k, count(*), sum(v) FROM {0} GROUP BY k` over a
//! hash partition by `k` of a data source is split: each producer aggregates its input
//! partially and shuffles only the partial rows (one per key instead of one per input
//! row); each partition then combines the partials and casts back to the original types.
//! See `smallpond_duckdb::analyze::split_aggregate` for exactly which queries qualify.
//! A plain `SELECT DISTINCT cols FROM {0}` (cols including the keys) is deduplicated in
//! each producer the same way (`analyze::pre_distinct`).
//!
//! **One producer, nothing to redo.** When that shuffle has a single producer (its source
//! is one partition, as `read_parquet` gives), the producer can run the whole query: a
//! GROUP BY as above that selects the keys as they are (not renamed), or the plain DISTINCT
//! itself (not through a subquery), then holds each group (each distinct row) once, and it lands where its input rows would
//! have, so each partition it writes is already the query's result there. The SQL node
//! then *is* that shuffle ([`Rewrite::Shuffle`]) and runs no task of its own: it is written
//! where results go, as the SQL node asks, not as shuffle data. Not when the SQL node asks
//! for other threads, memory or GPUs than the shuffle (they would run as one task).
//!
//! **Shuffle only what is used.** A shuffle pays for every byte it carries: writing five
//! columns into hash partitions costs several times writing the two that the next query
//! reads. When a SQL node reads a hash partition of a data source and the query names only
//! some of the source's columns, the SQL node reads a new hash partition of a projection of
//! the source instead (the original hash node is left as it is, for anyone else reading it).
//!
//! **One query for SQL over SQL.** `map(...)` then `partial_sort(...)`, `filter(...)` then
//! `map(...)`: a SQL node that reads another SQL node, which nothing else reads, runs both
//! queries as one, the inner one a common table expression of the outer, instead of writing
//! the inner result to Parquet and reading it back (see [`fuse_sql`]).

use std::collections::BTreeSet;

use smallpond_core::plan::sql::{named, pieces, Piece};
use smallpond_core::plan::{
    HashPartitionNode, LogicalPlan, Node, PartitionMethod, ProjectionNode, SqlNode, TaskOptions,
};
use smallpond_core::task::ResolvedPartition;
use smallpond_core::{DataSet, NodeId};

/// What a SQL node runs as after [`optimize_sql`].
#[derive(Debug, Clone, PartialEq)]
pub enum Rewrite {
    /// This query over these inputs (the node's own when nothing applies).
    Sql { query: String, inputs: Vec<NodeId> },
    /// The node is this shuffle, which runs the whole query in its one producer.
    Shuffle(HashPartitionNode),
}

/// What SQL node `sql` should run as, adding rewritten shuffles to `plan`. Any analysis
/// failure keeps things as they are, and so does a shuffle that is `computed` already.
pub fn optimize_sql(
    plan: &mut LogicalPlan,
    sql: &SqlNode,
    computed: &dyn Fn(NodeId) -> bool,
) -> Rewrite {
    let (query, inputs) = (&sql.query, &sql.inputs);
    // Per-task values ({rand_seed}, {__data_partition__}, ...) do not move into a shuffle.
    if !named(query).is_empty() {
        return Rewrite::Sql {
            query: query.clone(),
            inputs: inputs.clone(),
        };
    }
    if let [input] = inputs[..] {
        if let Some(rewrite) = pre_aggregate(plan, sql, input, computed) {
            return rewrite;
        }
    }
    Rewrite::Sql {
        query: query.clone(),
        inputs: prune_shuffled_columns(plan, query, inputs, computed),
    }
}

/// Whether tasks with these options ask for the same threads, memory and GPUs.
fn same_resources(a: &TaskOptions, b: &TaskOptions) -> bool {
    a.cpu_limit == b.cpu_limit && a.memory_limit == b.memory_limit && a.gpu_limit == b.gpu_limit
}

/// `outer` (whose only input is node `inner_id`, `inner`) as one SQL node over `inner`'s
/// inputs, or `None` where that could change what it computes or how:
/// - either has UDFs or set-up statements (each task sets them up for its own query);
/// - either uses per-task values (`{rand_seed}`, `{output_filename}`, ...);
/// - `outer` names its input more than once (DuckDB could materialize it, or compute it
///   twice);
/// - `inner` has an `ORDER BY` (in a window too, to keep it simple): its rows' order is
///   what its output files keep, and a query over a subquery need not keep it;
/// - they ask for other threads, memory or GPUs.
///
/// Whether anything else reads `inner` is the caller's to check.
pub fn fuse_sql(outer: &SqlNode, inner_id: NodeId, inner: &SqlNode) -> Option<SqlNode> {
    let plain = |n: &SqlNode| n.udfs.is_empty() && n.setup.is_empty() && named(&n.query).is_empty();
    let ordered = inner
        .query
        .split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
        .any(|w| w.eq_ignore_ascii_case("order"));
    if outer.inputs != [inner_id]
        || smallpond_core::plan::sql::placeholders(&outer.query) != [0]
        || !plain(outer)
        || !plain(inner)
        || !same_resources(&outer.options, &inner.options)
        || ordered
    {
        return None;
    }
    let name = format!("__smallpond_node_{}", inner_id.0);
    // The outer template with `{0}` named after the inner query; literal braces stay
    // escaped, as the inner query's placeholders stay placeholders of its inputs.
    let body: String = pieces(&outer.query)
        .into_iter()
        .map(|p| match p {
            Piece::Text(t) => t.replace('{', "{{").replace('}', "}}"),
            Piece::Input(_) => name.clone(),
            Piece::Named(n) => format!("{{{n}}}"),
        })
        .collect();
    let inner_query = smallpond_duckdb::tasks::strip_query(&inner.query);
    // A line break before `)`: the inner query may end in a `--` comment.
    let cte = format!("{name} AS NOT MATERIALIZED ({inner_query}\n)");
    let query = smallpond_duckdb::source::splice_ctes(&body, &[cte])?;
    Some(SqlNode {
        inputs: inner.inputs.clone(),
        query,
        ..outer.clone()
    })
}

/// A hash partition node (without a pre-query) and the data source (with its projection)
/// below it. A shuffle that keeps its partition column qualifies only when `query` does
/// not mention the column (the rewritten shuffles keep writing it); one that is `computed`
/// already does not: reading it costs less than a new one.
fn shuffle_of_source(
    plan: &LogicalPlan,
    input: NodeId,
    query: &str,
    computed: &dyn Fn(NodeId) -> bool,
) -> Option<(HashPartitionNode, DataSet, Option<Vec<String>>)> {
    if computed(input) {
        return None;
    }
    let Node::HashPartition(hash) = plan.get(input).ok()?.clone() else {
        return None;
    };
    if hash.pre_query.is_some() {
        return None;
    }
    if let Some(col) = &hash.partition_column {
        if query.to_lowercase().contains(&col.to_lowercase()) {
            return None;
        }
    }
    let (dataset, projection) = match plan.get(hash.input).ok()? {
        Node::DataSource(src) => (src.dataset.clone(), None),
        Node::Projection(p) => match plan.get(p.input).ok()? {
            Node::DataSource(src) => (src.dataset.clone(), Some(p.columns.clone())),
            _ => return None,
        },
        _ => return None,
    };
    Some((hash, dataset, projection))
}

/// The rewrite of a GROUP BY or DISTINCT over a hash partition of a data source by its
/// keys: the query (or its partial aggregation) moved into the producers, and run again
/// after the shuffle, or, with one producer, only there (see the module's notes).
fn pre_aggregate(
    plan: &mut LogicalPlan,
    sql: &SqlNode,
    input: NodeId,
    computed: &dyn Fn(NodeId) -> bool,
) -> Option<Rewrite> {
    let query = &sql.query;
    let (hash, dataset, projection) = shuffle_of_source(plan, input, query, computed)?;
    let PartitionMethod::Hash(keys) = &hash.method else {
        return None;
    };
    let sample = ResolvedPartition {
        datasets: vec![dataset],
        columns: projection,
    };
    // `whole`: the producers may run the query itself, and its result be partitioned by
    // the keys (a GROUP BY that selects them as they are; a DISTINCT not in a subquery).
    let (partial, final_query, whole) =
        match smallpond_duckdb::analyze::split_aggregate(query, keys, &sample) {
            Some(split) => (split.partial, split.final_query, split.keys_kept),
            None => {
                let pre = smallpond_duckdb::analyze::pre_distinct(query, keys)?;
                let whole = pre == *query;
                (pre, query.clone(), whole)
            }
        };
    let one_producer = plan.num_partitions(hash.input).ok() == Some(1);
    if whole && one_producer && same_resources(&sql.options, &hash.options) {
        tracing::debug!(%query, "the query runs whole in the shuffle's one producer");
        return Some(Rewrite::Shuffle(HashPartitionNode {
            pre_query: Some(query.clone()),
            partition_column: None,
            result: true,
            options: TaskOptions {
                parquet: sql.options.parquet.clone(),
                ..hash.options.clone()
            },
            ..hash
        }));
    }
    tracing::debug!(%partial, "aggregating before the shuffle");
    let node = plan
        .add(Node::HashPartition(HashPartitionNode {
            pre_query: Some(partial),
            ..hash
        }))
        .ok()?;
    Some(Rewrite::Sql {
        query: final_query,
        inputs: vec![node],
    })
}

/// Returns the inputs a SQL node with `query` should read instead of `inputs`, adding the
/// pruned shuffles to `plan`. Any analysis failure keeps the inputs as they are.
fn prune_shuffled_columns(
    plan: &mut LogicalPlan,
    query: &str,
    inputs: &[NodeId],
    computed: &dyn Fn(NodeId) -> bool,
) -> Vec<NodeId> {
    let Some(used) = smallpond_duckdb::analyze::referenced_columns(query) else {
        return inputs.to_vec();
    };
    inputs
        .iter()
        .map(|&input| prune_one(plan, &used, input, query, computed).unwrap_or(input))
        .collect()
}

fn prune_one(
    plan: &mut LogicalPlan,
    used: &BTreeSet<String>,
    input: NodeId,
    query: &str,
    computed: &dyn Fn(NodeId) -> bool,
) -> Option<NodeId> {
    let (hash, dataset, projection) = shuffle_of_source(plan, input, query, computed)?;
    let all = smallpond_duckdb::analyze::columns(&dataset, projection.as_deref())?;
    let keys: Vec<String> = match &hash.method {
        PartitionMethod::Hash(keys) => keys.iter().map(|k| k.to_lowercase()).collect(),
        // An expression (`by="a % 10"`) may read any column: nothing is pruned.
        PartitionMethod::Column(c)
            if !smallpond_duckdb::tasks::hash_partition::is_column_name(c) =>
        {
            return None
        }
        PartitionMethod::Column(c) => vec![c.to_lowercase()],
        PartitionMethod::Random => vec![],
        PartitionMethod::Range(_) => return None,
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
