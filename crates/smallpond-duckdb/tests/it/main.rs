//! The DuckDB runtime, one task at a time.

use std::path::PathBuf;

use duckdb::Connection;
use smallpond_core::job::JobDirs;
use smallpond_core::plan::{ParquetOptions, PartitionMethod};
use smallpond_core::task::{ResolvedPartition, Resources, TaskAttempt, TaskErrorKind, TaskKind};
use smallpond_core::{DataSet, NodeId, TaskId};
use smallpond_duckdb::DuckDbRunner;
use smallpond_exec::TaskRunner;

fn setup(rows: u64) -> (tempfile::TempDir, JobDirs, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let job = JobDirs::new(dir.path().join("job"));
    std::fs::create_dir_all(job.staging()).unwrap();
    let input = dir.path().join("in.parquet");
    Connection::open_in_memory()
        .unwrap()
        .execute_batch(&format!(
            "COPY (SELECT i AS id, i % 3 AS k FROM range({rows}) t(i)) TO '{}' (FORMAT parquet)",
            input.display()
        ))
        .unwrap();
    (dir, job, input)
}

fn attempt(job: &JobDirs, kind: TaskKind, input: PathBuf) -> TaskAttempt {
    TaskAttempt {
        task: TaskId(7),
        attempt: 2,
        node: NodeId(1),
        node_kind: "HashPartition".into(),
        partition: 0,
        kind,
        inputs: vec![ResolvedPartition {
            datasets: vec![DataSet::parquet(vec![input])],
            columns: None,
        }],
        resources: Resources::new(2, 1 << 30),
        job: job.clone(),
        fingerprint: 42,
        fault_inject_prob: 0.0,
        s3: None,
    }
}

