//! Script nodes (the original's Python nodes run on them), lists of statements and kept
//! partition columns: the engine pieces under the original smallpond's low-level API.

use std::sync::Arc;

use duckdb::Connection;
use smallpond::arrow::datatypes::SchemaRef;
use smallpond::arrow::record_batch::RecordBatch;
use smallpond::{
    ExternalFunction, Partitioning, Plugin, PluginError, Plugins, PoolKind, ScriptCall, Session,
    TaskOptions,
};

use crate::util::*;

/// Runs `test` scripts: payload `write` writes one Parquet file of (partition, inputs, files),
/// `notes` a text file besides; `fail` fails.
struct TestScripts;

impl Plugin for TestScripts {
    fn runtime(&self) -> &str {
        "test"
    }

    fn register_scalar(&self, _: &Connection, _: &ExternalFunction) -> Result<(), PluginError> {
        Err("no scalars".into())
    }

    fn map_batches(
        &self,
        _: &ExternalFunction,
        _: SchemaRef,
        _: &mut dyn Iterator<Item = RecordBatch>,
        _: &mut dyn FnMut(RecordBatch) -> Result<(), PluginError>,
    ) -> Result<Option<SchemaRef>, PluginError> {
        Err("no batches".into())
    }

    fn run_script(&self, f: &ExternalFunction, call: &ScriptCall<'_>) -> Result<(), PluginError> {
        if f.payload == "fail" {
            return Err("the script gave up".into());
        }
        let context: serde_json::Value = serde_json::from_str(&call.context).unwrap();
        let files: usize = call.inputs.iter().map(|p| p.files().count()).sum();
        let conn = Connection::open_in_memory().unwrap();
        let out = call.output_dir.join("out.parquet");
        conn.execute_batch(&format!(
            "COPY (SELECT {} AS part, {} AS inputs, {files} AS files) TO '{}' (FORMAT parquet)",
            context["partition"],
            call.inputs.len(),
            out.display()
        ))
        .map_err(|e| e.to_string())?;
        if f.payload == "notes" {
            std::fs::create_dir_all(call.output_dir.join("notes")).unwrap();
            std::fs::write(call.output_dir.join("notes/readme.txt"), "hello").unwrap();
        }
        assert!(call.temp_dir.is_dir());
        Ok(())
    }
}

fn session(fx: &Fixture) -> Session {
    Session::builder()
        .data_root(fx.path("scripts-root"))
        .num_executors(2)
        .pool(PoolKind::Threads)
        .plugins(Plugins::new().with(Arc::new(TestScripts)))
        .build()
        .unwrap()
}

fn script(payload: &str) -> ExternalFunction {
    ExternalFunction {
        runtime: "test".into(),
        name: format!("test-{payload}"),
        payload: payload.into(),
    }
}

