//! Plan-time binding: each query is checked against its inputs' columns when its DataFrame
//! is built, so that a misspelt column or a syntax error is reported at once, naming the
//! user's query, instead of after every task before it has run.
//!
//! ```text
//!  inputs' columns ──► empty views {0}, {1}, ... ──► DuckDB binds the query (no data read)
//!                                                      ├─► its output columns (for the next query)
//!                                                      └─► QueryError: class, message, position
//! ```
//! Binding needs no data: each input is an empty view with the input's column names and
//! types. A data source's columns come from its first file's footer (or its declared
//! schema); a function's output columns are unknown until it runs, and a query over an
//! unknown input is only parsed.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;

use duckdb::Connection;
use smallpond_core::dataset::{Column, DataSet};
use smallpond_core::plan::sql::{pieces, Piece};

use crate::source::{dataset_sql, ident, input_view};

/// The output columns of a plan node, when known.
pub type Schema = Vec<Column>;

/// A query that cannot run whatever the data: it does not parse, names a column or a table
/// that does not exist, or combines types that do not go together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryError {
    /// DuckDB's error class: `Parser`, `Binder` or `Catalog`.
    pub class: String,
    /// DuckDB's message, with the inputs' internal names given back as `{0}`, `{1}`, ...
    pub message: String,
    /// The query as the user wrote it.
    pub query: String,
    /// Byte offset in `query` that the error points at.
    pub position: Option<usize>,
}

impl std::error::Error for QueryError {}

impl fmt::Display for QueryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} Error: {}", self.class, self.message)?;
        write!(f, "\n{}", point_at(&self.query, self.position))
    }
}

/// The query (the line the error is on, for a query of several lines; a window around the
/// position, for a long line) and a caret under the position.
fn point_at(query: &str, position: Option<usize>) -> String {
    const WIDTH: usize = 100;
    let Some(pos) = position.filter(|&p| p <= query.len() && query.is_char_boundary(p)) else {
        return format!("  in query: {query}");
    };
    let line_start = query[..pos].rfind('\n').map_or(0, |i| i + 1);
    let line_end = query[pos..].find('\n').map_or(query.len(), |i| pos + i);
    let line_no = query[..line_start].matches('\n').count() + 1;
    let line = &query[line_start..line_end];
    let column = query[line_start..pos].chars().count();
    let chars: Vec<char> = line.chars().collect();
    let (first, prefix) = if column > WIDTH / 2 && chars.len() > WIDTH {
        (column - WIDTH / 2, "...")
    } else {
        (0, "")
    };
    let last = (first + WIDTH).min(chars.len());
    let suffix = if last < chars.len() { "..." } else { "" };
    let shown: String = chars[first..last].iter().collect();
    let label = if query.contains('\n') {
        format!("  in query, line {line_no}: ")
    } else {
        "  in query: ".to_string()
    };
    let caret = label.len() + prefix.len() + (column - first);
    format!("{label}{prefix}{shown}{suffix}\n{}^", " ".repeat(caret))
}

/// The user's text for a DuckDB message about a bound query: internal view names become the
/// placeholders the user wrote.
pub fn user_text(message: &str) -> String {
    let prefix = input_view(0);
    let prefix = prefix.trim_end_matches('0');
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(at) = rest.find(prefix) {
        out.push_str(&rest[..at]);
        let after = &rest[at + prefix.len()..];
        let digits = after.len() - after.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        if digits == 0 {
            out.push_str(prefix);
        } else {
            out.push('{');
            out.push_str(&after[..digits]);
            out.push('}');
        }
        rest = &after[digits..];
    }
    out.push_str(rest);
    out
}

/// A query template with `{i}` replaced by the inputs' view names, and where each piece of
/// the bound text came from, to point back into the template.
struct Bound {
    text: String,
    /// (offset in `text`, offset in the template, whether it is a placeholder)
    spans: Vec<(usize, usize, bool)>,
}

