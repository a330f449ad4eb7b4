//! One result, one schema. Partitions of one node are computed apart, so their files can
//! disagree: input files whose schema drifted (`k BIGINT` in the old ones, `k VARCHAR` in
//! the new), or a Python function returning `int` in one partition and `str` in another.
//! Before a result is published its files are made to agree, the way DuckDB unifies a
//! `UNION ALL BY NAME` (and the way the driver already reads a result into Arrow): every
//! column of any file, in order of first appearance, each with the type that holds every
//! file's values (BIGINT and VARCHAR give VARCHAR), NULL where a file lacks the column.
//! Only the files that differ are rewritten; when no such type exists the error names the
//! files and the columns.

use std::path::{Path, PathBuf};

use arrow::datatypes::DataType;
use duckdb::Connection;
use smallpond_core::plan::ParquetOptions;

use crate::connection::describe;
use crate::error::io;
use crate::source::input_literal;
use crate::tasks::write_parquet_file;
use crate::{Error, Result};

/// Column names and types of a Parquet file, from its footer. The types are the Parquet
/// schema's own (not an Arrow schema a writer embedded), so that files of different writers
/// holding the same types compare equal.
pub fn file_columns(path: &Path) -> Result<Vec<(String, DataType)>> {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    let file = std::fs::File::open(path).map_err(io(path))?;
    let bad = |e: parquet::errors::ParquetError| Error::Parquet {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let reader = SerializedFileReader::new(file).map_err(bad)?;
    let descr = reader.metadata().file_metadata().schema_descr_ptr();
    let schema = parquet::arrow::parquet_to_arrow_schema(&descr, None).map_err(bad)?;
    Ok(schema
        .fields()
        .iter()
        .map(|f| (f.name().clone(), f.data_type().clone()))
        .collect())
}

/// Makes `files` (Parquet files that together are one result) share one schema, rewriting
/// in place (through a temporary name) those whose columns differ from the unified ones.
/// Returns how many were rewritten.
pub fn one_schema(conn: &Connection, files: &[PathBuf], parquet: &ParquetOptions) -> Result<usize> {
    // In order of first appearance: the unified columns come in the first file's order.
    let mut groups: Groups<'_> = Vec::new();
    for file in files {
        let columns = file_columns(file)?;
        match groups.iter_mut().find(|(c, _)| *c == columns) {
            Some((_, group)) => group.push(file),
            None => groups.push((columns, vec![file])),
        }
    }
    if groups.len() <= 1 {
        return Ok(0);
    }
    match rewrite(conn, &groups, parquet) {
        Ok(rewritten) => {
            tracing::warn!(
                "the partitions of one result had different schemas ({}); {rewritten} file(s) \
                 rewritten with one",
                describe_difference(&groups)
            );
            Ok(rewritten)
        }
        Err(e) => Err(Error::InvalidInput(format!(
            "the files of one result have columns whose types do not combine, so they cannot \
             share one schema ({}): {}; cast the column to one type in the query",
            describe_difference(&groups),
            first_line(&e.to_string())
        ))),
    }
}

/// A query of no rows with these columns (name, DuckDB type): `{no_rows} UNION ALL BY NAME
/// <query>` gives `query`'s rows these columns, in this order.
pub(crate) fn no_rows(columns: &[(String, String)]) -> String {
    let columns: Vec<String> = columns
        .iter()
        .map(|(name, ty)| format!("NULL::{ty} AS {}", crate::source::ident(name)))
        .collect();
    format!("SELECT {} WHERE false", columns.join(", "))
}

/// Rewrites the groups of files that do not have the unified schema.
fn rewrite(conn: &Connection, groups: &Groups<'_>, parquet: &ParquetOptions) -> Result<usize> {
    let columns_of = |sql: String| describe(conn, &sql).map_err(|error| Error::Sql { sql, error });
    let reader = |file: &PathBuf| format!("SELECT * FROM read_parquet({})", input_literal(file));
    // One file of each schema is enough for DuckDB to tell the unified one.
    let examples: Vec<String> = groups.iter().map(|(_, files)| reader(files[0])).collect();
    let unified = columns_of(examples.join(" UNION ALL BY NAME "))?;
    let empty = no_rows(&unified);
    let mut rewritten = 0;
    for ((_, group), example) in groups.iter().zip(examples) {
        if columns_of(example)? == unified {
            continue;
        }
        for file in group {
            let tmp = file.with_extension("unified.tmp");
            let query = format!("{empty} UNION ALL BY NAME {}", reader(file));
            let written = write_parquet_file(conn, &query, &tmp, parquet, "unify");
            if let Err(e) = written {
                let _ = std::fs::remove_file(&tmp);
                return Err(e);
            }
            // A hard link to a staged file is replaced, not written through.
            std::fs::rename(&tmp, file).map_err(io(file))?;
            rewritten += 1;
        }
    }
    Ok(rewritten)
}

type Groups<'a> = Vec<(Vec<(String, DataType)>, Vec<&'a PathBuf>)>;

/// `column "k": Int64 in part-00000-0000.parquet (and 3 more), Utf8 in part-00004-0000.parquet`
/// for each column whose type differs between the groups of files.
fn describe_difference(groups: &Groups<'_>) -> String {
    let mut names: Vec<&String> = Vec::new();
    for (name, _) in groups.iter().flat_map(|(schema, _)| schema) {
        if !names.contains(&name) {
            names.push(name);
        }
    }
    let mut parts = Vec::new();
    for name in names {
        let types: Vec<Option<&DataType>> = groups
            .iter()
            .map(|(schema, _)| schema.iter().find(|(n, _)| n == name).map(|(_, t)| t))
            .collect();
        if types.iter().all(|t| *t == types[0]) {
            continue;
        }
        let seen: Vec<String> = types
            .iter()
            .zip(groups.iter().map(|(_, files)| files))
            .map(|(ty, files)| {
                let ty = ty.map_or("absent".to_string(), |t| t.to_string());
                let first = files[0].file_name().unwrap_or_default().to_string_lossy();
                match files.len() {
                    1 => format!("{ty} in {first}"),
                    n => format!("{ty} in {first} (and {} more)", n - 1),
                }
            })
            .collect();
        parts.push(format!("column {name:?}: {}", seen.join(", ")));
    }
    parts.join("; ")
}

/// The first line of a DuckDB message (its class and what went wrong).
fn first_line(message: &str) -> &str {
    message.lines().next().unwrap_or(message)
}
