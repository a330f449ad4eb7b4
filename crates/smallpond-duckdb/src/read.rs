//! Driver-side access to computed data: counting rows, fetching Arrow batches, and
//! materialising in-memory Arrow data as Parquet so that any worker can read it.

use std::path::Path;

use arrow::record_batch::RecordBatch;
use smallpond_core::task::ResolvedPartition;

use crate::error::io;
use crate::source::partition_sql;
use crate::{Error, Result};

/// `SELECT * FROM p0 UNION ALL BY NAME SELECT * FROM p1 ...` over the partitions.
fn union_sql(partitions: &[ResolvedPartition]) -> Result<Option<String>> {
    let mut selects = Vec::new();
    for p in partitions {
        selects.push(format!("SELECT * FROM {}", partition_sql(p)?));
    }
    Ok((!selects.is_empty()).then(|| selects.join(" UNION ALL BY NAME ")))
}

/// Rows in all partitions (Parquet row counts come from file metadata).
pub fn count(partitions: &[ResolvedPartition]) -> Result<u64> {
    let conn = crate::connection::in_memory()?;
    let mut total = 0;
    for p in partitions {
        let sql = format!("SELECT count(*) FROM {}", partition_sql(p)?);
        total += crate::connection::query_u64(&conn, &sql, &sql)?;
    }
    Ok(total)
}

/// All rows (or the first `limit`), partition after partition, as Arrow batches.
pub fn to_arrow(partitions: &[ResolvedPartition], limit: Option<u64>) -> Result<Vec<RecordBatch>> {
    let Some(body) = union_sql(partitions)? else {
        return Ok(Vec::new());
    };
    let sql = match limit {
        Some(n) => format!("SELECT * FROM ({body}) LIMIT {n}"),
        None => body,
    };
    let conn = crate::connection::in_memory()?;
    // Keep the partitions' order, as the original smallpond returns them.
    crate::connection::execute(&conn, "SET preserve_insertion_order = true;", "")?;
    let sql_err = |source| Error::Sql {
        sql: sql.clone(),
        source,
    };
    let mut stmt = conn.prepare(&sql).map_err(sql_err)?;
    let batches: Vec<RecordBatch> = stmt.query_arrow([]).map_err(sql_err)?.collect();
    Ok(batches)
}

/// Writes Arrow batches as one Parquet file at `path` (via a temporary name and a rename).
pub fn write_arrow(batches: &[RecordBatch], path: &Path) -> Result<()> {
    let Some(first) = batches.first() else {
        return Err(Error::InvalidInput("no record batch to write".into()));
    };
    let schema = first.schema();
    let tmp = path.with_extension("parquet.tmp");
    let file = std::fs::File::create(&tmp).map_err(io(&tmp))?;
    let err = |e: parquet::errors::ParquetError| Error::Parquet {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let props = parquet::file::properties::WriterProperties::builder()
        .set_compression(parquet::basic::Compression::SNAPPY)
        .build();
    let mut writer =
        parquet::arrow::ArrowWriter::try_new(file, schema.clone(), Some(props)).map_err(err)?;
    for batch in batches {
        if batch.schema() != schema {
            return Err(Error::InvalidInput(format!(
                "record batches have different schemas: {:?} vs {:?}",
                schema,
                batch.schema()
            )));
        }
        writer.write(batch).map_err(err)?;
    }
    writer.close().map_err(err)?;
    std::fs::rename(&tmp, path).map_err(io(path))
}
