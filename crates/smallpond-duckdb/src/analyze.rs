//! Plan-time questions answered by DuckDB without reading data: a dataset's columns, and
//! which columns a query template can touch. The optimizer uses them to shuffle only the
//! columns that the query after a shuffle needs.

use std::collections::BTreeSet;

use duckdb::Connection;
use smallpond_core::plan::sql::{pieces, Piece};
use smallpond_core::DataSet;

use crate::source::{dataset_sql, input_view};
use crate::{Error, Result};

fn connect() -> Result<Connection> {
    Connection::open_in_memory().map_err(|source| Error::Sql {
        sql: "open in-memory database".into(),
        source,
    })
}

/// Column names of a dataset, from its schema (Parquet footers, declared CSV/JSON columns).
pub fn columns(dataset: &DataSet, projection: Option<&[String]>) -> Result<Vec<String>> {
    if let Some(cols) = projection {
        return Ok(cols.to_vec());
    }
    let sql = format!("DESCRIBE SELECT * FROM {}", dataset_sql(dataset)?);
    let conn = connect()?;
    let err = |source| Error::Sql {
        sql: sql.clone(),
        source,
    };
    let mut stmt = conn.prepare(&sql).map_err(err)?;
    let names = stmt
        .query_map([], |row| row.get::<_, String>(0))
        .map_err(err)?
        .collect::<Result<Vec<String>, _>>()
        .map_err(err)?;
    Ok(names)
}

/// Every name a query template refers to as a column (lower-cased), or `None` when it may
/// touch every column (`*`, `COLUMNS(...)`) or cannot be parsed. Over-approximates: an
/// alias or a lambda parameter named like a column counts as a use, which only means a
/// column is kept that could have been dropped.
pub fn referenced_columns(template: &str) -> Option<BTreeSet<String>> {
    let mut sql = String::new();
    for piece in pieces(template) {
        match piece {
            Piece::Text(t) => sql.push_str(t),
            Piece::Input(i) => sql.push_str(&input_view(i)),
        }
    }
    let conn = connect().ok()?;
    let json: String = conn
        .query_row(
            "SELECT json_serialize_sql(?::VARCHAR)::VARCHAR",
            [&sql],
            |row| row.get(0),
        )
        .ok()?;
    let tree: serde_json::Value = serde_json::from_str(&json).ok()?;
    if tree.get("error").and_then(|e| e.as_bool()) != Some(false) {
        return None;
    }
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
