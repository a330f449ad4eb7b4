use std::sync::Arc;
use std::time::Duration;

use duckdb::Connection;
use smallpond::arrow::array::{Array, Int64Array};
use smallpond::{DataFrame, Partitioning, Session, SortKey};
use smallpond_core::task::{Resources, TaskAttempt};
use smallpond_exec::pool::{Completion, LocalPool};

use crate::util::*;

/// A pool of two machines of one CPU each (threads of this process).
struct TwoMachines(LocalPool);

impl smallpond_exec::WorkerPool for TwoMachines {
    fn capacity(&self) -> Resources {
        self.0.capacity()
    }
    fn largest_task(&self) -> Resources {
        let all = self.0.capacity();
        Resources::new(1, all.memory_bytes / 2)
    }
    fn submit(&mut self, attempt: TaskAttempt) -> smallpond_exec::Result<()> {
        self.0.submit(attempt)
    }
    fn wait(&mut self) -> smallpond_exec::Result<Completion> {
        self.0.wait()
    }
    fn wait_timeout(&mut self, timeout: Duration) -> smallpond_exec::Result<Option<Completion>> {
        self.0.wait_timeout(timeout)
    }
    fn cancel(&mut self) {
        self.0.cancel()
    }
}

/// The one-machine pool of [`Fixture::new`], then a pool of two machines: a sort takes
/// one `ORDER BY` cut in order on the first and sampled ranges on the second.
fn both_pools() -> [(Fixture, &'static str); 2] {
    let dir = tempfile::tempdir().unwrap();
    let runner = Arc::new(smallpond_duckdb::DuckDbRunner::new("two-machines"));
    let pool = LocalPool::threads(runner, Resources::new(2, 2 << 30));
    let sp = Session::builder()
        .data_root(dir.path().join("root"))
        .worker_pool(Box::new(TwoMachines(pool)))
        .build()
        .unwrap();
    let two = Fixture {
        dir,
        sp,
        events: Default::default(),
    };
    [(Fixture::new(), "in order"), (two, "RangePartition")]
}

/// Checks that the sort of `fx` took the way `way` names (see [`both_pools`]).
fn took(fx: &Fixture, way: &str) {
    let graph = fx.sp.graph().unwrap();
    assert!(graph.contains(way), "{way}:\n{graph}");
}

/// The `id` column of every row, partition after partition.
fn ids(df: &DataFrame) -> Vec<i64> {
    let mut out = Vec::new();
    for batch in df.take_all().unwrap() {
        let col = batch.column_by_name("id").expect("an id column");
        let ids = col
            .as_any()
            .downcast_ref::<Int64Array>()
            .expect("BIGINT ids");
        out.extend((0..ids.len()).map(|i| ids.value(i)));
    }
    out
}

fn duckdb_ids(query: &str) -> Vec<i64> {
    let conn = Connection::open_in_memory().unwrap();
    let mut stmt = conn.prepare(query).unwrap();
    let rows = stmt.query_map([], |r| r.get::<_, i64>(0)).unwrap();
    rows.map(Result::unwrap).collect()
}

const EVENTS: &str = "SELECT i::BIGINT AS id, \
    CASE WHEN i % 11 = 0 THEN NULL ELSE (i * 7919) % 300 END AS a, \
    CASE WHEN i % 13 = 0 THEN NULL ELSE 's' || ((i * 31) % 97) END AS s \
    FROM range(20000) t(i)";

#[test]
fn sort_is_global_and_orders_as_one_duckdb_order_by() {
    for (fx, way) in both_pools() {
        global_and_ordered_as_duckdb(&fx);
        took(&fx, way);
    }
}

fn global_and_ordered_as_duckdb(fx: &Fixture) {
    let input = fx.parquet("events", EVENTS, 4);
    let df = fx
        .sp
        .read_parquet(&[glob(&input)])
        .unwrap()
        .repartition(4, Partitioning::Files)
        .unwrap();
    let source = format!("read_parquet('{}')", glob(&input));

    // Several keys, mixed directions, NULLs in both; `id` makes the order total.
    let keys = [SortKey::desc("a"), SortKey::asc("s"), SortKey::asc("id")];
    let sorted = df.sort_with(&keys, Some(5), Default::default()).unwrap();
    assert_eq!(sorted.num_partitions().unwrap(), 5);
    assert_eq!(
        ids(&sorted),
        duckdb_ids(&format!(
            "SELECT id FROM {source} ORDER BY a DESC, s ASC, id"
        ))
    );
    // Ranges of equal size, give or take the sample's error.
    let rows = partition_rows(&sorted);
    assert_eq!(rows.iter().sum::<i64>(), 20000);
    assert!(rows.iter().all(|&r| (2800..=5200).contains(&r)), "{rows:?}");

    // Keeping the partition count (4); an expression as a key; NULLs last when ascending.
    let sorted = df
        .sort(&[
            SortKey::asc("s"),
            SortKey::desc("id % 10"),
            SortKey::asc("id"),
        ])
        .unwrap();
    assert_eq!(sorted.num_partitions().unwrap(), 4);
    assert_eq!(
        ids(&sorted),
        duckdb_ids(&format!(
            "SELECT id FROM {source} ORDER BY s, id % 10 DESC, id"
        ))
    );

    // One partition: one ORDER BY over everything.
    let sorted = df
        .sort_with(&keys[1..], Some(1), Default::default())
        .unwrap();
    assert_eq!(sorted.num_partitions().unwrap(), 1);
    assert_eq!(
        ids(&sorted),
        duckdb_ids(&format!("SELECT id FROM {source} ORDER BY s, id"))
    );
}

#[test]
fn a_key_in_half_of_the_rows_still_gives_balanced_partitions() {
    for (fx, way) in both_pools() {
        skewed_key_balanced(&fx);
        took(&fx, way);
    }
}

fn skewed_key_balanced(fx: &Fixture) {
    // Half of the rows have k = 500; the others spread over 0..1000.
    let input = fx.parquet(
        "skewed",
        "SELECT i::BIGINT AS id, CASE WHEN i % 2 = 0 THEN 500 ELSE (i * 7919) % 1000 END AS k \
         FROM range(40000) t(i)",
        2,
    );
    let df = fx
        .sp
        .read_parquet(&[glob(&input)])
        .unwrap()
        .repartition(2, Partitioning::Files)
        .unwrap();
    let sorted = df
        .sort_with(&[SortKey::asc("k")], Some(8), Default::default())
        .unwrap();
    let rows = partition_rows(&sorted);
    assert_eq!(rows.len(), 8);
    assert_eq!(rows.iter().sum::<i64>(), 40000);
    // 5,000 rows each when perfectly balanced.
    assert!(rows.iter().all(|&r| (3500..=6500).contains(&r)), "{rows:?}");
    // Still globally sorted, and the same rows.
    let files = files_sql(&sorted);
    let conn = Connection::open_in_memory().unwrap();
    // One thread: rows are numbered in the order of the files.
    conn.execute_batch("SET threads = 1").unwrap();
    let unordered: i64 = conn
        .query_row(
            &format!(
                "SELECT count(*) FROM (SELECT k, lag(k) OVER (ORDER BY file_row) AS prev FROM \
                 (SELECT k, row_number() OVER () AS file_row FROM {files})) WHERE k < prev"
            ),
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(unordered, 0);
    assert_same_rows(
        &format!("SELECT * FROM {files}"),
        &format!("SELECT * FROM read_parquet('{}')", glob(&input)),
    );
}

#[test]
fn sorting_by_a_missing_column_fails_before_any_task() {
    let fx = Fixture::new();
    let input = fx.parquet("events", EVENTS, 2);
    let df = fx.sp.read_parquet(&[glob(&input)]).unwrap();
    let err = df
        .sort_with(&[SortKey::asc("nope")], Some(3), Default::default())
        .unwrap()
        .count()
        .unwrap_err()
        .to_string();
    assert!(err.contains("nope"), "{err}");
    assert_eq!(fx.tasks_started(), 0);
    let err = df.sort(&[]).err().expect("no keys is an error").to_string();
    assert!(err.contains("at least one key"), "{err}");
    let err = df
        .sort_with(&[SortKey::asc("a")], Some(0), Default::default())
        .err()
        .expect("zero partitions is an error")
        .to_string();
    assert!(err.contains("npartitions"), "{err}");
}

/// `column` of `from` as text (`NULL` for NULL), in the order DuckDB reads it on one
/// thread, after `order` (an `ORDER BY` clause, or nothing: the files' order).
fn column_in_order(from: &str, column: &str, order: &str) -> Vec<String> {
    let conn = Connection::open_in_memory().unwrap();
    conn.execute_batch("SET threads = 1").unwrap();
    let sql = format!("SELECT coalesce({column}::VARCHAR, 'NULL') FROM {from} {order}");
    let mut stmt = conn.prepare(&sql).unwrap();
    let rows = stmt.query_map([], |r| r.get::<_, String>(0)).unwrap();
    rows.map(Result::unwrap).collect()
}

#[test]
fn one_key_sorts_order_as_duckdb_and_a_key_null_in_half_of_the_rows_still_balances() {
    for (fx, way) in both_pools() {
        one_key_as_duckdb(&fx);
        took(&fx, way);
    }
}

fn one_key_as_duckdb(fx: &Fixture) {
    // x: a double, NULL in a few rows; s: a string; h: NULL in half of the rows.
    let input = fx.parquet(
        "one-key",
        "SELECT i::BIGINT AS id, \
         CASE WHEN i % 17 = 0 THEN NULL ELSE ((i * 7919) % 1000) / 8.0 END AS x, \
         'k' || lpad(((i * 31) % 5000)::VARCHAR, 4, '0') AS s, \
         CASE WHEN i % 2 = 0 THEN NULL ELSE (i * 13) % 777 END AS h \
         FROM range(30000) t(i)",
        3,
    );
    let source = format!("read_parquet('{}')", glob(&input));
    let df = fx
        .sp
        .read_parquet(&[glob(&input)])
        .unwrap()
        .repartition(3, Partitioning::Files)
        .unwrap();
    for (key, order) in [
        (SortKey::desc("x"), "x DESC NULLS LAST"),
        (SortKey::asc("s"), "s"),
        (SortKey::asc("h"), "h NULLS LAST"),
        (SortKey::desc("h"), "h DESC NULLS LAST"),
    ] {
        let column = key.expr.clone();
        let sorted = df.sort_with(&[key], Some(6), Default::default()).unwrap();
        let files = files_sql(&sorted);
        assert_eq!(
            column_in_order(&files, &column, ""),
            column_in_order(&source, &column, &format!("ORDER BY {order}")),
            "{order}"
        );
        // 5,000 rows each when perfectly balanced; NULLs (half of h) spread over 3 ranges.
        let rows = partition_rows(&sorted);
        assert!(
            rows.iter().all(|&r| (3500..=6500).contains(&r)),
            "{order}: {rows:?}"
        );
        assert_same_rows(
            &format!("SELECT * FROM {files}"),
            &format!("SELECT * FROM {source}"),
        );
    }
}

#[test]
fn on_one_machine_a_large_sort_is_cut_between_row_groups_copied_as_they_are() {
    let fx = Fixture::new();
    let input = fx.parquet(
        "large",
        "SELECT i::BIGINT AS id, (i * 7919) % 100003 AS k, repeat('x', (i % 7)::INT) AS pad \
         FROM range(200000) t(i)",
        2,
    );
    let source = format!("read_parquet('{}')", glob(&input));
    let df = fx.sp.read_parquet(&[glob(&input)]).unwrap();
    // Row groups of 4,096 rows: 50,000 rows per partition is 12 of them and more.
    let options = smallpond::TaskOptions {
        parquet: smallpond::ParquetOptions::try_new("zstd", 4096).unwrap(),
        ..Default::default()
    };
    let sorted = df
        .sort_with(&[SortKey::asc("k"), SortKey::asc("id")], Some(4), options)
        .unwrap();
    assert_eq!(
        ids(&sorted),
        duckdb_ids(&format!("SELECT id FROM {source} ORDER BY k, id"))
    );
    took(&fx, "in order");
    // Cut between row groups: whole row groups of the sort's output (the last one may be
    // short), as many rows as an exact cut to within a row group, not exactly.
    let rows = partition_rows(&sorted);
    assert_eq!(rows.iter().sum::<i64>(), 200_000);
    assert!(rows.iter().all(|&r| (r - 50_000).abs() <= 4096), "{rows:?}");
    assert!(rows.iter().any(|&r| r != 50_000), "{rows:?}");
    let conn = Connection::open_in_memory().unwrap();
    for (i, files) in sorted.files().unwrap().iter().enumerate() {
        assert_eq!(files.len(), 1, "partition {i}: {files:?}");
        let file = files[0].display().to_string();
        // The row groups keep their size, codec and statistics.
        let (groups, short, codecs, with_stats): (i64, i64, String, i64) = conn
            .query_row(
                &format!(
                    "SELECT count(DISTINCT row_group_id), \
                     count(DISTINCT row_group_id) FILTER (WHERE row_group_num_rows <> 4096), \
                     string_agg(DISTINCT compression, ','), \
                     count(*) FILTER (WHERE stats_min_value IS NOT NULL) \
                     FROM parquet_metadata('{file}') WHERE path_in_schema = 'k'"
                ),
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .unwrap();
        assert!(groups >= 12, "partition {i}: {groups} row groups");
        assert!(
            short == 0 || (short == 1 && i == 3),
            "partition {i}: {short} short"
        );
        assert_eq!(codecs, "ZSTD", "partition {i}");
        assert_eq!(with_stats, groups, "partition {i}");
    }
    assert_same_rows(
        &format!("SELECT * FROM {}", files_sql(&sorted)),
        &format!("SELECT * FROM {source}"),
    );
}
