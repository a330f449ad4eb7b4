//! Plan-time questions answered by DuckDB without reading data: a dataset's columns, and
//! which columns a query template can touch. The optimizer uses them to shuffle only the
//! columns that the query after a shuffle needs.

use std::collections::BTreeSet;

use duckdb::Connection;
use smallpond_core::task::ResolvedPartition;
use smallpond_core::DataSet;

use crate::connection::shared as connect;
use crate::source::{bind_query, dataset_sql, ident, input_view};

/// Column names of a dataset, from its schema (Parquet footers, declared CSV/JSON columns).
pub fn columns(dataset: &DataSet, projection: Option<&[String]>) -> Option<Vec<String>> {
    if let Some(cols) = projection {
        return Some(cols.to_vec());
    }
    let conn = connect().ok()?;
    let described = describe(
        &conn,
        &format!("SELECT * FROM {}", dataset_sql(dataset).ok()?),
    )?;
    Some(described.into_iter().map(|(name, _)| name).collect())
}

/// Every name a query template refers to as a column (lower-cased), or `None` when it may
/// touch every column (`*`, `COLUMNS(...)`) or cannot be parsed. Over-approximates: an
/// alias or a lambda parameter named like a column counts as a use, which only means a
/// column is kept that could have been dropped.
pub fn referenced_columns(template: &str) -> Option<BTreeSet<String>> {
    let conn = connect().ok()?;
    let tree = parse(
        &conn,
        &bind_query(template, usize::MAX, &Default::default()).ok()?,
    )?;
    let mut names = BTreeSet::new();
    collect(&tree, &mut names).then_some(names)
}

/// Walks the parse tree; returns false if a star expression was found.
fn collect(value: &serde_json::Value, names: &mut BTreeSet<String>) -> bool {
    match value {
        serde_json::Value::Object(map) => {
            match map.get("class").and_then(|c| c.as_str()) {
                Some("STAR") => return false,
                Some("COLUMN_REF") => {
                    if let Some(parts) = map.get("column_names").and_then(|c| c.as_array()) {
                        for part in parts.iter().filter_map(|p| p.as_str()) {
                            names.insert(part.to_lowercase());
                        }
                    }
                }
                _ => {}
            }
            map.values().all(|v| collect(v, names))
        }
        serde_json::Value::Array(items) => items.iter().all(|v| collect(v, names)),
        _ => true,
    }
}

/// A GROUP BY query split into a partial aggregation (run before the shuffle, per
/// producer) and a final one (run per partition over the partial results).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AggregateSplit {
    pub partial: String,
    pub final_query: String,
    /// Every shuffle key is an output column as it is (selected, not renamed): the query's
    /// result can be hash-partitioned by the keys as its input was.
    pub keys_kept: bool,
}

/// Aggregates whose partial results combine exactly.
const DECOMPOSABLE: [&str; 6] = ["count_star", "count", "sum", "min", "max", "avg"];