#[test]
fn hash_partition_publishes_every_slot_and_records_it() {
    let (_d, job, input) = setup(300);
    let kind = TaskKind::HashPartition {
        npartitions: 5,
        method: PartitionMethod::Column("k".into()),
        pre_query: None,
        partition_column: None,
        parquet: ParquetOptions::default(),
        published: false,
    };
    let record = DuckDbRunner::new("test")
        .run(&attempt(&job, kind, input))
        .unwrap();
    assert_eq!(record.rows, 300);
    assert_eq!(record.fingerprint, 42, "the record names what it computed");
    let log = std::fs::read_to_string(job.log().join("task-000007.log")).unwrap();
    assert!(
        log.contains("attempt 2") && log.contains("by=k") && log.contains("ok: 300 rows"),
        "{log}"
    );
    assert_eq!(record.outputs.len(), 5);
    // k is 0..3: slots 3 and 4 are empty but the schema file lets readers see columns.
    assert!(record.outputs[3].is_empty() && record.outputs[4].is_empty());
    let schema = record
        .schema_file
        .clone()
        .expect("schema file for empty slots");
    assert!(schema.is_file());
    let published = job.task_output(TaskId(7), 2);
    for f in record.outputs.iter().flatten() {
        assert!(f.starts_with(&published), "{f:?} is not in {published:?}");
        assert!(f.is_file());
    }
    // The record on disk is the one returned, and no private directory is left.
    assert_eq!(job.records().latest(TaskId(7)), Some(&record));
    let leftovers: Vec<_> = std::fs::read_dir(job.staging())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn a_failed_task_publishes_nothing_and_says_whether_to_retry() {
    let (_d, job, input) = setup(10);
    let kind = TaskKind::Sql {
        query: "SELECT nope FROM {0}".into(),
        parquet: ParquetOptions::default(),
        udfs: vec![],
        setup: vec![],
    };
    let err = DuckDbRunner::new("test")
        .run(&attempt(&job, kind, input))
        .unwrap_err();
    assert_eq!(
        err.kind,
        TaskErrorKind::Sql {
            sql: "SELECT nope FROM {0}".into()
        }
    );
    assert!(err.message.contains("Binder Error"), "{}", err.message);
    assert!(!err.retryable);
    let log = std::fs::read_to_string(job.log().join("task-000007.log")).unwrap();
    assert!(
        log.contains("SELECT nope FROM {0}") && log.contains("Binder Error"),
        "{log}"
    );
    assert!(!job.task_output(TaskId(7), 2).exists());
    assert!(job.records().latest(TaskId(7)).is_none());
    assert_eq!(std::fs::read_dir(job.staging()).unwrap().count(), 0);
}

#[test]
fn first_attempts_that_succeed_share_their_process_log_and_troubles_get_a_task_log() {
    let (_d, job, input) = setup(10);
    let sql = |query: &str| TaskKind::Sql {
        query: query.into(),
        parquet: ParquetOptions::default(),
        udfs: vec![],
        setup: vec![],
    };
    let runner = DuckDbRunner::new("test");
    let first = |task: u32, kind| TaskAttempt {
        task: TaskId(task),
        attempt: 1,
        ..attempt(&job, kind, input.clone())
    };
    let one = runner
        .run(&first(1, sql("SELECT 1 AS one FROM {0}")))
        .unwrap();
    // A query's one output file is published as a file of staging/, with no directory.
    assert_eq!(
        one.outputs,
        vec![vec![job.staging().join("task-000001.1.parquet")]]
    );
    assert!(one.outputs[0][0].is_file());
    runner
        .run(&first(2, sql("SELECT 2 AS two FROM {0}")))
        .unwrap();
    runner
        .run(&first(3, sql("SELECT nope FROM {0}")))
        .unwrap_err();
    runner
        .run(&attempt(
            &job,
            sql("SELECT 4 AS four FROM {0}"),
            input.clone(),
        ))
        .unwrap();

    let shared = job.attempts_log(&smallpond_core::job::hostname(), std::process::id());
    let text = std::fs::read_to_string(&shared).unwrap();
    assert!(
        text.contains("task-000001 attempt 1") && text.contains("SELECT 1 AS one"),
        "{text}"
    );
    assert!(text.contains("task-000002 attempt 1"), "{text}");
    assert!(
        !text.contains("nope") && !text.contains("task-000007"),
        "{text}"
    );
    // A failed attempt, and a later attempt of a task, each in their task's own log.
    let failed = std::fs::read_to_string(job.task_log(TaskId(3))).unwrap();
    assert!(
        failed.contains("SELECT nope") && failed.contains("Binder Error"),
        "{failed}"
    );
    let retried = std::fs::read_to_string(job.task_log(TaskId(7))).unwrap();
    assert!(
        retried.contains("attempt 2") && retried.contains("ok: 10 rows"),
        "{retried}"
    );
    let mut logs: Vec<String> = std::fs::read_dir(job.log())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    logs.sort();
    let shared_name = shared.file_name().unwrap().to_string_lossy().into_owned();
    assert_eq!(
        logs,
        [shared_name.as_str(), "task-000003.log", "task-000007.log"]
    );
    // Nothing but the published files and the records: no directory, nothing private
    // left by the failed attempt.
    let mut staged: Vec<String> = std::fs::read_dir(job.staging())
        .unwrap()
        .map(|e| e.unwrap())
        .inspect(|e| assert!(e.file_type().unwrap().is_file(), "{:?}", e.path()))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with("records-"))
        .collect();
    staged.sort();
    assert_eq!(
        staged,
        [
            "task-000001.1.parquet",
            "task-000002.1.parquet",
            "task-000007.2.parquet"
        ]
    );
}

#[test]
fn rows_partition_is_balanced() {
    let (_d, job, input) = setup(1001);
    let kind = TaskKind::RowsPartition {
        npartitions: 4,
        in_order: false,
        parquet: ParquetOptions::default(),
        published: false,
    };
    let record = DuckDbRunner::new("test")
        .run(&attempt(&job, kind, input))
        .unwrap();
    let conn = Connection::open_in_memory().unwrap();
    let counts: Vec<i64> = record
        .outputs
        .iter()
        .map(|files| {
            let list: Vec<String> = files.iter().map(|f| format!("'{}'", f.display())).collect();
            conn.query_row(
                &format!("SELECT count(*) FROM read_parquet([{}])", list.join(",")),
                [],
                |r| r.get(0),
            )
            .unwrap()
        })
        .collect();
    assert_eq!(counts.iter().sum::<i64>(), 1001);
    assert!(
        counts.iter().max().unwrap() - counts.iter().min().unwrap() <= 1,
        "{counts:?}"
    );
}