impl Bound {
    fn new(template: &str) -> Self {
        let mut text = String::with_capacity(template.len() + 32);
        let mut spans = Vec::new();
        let mut at = 0;
        for piece in pieces(template) {
            match piece {
                Piece::Text(t) => {
                    // A text piece is a slice of the template (`{{` leaves its first brace).
                    at = t.as_ptr() as usize - template.as_ptr() as usize;
                    spans.push((text.len(), at, false));
                    text.push_str(t);
                    at += t.len();
                }
                Piece::Input(i) => {
                    let placeholder = format!("{{{i}}}");
                    at += template[at..].find(&placeholder).unwrap_or(0);
                    spans.push((text.len(), at, true));
                    text.push_str(&input_view(i));
                    at += placeholder.len();
                }
                Piece::Named(n) => {
                    // Bound with a value of its kind: a number (or a name, for the file).
                    let placeholder = format!("{{{n}}}");
                    at += template[at..].find(&placeholder).unwrap_or(0);
                    spans.push((text.len(), at, true));
                    text.push_str(if n == "output_filename" { "part" } else { "1" });
                    at += placeholder.len();
                }
            }
        }
        Self { text, spans }
    }

    /// The template offset of a byte offset in the bound text.
    fn template_offset(&self, bound: usize) -> usize {
        let index = self.spans.partition_point(|&(b, _, _)| b <= bound);
        match index.checked_sub(1).map(|i| self.spans[i]) {
            Some((b, t, false)) => t + (bound - b),
            Some((_, t, true)) => t,
            None => 0,
        }
    }
}

/// Which inputs of a query are known, and what to check.
pub struct Binder {
    conn: Connection,
    /// Results of `bind` by (template, input columns, functions flag): a plan repeats the
    /// same query over the same columns (one node per chain, per input, ...), and binding
    /// costs three round trips to DuckDB.
    binds: RefCell<HashMap<String, Result<Option<Schema>, QueryError>>>,
    /// Dataset schemas by dataset and its files' sizes and modification times.
    datasets: RefCell<HashMap<String, Option<Schema>>>,
}

impl Binder {
    /// An in-memory database that reports errors as JSON (class, message, position).
    pub fn new() -> crate::Result<Self> {
        let conn = crate::connection::shared()?;
        let setup = "SET errors_as_json = true;";
        crate::connection::execute(&conn, setup, setup)?;
        Ok(Self {
            conn,
            binds: RefCell::default(),
            datasets: RefCell::default(),
        })
    }

    /// The columns of a dataset, from its first file's footer or its declared schema.
    /// `None` when they cannot be read now (the task will say why).
    pub fn dataset_schema(&self, dataset: &DataSet) -> Option<Schema> {
        if let DataSet::Csv(d) = dataset {
            return Some(d.schema.clone());
        }
        if let DataSet::Json(d) = dataset {
            return Some(d.schema.clone());
        }
        // The same files, unchanged, have the same columns.
        let stats: Vec<(u64, Option<std::time::SystemTime>)> = dataset
            .files()
            .iter()
            .map(|f| {
                let m = std::fs::metadata(f).ok();
                (
                    m.as_ref().map_or(0, |m| m.len()),
                    m.and_then(|m| m.modified().ok()),
                )
            })
            .collect();
        let key = format!("{dataset:?}{stats:?}");
        if let Some(known) = self.datasets.borrow().get(&key) {
            return known.clone();
        }
        let sql = format!("SELECT * FROM {}", dataset_sql(dataset).ok()?);
        let schema = self.describe(&sql).ok();
        self.datasets.borrow_mut().insert(key, schema.clone());
        schema
    }

    /// Binds `template` over inputs with these columns and returns its output columns.
    /// `Ok(None)`: the query parses, but was not bound — an input's columns are unknown,
    /// or `functions_at_run_time` (the task sets up functions this database does not have).
    pub fn bind(
        &self,
        template: &str,
        inputs: &[Option<Schema>],
        functions_at_run_time: bool,
    ) -> Result<Option<Schema>, QueryError> {
        let key = format!("{template}\u{0}{inputs:?}\u{0}{functions_at_run_time}");
        if let Some(known) = self.binds.borrow().get(&key) {
            return known.clone();
        }
        let result = self.bind_now(template, inputs, functions_at_run_time);
        self.binds.borrow_mut().insert(key, result.clone());
        result
    }

