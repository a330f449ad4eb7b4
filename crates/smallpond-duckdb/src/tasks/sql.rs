use std::path::Path;

use duckdb::Connection;
use smallpond_core::plan::ParquetOptions;
use smallpond_core::task::ResolvedPartition;

use super::{strip_query, write_parquet_file, Output};
use crate::source::{bind_query, create_input_views, used_inputs, with_input_ctes, QueryValues};
use crate::Result;

/// Runs the `setup` statements, then the query over the inputs, and writes the query's
/// result as one Parquet file, `file`. `{query_index}` is each statement's position. A
/// query alone names its inputs in a `WITH` clause of its own; set-up statements need views.
pub fn run(
    conn: &Connection,
    setup: &[String],
    query: &str,
    inputs: &[ResolvedPartition],
    values: &QueryValues,
    parquet: &ParquetOptions,
    file: &Path,
) -> Result<Output> {
    if !setup.is_empty() {
        create_input_views(conn, inputs)?;
    }
    for (i, statement) in setup.iter().enumerate() {
        let values = QueryValues {
            query_index: i as u32,
            ..values.clone()
        };
        let bound = bind_query(strip_query(statement), inputs.len(), &values)?;
        crate::connection::execute(conn, &bound, statement)?;
    }
    let values = &QueryValues {
        query_index: setup.len() as u32,
        ..values.clone()
    };
    let bound = bind_query(strip_query(query), inputs.len(), values)?;
    let bound = match setup.is_empty() {
        true => match with_input_ctes(&bound, inputs, &used_inputs(query))? {
            Some(query) => query,
            None => {
                create_input_views(conn, inputs)?;
                bound
            }
        },
        false => bound, // the views were made for the set-up statements
    };
    let rows = write_parquet_file(conn, &bound, file, parquet, query)?;
    Ok(Output {
        outputs: vec![vec![file.to_path_buf()]],
        rows,
        schema_file: None,
        detail: None,
    })
}
