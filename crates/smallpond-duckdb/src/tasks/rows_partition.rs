//! Even partitioning by row count: partition `i` gets rows `[i*total/n, (i+1)*total/n)`.

use std::path::Path;

use duckdb::Connection;
use smallpond_core::plan::ParquetOptions;
use smallpond_core::task::ResolvedPartition;

use super::hash_partition::{write_partitioned, PARTITION_COLUMN};
use super::Output;
use crate::connection::query_u64;
use crate::source::partition_sql;
use crate::Result;

pub fn run(
    conn: &Connection,
    input: &ResolvedPartition,
    n: u32,
    parquet: &ParquetOptions,
    dir: &Path,
) -> Result<Output> {
    let source = partition_sql(input)?;
    let total = query_u64(
        conn,
        &format!("SELECT count(*) FROM {source}"),
        "count input rows",
    )?;
    let select = format!(
        "SELECT *, ((row_number() OVER () - 1) * {n} // {})::BIGINT AS {PARTITION_COLUMN} FROM {source}",
        total.max(1)
    );
    write_partitioned(conn, &select, &source, n, parquet, dir, "rows")
}