/// Splits `template` (a query over `{0}` only) into partial and final aggregations when
/// that is exact: one SELECT over `{0}` with plain-column GROUP BY keys that include every
/// shuffle `key`, aggregates among count/sum/min/max/avg without DISTINCT, FILTER or ORDER
/// BY, and no HAVING, ORDER BY, LIMIT, DISTINCT, window, QUALIFY or CTE. The final query
/// casts each column back to the type and name the original query gives it. `None`
/// whenever any of this does not hold.
pub fn split_aggregate(
    template: &str,
    keys: &[String],
    input: &ResolvedPartition,
) -> Option<AggregateSplit> {
    let (conn, sql, tree) = select_over_input(template)?;
    let node = &tree["statements"][0]["node"];
    let simple = empty(node, "modifiers")
        && node.get("aggregate_handling")?.as_str()? == "STANDARD_HANDLING"
        && node.get("group_sets")?.as_array()?.len() == 1;
    if !simple {
        return None;
    }
    // GROUP BY: plain columns, named by their last part.
    let mut groups = Vec::new();
    for g in node.get("group_expressions")?.as_array()? {
        groups.push(column_name(g)?);
    }
    let lower: Vec<String> = groups.iter().map(|g| g.to_lowercase()).collect();
    if groups.is_empty() || !keys.iter().all(|k| lower.contains(&k.to_lowercase())) {
        return None;
    }
    // Output names and types of the original query (DESCRIBE binds it; no data is read).
    crate::source::create_input_views(&conn, std::slice::from_ref(input)).ok()?;
    let view = input_view(0);
    let described = describe(&conn, &sql)?;

    let items = node.get("select_list")?.as_array()?;
    if items.len() != described.len() {
        return None;
    }
    let mut partial_items: Vec<serde_json::Value> = groups
        .iter()
        .zip(node.get("group_expressions")?.as_array()?)
        .map(|(name, g)| with_alias(g, name))
        .collect();
    let mut final_items = Vec::new();
    let mut kept = std::collections::BTreeSet::new();
    for (i, (item, (name, ty))) in items.iter().zip(&described).enumerate() {
        let out = format!("{} AS {}", "{}", ident(name));
        match item.get("class")?.as_str()? {
            "COLUMN_REF" => {
                let col = column_name(item)?;
                if !lower.contains(&col.to_lowercase()) {
                    return None;
                }
                if name.eq_ignore_ascii_case(&col) {
                    kept.insert(col.to_lowercase());
                }
                final_items.push(out.replace("{}", &ident(&col)));
            }
            "FUNCTION" => {
                let function = item.get("function_name")?.as_str()?;
                let plain = DECOMPOSABLE.contains(&function)
                    && !item.get("distinct")?.as_bool()?
                    && item.get("filter").is_none_or(|f| f.is_null())
                    && item
                        .get("order_bys")
                        .and_then(|o| o.get("orders"))
                        .and_then(|o| o.as_array())
                        .is_none_or(|o| o.is_empty())
                    && item.get("children")?.as_array()?.len()
                        == usize::from(function != "count_star");
                if !plain {
                    return None;
                }
                let p = format!("__smallpond_p{i}");
                let combine = match function {
                    "avg" => {
                        partial_items.push(renamed(item, "sum", &format!("{p}_s")));
                        partial_items.push(renamed(item, "count", &format!("{p}_c")));
                        format!(
                            "sum({}) / sum({})",
                            ident(&format!("{p}_s")),
                            ident(&format!("{p}_c"))
                        )
                    }
                    "min" | "max" => {
                        partial_items.push(with_alias(item, &p));
                        format!("{function}({})", ident(&p))
                    }
                    _ => {
                        partial_items.push(with_alias(item, &p));
                        format!("sum({})", ident(&p))
                    }
                };
                final_items.push(out.replace("{}", &format!("CAST({combine} AS {ty})")));
            }
            _ => return None,
        }
    }
    let mut partial_tree = tree.clone();
    partial_tree["statements"][0]["node"]["select_list"] = serde_json::Value::Array(partial_items);
    let partial_sql: String = conn
        .query_row(
            "SELECT json_deserialize_sql(?::JSON)",
            [serde_json::to_string(&partial_tree).ok()?],
            |row| row.get(0),
        )
        .ok()?;
    let partial = partial_sql
        .replace('{', "{{")
        .replace('}', "}}")
        .replace(&view, "{0}");
    let group_by: Vec<String> = groups.iter().map(|g| ident(g)).collect();
    let final_query = format!(
        "SELECT {} FROM {{0}} GROUP BY {}",
        final_items.join(", ").replace('{', "{{").replace('}', "}}"),
        group_by.join(", ")
    );
    Some(AggregateSplit {
        partial,
        final_query,
        keys_kept: keys.iter().all(|k| kept.contains(&k.to_lowercase())),
    })
}

/// The query a shuffle's producers may run first when `template` is a plain
/// `SELECT DISTINCT c1, c2, ... FROM {0}` whose columns include every shuffle `key`:
/// deduplicating each producer's rows before the shuffle changes nothing in the result
/// (equal rows hash alike, and the final DISTINCT runs again per partition) and can shrink
/// what is shuffled to one row per distinct value per producer. The pre-query is the query
/// itself. The same holds for a query that reads `{0}` once, through such a subquery in its
/// `FROM` (`SELECT count(*) FROM (SELECT DISTINCT url FROM {0})`): the subquery is the
/// pre-query. `None` for anything else (WHERE, expressions, aliases, DISTINCT ON, ...).
pub fn pre_distinct(template: &str, keys: &[String]) -> Option<String> {
    let covers = |columns: &[String]| keys.iter().all(|k| columns.contains(&k.to_lowercase()));
    if let Some((_, _, tree)) = select_over_input(template) {
        let columns = distinct_columns(&tree["statements"][0]["node"])?;
        return covers(&columns).then(|| template.to_string());
    }
    if smallpond_core::plan::sql::placeholders(template) != [0] {
        return None;
    }
    let sql = bind_query(template, 1, &Default::default()).ok()?;
    let tree = parse(&connect().ok()?, &sql)?;
    let [statement] = tree.get("statements")?.as_array()?.as_slice() else {
        return None;
    };
    let from = statement.get("node")?.get("from_table")?;
    if from.get("type")?.as_str()? != "SUBQUERY" {
        return None;
    }
    let inner = &from["subquery"]["node"];
    if !plain_select_of_input(inner)? {
        return None;
    }
    let columns = distinct_columns(inner)?;
    let list: Vec<String> = columns.iter().map(|c| crate::source::ident(c)).collect();
    covers(&columns).then(|| format!("SELECT DISTINCT {} FROM {{0}}", list.join(", ")))
}

