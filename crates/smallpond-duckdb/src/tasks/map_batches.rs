//! Streams one partition through an external function and writes what it returns.

use std::path::Path;
use std::sync::mpsc::sync_channel;
use std::time::{Duration, Instant};

use arrow::compute::concat_batches;
use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use duckdb::Connection;
use smallpond_core::plan::{ExternalFunction, ParquetOptions};
use smallpond_core::task::ResolvedPartition;

use super::Output;
use crate::plugin::Plugins;
use crate::read::ParquetSink;
use crate::source::partition_sql;
use crate::{Error, Result};

pub struct MapBatchesTask<'a> {
    pub function: &'a ExternalFunction,
    pub batch_size: u64,
    pub parquet: &'a ParquetOptions,
    pub plugins: &'a Plugins,
}

/// Batches in flight between the reader and the function, and between the function and
/// the writer: enough to keep each thread busy, few enough to bound memory.
const PIPELINE_DEPTH: usize = 2;

impl MapBatchesTask<'_> {
    /// Three threads, one batch apart: DuckDB reads and decodes the next batches (on a
    /// connection of its own to the task's database) while the function runs on this thread
    /// and a writer encodes what it returned before, so the task takes about as long as its
    /// slowest part rather than the sum of the three.
    pub fn run(
        &self,
        conn: &Connection,
        input: &ResolvedPartition,
        partition: u32,
        dir: &Path,
    ) -> Result<Output> {
        let plugin = self.plugins.get(&self.function.runtime)?;
        let sql = format!("SELECT * FROM {}", partition_sql(input)?);
        let reader_conn = conn.try_clone().map_err(|error| Error::Sql {
            sql: "connect the batch reader to the task's database".into(),
            error,
        })?;
        let setup = format!(
            "SET enable_progress_bar = false; SET arrow_large_buffer_size = {};",
            plugin.large_strings()
        );
        let file = dir.join(format!("part-{partition:05}.parquet"));
        let batch_size = self.batch_size as usize;
        std::thread::scope(|scope| {
            let (schema_tx, schema_rx) = sync_channel::<Result<SchemaRef>>(1);
            let (input_tx, input_rx) = sync_channel::<Result<RecordBatch>>(PIPELINE_DEPTH);
            let sql = &sql;
            let reader = scope.spawn(move || -> Duration {
                let t = Instant::now();
                let sql_err = |source| Error::Sql {
                    sql: sql.clone(),
                    error: source,
                };
                let started = crate::connection::execute(&reader_conn, &setup, &setup)
                    .and_then(|()| reader_conn.prepare(sql).map_err(sql_err));
                let mut stmt = match started {
                    Ok(stmt) => stmt,
                    Err(e) => {
                        let _ = schema_tx.send(Err(e));
                        return t.elapsed();
                    }
                };
                let arrow = match stmt.query_arrow([]) {
                    Ok(arrow) => arrow,
                    Err(e) => {
                        let _ = schema_tx.send(Err(sql_err(e)));
                        return t.elapsed();
                    }
                };
                let mut busy = t.elapsed();
                if schema_tx.send(Ok(arrow.get_schema())).is_err() {
                    return busy;
                }
                let mut batches = Rebatch::new(arrow, batch_size);
                loop {
                    let t = Instant::now();
                    let Some(batch) = batches.next() else { break };
                    busy += t.elapsed();
                    if input_tx.send(Ok(batch)).is_err() {
                        return busy; // the function stopped early: read no further
                    }
                }
                if let Some(e) = batches.error.take() {
                    let _ = input_tx.send(Err(e));
                }
                busy
            });
            let input_schema = schema_rx.recv().map_err(|_| {
                Error::InvalidInput("the batch reader stopped before it started".into())
            })??;

            let (output_tx, output_rx) = sync_channel::<RecordBatch>(PIPELINE_DEPTH);
            let parquet = self.parquet;
            let file = &file;
            let writer = scope.spawn(move || -> Result<(Option<ParquetSink>, u64, Duration)> {
                let mut sink: Option<ParquetSink> = None;
                let (mut rows, mut busy) = (0u64, Duration::ZERO);
                for batch in output_rx {
                    let t = Instant::now();
                    let w = match &mut sink {
                        Some(w) => w,
                        None => sink.insert(ParquetSink::create(file, batch.schema(), parquet)?),
                    };
                    rows += batch.num_rows() as u64;
                    w.write(&batch)?;
                    busy += t.elapsed();
                }
                Ok((sink, rows, busy))
            });

            let mut read_error = None;
            // The function's time: the plugin's call less the waits for input and output.
            let mut waited = Duration::ZERO;
            let waited_in = std::cell::Cell::new(Duration::ZERO);
            let mut batches = std::iter::from_fn(|| {
                let t = Instant::now();
                let next = input_rx.recv().ok();
                waited_in.set(waited_in.get() + t.elapsed());
                next
            })
            .map_while(|b| match b {
                Ok(batch) => Some(batch),
                Err(e) => {
                    read_error = Some(e);
                    None
                }
            });
            let mut emit = |batch: RecordBatch| -> std::result::Result<(), String> {
                let t = Instant::now();
                // The writer hangs up only when it failed; its error is reported below.
                let sent = output_tx
                    .send(batch)
                    .map_err(|_| "the Parquet writer stopped".to_string());
                waited += t.elapsed();
                sent
            };
            let called = Instant::now();
            let result = plugin.map_batches(self.function, input_schema, &mut batches, &mut emit);
            let function_busy = called.elapsed().saturating_sub(waited + waited_in.get());
            drop(batches); // the reader sees the end and stops
            drop(input_rx);
            // A reader that died would look like the end of the input: fail, do not truncate.
            let Ok(read_busy) = reader.join() else {
                return Err(Error::InvalidInput("the batch reader panicked".into()));
            };
            drop(output_tx);
            let written = writer
                .join()
                .unwrap_or_else(|_| Err(Error::InvalidInput("the Parquet writer panicked".into())));
            let (sink, rows, write_busy) = match (result, written) {
                (_, Err(e)) => return Err(e),
                (Err(message), Ok(_)) => {
                    return Err(Error::Function {
                        name: self.function.name.clone(),
                        message,
                    })
                }
                (Ok(schema), Ok((sink, rows, write_busy))) => {
                    if let Some(e) = read_error {
                        return Err(e);
                    }
                    let sink = match (sink, schema) {
                        (Some(w), _) => Some(w),
                        (None, Some(schema)) => Some(ParquetSink::create(file, schema, parquet)?),
                        // Nothing came out and nobody knows the columns: the partition is empty.
                        (None, None) => None,
                    };
                    (sink, rows, write_busy)
                }
            };
            let outputs = match sink {
                Some(w) => {
                    w.finish()?;
                    vec![file.clone()]
                }
                None => vec![],
            };
            Ok(Output {
                outputs: vec![outputs],
                rows,
                schema_file: None,
                detail: Some(format!(
                    "busy: read {:.3}s, function {:.3}s, write {:.3}s (in parallel)",
                    read_busy.as_secs_f64(),
                    function_busy.as_secs_f64(),
                    write_busy.as_secs_f64()
                )),
            })
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
