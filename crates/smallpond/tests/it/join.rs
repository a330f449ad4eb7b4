use duckdb::Connection;
use smallpond::{JoinHow, JoinOptions, Partitioning};

use crate::util::*;

const HOWS: [(JoinHow, &str); 6] = [
    (JoinHow::Inner, "INNER"),
    (JoinHow::Left, "LEFT"),
    (JoinHow::Right, "RIGHT"),
    (JoinHow::Outer, "FULL OUTER"),
    (JoinHow::Semi, "SEMI"),
    (JoinHow::Anti, "ANTI"),
];

/// Left: keys 0..400 with duplicates and NULLs; right: keys 200..600 with duplicates and
/// NULLs, and columns named as the left's.
const LEFT: &str = "SELECT i AS id, CASE WHEN i % 17 = 0 THEN NULL ELSE i % 400 END AS k, \
                    'l' || i AS x FROM range(3000) t(i)";
const RIGHT: &str =
    "SELECT i AS id, CASE WHEN i % 13 = 0 THEN NULL ELSE 200 + (i * 7) % 400 END AS k, \
                     'r' || i AS x, i * 10 AS z FROM range(900) t(i)";

/// The column names of the files of `df`, in order.
fn names(files: &str) -> Vec<String> {
    let conn = Connection::open_in_memory().unwrap();
    let mut stmt = conn
        .prepare(&format!(
            "SELECT column_name FROM (DESCRIBE SELECT * FROM {files})"
        ))
        .unwrap();
    let rows = stmt.query_map([], |r| r.get::<_, String>(0)).unwrap();
    rows.map(Result::unwrap).collect()
}

/// The column names DuckDB gives the same join written to Parquet.
fn duckdb_names(fx: &Fixture, query: &str) -> Vec<String> {
    let file = fx.path("expected.parquet");
    let conn = Connection::open_in_memory().unwrap();
    conn.execute_batch(&format!("COPY ({query}) TO '{}'", file.display()))
        .unwrap();
    names(&format!("read_parquet('{}')", file.display()))
}

#[test]
fn every_kind_of_join_matches_one_duckdb_join() {
    let fx = Fixture::new();
    let l_dir = fx.parquet("left", LEFT, 3);
    let r_dir = fx.parquet("right", RIGHT, 2);
    let left = fx
        .sp
        .read_parquet(&[glob(&l_dir)])
        .unwrap()
        .repartition(3, Partitioning::Files)
        .unwrap();
    let right = fx
        .sp
        .read_parquet(&[glob(&r_dir)])
        .unwrap()
        .repartition(2, Partitioning::Files)
        .unwrap();
    let (l, r) = (
        format!("read_parquet('{}') AS l", glob(&l_dir)),
        format!("read_parquet('{}') AS r", glob(&r_dir)),
    );
    for (how, sql) in HOWS {
        let expected = format!("SELECT * FROM {l} {sql} JOIN {r} USING (k)");
        // Partitioned: both sides hashed into 4.
        let partitioned = JoinOptions {
            npartitions: Some(4),
            broadcast_bytes: 0,
            ..Default::default()
        };
        let joined = left.join_with(&right, &["k"], how, partitioned).unwrap();
        assert_eq!(joined.num_partitions().unwrap(), 4, "{sql}");
        let files = files_sql(&joined);
        assert_same_rows(&format!("SELECT * FROM {files}"), &expected);
        assert_eq!(names(&files), duckdb_names(&fx, &expected), "{sql}");

        // The defaults: the right side is small, so it is broadcast where that is right.
        let joined = left.join(&right, &["k"], how).unwrap();
        // Both sides are small: the right one is broadcast over the left's 3 partitions, or
        // for a right join the left one over the right's 2; an outer join hashes both.
        let parts = if how == JoinHow::Right { 2 } else { 3 };
        assert_eq!(joined.num_partitions().unwrap(), parts, "{sql}");
        assert_same_rows(&format!("SELECT * FROM {}", files_sql(&joined)), &expected);

        // One partition: the whole of both sides in one task.
        let one = JoinOptions {
            npartitions: Some(1),
            ..Default::default()
        };
        let joined = left.join_with(&right, &["k"], how, one).unwrap();
        assert_eq!(joined.num_partitions().unwrap(), 1);
        assert_same_rows(&format!("SELECT * FROM {}", files_sql(&joined)), &expected);
    }
}

#[test]
fn broadcast_reads_no_shuffle_and_a_hashed_side_is_not_hashed_again() {
    let fx = Fixture::new();
    let l_dir = fx.parquet("left", LEFT, 3);
    let r_dir = fx.parquet("right", RIGHT, 1);
    let left = fx
        .sp
        .read_parquet(&[glob(&l_dir)])
        .unwrap()
        .repartition(3, Partitioning::Files)
        .unwrap();
    let right = fx.sp.read_parquet(&[glob(&r_dir)]).unwrap();

    // A small right side: one task per left partition, nothing repartitioned.
    let joined = left.join(&right, &["k"], JoinHow::Left).unwrap();
    assert_eq!(fx.sp.plan(&[&joined]).unwrap(), 3);
    // A small left side of a right join is broadcast over the right's partitions.
    let right4 = right.repartition(4, Partitioning::Rows).unwrap();
    let joined = right4.join(&left, &["k"], JoinHow::Right).unwrap();
    // One rows-partition task, then one join task per partition of `right4`... unless the
    // left (here `right4`, not a known size) is the small one: it is not, so both hash.
    assert!(fx.sp.plan(&[&joined]).unwrap() > 3);

    // Already hashed by the key into as many partitions: read as it is.
    let hashed = left.repartition(4, Partitioning::hash(&["k"])).unwrap();
    let no_broadcast = |n| JoinOptions {
        npartitions: Some(n),
        broadcast_bytes: 0,
        ..Default::default()
    };
    let joined = hashed
        .join_with(&right, &["k"], JoinHow::Inner, no_broadcast(4))
        .unwrap();
    // 3 producers hash the left, 1 the right, 4 join tasks: the left is not hashed twice.
    assert_eq!(fx.sp.plan(&[&joined]).unwrap(), 3 + 1 + 4);
    // Into another count, it is repartitioned.
    let joined = hashed
        .join_with(&right, &["k"], JoinHow::Inner, no_broadcast(5))
        .unwrap();
    assert_eq!(fx.sp.plan(&[&joined]).unwrap(), 3 + 4 + 1 + 5);
    let expected = format!(
        "SELECT * FROM read_parquet('{}') AS l JOIN read_parquet('{}') AS r USING (k)",
        glob(&l_dir),
        glob(&r_dir)
    );
    assert_same_rows(&format!("SELECT * FROM {}", files_sql(&joined)), &expected);
}

#[test]
fn join_errors_are_clear_and_come_before_any_task() {
    let fx = Fixture::new();
    let l_dir = fx.parquet("left", LEFT, 1);
    let left = fx.sp.read_parquet(&[glob(&l_dir)]).unwrap();
    let err = left
        .join(&left, &["nope"], JoinHow::Inner)
        .unwrap()
        .count()
        .unwrap_err()
        .to_string();
    assert!(err.contains("nope"), "{err}");
    assert_eq!(fx.tasks_started(), 0);
    let no_keys: [&str; 0] = [];
    let err = left
        .join(&left, &no_keys, JoinHow::Inner)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("at least one key"), "{err}");
    let err = "sideways".parse::<JoinHow>().unwrap_err().to_string();
    assert!(
        err.contains("inner, left, right, outer, semi, anti"),
        "{err}"
    );
}
