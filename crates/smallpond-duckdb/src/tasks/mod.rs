//! One module per task kind; each writes its files into the attempt's private directory.

pub mod hash_partition;
pub mod map_batches;
pub mod rows_partition;
pub mod script;
pub mod sink;
pub mod sql;

use std::path::{Path, PathBuf};

use smallpond_core::plan::ParquetOptions;

use crate::error::io;
use crate::source::path_literal;
use crate::Result;

/// What a task produced (paths inside the private directory, or final for sinks).
#[derive(Debug, Default)]
pub struct Output {
    pub outputs: Vec<Vec<PathBuf>>,
    pub rows: u64,
    pub schema_file: Option<PathBuf>,
    /// A line for the task's log about where its time went.
    pub detail: Option<String>,
}

/// `COPY (query) TO file` options for Parquet.
pub fn parquet_clause(options: &ParquetOptions) -> String {
    format!(
        "FORMAT parquet, COMPRESSION {}, ROW_GROUP_SIZE {}{}",
        options.compression,
        options.row_group_size,
        // A dictionary may hold one byte: every column is written plainly, at once. (The
        // string-only limit left numbers trying: 10M orders partitioned 8 ways by cust_id,
        // 0.33 s per 1.25M rows with it, 0.28 s with this; docs/benchmarks.md.)
        match options.dictionary {
            true => "",
            false => ", DICTIONARY_SIZE_LIMIT 1",
        }
    )
}

pub fn copy_to_file(query: &str, file: &Path, options: &ParquetOptions) -> String {
    format!(
        "COPY ({query}) TO {} ({})",
        path_literal(file),
        parquet_clause(options)
    )
}

/// Writes `query`'s result as the one local Parquet file `file` and returns its rows, read
/// from the footer just written. The statement runs unprepared (`execute_batch`, DuckDB's
/// `duckdb_query`). A prepared statement, which reading the `COPY`'s row count needs, is
/// bound when prepared and, because DuckDB marks this one so
/// (`Binder::SetAlwaysRequireRebind`), bound again when run: a 200-row task's statement took
/// 2.44 ms that way and 1.58 ms this way (`sp-bench task-statement`, docs/benchmarks.md).
/// `shown` is what an error names instead of the expanded SQL.
pub fn write_parquet_file(
    conn: &duckdb::Connection,
    query: &str,
    file: &Path,
    options: &ParquetOptions,
    shown: &str,
) -> Result<u64> {
    crate::connection::execute(conn, &copy_to_file(query, file, options), shown)?;
    footer_rows(file, "DuckDB")
}

/// The rows a Parquet file holds, from its footer; `writer` names who wrote it, for the
/// error when it is not Parquet.
pub fn footer_rows(path: &Path, writer: &str) -> Result<u64> {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    let file = std::fs::File::open(path).map_err(io(path))?;
    let reader = SerializedFileReader::new(file).map_err(|e| {
        crate::Error::InvalidInput(format!(
            "{writer} wrote {}, which is not a Parquet file: {e}",
            path.display()
        ))
    })?;
    Ok(reader.metadata().file_metadata().num_rows().max(0) as u64)
}

/// The output of a partition task that wrote `outputs` (files per slot) under `dir`, once
/// the `rows_out` they hold are checked against the `rows_in` it read. Slots that got no
/// rows still need the schema, so readers see an empty relation: `write_schema` then writes
/// an empty file of it to the path it is given (and returns its rows, none).
pub(crate) fn partitioned_output(
    outputs: Vec<Vec<PathBuf>>,
    rows_in: u64,
    rows_out: u64,
    dir: &Path,
    write_schema: impl FnOnce(&Path) -> Result<u64>,
) -> Result<Output> {
    if rows_out != rows_in {
        return Err(crate::Error::RowCountMismatch { rows_in, rows_out });
    }
    let schema_file = if outputs.iter().any(Vec::is_empty) {
        let file = dir.join("schema.parquet");
        write_schema(&file)?;
        Some(file)
    } else {
        None
    };
    Ok(Output {
        outputs,
        rows: rows_in,
        schema_file,
        detail: None,
    })
}

/// A user's query without trailing semicolons, so it can be nested in `COPY (...)`.
pub fn strip_query(query: &str) -> &str {
    query
        .trim()
        .trim_end_matches(|c: char| c == ';' || c.is_whitespace())
}

