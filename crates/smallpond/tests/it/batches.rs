//! `map_batches` as a pipeline: a reader, the function and a writer on three threads, one
//! batch apart. Whatever the function does with its input (all of it, part of it, fail), the
//! task ends with the rows it returned, in order, or with its error.

use std::sync::Arc;

use duckdb::Connection;
use smallpond::arrow::array::{Array, Int64Array};
use smallpond::arrow::datatypes::SchemaRef;
use smallpond::arrow::record_batch::RecordBatch;
use smallpond::{ExternalFunction, Plugin, PluginError, Plugins, PoolKind, Session, TaskOptions};

use crate::util::*;

/// `double`: every batch back with `id` doubled; `first2`: the first two batches, then it
/// stops reading; `fail3`: fails at its third batch.
struct Pipe;

impl Plugin for Pipe {
    fn runtime(&self) -> &str {
        "pipe"
    }

    fn register_scalar(&self, _: &Connection, _: &ExternalFunction) -> Result<(), PluginError> {
        Err("no scalars".into())
    }

    fn map_batches(
        &self,
        f: &ExternalFunction,
        schema: SchemaRef,
        input: &mut dyn Iterator<Item = RecordBatch>,
        emit: &mut dyn FnMut(RecordBatch) -> Result<(), PluginError>,
    ) -> Result<Option<SchemaRef>, PluginError> {
        for (i, batch) in input.enumerate() {
            assert!(
                batch.num_rows() <= 1000,
                "batch of {} rows",
                batch.num_rows()
            );
            match f.payload.as_str() {
                "first2" if i == 2 => break,
                "fail3" if i == 2 => return Err("gave up at batch 3".into()),
                _ => {}
            }
            let ids = batch
                .column(0)
                .as_any()
                .downcast_ref::<Int64Array>()
                .unwrap();
            let doubled: Int64Array = ids.iter().map(|v| v.map(|v| v * 2)).collect();
            emit(RecordBatch::try_new(batch.schema(), vec![Arc::new(doubled)]).unwrap())?;
        }
        Ok(Some(schema))
    }
}

fn function(payload: &str) -> ExternalFunction {
    ExternalFunction {
        runtime: "pipe".into(),
        name: format!("pipe-{payload}"),
        payload: payload.into(),
    }
}

fn session(fx: &Fixture) -> Session {
    Session::builder()
        .data_root(fx.path("batches-root"))
        .num_executors(2)
        .pool(PoolKind::Threads)
        .plugins(Plugins::new().with(Arc::new(Pipe)))
        .build()
        .unwrap()
}

#[test]
fn every_batch_comes_back_in_order_and_the_log_says_where_time_went() {
    let fx = Fixture::new();
    let sp = session(&fx);
    // One file, one partition: 50 batches of 1,000 rows through one task.
    let input = fx.parquet("t", "SELECT i::BIGINT AS id FROM range(50000) t(i)", 1);
    let df = sp.read_parquet(&[&input]).unwrap();
    let out = df
        .map_batches(function("double"), 1000, TaskOptions::default())
        .unwrap();
    let files: Vec<_> = out.files().unwrap().into_iter().flatten().collect();
    assert_eq!(files.len(), 1);
    let conn = Connection::open_in_memory().unwrap();
    let (n, out_of_order, sum): (i64, i64, i64) = conn
        .query_row(
            &format!(
                "SELECT count(*), count(*) FILTER (WHERE id <> 2 * (file_row_number)), sum(id) \
                 FROM read_parquet('{}', file_row_number = true)",
                files[0].display()
            ),
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!((n, out_of_order, sum), (50000, 0, 49999 * 50000));
    // The attempt succeeded first time: its story is in its worker's attempts log, a
    // header line and indented lines after it.
    let story = std::fs::read_dir(sp.job_dir().join("log"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("attempts-")
        })
        .flat_map(|p| {
            let text = std::fs::read_to_string(p).unwrap();
            let mut stories: Vec<String> = Vec::new();
            for line in text.lines() {
                match stories.last_mut() {
                    Some(story) if line.starts_with(' ') => {
                        story.push('\n');
                        story.push_str(line);
                    }
                    _ => stories.push(line.to_string()),
                }
            }
            stories
        })
        .find(|story| story.contains("map_batches: pipe:pipe-double"))
        .expect("the map_batches attempt's story");
    assert!(
        story.contains("busy: read ")
            && story.contains(", function ")
            && story.contains(", write "),
        "{story}"
    );
}

#[test]
fn a_function_that_stops_reading_ends_its_task_with_what_it_returned() {
    let fx = Fixture::new();
    let sp = session(&fx);
    let input = fx.parquet("t", "SELECT i::BIGINT AS id FROM range(50000) t(i)", 1);
    let df = sp.read_parquet(&[&input]).unwrap();
    let out = df
        .map_batches(function("first2"), 1000, TaskOptions::default())
        .unwrap();
    // The reader was still reading (48 batches to go): it stops, and nothing hangs.
    assert_eq!(out.count().unwrap(), 2000);
}

#[test]
fn a_failure_mid_stream_fails_the_task_with_the_functions_message() {
    let fx = Fixture::new();
    let sp = session(&fx);
    let input = fx.parquet("t", "SELECT i::BIGINT AS id FROM range(50000) t(i)", 1);
    let df = sp.read_parquet(&[&input]).unwrap();
    let out = df
        .map_batches(function("fail3"), 1000, TaskOptions::default())
        .unwrap();
    let err = out.count().unwrap_err().to_string();
    assert!(err.contains("gave up at batch 3"), "{err}");
    assert!(err.contains("pipe-fail3"), "{err}");
}
