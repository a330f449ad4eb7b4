//! Bad input gets a clear error naming what was wrong.

use smallpond::Partitioning;

use crate::util::*;

#[test]
fn missing_path_is_named() {
    let fx = Fixture::new();
    let missing = fx.path("no/such/file.parquet");
    let err = fx.sp.read_parquet(&[&missing]).err().unwrap().to_string();
    assert!(
        err.contains("does not exist") && err.contains("no/such/file.parquet"),
        "{err}"
    );
    let err = fx
        .sp
        .read_parquet(&[fx.path("*.parquet")])
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("no file matches"), "{err}");
}

#[test]
fn corrupt_parquet_is_named_and_not_retried_forever() {
    let fx = Fixture::new();
    let bad = fx.path("bad.parquet");
    std::fs::write(&bad, b"this is not parquet at all").unwrap();
    let df = fx.sp.read_parquet(&[&bad]).unwrap();
    let out = fx.path("out");
    let err = df
        .map("*")
        .unwrap()
        .write_parquet(&out)
        .unwrap_err()
        .to_string();
    assert!(err.contains("bad.parquet"), "{err}");
    assert!(!out.exists(), "nothing is written after a failure");
}

#[test]
fn sql_errors_are_found_before_any_task_runs_and_said_once() {
    let fx = Fixture::new();
    let input = fx.parquet("t", TABLE, 2);
    let df = fx.sp.read_parquet(&[&input]).unwrap();
    let shuffled = df.repartition(3, Partitioning::hash(&["k"])).unwrap();
    let cases = [
        ("SELEC k FROM {0} GROUP BY", "Parser Error", "SELEC"),
        (
            "SELECT k, sum(vv) FROM {0} GROUP BY k",
            "Binder Error",
            "\"vv\"",
        ),
        (
            "SELECT k FROM {0} JOIN nosuch USING (k)",
            "Catalog Error",
            "nosuch",
        ),
        ("SELECT sum(k) FROM {0}", "Binder Error", "sum(VARCHAR)"),
    ];
    for (query, class, named) in cases {
        // Built as in the original (the error comes with the action), checked before the job.
        let bad = fx.sp.partial_sql(query, &[&shuffled]).unwrap();
        let err = bad
            .count()
            .err()
            .unwrap_or_else(|| panic!("{query} was accepted"))
            .to_string();
        assert!(err.starts_with(class), "{query}: {err}");
        assert!(err.contains(named), "{query}: {err}");
        assert_eq!(err.matches(query).count(), 1, "the query once: {err}");
        assert!(
            !err.contains("COPY") && !err.contains("__smallpond"),
            "{err}"
        );
    }
    // Nothing ran: no task started, no plan was handed to the scheduler.
    assert_eq!(fx.tasks_started(), 0);
    let config = fx.sp.job_dir().join("config");
    let plans = std::fs::read_dir(&config).map_or(0, |d| d.count());
    assert_eq!(plans, 0, "no job ran in {}", config.display());
    // The candidates DuckDB suggests are the input's columns, not those a rewrite kept.
    let err = fx
        .sp
        .partial_sql("SELECT k, count(vv) FROM {0} GROUP BY k", &[&shuffled])
        .unwrap()
        .count()
        .unwrap_err()
        .to_string();
    assert!(err.contains("\"v\""), "{err}");
    // A good query after a bad one works.
    let good = fx
        .sp
        .partial_sql("SELECT k, sum(v) AS s FROM {0} GROUP BY k", &[&shuffled]);
    assert!(good.unwrap().count().unwrap() > 0);
}

#[test]
fn a_query_over_a_query_is_checked_against_the_first_ones_columns() {
    let fx = Fixture::new();
    let input = fx.parquet("t", TABLE, 1);
    let df = fx.sp.read_parquet(&[&input]).unwrap();
    let first = fx
        .sp
        .partial_sql("SELECT k AS key, v * 2 AS doubled FROM {0}", &[&df])
        .unwrap();
    let err = fx
        .sp
        .partial_sql("SELECT k FROM {0}", &[&first])
        .unwrap()
        .count()
        .unwrap_err()
        .to_string();
    assert!(err.contains("\"k\"") && err.contains("key"), "{err}");
    assert_eq!(fx.tasks_started(), 0, "checked before the first query ran");
    let ok = fx
        .sp
        .partial_sql("SELECT key, doubled FROM {0}", &[&first])
        .unwrap();
    assert_eq!(ok.count().unwrap(), df.count().unwrap());
}

#[test]
fn a_query_that_fails_on_the_data_fails_its_task_and_the_job() {
    let fx = Fixture::new();
    let input = fx.parquet("t", TABLE, 1);
    let df = fx.sp.read_parquet(&[&input]).unwrap();
    // Binds (VARCHAR to DATE is a valid cast); the values are not dates.
    let bad = fx
        .sp
        .partial_sql("SELECT k::DATE FROM {0}", &[&df])
        .unwrap();
    let err = bad.count().unwrap_err().to_string();
    assert!(err.contains("Conversion Error"), "{err}");
    assert!(
        err.contains("SqlEngine") && err.contains("1 attempt"),
        "not retried: {err}"
    );
    assert_eq!(err.matches("SELECT k::DATE FROM {0}").count(), 1, "{err}");
    assert!(
        !err.contains("COPY") && !err.contains("__smallpond"),
        "{err}"
    );
    // The failed session keeps its staging directory and says so in the status file.
    let job = fx.sp.job_dir().to_path_buf();
    fx.sp.shutdown().unwrap();
    assert_eq!(
        std::fs::read_to_string(job.join("status")).unwrap().trim(),
        "failure"
    );
    assert!(job.join("staging").exists());
}

