//! Turning datasets into DuckDB reader expressions.

use std::path::Path;

use smallpond_core::dataset::{Column, CsvDataSet, CsvDialect, DataSet};
use smallpond_core::task::ResolvedPartition;

use crate::{Error, Result};

/// `'text'` with embedded quotes doubled.
pub fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// `"name"` with embedded quotes doubled.
pub fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A path DuckDB writes to or uses as it is (COPY targets, settings).
pub fn path_literal(path: &Path) -> String {
    literal(&path.to_string_lossy())
}

/// A file DuckDB reads. Its readers expand every path with `*`, `?` or `[` as a glob, so a
/// file whose name has them would read its look-alikes too (`b*.parquet` matches
/// `bb.parquet`); here they are bracketed (`[*]`, `[?]`, `[[]`), which matches them alone.
pub fn input_literal(path: &Path) -> String {
    let text = path.to_string_lossy();
    if !text.contains(['*', '?', '[']) {
        return literal(&text);
    }
    let mut escaped = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '*' | '?' | '[' => {
                escaped.push('[');
                escaped.push(c);
                escaped.push(']');
            }
            c => escaped.push(c),
        }
    }
    literal(&escaped)
}

fn file_list(files: &[std::path::PathBuf]) -> String {
    let items: Vec<String> = files.iter().map(|f| input_literal(f)).collect();
    format!("[{}]", items.join(", "))
}

fn columns_struct(schema: &[Column]) -> String {
    let items: Vec<String> = schema
        .iter()
        .map(|c| format!("{}: {}", literal(&c.name), literal(&c.data_type)))
        .collect();
    format!("{{{}}}", items.join(", "))
}

/// An empty relation with the declared columns.
fn empty_relation(schema: &[Column]) -> String {
    let cols: Vec<String> = schema
        .iter()
        .map(|c| format!("NULL::{} AS {}", c.data_type, ident(&c.name)))
        .collect();
    format!("(SELECT {} LIMIT 0)", cols.join(", "))
}

/// A table expression (usable after FROM) that reads one dataset.
pub fn dataset_sql(dataset: &DataSet) -> Result<String> {
    Ok(match dataset {
        DataSet::Parquet(d) => {
            let reader = match (d.files.is_empty(), &d.schema_file) {
                (false, _) => format!(
                    "read_parquet({}, hive_partitioning = false, union_by_name = {})",
                    file_list(&d.files),
                    d.union_by_name
                ),
                (true, Some(schema)) => format!(
                    "(SELECT * FROM read_parquet({}, hive_partitioning = false) LIMIT 0)",
                    input_literal(schema)
                ),
                (true, None) => {
                    return Err(Error::InvalidInput(
                        "a partition has no files and no known schema".into(),
                    ))
                }
            };
            match &d.columns {
                Some(cols) => format!("(SELECT {} FROM {reader})", select_list(cols)),
                None => reader,
            }
        }
        DataSet::Csv(d) if d.detect.is_some() => {
            return Err(Error::InvalidInput(format!(
                "the columns of CSV files {:?} were never detected",
                d.files
            )))
        }
        DataSet::Csv(d) if d.files.is_empty() => empty_relation(&d.schema),
        DataSet::Csv(d) => {
            let mut options = String::new();
            let dialect = &d.dialect;
            for (name, value) in [
                ("quote", dialect.quote.map(String::from)),
                ("escape", dialect.escape.map(String::from)),
                ("dateformat", dialect.date_format.clone()),
                ("timestampformat", dialect.timestamp_format.clone()),
            ] {
                if let Some(v) = value {
                    options.push_str(&format!(", {name} = {}", literal(&v)));
                }
            }
            format!(
                "read_csv({}, auto_detect = false, header = {}, delim = {}, columns = {}{options}, hive_partitioning = false)",
                file_list(&d.files),
                d.header,
                literal(&d.delim.to_string()),
                columns_struct(&d.schema)
            )
        }
        DataSet::Json(d) if d.files.is_empty() => empty_relation(&d.schema),
        DataSet::Json(d) => format!(
            "read_json({}, format = 'newline_delimited', columns = {}, hive_partitioning = false)",
            file_list(&d.files),
            columns_struct(&d.schema)
        ),
    })
}

