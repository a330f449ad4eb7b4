//! Properties of the partitioners: the union of output partitions equals the input, a
//! key lands in exactly one hash partition, even partitions are balanced.

use duckdb::Connection;
use proptest::prelude::*;
use smallpond::Partitioning;

use crate::util::*;

/// Number of partitions in which each distinct value of `key` occurs, at most.
fn max_partitions_per_key(df: &smallpond::DataFrame, key: &str) -> i64 {
    let conn = Connection::open_in_memory().unwrap();
    let mut selects = Vec::new();
    for (i, files) in df.files().unwrap().iter().enumerate() {
        if files.is_empty() {
            continue;
        }
        let list: Vec<String> = files.iter().map(|f| format!("'{}'", f.display())).collect();
        selects.push(format!(
            "SELECT DISTINCT {key} AS key, {i} AS part FROM read_parquet([{}])",
            list.join(", ")
        ));
    }
    let q = format!(
        "SELECT coalesce(max(n), 0) FROM (SELECT key, count(*) AS n FROM ({}) GROUP BY key)",
        selects.join(" UNION ALL ")
    );
    conn.query_row(&q, [], |r| r.get(0)).unwrap()
}

#[test]
fn hash_partitions_union_to_the_input_and_keys_do_not_split() {
    let fx = Fixture::new();
    let input = fx.parquet("t", TABLE, 3);
    let df = fx.sp.read_parquet(&[&input]).unwrap();
    for n in [1u32, 2, 7, 16] {
        for keys in [vec!["k"], vec!["k", "p"]] {
            let parts = df.repartition(n, Partitioning::hash(&keys)).unwrap();
            assert_eq!(parts.num_partitions().unwrap(), n as usize);
            assert_same_rows(
                &format!("SELECT * FROM {}", files_sql(&parts)),
                &read_glob(&input),
            );
            let key = keys.join(" || '/' || ");
            assert_eq!(
                max_partitions_per_key(&parts, &key),
                1,
                "n={n} keys={keys:?}"
            );
            assert_eq!(parts.count().unwrap(), 10_000);
        }
    }
}

#[test]
fn hash_partitioning_with_more_partitions_than_keys_leaves_empty_but_readable_partitions() {
    let fx = Fixture::new();
    let input = fx.parquet("t", "SELECT i AS id, i % 2 AS k FROM range(100) t(i)", 1);
    let parts = fx
        .sp
        .read_parquet(&[&input])
        .unwrap()
        .repartition(8, Partitioning::hash(&["k"]))
        .unwrap();
    let rows = partition_rows(&parts);
    // Two keys fill at most two of the eight partitions (both may hash alike).
    assert!(rows.iter().filter(|r| **r > 0).count() <= 2, "{rows:?}");
    assert_eq!(rows.iter().sum::<i64>(), 100);
    // SQL over an empty partition sees an empty table with the right columns.
    let per = fx
        .sp
        .partial_sql("SELECT count(*) AS n, sum(id) AS s FROM {0}", &[&parts])
        .unwrap();
    assert_eq!(per.count().unwrap(), 8);
    assert_same_rows(
        &format!("SELECT sum(s) FROM {}", files_sql(&per)),
        "SELECT sum(i)::HUGEINT FROM range(100) t(i)",
    );
}

#[test]
fn random_shuffle_keeps_every_row() {
    let fx = Fixture::new();
    let input = fx.parquet("t", TABLE, 2);
    let df = fx
        .sp
        .read_parquet(&[&input])
        .unwrap()
        .repartition(4, Partitioning::Random)
        .unwrap();
    let rows = partition_rows(&df);
    assert_eq!(rows.len(), 4);
    assert!(
        rows.iter().all(|r| *r > 1500),
        "random partitions are roughly even: {rows:?}"
    );
    assert_same_rows(
        &format!("SELECT * FROM {}", files_sql(&df)),
        &read_glob(&input),
    );
    let shuffled = df.random_shuffle().unwrap();
    assert_eq!(shuffled.num_partitions().unwrap(), 4);
    assert_same_rows(
        &format!("SELECT * FROM {}", files_sql(&shuffled)),
        &read_glob(&input),
    );
}

#[test]
fn by_existing_column_routes_rows_to_their_partition() {
    let fx = Fixture::new();
    let input = fx.parquet("t", TABLE, 1);
    let df = fx
        .sp
        .read_parquet(&[&input])
        .unwrap()
        .repartition(4, Partitioning::Column("p".into()))
        .unwrap();
    let conn = Connection::open_in_memory().unwrap();
    for (i, files) in df.files().unwrap().iter().enumerate() {
        let list: Vec<String> = files.iter().map(|f| format!("'{}'", f.display())).collect();
        let bad: i64 = conn
            .query_row(
                &format!(
                    "SELECT count(*) FROM read_parquet([{}]) WHERE p <> {i}",
                    list.join(", ")
                ),
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(bad, 0, "partition {i} holds rows of another partition");
    }
    assert_same_rows(
        &format!("SELECT * FROM {}", files_sql(&df)),
        &read_glob(&input),
    );
}

#[test]
fn evenly_by_files_and_by_rows() {
    let fx = Fixture::new();
    let input = fx.parquet("t", TABLE, 5);
    let df = fx.sp.read_parquet(&[&input]).unwrap();
    let by_files = df.repartition(3, Partitioning::Files).unwrap();
    let files: Vec<usize> = by_files.files().unwrap().iter().map(Vec::len).collect();
    assert_eq!(files, vec![2, 2, 1]);
    assert_same_rows(
        &format!("SELECT * FROM {}", files_sql(&by_files)),
        &read_glob(&input),
    );

    let by_rows = df.repartition(3, Partitioning::Rows).unwrap();
    let rows = partition_rows(&by_rows);
    assert_eq!(rows.iter().sum::<i64>(), 10_000);
    assert!(
        rows.iter().max().unwrap() - rows.iter().min().unwrap() <= 1,
        "{rows:?}"
    );
    assert_same_rows(
        &format!("SELECT * FROM {}", files_sql(&by_rows)),
        &read_glob(&input),
    );

    // More partitions than files: the extra partitions are empty tables, not errors.
    let many = df.repartition(8, Partitioning::Files).unwrap();
    let counted = fx
        .sp
        .partial_sql("SELECT count(*) AS n FROM {0}", &[&many])
        .unwrap();
    assert_same_rows(
        &format!("SELECT sum(n) FROM {}", files_sql(&counted)),
        "SELECT 10000::HUGEINT",
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6, .. ProptestConfig::default() })]

    /// Any key distribution and partition count: nothing lost, nothing duplicated, each
    /// key in exactly one partition.
    #[test]
    fn hash_partitioning_is_a_partition_of_the_input(
        rows in 0usize..400,
        keys in 1usize..40,
        n in 1u32..12,
    ) {
        let fx = Fixture::new();
        let input = fx.parquet(
            "t",
            &format!("SELECT i AS id, (i * 13 % {keys}) AS k FROM range({rows}) t(i) UNION ALL SELECT -1 AS id, NULL AS k"),
            1,
        );
        let parts = fx.sp.read_parquet(&[&input]).unwrap().repartition(n, Partitioning::hash(&["k"])).unwrap();
        assert_same_rows(&format!("SELECT * FROM {}", files_sql(&parts)), &read_glob(&input));
        prop_assert_eq!(max_partitions_per_key(&parts, "coalesce(k::VARCHAR, 'null')"), 1);
    }
}
