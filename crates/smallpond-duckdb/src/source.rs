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