/// A CSV source whose columns are to be detected, with what DuckDB's sniffer finds in its
/// first file (the columns, and the header line and delimiter where not given), so that
/// every partition reads every file the same way. Unchanged when nothing is to detect.
pub fn detect_csv(d: &CsvDataSet) -> Result<CsvDataSet> {
    let Some(given) = &d.detect else {
        return Ok(d.clone());
    };
    let Some(first) = d.files.first() else {
        return Err(Error::InvalidInput(
            "no CSV file to detect the columns from; give a schema".into(),
        ));
    };
    let mut args = vec![input_literal(first)];
    if let Some(h) = given.header {
        args.push(format!("header = {h}"));
    }
    if let Some(c) = given.delim {
        args.push(format!("delim = {}", literal(&c.to_string())));
    }
    let sql = format!(
        "SELECT Delimiter, Quote, Escape, HasHeader, to_json(Columns)::VARCHAR, DateFormat, \
         TimestampFormat FROM sniff_csv({})",
        args.join(", ")
    );
    let conn = crate::connection::shared()?;
    type Sniffed = (
        String,
        String,
        String,
        bool,
        String,
        Option<String>,
        Option<String>,
    );
    let row: Sniffed = conn
        .query_row(&sql, [], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
            ))
        })
        .map_err(|error| {
            Error::InvalidInput(format!(
                "cannot detect the columns of {} (give a schema): {}",
                first.display(),
                crate::error::duckdb_message(&error)
            ))
        })?;
    let (delim, quote, escape, header, columns, date_format, timestamp_format) = row;
    let one = |what: &str, text: &str| -> Result<Option<char>> {
        let mut chars = text.chars();
        match (text, chars.next(), chars.next()) {
            ("(empty)" | "", _, _) => Ok(None),
            (_, Some(c), None) => Ok(Some(c)),
            _ => Err(Error::InvalidInput(format!(
                "{}: the detected {what} {text:?} is not one character; give delim=",
                first.display()
            ))),
        }
    };
    #[derive(serde::Deserialize)]
    struct Detected {
        name: String,
        #[serde(rename = "type")]
        data_type: String,
    }
    let columns: Vec<Detected> = serde_json::from_str(&columns)
        .map_err(|e| Error::InvalidInput(format!("sniff_csv columns {columns:?}: {e}")))?;
    let format = |f: Option<String>| f.filter(|f| !f.is_empty() && f != "(empty)");
    Ok(CsvDataSet {
        files: d.files.clone(),
        schema: columns
            .into_iter()
            .map(|c| Column::new(c.name, c.data_type))
            .collect(),
        delim: match given.delim {
            Some(c) => c,
            None => one("delimiter", &delim)?.unwrap_or(','),
        },
        header: given.header.unwrap_or(header),
        dialect: CsvDialect {
            quote: one("quote", &quote)?,
            escape: one("escape", &escape)?,
            date_format: format(date_format),
            timestamp_format: format(timestamp_format),
        },
        detect: None,
        remote: d.remote.clone(),
    })
}

fn select_list(cols: &[String]) -> String {
    cols.iter().map(|c| ident(c)).collect::<Vec<_>>().join(", ")
}

/// An output that has no rows and whose columns nobody knows (a function produced
/// nothing for an empty partition and declared no schema): it contributes nothing.
fn unknown_empty(dataset: &DataSet) -> bool {
    matches!(dataset, DataSet::Parquet(d) if d.files.is_empty() && d.schema_file.is_none())
}

/// Whether a partition can be read: it has files, or at least a known schema.
pub fn is_readable(partition: &ResolvedPartition) -> bool {
    partition.datasets.iter().any(|d| !unknown_empty(d))
}

/// A table expression that reads a whole partition (all its datasets, projected).
pub fn partition_sql(partition: &ResolvedPartition) -> Result<String> {
    let readers: Vec<String> = partition
        .datasets
        .iter()
        .filter(|d| !unknown_empty(d))
        .map(dataset_sql)
        .collect::<Result<_>>()?;
    let body = match readers.len() {
        0 if !partition.datasets.is_empty() => {
            return Err(Error::InvalidInput(
                "a partition is empty and its columns are unknown (a function returned no \
                 rows and declared no schema; pass schema=...)"
                    .into(),
            ))
        }
        0 => return Err(Error::InvalidInput("a partition has no data".into())),
        1 => readers.into_iter().next().expect("one reader"),
        _ => {
            let selects: Vec<String> = readers
                .iter()
                .map(|r| format!("SELECT * FROM {r}"))
                .collect();
            format!("({})", selects.join(" UNION ALL BY NAME "))
        }
    };
    Ok(match &partition.columns {
        Some(cols) => format!("(SELECT {} FROM {body})", select_list(cols)),
        None => body,
    })
}