/// Parquet files below `dir`, sorted.
pub fn parquet_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    if !dir.exists() {
        return Ok(out);
    }
    for entry in std::fs::read_dir(dir).map_err(io(dir))? {
        let path = entry.map_err(io(dir))?.path();
        if path.is_dir() {
            out.extend(parquet_files(&path)?);
        } else if path.extension().is_some_and(|e| e == "parquet") {
            out.push(path);
        }
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dictionaries_are_turned_off_only_when_asked_and_old_options_read_back() {
        let mut options = ParquetOptions::default();
        assert!(!parquet_clause(&options).contains("DICTIONARY"));
        options.dictionary = false;
        assert!(parquet_clause(&options).ends_with(", DICTIONARY_SIZE_LIMIT 1"));
        // Options serialised before the field existed (task records, resumed jobs) keep
        // dictionaries on; the default is not written out.
        let old: ParquetOptions =
            serde_json::from_str(r#"{"compression":"zstd","row_group_size":10}"#).unwrap();
        assert!(old.dictionary);
        let json = serde_json::to_string(&ParquetOptions::default()).unwrap();
        assert!(!json.contains("dictionary"), "{json}");
        // Written under its old name, the switch still reads back.
        let plain: ParquetOptions = serde_json::from_str(
            r#"{"compression":"zstd","row_group_size":10,"string_dictionary":false}"#,
        )
        .unwrap();
        assert!(!plain.dictionary);
    }

    #[test]
    fn without_dictionaries_numbers_and_strings_of_few_values_are_written_plainly() {
        let dir = tempfile::tempdir().unwrap();
        let conn = crate::connection::in_memory().unwrap();
        let query = "SELECT range % 5 AS n, 'v' || (range % 3) AS s FROM range(10000)";
        let encodings = |dictionary: bool| {
            let file = dir.path().join(format!("d-{dictionary}.parquet"));
            let options = ParquetOptions {
                dictionary,
                ..ParquetOptions::default()
            };
            write_parquet_file(&conn, query, &file, &options, "q").unwrap();
            let mut stmt = conn
                .prepare(&format!(
                    "SELECT path_in_schema, string_agg(encodings, ',') FROM parquet_metadata({}) \
                     GROUP BY 1 ORDER BY 1",
                    crate::source::path_literal(&file)
                ))
                .unwrap();
            let rows = stmt
                .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
                .unwrap();
            rows.map(|r| r.unwrap()).collect::<Vec<_>>()
        };
        // Both columns are dictionary-encoded by default, and neither when turned off.
        for (column, encoding) in encodings(true) {
            assert!(encoding.contains("DICTIONARY"), "{column}: {encoding}");
        }
        for (column, encoding) in encodings(false) {
            assert!(!encoding.contains("DICTIONARY"), "{column}: {encoding}");
        }
    }

    #[test]
    fn a_written_file_reports_the_rows_it_holds_and_a_failed_statement_names_the_query() {
        let dir = tempfile::tempdir().unwrap();
        let conn = crate::connection::in_memory().unwrap();
        let options = ParquetOptions::default();
        for n in [0u64, 1, 5000] {
            let file = dir.path().join(format!("rows-{n}.parquet"));
            let query = format!("SELECT range AS k FROM range({n})");
            assert_eq!(
                write_parquet_file(&conn, &query, &file, &options, "q").unwrap(),
                n
            );
            let read = crate::connection::query_u64(
                &conn,
                &format!(
                    "SELECT count(*) FROM {}",
                    crate::source::input_literal(&file)
                ),
                "count",
            )
            .unwrap();
            assert_eq!(read, n);
        }
        let file = dir.path().join("bad.parquet");
        let err = write_parquet_file(
            &conn,
            "SELECT nope FROM range(3)",
            &file,
            &options,
            "users query",
        );
        match err {
            Err(crate::Error::Sql { sql, error }) => {
                assert_eq!(sql, "users query");
                assert!(error.to_string().contains("nope"), "{error}");
            }
            other => panic!("expected an SQL error, got {other:?}"),
        }
        assert!(!file.exists());
        std::fs::write(&file, b"not parquet").unwrap();
        let err = footer_rows(&file, "a script").unwrap_err().to_string();
        assert!(
            err.contains("a script wrote") && err.contains("not a Parquet file"),
            "{err}"
        );
    }
}