/// The columns of a `SELECT DISTINCT c1, c2, ...` parse node (lower case): plain column
/// references without aliases, no WHERE, GROUP BY or DISTINCT ON.
fn distinct_columns(node: &serde_json::Value) -> Option<Vec<String>> {
    let [modifier] = node.get("modifiers")?.as_array()?.as_slice() else {
        return None;
    };
    let simple = modifier.get("type")?.as_str()? == "DISTINCT_MODIFIER"
        && modifier.get("distinct_on_targets")?.as_array()?.is_empty()
        && empty(node, "where_clause")
        && empty(node, "group_expressions");
    if !simple {
        return None;
    }
    let mut columns = Vec::new();
    for item in node.get("select_list")?.as_array()? {
        if !item.get("alias")?.as_str()?.is_empty() {
            return None;
        }
        columns.push(column_name(item)?.to_lowercase());
    }
    Some(columns)
}

/// `template` (over `{0}` only) bound and parsed, when it is one SELECT reading `{0}`
/// directly, without CTEs, HAVING, QUALIFY or sampling: the shape both pre-shuffle
/// rewrites start from. Returns the connection and bound SQL for further analysis.
fn select_over_input(template: &str) -> Option<(Connection, String, serde_json::Value)> {
    let sql = bind_query(template, 1, &Default::default()).ok()?; // only `{0}`
    let conn = connect().ok()?;
    let tree = parse(&conn, &sql)?;
    let [statement] = tree.get("statements")?.as_array()?.as_slice() else {
        return None;
    };
    plain_select_of_input(statement.get("node")?)?.then_some((conn, sql, tree))
}

/// Whether a parse node is one SELECT reading `{0}` directly, without CTEs, HAVING,
/// QUALIFY or sampling.
fn plain_select_of_input(node: &serde_json::Value) -> Option<bool> {
    let from = node.get("from_table")?;
    Some(
        node.get("type")?.as_str()? == "SELECT_NODE"
            && empty(node, "cte_map")
            && empty(node, "having")
            && empty(node, "qualify")
            && empty(node, "sample")
            && from.get("type")?.as_str()? == "BASE_TABLE"
            && from.get("table_name")?.as_str()? == input_view(0)
            && from.get("sample").is_none_or(|s| s.is_null()),
    )
}

/// Whether a parse-tree field is absent, null, an empty list or an empty map.
fn empty(node: &serde_json::Value, key: &str) -> bool {
    match node.get(key) {
        None | Some(serde_json::Value::Null) => true,
        Some(serde_json::Value::Array(a)) => a.is_empty(),
        Some(serde_json::Value::Object(o)) => o
            .get("map")
            .and_then(|m| m.as_array())
            .is_some_and(|m| m.is_empty()),
        Some(_) => false,
    }
}

fn parse(conn: &Connection, sql: &str) -> Option<serde_json::Value> {
    let json: String = conn
        .query_row(
            "SELECT json_serialize_sql(?::VARCHAR)::VARCHAR",
            [sql],
            |row| row.get(0),
        )
        .ok()?;
    let tree: serde_json::Value = serde_json::from_str(&json).ok()?;
    (tree.get("error").and_then(|e| e.as_bool()) == Some(false)).then_some(tree)
}

fn describe(conn: &Connection, sql: &str) -> Option<Vec<(String, String)>> {
    crate::connection::describe(conn, sql).ok()
}

/// The name of a plain column reference (its last part).
fn column_name(expr: &serde_json::Value) -> Option<String> {
    if expr.get("class")?.as_str()? != "COLUMN_REF" {
        return None;
    }
    Some(
        expr.get("column_names")?
            .as_array()?
            .last()?
            .as_str()?
            .to_string(),
    )
}

fn with_alias(expr: &serde_json::Value, alias: &str) -> serde_json::Value {
    let mut e = expr.clone();
    e["alias"] = serde_json::Value::String(alias.to_string());
    e
}

fn renamed(expr: &serde_json::Value, function: &str, alias: &str) -> serde_json::Value {
    let mut e = with_alias(expr, alias);
    e["function_name"] = serde_json::Value::String(function.to_string());
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_columns_and_gives_up_on_stars() {
        let cols = referenced_columns("SELECT host, count(*) AS n, sum(v) FROM {0} GROUP BY host")
            .unwrap();
        assert!(cols.contains("host") && cols.contains("v"), "{cols:?}");
        assert!(!cols.contains("url"), "{cols:?}");
        let cols = referenced_columns("SELECT {0}.a FROM {0} JOIN {1} ON {0}.k = {1}.K").unwrap();
        assert!(cols.contains("a") && cols.contains("k"), "{cols:?}");
        assert!(referenced_columns("SELECT * FROM {0}").is_none());
        assert!(referenced_columns("SELECT COLUMNS('a.*') FROM {0}").is_none());
        assert!(referenced_columns("SELEC broken").is_none());
    }
}