    fn bind_now(
        &self,
        template: &str,
        inputs: &[Option<Schema>],
        functions_at_run_time: bool,
    ) -> Result<Option<Schema>, QueryError> {
        let template = crate::tasks::strip_query(template);
        let bound = Bound::new(template);
        let statements = self.parse(template, &bound)?;
        if statements != 1 || functions_at_run_time || inputs.iter().any(Option::is_none) {
            return Ok(None);
        }
        for (i, schema) in inputs.iter().enumerate() {
            let schema = schema.as_ref().expect("checked above");
            let view = format!(
                "CREATE OR REPLACE TEMP VIEW {} AS {}",
                input_view(i),
                empty_relation(schema)
            );
            if self.conn.execute_batch(&view).is_err() {
                // A type this database cannot name again: leave the query to the task.
                return Ok(None);
            }
        }
        let described = self.describe(&bound.text);
        match described {
            Ok(schema) => Ok(Some(schema)),
            Err(raw) => match parse_error(&raw) {
                Some((class, message, position)) if is_permanent(&class) => Err(QueryError {
                    class,
                    message: user_text(&message),
                    query: template.to_string(),
                    position: position.map(|p| bound.template_offset(p)),
                }),
                _ => {
                    tracing::debug!(error = %raw, query = template, "query not bound at plan time");
                    Ok(None)
                }
            },
        }
    }

    /// The number of statements in `template`, or its syntax error.
    fn parse(&self, template: &str, bound: &Bound) -> Result<usize, QueryError> {
        let json: Option<String> = self
            .conn
            .query_row(
                "SELECT json_serialize_sql(?::VARCHAR)::VARCHAR",
                [&bound.text],
                |row| row.get(0),
            )
            .ok();
        let Some(tree) = json.and_then(|j| serde_json::from_str::<serde_json::Value>(&j).ok())
        else {
            return Ok(0);
        };
        if tree.get("error").and_then(|e| e.as_bool()) == Some(true) {
            let text = |key: &str| tree.get(key).and_then(|v| v.as_str()).unwrap_or_default();
            if text("error_type") != "parser" {
                return Ok(0); // not a statement it can serialise (e.g. PIVOT): leave it
            }
            let position = text("position").parse::<usize>().ok();
            return Err(QueryError {
                class: "Parser".into(),
                message: user_text(text("error_message")),
                query: template.to_string(),
                position: position.map(|p| bound.template_offset(p)),
            });
        }
        Ok(tree
            .get("statements")
            .and_then(|s| s.as_array())
            .map_or(0, |s| s.len()))
    }

    /// The columns a query returns, or DuckDB's error text.
    fn describe(&self, sql: &str) -> Result<Schema, String> {
        // DESCRIBE binds the query and reads no data. Its error positions count from the
        // query, so it is prepared alone first.
        self.conn.prepare(sql).map_err(|e| e.to_string())?;
        let columns = crate::connection::describe(&self.conn, sql).map_err(|e| e.to_string())?;
        Ok(columns
            .into_iter()
            .map(|(name, ty)| Column::new(name, ty))
            .collect())
    }
}

/// Error classes that no data or moment can change.
fn is_permanent(class: &str) -> bool {
    matches!(class, "Parser" | "Binder" | "Catalog")
}

/// (class, message, position) of a DuckDB error given as JSON (`errors_as_json`), which
/// may follow a `Parser Error: ` prefix.
fn parse_error(raw: &str) -> Option<(String, String, Option<usize>)> {
    let json: serde_json::Value = serde_json::from_str(&raw[raw.find('{')?..]).ok()?;
    let text = |key: &str| json.get(key).and_then(|v| v.as_str()).map(str::to_string);
    let position = text("position").and_then(|p| p.parse().ok());
    Some((
        text("exception_type")?,
        text("exception_message")?,
        position,
    ))
}

