//! Hash, random and by-column partitioning in one pass over the input.
//!
//! The whole input is written by a single `COPY ... PARTITION_BY` statement: DuckDB
//! computes each row's partition, routes it to that partition's writer and writes all
//! partitions in parallel. There is never one query per output partition.

use std::path::{Path, PathBuf};

use duckdb::Connection;
use smallpond_core::plan::{ParquetOptions, PartitionMethod};
use smallpond_core::task::ResolvedPartition;

use super::{copy_to_file, parquet_clause, parquet_files, Output};
use crate::connection::{parquet_rows, query_u64};
use crate::error::io;
use crate::source::{bind_query, create_input_views, ident, partition_sql, path_literal};
use crate::{Error, Result};

/// Name of the partition index column while writing; never in the output files.
pub const PARTITION_COLUMN: &str = "__smallpond_partition";

/// Whether `repartition(by=...)` names a column (`bucket`) rather than, as the original
/// smallpond also allows, giving an expression (`item % 10`).
pub fn is_column_name(by: &str) -> bool {
    let mut chars = by.chars();
    chars.next().is_some_and(|c| c.is_alphabetic() || c == '_')
        && chars.all(|c| c.is_alphanumeric() || c == '_')
}

/// The SQL of `repartition(by=...)`: a column name quoted, an expression parenthesised.
pub fn partition_key_sql(by: &str) -> String {
    if is_column_name(by) {
        ident(by)
    } else {
        format!("({by})")
    }
}

/// The SQL expression giving a row's partition in `0..n`.
pub fn partition_expr(method: &PartitionMethod, n: u32) -> String {
    match method {
        PartitionMethod::Hash(keys) => {
            let keys: Vec<String> = keys.iter().map(|k| ident(k)).collect();
            format!("(hash({}) % {n})::BIGINT", keys.join(", "))
        }
        PartitionMethod::Random => format!("floor(random() * {n})::BIGINT"),
        PartitionMethod::Column(col) => {
            let c = partition_key_sql(col);
            format!(
                "CASE WHEN {c} >= 0 AND {c} < {n} THEN {c}::BIGINT \
                 ELSE error('partition key ' || coalesce({c}::VARCHAR, 'NULL') || ' is out of range 0-{}') END",
                n - 1
            )
        }
    }
}

/// Where rows go: `n` partitions chosen by `method`; with `keep`, each row's partition index
/// is also written into that column.
pub struct Routing<'a> {
    pub method: &'a PartitionMethod,
    pub n: u32,
    pub keep: Option<&'a str>,
}

pub fn run(
    conn: &Connection,
    input: &ResolvedPartition,
    routing: &Routing<'_>,
    // The query each row goes through first, and its placeholders' values.
    pre_query: Option<(&str, &crate::source::QueryValues)>,
    parquet: &ParquetOptions,
    dir: &Path,
) -> Result<Output> {
    let Routing { method, n, keep } = *routing;
    let source = match pre_query {
        None => partition_sql(input)?,
        Some((template, values)) => {
            create_input_views(conn, std::slice::from_ref(input))?;
            format!("({})", bind_query(super::strip_query(template), 1, values)?)
        }
    };
    let expr = partition_expr(method, n);
    let select = match keep {
        // Partitioning by that very column already keeps it as it is.
        Some(col) if *method != PartitionMethod::Column(col.to_string()) => {
            let name = col.replace('\'', "''");
            // Nested: DuckDB cannot reuse the alias of a random() expression.
            format!(
                "SELECT *, {PARTITION_COLUMN}::UBIGINT AS {} FROM \
                 (SELECT *, {expr} AS {PARTITION_COLUMN} FROM \
                 (SELECT COLUMNS(c -> c != '{name}') FROM {source}))",
                ident(col)
            )
        }
        _ => format!("SELECT *, {expr} AS {PARTITION_COLUMN} FROM {source}"),
    };
    write_partitioned(conn, &select, &source, n, parquet, dir, &method.to_string())
}

/// Writes `select` (which has a [`PARTITION_COLUMN`]) into `n` slots under `dir`,
/// flattening DuckDB's `col=value/` directories into `part-PPPPP-I.parquet` files, and
/// checks that the files hold exactly the rows that were read.
pub(crate) fn write_partitioned(
    conn: &Connection,
    select: &str,
    source: &str,
    n: u32,
    parquet: &ParquetOptions,
    dir: &Path,
    shown: &str,
) -> Result<Output> {
    let hive = dir.join("hive");
    let copy = format!(
        "COPY ({select}) TO {} ({}, PARTITION_BY ({PARTITION_COLUMN}), WRITE_PARTITION_COLUMNS false)",
        path_literal(&hive),
        parquet_clause(parquet)
    );
    let rows_in = query_u64(conn, &copy, &format!("partition by {shown}"))?;

    let mut outputs: Vec<Vec<PathBuf>> = vec![Vec::new(); n as usize];
    for slot in 0..n {
        let slot_dir = hive.join(format!("{PARTITION_COLUMN}={slot}"));
        for (i, file) in parquet_files(&slot_dir)?.into_iter().enumerate() {
            let flat = dir.join(format!("part-{slot:05}-{i:04}.parquet"));
            std::fs::rename(&file, &flat).map_err(io(&file))?;
            outputs[slot as usize].push(flat);
        }
    }
    let leftover = parquet_files(&hive)?;
    if let Some(stray) = leftover.first() {
        // A partition index outside 0..n would be a bug in the partition expression.
        return Err(Error::InvalidInput(format!(
            "partition writer produced an unexpected file {}",
            stray.display()
        )));
    }
    std::fs::remove_dir_all(&hive)
        .or_else(ignore_missing)
        .map_err(io(&hive))?;

    let all: Vec<&PathBuf> = outputs.iter().flatten().collect();
    let rows_out = parquet_rows(conn, &all)?;
    if rows_out != rows_in {
        return Err(Error::RowCountMismatch { rows_in, rows_out });
    }

    // Slots that got no rows still need the schema, so readers see an empty relation.
    let schema_file = if outputs.iter().any(Vec::is_empty) {
        let file = dir.join("schema.parquet");
        let sql = copy_to_file(&format!("SELECT * FROM {source} LIMIT 0"), &file, parquet);
        query_u64(conn, &sql, "write schema file")?;
        Some(file)
    } else {
        None
    };
    Ok(Output {
        outputs,
        rows: rows_in,
        schema_file,
    })
}

fn ignore_missing(e: std::io::Error) -> std::io::Result<()> {
    if e.kind() == std::io::ErrorKind::NotFound {
        Ok(())
    } else {
        Err(e)
    }
}