/// The name input `i` has inside a query: a temporary view over the input's files, so that
/// `{0}` can be used wherever a table name can (`FROM {0}`, `{0}.col`, `JOIN {1} USING ...`).
pub fn input_view(i: usize) -> String {
    format!("__smallpond_input_{i}")
}

/// Creates the views `{0}`, `{1}`, ... stand for.
pub fn create_input_views(conn: &duckdb::Connection, inputs: &[ResolvedPartition]) -> Result<()> {
    for (i, input) in inputs.iter().enumerate() {
        let sql = format!(
            "CREATE OR REPLACE TEMP VIEW {} AS SELECT * FROM {}",
            input_view(i),
            partition_sql(input)?
        );
        crate::connection::execute(conn, &sql, &sql)?;
    }
    Ok(())
}

/// `query`, whose `{N}` are already [`input_view`] names, with the inputs it uses defined
/// in a `WITH` clause of its own instead of as views: a view is a statement of its own and
/// its query is bound twice (when it is made and where it is used): 1.95 ms against 1.3 for
/// a tiny task's statements (`benchmarks/python/task_statements.py`). `NOT MATERIALIZED` keeps a view's meaning: the input is read where it is named.
/// `None` when the query does not start (after comments) with `SELECT`, `FROM` or `WITH`:
/// then only views will do.
pub fn with_input_ctes(
    query: &str,
    inputs: &[ResolvedPartition],
    used: &std::collections::BTreeSet<usize>,
) -> Result<Option<String>> {
    // `{N}` beyond the inputs was refused when the query was bound.
    let mut ctes = Vec::with_capacity(used.len());
    for (i, input) in inputs.iter().enumerate().filter(|(i, _)| used.contains(i)) {
        ctes.push(format!(
            "{} AS NOT MATERIALIZED (SELECT * FROM {})",
            input_view(i),
            partition_sql(input)?
        ));
    }
    Ok(splice_ctes(query, &ctes))
}

/// `query` with the common table expressions `ctes` (`name AS (...)`) first in its `WITH`
/// clause, or in one of its own; `None` unless it starts with `SELECT`, `FROM` or `WITH`.
pub fn splice_ctes(query: &str, ctes: &[String]) -> Option<String> {
    let (start, word) = first_word(query, 0)?;
    let word = word.to_ascii_lowercase();
    let (at, head, tail) = match word.as_str() {
        "select" | "from" => (start, "WITH ", " "),
        "with" => match first_word(query, start + 4) {
            Some((next, w)) if w.eq_ignore_ascii_case("recursive") => (next + w.len(), " ", ","),
            _ => (start + 4, " ", ","),
        },
        _ => return None,
    };
    if ctes.is_empty() {
        return Some(query.to_string());
    }
    Some(format!(
        "{}{head}{}{tail}{}",
        &query[..at],
        ctes.join(", "),
        &query[at..]
    ))
}

/// The first word of `sql` at or after byte `from`, skipping white space and comments, and
/// where it starts.
fn first_word(sql: &str, from: usize) -> Option<(usize, &str)> {
    let bytes = sql.as_bytes();
    let mut i = from;
    loop {
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        let rest = &bytes[i..];
        if rest.starts_with(b"--") {
            i += rest.iter().position(|&b| b == b'\n')?;
        } else if rest.starts_with(b"/*") {
            i += 2 + sql[i + 2..].find("*/")? + 2;
        } else {
            break;
        }
    }
    let len = bytes[i..]
        .iter()
        .take_while(|b| b.is_ascii_alphabetic())
        .count();
    // A word, and one that ends there (`select*` is fine, `select1` is not a keyword).
    let next = bytes.get(i + len).copied().unwrap_or(b' ');
    (len > 0 && !(next.is_ascii_alphanumeric() || next == b'_')).then(|| (i, &sql[i..i + len]))
}

/// The inputs (`{N}`) a query template names.
pub fn used_inputs(template: &str) -> std::collections::BTreeSet<usize> {
    use smallpond_core::plan::sql::{pieces, Piece};
    pieces(template)
        .into_iter()
        .filter_map(|p| match p {
            Piece::Input(i) => Some(i),
            _ => None,
        })
        .collect()
}