/// An empty relation with these columns and types.
fn empty_relation(schema: &Schema) -> String {
    if schema.is_empty() {
        return "SELECT 1 WHERE false".into();
    }
    let cols: Vec<String> = schema
        .iter()
        .map(|c| format!("NULL::{} AS {}", c.data_type, ident(&c.name)))
        .collect();
    format!("SELECT {} LIMIT 0", cols.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema(cols: &[(&str, &str)]) -> Option<Schema> {
        Some(cols.iter().map(|(n, t)| Column::new(*n, *t)).collect())
    }

    #[test]
    fn a_good_query_gives_its_output_columns() {
        let b = Binder::new().unwrap();
        let out = b
            .bind(
                "select k, sum(v) as s from {0} group by k;",
                &[schema(&[("k", "BIGINT"), ("v", "DOUBLE")])],
                false,
            )
            .unwrap()
            .unwrap();
        assert_eq!(
            out,
            vec![Column::new("k", "BIGINT"), Column::new("s", "DOUBLE")]
        );
    }

    #[test]
    fn an_unknown_column_points_into_the_users_query() {
        let b = Binder::new().unwrap();
        let e = b
            .bind(
                "select k, sum(vv) from {0} group by k",
                &[schema(&[("k", "BIGINT"), ("v", "DOUBLE")])],
                false,
            )
            .unwrap_err();
        assert_eq!(e.class, "Binder");
        assert!(e.message.contains("\"vv\""), "{e}");
        assert!(
            e.message.contains("\"v\""),
            "candidates name the real columns: {e}"
        );
        assert_eq!(e.position, Some(14));
        let shown = e.to_string();
        assert!(!shown.contains("__smallpond"), "{shown}");
        assert!(
            shown.ends_with(
                "  in query: select k, sum(vv) from {0} group by k\n                          ^"
            ),
            "{shown}"
        );
    }

    #[test]
    fn a_syntax_error_after_a_placeholder_points_at_the_template() {
        let b = Binder::new().unwrap();
        let e = b
            .bind("select * from {0} wher k = 1", &[None], false)
            .unwrap_err();
        assert_eq!(e.class, "Parser");
        // "k" is where DuckDB gives up: offset 23 of the template, whatever the view's name.
        assert_eq!(e.position, Some(23), "{e}");
    }

    #[test]
    fn unknown_inputs_and_run_time_functions_are_only_parsed() {
        let b = Binder::new().unwrap();
        assert_eq!(b.bind("select nosuch from {0}", &[None], false), Ok(None));
        let k = schema(&[("k", "BIGINT")]);
        assert_eq!(
            b.bind("select my_udf(k) from {0}", std::slice::from_ref(&k), true),
            Ok(None)
        );
        assert!(b.bind("select my_udf(k) from {0}", &[k], false).is_err());
    }

    #[test]
    fn type_errors_are_found_and_errors_of_the_data_are_left_to_the_task() {
        let b = Binder::new().unwrap();
        let k = schema(&[("k", "BIGINT"), ("d", "DATE")]);
        let e = b
            .bind("select sum(d) from {0}", std::slice::from_ref(&k), false)
            .unwrap_err();
        assert_eq!(e.class, "Binder", "{e}");
        // Whether 'x' is a number depends on nothing but the value: DuckDB checks it when
        // it runs; a bind check must not refuse what may be a valid query.
        assert!(b
            .bind("select k::VARCHAR::INT from {0}", &[k], false)
            .unwrap()
            .is_some());
    }

    #[test]
    fn a_long_line_is_shown_around_the_position() {
        let query = format!("select {} nosuch from t", "a, ".repeat(100));
        let shown = point_at(&query, query.find("nosuch"));
        let lines: Vec<&str> = shown.lines().collect();
        assert!(lines[0].len() < 130, "{shown}");
        let caret = lines[1].len() - 1;
        assert_eq!(&lines[0][caret..caret + 6], "nosuch", "{shown}");
        let multi = "select a\nfrom t\nwhere nosuch";
        let shown = point_at(multi, multi.find("nosuch"));
        assert!(
            shown.starts_with("  in query, line 3: where nosuch\n"),
            "{shown}"
        );
    }
}