/// Rows in order over two files (ids 0..a, then a..a+b, in row groups of `group` rows,
/// beside a column named `other`), cut 4 ways: the ids of every partition, in the order
/// they were written.
fn cut_in_order(a: u64, b: u64, group: u64, other: &str) -> Vec<Vec<i64>> {
    let (_d, job, first) = setup(0);
    let second = first.with_file_name("second.parquet");
    let conn = Connection::open_in_memory().unwrap();
    for (file, from, to) in [(&first, 0, a), (&second, a, a + b)] {
        conn.execute_batch(&format!(
            "COPY (SELECT i AS id, repeat('x', (i % 5)::INT) AS {other} FROM range({from}, {to}) t(i)) \
             TO '{}' (FORMAT parquet, ROW_GROUP_SIZE {group})",
            file.display()
        ))
        .unwrap();
    }
    let kind = TaskKind::RowsPartition {
        npartitions: 4,
        in_order: true,
        parquet: ParquetOptions::default(),
        published: false,
    };
    let mut task = attempt(&job, kind, first.clone());
    task.inputs[0].datasets = vec![DataSet::parquet(vec![first, second])];
    let record = DuckDbRunner::new("test").run(&task).unwrap();
    assert_eq!(record.rows, a + b);
    record
        .outputs
        .iter()
        .map(|files| {
            assert!(files.len() <= 1, "{files:?}");
            let Some(file) = files.first() else {
                return Vec::new();
            };
            // One thread: the rows as the file holds them.
            let one = Connection::open_in_memory().unwrap();
            one.execute_batch("SET threads = 1").unwrap();
            let mut stmt = one
                .prepare(&format!("SELECT id FROM '{}'", file.display()))
                .unwrap();
            let ids = stmt.query_map([], |r| r.get::<_, i64>(0)).unwrap();
            ids.map(Result::unwrap).collect()
        })
        .collect()
}

#[test]
fn rows_in_order_are_cut_between_row_groups_or_exactly_across_files() {
    // 2 x 20 row groups of 2,048 rows: 10 per partition, cut between them; the cut crosses
    // from the first file into the second within partition 1.
    let parts = cut_in_order(40_960, 40_960, 2048, "pad");
    let all: Vec<i64> = parts.iter().flatten().copied().collect();
    assert_eq!(all, (0..81_920).collect::<Vec<i64>>());
    let sizes: Vec<usize> = parts.iter().map(Vec::len).collect();
    assert_eq!(sizes, [20_480; 4]);
    // Uneven files and a short last row group: whole row groups, to within one of ideal.
    let parts = cut_in_order(50_000, 31_000, 2048, "pad");
    let all: Vec<i64> = parts.iter().flatten().copied().collect();
    assert_eq!(all, (0..81_000).collect::<Vec<i64>>());
    assert!(
        parts.iter().all(|p| p.len().abs_diff(20_250) <= 2048),
        "{:?}",
        parts.iter().map(Vec::len).collect::<Vec<_>>()
    );
    assert!(parts.iter().any(|p| p.len() != 20_250));
    // Too few row groups: exactly a quarter each, still in order, across the files.
    let parts = cut_in_order(3_000, 2_000, 2048, "pad");
    let all: Vec<i64> = parts.iter().flatten().copied().collect();
    assert_eq!(all, (0..5_000).collect::<Vec<i64>>());
    assert_eq!(parts.iter().map(Vec::len).collect::<Vec<_>>(), [1250; 4]);
    // A column named as DuckDB's row number: the same, read another way.
    let parts = cut_in_order(3_000, 2_000, 2048, "File_Row_Number");
    let all: Vec<i64> = parts.iter().flatten().copied().collect();
    assert_eq!(all, (0..5_000).collect::<Vec<i64>>());
    assert_eq!(parts.iter().map(Vec::len).collect::<Vec<_>>(), [1250; 4]);
    // Fewer rows than partitions: the empty ones are empty, the others in order.
    let parts = cut_in_order(2, 1, 2048, "pad");
    assert_eq!(parts, [vec![], vec![0], vec![1], vec![2]]);
}