#[test]
fn placeholder_without_input() {
    let fx = Fixture::new();
    let input = fx.parquet("t", TABLE, 1);
    let a = fx.sp.read_parquet(&[&input]).unwrap();
    let b = fx.sp.read_parquet(&[&input]).unwrap();
    let err = fx
        .sp
        .partial_sql("SELECT * FROM {0}, {1}, {2}", &[&a, &b])
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("{2}") && err.contains("2 input(s)"), "{err}");
    let err = fx
        .sp
        .partial_sql("SELECT * FROM {0}", &[])
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("{0}") && err.contains("0 input(s)"), "{err}");
}

#[test]
fn zero_partitions() {
    let fx = Fixture::new();
    let input = fx.parquet("t", TABLE, 1);
    let df = fx.sp.read_parquet(&[&input]).unwrap();
    for how in [
        Partitioning::hash(&["k"]),
        Partitioning::Files,
        Partitioning::Rows,
        Partitioning::Random,
    ] {
        let err = df.repartition(0, how).err().unwrap().to_string();
        assert!(
            err.contains("npartitions") && err.contains("at least 1"),
            "{err}"
        );
    }
}

#[test]
fn co_partitioned_inputs_need_equal_partition_counts() {
    let fx = Fixture::new();
    let input = fx.parquet("t", TABLE, 1);
    let df = fx.sp.read_parquet(&[&input]).unwrap();
    let a = df.repartition(3, Partitioning::hash(&["k"])).unwrap();
    let b = df.repartition(4, Partitioning::hash(&["k"])).unwrap();
    let err = fx
        .sp
        .partial_sql("SELECT * FROM {0} JOIN {1} USING (k)", &[&a, &b])
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("same number of partitions") && err.contains("[3, 4]"),
        "{err}"
    );
}

#[test]
fn partition_key_out_of_range() {
    let fx = Fixture::new();
    let input = fx.parquet("t", TABLE, 1);
    let df = fx.sp.read_parquet(&[&input]).unwrap();
    // p is in 0..4; with 3 partitions, key 3 does not fit.
    let err = df
        .repartition(3, Partitioning::Column("p".into()))
        .unwrap()
        .count()
        .unwrap_err()
        .to_string();
    assert!(err.contains("partition key 3 is out of range 0-2"), "{err}");
}

#[test]
fn unknown_hash_column_is_named() {
    let fx = Fixture::new();
    let input = fx.parquet("t", TABLE, 1);
    let df = fx.sp.read_parquet(&[&input]).unwrap();
    // Before any task runs, with the columns there are.
    let shuffled = df.repartition(3, Partitioning::hash(&["nope"])).unwrap();
    let err = shuffled.count().unwrap_err().to_string();
    assert!(err.contains("\"nope\"") && err.contains("k, "), "{err}");
    let err = df
        .select(&["k", "nope"])
        .unwrap()
        .count()
        .unwrap_err()
        .to_string();
    assert!(err.contains("\"nope\""), "{err}");
    assert_eq!(fx.tasks_started(), 0);
}

#[test]
fn csv_row_that_does_not_match_the_schema_is_named() {
    let fx = Fixture::new();
    let csv = fx.path("bad.csv");
    std::fs::write(&csv, "1,apple\n2,pear\nthree,fig\n").unwrap();
    let df = fx
        .sp
        .read_csv(&[&csv], &[("id", "BIGINT"), ("name", "VARCHAR")], ',')
        .unwrap();
    let err = df.map("*").unwrap().count().unwrap_err().to_string();
    assert!(err.contains("bad.csv") && err.contains("three"), "{err}");
}

#[test]
fn files_with_conflicting_schemas_need_union_by_name() {
    let fx = Fixture::new();
    let dir = fx.parquet_files(
        "mixed",
        &[
            ("1.parquet", "SELECT 1 AS a, 'x' AS b"),
            ("2.parquet", "SELECT 'y' AS b, 2 AS c"),
        ],
    );
    let df = fx.sp.read_parquet(&[&dir]).unwrap();
    let err = df.map("*").unwrap().count().unwrap_err().to_string();
    assert!(
        err.contains("2.parquet") || err.contains("1.parquet"),
        "{err}"
    );
    let opts = smallpond::ParquetReadOptions {
        union_by_name: true,
        ..Default::default()
    };
    let df = fx.sp.read_parquet_with(&[&dir], opts).unwrap();
    assert_eq!(df.map("*").unwrap().count().unwrap(), 2);
}

#[test]
fn a_data_root_that_cannot_be_written_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, "x").unwrap();
    let err = smallpond::Session::builder()
        .data_root(file.join("root"))
        .build()
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("not-a-dir"), "{err}");
}
