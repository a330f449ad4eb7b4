use std::path::Path;

use duckdb::Connection;
use smallpond_core::plan::ParquetOptions;
use smallpond_core::task::ResolvedPartition;

use super::{copy_to_file, strip_query, Output};
use crate::connection::query_u64;
use crate::source::{bind_query, create_input_views, QueryValues};
use crate::Result;

/// Runs the query over the inputs and writes the result as one Parquet file.
pub fn run(
    conn: &Connection,
    query: &str,
    inputs: &[ResolvedPartition],
    values: &QueryValues,
    parquet: &ParquetOptions,
    dir: &Path,
) -> Result<Output> {
    create_input_views(conn, inputs)?;
    let bound = bind_query(strip_query(query), inputs.len(), values)?;
    let partition = values.partition;
    let file = dir.join(format!("part-{partition:05}.parquet"));
    let rows = query_u64(conn, &copy_to_file(&bound, &file, parquet), query)?;
    Ok(Output {
        outputs: vec![vec![file]],
        rows,
        schema_file: None,
    })
}