#[test]
fn every_attempt_of_a_task_fills_in_the_same_rand_seed() {
    use smallpond_duckdb::source::{bind_query, QueryValues};
    let (_dir, job, input) = setup(10);
    let kind = TaskKind::RowsPartition {
        npartitions: 1,
        in_order: false,
        parquet: ParquetOptions::default(),
        published: false,
    };
    let mut first = attempt(&job, kind, input);
    first.partition = 3;
    let mut retry = first.clone();
    retry.attempt += 1; // a retry, or a speculative twin: both must draw the same numbers
    let query = "SELECT {rand_seed}, {__data_partition__}, {cpu_limit}, {memory_limit} FROM {0}";
    let a = bind_query(query, 1, &QueryValues::of(&first)).unwrap();
    assert_eq!(a, bind_query(query, 1, &QueryValues::of(&retry)).unwrap());
    assert!(
        a.contains(", 3, 2, 1073741824 FROM __smallpond_input_0"),
        "{a}"
    );
    let mut other = first.clone();
    other.fingerprint += 1; // another task computes something else: another seed
    assert_ne!(a, bind_query(query, 1, &QueryValues::of(&other)).unwrap());
}

fn sql(query: &str, setup: &[&str]) -> TaskKind {
    TaskKind::Sql {
        query: query.into(),
        parquet: ParquetOptions::default(),
        udfs: vec![],
        setup: setup.iter().map(|s| s.to_string()).collect(),
    }
}

#[test]
fn attempts_share_a_database_but_not_what_they_leave_in_it() {
    let (_d, job, input) = setup(10);
    let runner = DuckDbRunner::new("test");
    // Set-up statements may create anything: such an attempt has a database of its own.
    let made = sql(
        "SELECT * FROM {0}",
        &["CREATE TABLE leftover AS SELECT 1 AS x"],
    );
    assert_eq!(
        runner
            .run(&attempt(&job, made, input.clone()))
            .unwrap()
            .rows,
        10
    );
    let err = runner
        .run(&attempt(
            &job,
            sql("SELECT * FROM leftover", &[]),
            input.clone(),
        ))
        .unwrap_err();
    assert!(err.message.contains("leftover"), "{}", err.message);
    // Attempt after attempt on the process's database, each seeing only its own input.
    let (_d2, _, other) = setup(3);
    for (file, rows) in [(&input, 10), (&other, 3), (&input, 10)] {
        let record = runner
            .run(&attempt(&job, sql("SELECT * FROM {0}", &[]), file.clone()))
            .unwrap();
        assert_eq!(record.rows, rows);
    }
}

#[test]
fn a_database_that_spilled_is_replaced_for_the_next_job() {
    let (_d, job, input) = setup(10);
    let runner = DuckDbRunner::new("test");
    // 64 MB (the least a task gets) cannot hold this sort: it spills.
    let mut spilling = attempt(
        &job,
        sql(
            "SELECT count(*) AS n FROM (SELECT i FROM range(6000000) t(i) ORDER BY random())",
            &[],
        ),
        input.clone(),
    );
    spilling.resources = Resources::new(1, 64_000_000);
    assert_eq!(runner.run(&spilling).unwrap().rows, 1);
    let spilled: Vec<_> = std::fs::read_dir(job.temp())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        matches!(&spilled[..], [one] if one.starts_with("worker-")),
        "the sort did not spill into a worker's directory: {spilled:?}"
    );
    // Another job's attempts spill elsewhere; DuckDB cannot move a used spill directory,
    // so they get a new database, and it works.
    let (_d2, next_job, _) = setup(1);
    let record = runner
        .run(&attempt(&next_job, sql("SELECT * FROM {0}", &[]), input))
        .unwrap();
    assert_eq!(record.rows, 10);
}