#[test]
fn a_scripts_output_is_every_file_it_writes() {
    let fx = Fixture::new();
    let sp = session(&fx);
    let input = fx.parquet("t", TABLE, 4);
    let a = sp.read_parquet(&[&input]).unwrap();
    let a = a.repartition(2, Partitioning::Files).unwrap();
    let b = a.map("id").unwrap();
    let out = sp
        .script(script("notes"), &[&a, &b], TaskOptions::default())
        .unwrap();
    assert_eq!(out.num_partitions().unwrap(), 2);
    let files = out.files().unwrap();
    for part in &files {
        let names: Vec<String> = part
            .iter()
            .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        // Sorted by path: notes/readme.txt, out.parquet.
        assert_eq!(names, ["readme.txt", "out.parquet"]);
        assert_eq!(std::fs::read_to_string(&part[0]).unwrap(), "hello");
    }
    // Partition i saw both inputs' partition i.
    let conn = Connection::open_in_memory().unwrap();
    for (i, part) in files.iter().enumerate() {
        let row: (i64, i64, i64) = conn
            .query_row(&format!("SELECT * FROM '{}'", part[1].display()), [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .unwrap();
        assert_eq!(
            row,
            (i as i64, 2, 3),
            "partition {i}: 2 input files + b's 1"
        );
    }
}

#[test]
fn scripts_without_inputs_run_once_and_failures_name_the_script() {
    let fx = Fixture::new();
    let sp = session(&fx);
    let once = sp
        .script(script("write"), &[], TaskOptions::default())
        .unwrap();
    assert_eq!(once.count().unwrap(), 1);
    let bad = sp
        .script(script("fail"), &[], TaskOptions::default())
        .unwrap();
    let err = bad.compute().unwrap_err().to_string();
    assert!(
        err.contains("the script gave up") && err.contains("test-fail"),
        "{err}"
    );
    let input = fx.parquet("t", TABLE, 4);
    let a = sp.read_parquet(&[&input]).unwrap();
    let two = a.repartition(2, Partitioning::Files).unwrap();
    let err = sp
        .script(script("write"), &[&a, &two], TaskOptions::default())
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("same number of partitions") && err.contains("script test-write"),
        "{err}"
    );
}

#[test]
fn setup_statements_run_first_with_their_query_index() {
    let fx = Fixture::new();
    let input = fx.parquet("t", TABLE, 2);
    let df = fx.sp.read_parquet(&[&input]).unwrap();
    let setup = [
        "CREATE TABLE t AS SELECT {query_index} AS qi, count(*) AS n FROM {0}".to_string(),
        "INSERT INTO t SELECT {query_index}, 0".to_string(),
    ];
    let out = fx
        .sp
        .partial_sql_statements(
            &setup,
            "SELECT qi, n, {query_index} AS last FROM t",
            &[&df],
            TaskOptions::default(),
            vec![],
        )
        .unwrap();
    assert_same_rows(
        &format!("SELECT * FROM {}", files_sql(&out)),
        "VALUES (0, 10000, 2), (1, 0, 2)",
    );
    // A statement is checked as a query is: placeholders must name inputs.
    let err = fx
        .sp
        .partial_sql_statements(
            &["SELECT * FROM {1}".into()],
            "SELECT 1",
            &[&df],
            TaskOptions::default(),
            vec![],
        )
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("{1}"), "{err}");
}

#[test]
fn a_kept_partition_column_holds_each_rows_partition() {
    let fx = Fixture::new();
    let input = fx.parquet("t", TABLE, 3);
    let df = fx.sp.read_parquet(&[&input]).unwrap();
    for how in [Partitioning::hash(&["k"]), Partitioning::Random] {
        let parts = df
            .repartition_keeping(5, how, TaskOptions::default(), Some("part".into()))
            .unwrap();
        // Checked at plan time against the new column: a query may use it.
        let check = fx
            .sp
            .partial_sql(
                "SELECT min(part) AS lo, max(part) AS hi, {__data_partition__} AS me, count(*) AS n FROM {0}",
                &[&parts],
            )
            .unwrap();
        let conn = Connection::open_in_memory().unwrap();
        let bad: i64 = conn
            .query_row(
                &format!(
                    "SELECT count(*) FROM {} WHERE n > 0 AND NOT (lo = hi AND hi = me)",
                    files_sql(&check)
                ),
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(bad, 0);
        let ty: String = conn
            .query_row(
                &format!("SELECT typeof(part) FROM {} LIMIT 1", files_sql(&parts)),
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(ty, "UBIGINT");
        assert_eq!(parts.count().unwrap(), 10_000);
    }
    // A column of that name is replaced, not duplicated.
    let parts = df
        .repartition_keeping(
            3,
            Partitioning::hash(&["k"]),
            TaskOptions::default(),
            Some("p".into()),
        )
        .unwrap();
    let cols: Vec<String> = {
        let conn = Connection::open_in_memory().unwrap();
        let mut stmt = conn
            .prepare(&format!(
                "SELECT column_name FROM (DESCRIBE SELECT * FROM {})",
                files_sql(&parts)
            ))
            .unwrap();
        stmt.query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    assert_eq!(cols, ["id", "k", "v", "p"]);
}