/// What a task's named placeholders stand for (`smallpond_core::plan::sql::NAMED`).
#[derive(Debug, Clone, Default)]
pub struct QueryValues {
    pub partition: u32,
    /// Which statement of a node's list of queries this is.
    pub query_index: u32,
    pub cpu_limit: u32,
    pub memory_limit: u64,
    pub rand_seed: u32,
}

impl QueryValues {
    /// The values of one task attempt: its partition, resources, and a seed derived from
    /// what it computes (so every attempt of it, and a resumed run, draws the same numbers).
    pub fn of(attempt: &smallpond_core::task::TaskAttempt) -> Self {
        let f = attempt.fingerprint;
        Self {
            partition: attempt.partition,
            query_index: 0,
            cpu_limit: attempt.resources.cpus.max(1),
            memory_limit: attempt.resources.memory_bytes,
            // 31 bits, as the original's: DuckDB takes a sample seed up to INT32_MAX.
            rand_seed: ((f ^ (f >> 32)) as u32) & 0x7fff_ffff,
        }
    }

    fn get(&self, name: &str) -> Result<String> {
        Ok(match name {
            "batch_index" => "0".into(),
            "query_index" => self.query_index.to_string(),
            "cpu_limit" => self.cpu_limit.to_string(),
            "memory_limit" => self.memory_limit.to_string(),
            "rand_seed" => self.rand_seed.to_string(),
            "output_filename" => format!("part-{:05}-0.0", self.partition),
            "__data_partition__" => self.partition.to_string(),
            other => {
                return Err(Error::InvalidInput(format!(
                    "{{{other}}} is not a placeholder of a query"
                )))
            }
        })
    }
}

/// Substitutes `{i}` in a query template with the name of input `i`'s view, and named
/// placeholders with their `values`.
pub fn bind_query(template: &str, inputs: usize, values: &QueryValues) -> Result<String> {
    use smallpond_core::plan::sql::{pieces, Piece};
    let mut out = String::with_capacity(template.len());
    for piece in pieces(template) {
        match piece {
            Piece::Text(t) => out.push_str(t),
            Piece::Input(i) if i < inputs => out.push_str(&input_view(i)),
            Piece::Input(i) => {
                return Err(Error::InvalidInput(format!(
                    "query references {{{i}}} but the task has {inputs} input(s)"
                )))
            }
            Piece::Named(n) => out.push_str(&values.get(n)?),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_definitions_go_first_in_the_querys_with_clause_or_in_one_of_its_own() {
        let ctes = ["a AS (SELECT 1)".to_string(), "b AS (SELECT 2)".to_string()];
        let splice = |q: &str| splice_ctes(q, &ctes);
        assert_eq!(
            splice("SELECT * FROM a").as_deref(),
            Some("WITH a AS (SELECT 1), b AS (SELECT 2) SELECT * FROM a")
        );
        assert_eq!(
            splice("  from a select x").as_deref(),
            Some("  WITH a AS (SELECT 1), b AS (SELECT 2) from a select x")
        );
        assert_eq!(
            splice("-- first\n/* then */ select* from a").as_deref(),
            Some("-- first\n/* then */ WITH a AS (SELECT 1), b AS (SELECT 2) select* from a")
        );
        assert_eq!(
            splice("WITH c AS (SELECT * FROM a) SELECT * FROM c").as_deref(),
            Some("WITH a AS (SELECT 1), b AS (SELECT 2), c AS (SELECT * FROM a) SELECT * FROM c")
        );
        assert_eq!(
            splice("with /* r */ Recursive t(n) AS (SELECT 1) SELECT * FROM t").as_deref(),
            Some("with /* r */ Recursive a AS (SELECT 1), b AS (SELECT 2), t(n) AS (SELECT 1) SELECT * FROM t")
        );
        // Anything else keeps its views: a parenthesised query, PIVOT, DESCRIBE, a word
        // that only starts like a keyword, a comment that never ends.
        for q in [
            "(SELECT 1)",
            "PIVOT a ON x",
            "DESCRIBE a",
            "selection",
            "/* open",
            "-- all",
        ] {
            assert_eq!(splice(q), None, "{q}");
        }
        assert_eq!(splice_ctes("SELECT 1", &[]).as_deref(), Some("SELECT 1"));
    }

    #[test]
    fn a_template_uses_the_inputs_it_names() {
        let used: Vec<usize> =
            used_inputs("SELECT * FROM {1} JOIN {0} USING (k) WHERE {1}.x > {{2}}")
                .into_iter()
                .collect();
        assert_eq!(used, [0, 1]);
    }
}
