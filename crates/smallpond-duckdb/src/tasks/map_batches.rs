//! Streams one partition through an external function and writes what it returns.

use std::path::Path;

use arrow::compute::concat_batches;
use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use duckdb::Connection;
use smallpond_core::plan::{ExternalFunction, ParquetOptions};
use smallpond_core::task::ResolvedPartition;

use super::Output;
use crate::plugin::Plugins;
use crate::source::partition_sql;
use crate::{Error, Result};

pub struct MapBatchesTask<'a> {
    pub function: &'a ExternalFunction,
    pub batch_size: u64,
    pub parquet: &'a ParquetOptions,
    pub plugins: &'a Plugins,
}

impl MapBatchesTask<'_> {
    pub fn run(
        &self,
        conn: &Connection,
        input: &ResolvedPartition,
        partition: u32,
        dir: &Path,
    ) -> Result<Output> {
        let plugin = self.plugins.get(&self.function.runtime)?;
        let sql = format!("SELECT * FROM {}", partition_sql(input)?);
        let sql_err = |source| Error::Sql {
            sql: sql.clone(),
            error: source,
        };
        let setup = format!("SET arrow_large_buffer_size = {};", plugin.large_strings());
        crate::connection::execute(conn, &setup, &setup)?;
        let mut stmt = conn.prepare(&sql).map_err(sql_err)?;
        let arrow = stmt.query_arrow([]).map_err(sql_err)?;
        let input_schema = arrow.get_schema();
        let mut batches = Rebatch::new(arrow, self.batch_size as usize);
        let file = dir.join(format!("part-{partition:05}.parquet"));
        let mut writer: Option<crate::read::ParquetSink> = None;
        let mut rows = 0u64;
        let mut write_error = None;
        let mut emit = |batch: RecordBatch| -> std::result::Result<(), String> {
            let sink = match &mut writer {
                Some(w) => w,
                None => writer.insert(
                    crate::read::ParquetSink::create(&file, batch.schema(), self.parquet)
                        .map_err(|e| e.to_string())?,
                ),
            };
            rows += batch.num_rows() as u64;
            sink.write(&batch).map_err(|e| {
                let text = e.to_string();
                write_error = Some(e);
                text
            })
        };
        let schema = plugin
            .map_batches(self.function, input_schema, &mut batches, &mut emit)
            .map_err(|message| match write_error.take() {
                Some(e) => e,
                None => Error::Function {
                    name: self.function.name.clone(),
                    message,
                },
            })?;
        if let Some(e) = batches.error.take() {
            return Err(e);
        }
        let writer = match (writer, schema) {
            (Some(w), _) => Some(w),
            (None, Some(schema)) => Some(crate::read::ParquetSink::create(
                &file,
                schema,
                self.parquet,
            )?),
            // Nothing came out and nobody knows the columns: the partition is empty.
            (None, None) => None,
        };
        let outputs = match writer {
            Some(w) => {
                w.finish()?;
                vec![file]
            }
            None => vec![],
        };
        Ok(Output {
            outputs: vec![outputs],
            rows,
            schema_file: None,
        })
    }
}

/// Regroups DuckDB's result chunks into batches of exactly `size` rows (the last smaller).
struct Rebatch<I> {
    inner: I,
    size: usize,
    pending: Vec<RecordBatch>,
    pending_rows: usize,
    error: Option<Error>,
    done: bool,
    schema: Option<SchemaRef>,
}

impl<I: Iterator<Item = RecordBatch>> Rebatch<I> {
    fn new(inner: I, size: usize) -> Self {
        Self {
            inner,
            size: size.max(1),
            pending: Vec::new(),
            pending_rows: 0,
            error: None,
            done: false,
            schema: None,
        }
    }

    fn take(&mut self, rows: usize) -> Option<RecordBatch> {
        let schema = self.schema.clone()?;
        let all = match concat_batches(&schema, &self.pending) {
            Ok(b) => b,
            Err(e) => {
                self.error = Some(Error::InvalidInput(format!("cannot regroup batches: {e}")));
                return None;
            }
        };
        self.pending.clear();
        let rows = rows.min(all.num_rows());
        let head = all.slice(0, rows);
        let rest = all.num_rows() - rows;
        if rest > 0 {
            self.pending.push(all.slice(rows, rest));
        }
        self.pending_rows = rest;
        Some(head)
    }
}

impl<I: Iterator<Item = RecordBatch>> Iterator for Rebatch<I> {
    type Item = RecordBatch;

    fn next(&mut self) -> Option<RecordBatch> {
        if self.error.is_some() {
            return None;
        }
        while !self.done && self.pending_rows < self.size {
            match self.inner.next() {
                Some(b) => {
                    self.schema.get_or_insert_with(|| b.schema());
                    if b.num_rows() > 0 {
                        self.pending_rows += b.num_rows();
                        self.pending.push(b);
                    }
                }
                None => self.done = true,
            }
        }
        if self.pending_rows == 0 {
            return None;
        }
        self.take(self.size)
    }
}
