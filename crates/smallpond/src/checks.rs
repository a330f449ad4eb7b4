//! Checks made before any task runs: every SQL query is bound against its inputs' columns,
//! and partition keys and selected columns must exist.
//!
//! A node is recorded as the user wrote it when its DataFrame is built (no DuckDB is
//! opened then), and checked when an action computes it, before planning: a script that
//! builds a bad query and catches the error around the action (as the original smallpond's
//! tests do) keeps working, and the error still comes before the first task. Each node's
//! output columns are worked out once (memoised) from its inputs': a data source's from
//! its first file's footer, a query's from DuckDB binding it over empty views
//! (`smallpond_duckdb::bind`). A function's output columns are unknown until it runs; what
//! reads it is only parsed. Whatever cannot be checked here is left to the task, which
//! reports it as before: a check never refuses a plan that could run.
//!
//! Queries are checked as written, over the inputs the user gave, before the optimizer
//! rewrites them (at the same action) to read pruned or pre-aggregated shuffles, whose
//! columns would make DuckDB suggest the wrong candidates.

use std::collections::HashMap;

use smallpond_core::plan::{LogicalPlan, Node, PartitionMethod, SortKey};
use smallpond_core::{Error as PlanError, NodeId};
use smallpond_duckdb::bind::{Binder, Schema};
use smallpond_duckdb::source::ident;
use smallpond_duckdb::tasks::hash_partition::{is_column_name, partition_key_sql, sort_key_sql};

use crate::Result;

#[derive(Default)]
pub(crate) struct Checks {
    /// Opened at the first check; `Err` if it could not be (then nothing is checked).
    binder: Option<std::result::Result<Binder, ()>>,
    /// Output columns of the nodes checked so far (`None`: unknown).
    schemas: HashMap<NodeId, Option<Schema>>,
}

impl Checks {
    /// Checks `roots` and every node they read that is not checked yet, inputs first.
    pub(crate) fn check_all(&mut self, plan: &LogicalPlan, roots: &[NodeId]) -> Result<()> {
        // Ids increase along edges: in order, inputs come first.
        let mut todo = std::collections::BTreeSet::new();
        for &root in roots {
            todo.extend(
                plan.ancestors(root)?
                    .into_iter()
                    .filter(|id| !self.schemas.contains_key(id)),
            );
        }
        for id in todo {
            let node = plan.get(id)?.clone();
            let schema = self.check(plan, &node)?;
            self.schemas.insert(id, schema);
        }
        Ok(())
    }

    /// Checks `node` (whose inputs are checked) and returns its output columns, when known.
    fn check(&mut self, plan: &LogicalPlan, node: &Node) -> Result<Option<Schema>> {
        let inputs: Vec<Option<Schema>> = node
            .inputs()
            .into_iter()
            .map(|i| self.schema(plan, i))
            .collect();
        let Some(binder) = self.binder() else {
            return Ok(None);
        };
        let first = inputs.first().cloned().flatten();
        Ok(match node {
            Node::DataSource(src) => binder.dataset_schema(&src.dataset),
            Node::EvenlyDistributed(_) | Node::Limit(_) | Node::Consolidate(_) => first,
            Node::MapBatches(_) | Node::Script(_) | Node::DataSink(_) => None,
            // Setup statements may create the tables the query reads: not checked here.
            Node::Sql(n) if !n.setup.is_empty() => None,
            Node::Sql(n) => binder.bind(&n.query, &inputs, !n.udfs.is_empty())?,
            Node::HashPartition(n) => {
                let rows = match &n.pre_query {
                    Some(q) => binder.bind(q, &inputs, false)?,
                    None => first,
                };
                if let Some(columns) = &rows {
                    match &n.method {
                        PartitionMethod::Hash(keys) => {
                            require_columns("partition key", keys, columns)?
                        }
                        PartitionMethod::Column(by) if is_column_name(by) => {
                            require_columns("partition key", std::slice::from_ref(by), columns)?
                        }
                        PartitionMethod::Column(by) => {
                            let query = format!("SELECT {} FROM {{0}}", partition_key_sql(by));
                            binder.bind(&query, std::slice::from_ref(&rows), false)?;
                        }
                        PartitionMethod::Random => {}
                        PartitionMethod::Range(keys) => check_sort_keys(binder, keys, &rows)?,
                    }
                }
                match &n.partition_column {
                    Some(col) if n.method != PartitionMethod::Column(col.clone()) => {
                        let name = col.replace('\'', "''");
                        let query = format!(
                            "SELECT *, 0::UBIGINT AS {} FROM (SELECT COLUMNS(c -> c != '{name}') FROM {{0}})",
                            ident(col)
                        );
                        binder.bind(&query, std::slice::from_ref(&rows), false)?
                    }
                    _ => rows,
                }
            }
            Node::RangePartition(n) => {
                check_sort_keys(binder, &n.keys, &first)?;
                first
            }
            Node::Projection(n) => {
                if let Some(columns) = &first {
                    require_columns("selected column", &n.columns, columns)?;
                }
                let list: Vec<String> = n.columns.iter().map(|c| ident(c)).collect();
                binder.bind(
                    &format!("SELECT {} FROM {{0}}", list.join(", ")),
                    &inputs,
                    false,
                )?
            }
            Node::Union(n) => {
                let selects: Vec<String> = (0..n.inputs.len())
                    .map(|i| format!("SELECT * FROM {{{i}}}"))
                    .collect();
                binder.bind(&selects.join(" UNION ALL BY NAME "), &inputs, false)?
            }
        })
    }

    /// The output columns of `id`, working them out (and its inputs') the first time.
    fn schema(&mut self, plan: &LogicalPlan, id: NodeId) -> Option<Schema> {
        if let Some(known) = self.schemas.get(&id) {
            return known.clone();
        }
        let node = plan.get(id).ok()?.clone();
        // Only the columns matter here: the node's own errors are found when it is checked.
        let schema = self.check(plan, &node).ok().flatten();
        self.schemas.insert(id, schema.clone());
        schema
    }

    fn binder(&mut self) -> Option<&Binder> {
        let binder = self.binder.get_or_insert_with(|| {
            Binder::new().map_err(|e| tracing::warn!("plan-time checks are off: {e}"))
        });
        binder.as_ref().ok()
    }
}

/// The keys of a sort can be sorted on: they name columns of the input (or are
/// expressions over them) of types DuckDB orders.
fn check_sort_keys(binder: &Binder, keys: &[SortKey], rows: &Option<Schema>) -> Result<()> {
    if rows.is_some() {
        let query = format!("SELECT {} FROM {{0}}", sort_key_sql(keys));
        binder.bind(&query, std::slice::from_ref(rows), false)?;
    }
    Ok(())
}

/// Every name in `wanted` is a column of `columns` (DuckDB's names are case-insensitive).
fn require_columns(what: &str, wanted: &[String], columns: &Schema) -> Result<()> {
    for name in wanted {
        if !columns.iter().any(|c| c.name.eq_ignore_ascii_case(name)) {
            let names: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
            return Err(PlanError::invalid(
                what,
                format!("no column {name:?}; the columns are {}", names.join(", ")),
            )
            .into());
        }
    }
    Ok(())
}
