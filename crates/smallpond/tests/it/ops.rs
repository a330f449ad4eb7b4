use smallpond::arrow::array::{Array, Int64Array};
use smallpond::{ParquetReadOptions, Partitioning};

use crate::util::*;

#[test]
fn quickstart_matches_one_duckdb_query() {
    let fx = Fixture::new();
    let input = fx.parquet(
        "prices",
        "SELECT i AS id, 'T' || (i % 50) AS ticker, (i * 37 % 1000) / 10 AS price FROM range(5000) t(i)",
        1,
    );
    let df = fx.sp.read_parquet(&[glob(&input)]).unwrap();
    let df = df.repartition(3, Partitioning::hash(&["ticker"])).unwrap();
    let df = fx
        .sp
        .partial_sql(
            "SELECT ticker, min(price) AS lo, max(price) AS hi FROM {0} GROUP BY ticker",
            &[&df],
        )
        .unwrap();
    let out = fx.path("out");
    df.write_parquet(&out).unwrap();
    assert_same_rows(
        &read_glob(&out),
        &format!(
            "SELECT ticker, min(price) AS lo, max(price) AS hi FROM read_parquet('{}') GROUP BY ticker",
            glob(&input)
        ),
    );
    // Files are named in partition order.
    let mut names: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        vec![
            "part-00000-0000.parquet",
            "part-00001-0000.parquet",
            "part-00002-0000.parquet"
        ]
    );
}

/// `query` over a 4-way hash partition by `k` of the standard table (2 files): the input
/// directory and the query's DataFrame.
fn grouped(fx: &Fixture, query: &str) -> (std::path::PathBuf, smallpond::DataFrame) {
    let input = fx.parquet("t", TABLE, 2);
    let df = fx.sp.read_parquet(&[&input]).unwrap();
    let parts = df.repartition(4, Partitioning::hash(&["k"])).unwrap();
    let out = fx.sp.partial_sql(query, &[&parts]).unwrap();
    (input, out)
}

#[test]
fn an_action_after_another_reuses_computed_results() {
    let fx = Fixture::new();
    let (_, agg) = grouped(&fx, "SELECT k, sum(v) AS s FROM {0} GROUP BY k");
    agg.write_parquet(fx.path("out")).unwrap();
    let after_write = fx.tasks_started();
    assert_eq!(
        after_write,
        1 + 1,
        "the hash task (which runs the whole query: it has one producer), one sink"
    );
    assert!(agg.is_computed());
    assert_eq!(agg.count().unwrap(), 97);
    assert_eq!(
        fx.tasks_started(),
        after_write,
        "count() must not re-run the pipeline"
    );
    // A DataFrame built on a computed one only runs its own tasks.
    let filtered = agg.filter("s > 0").unwrap();
    assert_eq!(filtered.count().unwrap(), 97);
    assert_eq!(fx.tasks_started(), after_write + 4);
    // recompute() runs it again.
    agg.recompute().unwrap();
    assert!(!agg.is_computed());
    assert_eq!(agg.count().unwrap(), 97);
    assert_eq!(fx.tasks_started(), after_write + 4 + 1);
}

#[test]
fn map_filter_flat_map_partial_sort() {
    let fx = Fixture::new();
    let input = fx.parquet("t", TABLE, 3);
    let src = format!("read_parquet('{}')", glob(&input));
    let df = fx
        .sp
        .read_parquet(&[&input])
        .unwrap()
        .repartition(3, Partitioning::Files)
        .unwrap();

    let mapped = df.map("id, v * 2 AS v2").unwrap();
    assert_same_rows(
        &format!("SELECT * FROM {}", files_sql(&mapped)),
        &format!("SELECT id, v * 2 AS v2 FROM {src}"),
    );

    let filtered = df.filter("v > 500 AND k <> 'key-3'").unwrap();
    assert_same_rows(
        &format!("SELECT * FROM {}", files_sql(&filtered)),
        &format!("SELECT * FROM {src} WHERE v > 500 AND k <> 'key-3'"),
    );

    let flat = df.flat_map("id, unnest([v, v + 1]) AS x").unwrap();
    assert_same_rows(
        &format!("SELECT * FROM {}", files_sql(&flat)),
        &format!("SELECT id, unnest([v, v + 1]) AS x FROM {src}"),
    );

    let sorted = df.partial_sort(&["v DESC", "id"]).unwrap();
    for files in sorted.files().unwrap() {
        let conn = duckdb::Connection::open_in_memory().unwrap();
        let list: Vec<String> = files.iter().map(|f| format!("'{}'", f.display())).collect();
        // Each partition is sorted: no row is followed by a larger v.
        let q = format!(
            "SELECT count(*) FROM (SELECT v, lead(v) OVER (ORDER BY file_row_number) AS nv \
             FROM read_parquet([{}], file_row_number = true)) WHERE nv > v",
            list.join(", ")
        );
        let bad: i64 = conn.query_row(&q, [], |r| r.get(0)).unwrap();
        assert_eq!(bad, 0);
    }
    assert_eq!(sorted.count().unwrap(), 10_000);
}

/// The expressions of `map` and `filter` are query templates, as the original smallpond's
/// are (it `str.format`s them): named placeholders are filled in per task, `{{ }}` are
/// literal braces, other braces (struct literals) stay; a trailing comment is harmless.
#[test]
fn map_and_filter_expressions_are_templates() {
    let fx = Fixture::new();
    let input = fx.parquet("t", TABLE, 3);
    let df = fx
        .sp
        .read_parquet(&[&input])
        .unwrap()
        .repartition(3, Partitioning::Files)
        .unwrap();

    let tagged = df
        .map("id, k, {__data_partition__} AS part, {'k': k} AS s, '{{x}}' AS lit")
        .unwrap();
    let conn = duckdb::Connection::open_in_memory().unwrap();
    let summary = format!(
        "SELECT count(DISTINCT part), min(part), max(part), count(*) FILTER (s.k <> k), \
         count(*) FILTER (lit <> '{{x}}'), count(*) FILTER (part = 1), count(*) FROM {}",
        files_sql(&tagged)
    );
    let row: [i64; 7] = conn
        .query_row(&summary, [], |r| {
            Ok([
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
            ])
        })
        .unwrap();
    let middle = row[5];
    assert_eq!(row, [3, 0, 2, 0, 0, middle, 10_000], "{summary}");
    assert!(middle > 0);

    // The partition filled in per task, and a comment at the end does not cut the query.
    let kept = df
        .filter("{__data_partition__} = 1 -- the middle one")
        .unwrap();
    assert_eq!(kept.count().unwrap(), middle as u64);

    let bad = df
        .filter("v > {seed}")
        .err()
        .expect("{seed} refused")
        .to_string();
    assert!(bad.contains("{seed} is not a placeholder"), "{bad}");
    let none: [&str; 0] = [];
    assert!(df.partial_sort(&none).is_err());
}

#[test]
fn limit_take_count_and_arrow() {
    let fx = Fixture::new();
    let input = fx.parquet("t", TABLE, 4);
    let df = fx
        .sp
        .read_parquet(&[&input])
        .unwrap()
        .repartition(4, Partitioning::Files)
        .unwrap();
    assert_eq!(df.count().unwrap(), 10_000);
    let limited = df.limit(7).unwrap();
    assert_eq!(limited.num_partitions().unwrap(), 1);
    assert_eq!(limited.count().unwrap(), 7);
    let rows: usize = df.take(5).unwrap().iter().map(|b| b.num_rows()).sum();
    assert_eq!(rows, 5);
    let all = df.to_arrow().unwrap();
    assert_eq!(all.iter().map(|b| b.num_rows()).sum::<usize>(), 10_000);
    let ids: i64 = all
        .iter()
        .map(|b| {
            let col = b
                .column_by_name("id")
                .unwrap()
                .as_any()
                .downcast_ref::<Int64Array>()
                .unwrap();
            (0..col.len()).map(|i| col.value(i)).sum::<i64>()
        })
        .sum();
    assert_eq!(ids, (0..10_000i64).sum::<i64>());
    assert_eq!(
        df.take_all()
            .unwrap()
            .iter()
            .map(|b| b.num_rows())
            .sum::<usize>(),
        10_000
    );
}

#[test]
fn partial_sql_without_inputs_runs_once() {
    let fx = Fixture::new();
    let df = fx.sp.partial_sql("select * from range(3)", &[]).unwrap();
    assert_eq!(df.num_partitions().unwrap(), 1);
    assert_eq!(df.count().unwrap(), 3);
}

/// A query names its inputs in a `WITH` clause of its own, or through views where it must:
/// every way of writing `{0}` gives the same rows as one DuckDB query.
#[test]
fn every_way_of_naming_an_input_gives_the_same_rows() {
    let fx = Fixture::new();
    let input = fx.parquet("t", TABLE, 2);
    let df = fx.sp.read_parquet(&[&input]).unwrap();
    let parts = df.repartition(4, Partitioning::hash(&["k"])).unwrap();
    let expected = format!(
        "SELECT k, count(*) AS c, sum(v) AS s FROM read_parquet('{}') GROUP BY k",
        glob(&input)
    );
    let queries = [
        "SELECT k, count(*) AS c, sum(v) AS s FROM {0} GROUP BY k",
        "FROM {0} SELECT k, count(*) AS c, sum(v) AS s GROUP BY k",
        "-- the input, grouped\nselect k, count(*) AS c, sum(v) AS s from {0} group by k;",
        "/* a */ WITH g AS (SELECT k, v FROM {0}) SELECT k, count(*) AS c, sum(v) AS s FROM g GROUP BY k",
        "WITH RECURSIVE g AS (SELECT k, v FROM {0}) SELECT k, count(*) AS c, sum(v) AS s FROM g GROUP BY k",
        "SELECT t.k, count(*) AS c, sum(t.v) AS s FROM {0} AS t GROUP BY t.k",
        "SELECT {0}.k, count(*) AS c, sum({0}.v) AS s FROM {0} GROUP BY {0}.k",
        "SELECT a.k, count(*) AS c, sum(b.v) AS s FROM (SELECT DISTINCT k FROM {0}) a \
         JOIN {0} b ON a.k = b.k GROUP BY a.k",
        "SELECT k, count(*) AS c, sum(v) AS s FROM {0} WHERE k IN (SELECT k FROM {0}) GROUP BY k",
        "SELECT k, c, s FROM (SELECT k, count(*) AS c, sum(v) AS s FROM {0} GROUP BY k) \
         UNION ALL SELECT k, count(*), sum(v) FROM {0} WHERE false GROUP BY k",
        // Not a SELECT, FROM or WITH first: the input is a view.
        "(SELECT k, count(*) AS c, sum(v) AS s FROM {0} GROUP BY k)",
    ];
    for (i, query) in queries.iter().enumerate() {
        let out = fx.path(&format!("q{i}"));
        fx.sp
            .partial_sql(query, &[&parts])
            .and_then(|df| df.write_parquet(&out))
            .unwrap_or_else(|e| panic!("{query}: {e}"));
        assert_same_rows(&read_glob(&out), &expected);
    }
    // With set-up statements, which see the input as a view too.
    let out = fx.path("setup");
    fx.sp
        .partial_sql_statements(
            &["CREATE TEMP TABLE g AS SELECT k, v FROM {0}".to_string()],
            "SELECT k, count(*) AS c, sum(v) AS s FROM g GROUP BY k",
            &[&parts],
            Default::default(),
            Vec::new(),
        )
        .unwrap()
        .write_parquet(&out)
        .unwrap();
    assert_same_rows(&read_glob(&out), &expected);
}

#[test]
fn join_of_two_co_partitioned_inputs() {
    let fx = Fixture::new();
    let a = fx.parquet("a", TABLE, 2);
    let b = fx.parquet(
        "b",
        "SELECT i AS id, 'key-' || i AS k, i * 10 AS w FROM range(97) t(i)",
        1,
    );
    let left = fx
        .sp
        .read_parquet(&[&a])
        .unwrap()
        .repartition(5, Partitioning::hash(&["k"]))
        .unwrap();
    let right = fx
        .sp
        .read_parquet(&[&b])
        .unwrap()
        .repartition(5, Partitioning::hash(&["k"]))
        .unwrap();
    let joined = fx
        .sp
        .partial_sql(
            "SELECT {0}.id, {0}.k, w FROM {0} JOIN {1} ON {0}.k = {1}.k",
            &[&left, &right],
        )
        .unwrap();
    assert_same_rows(
        &format!("SELECT * FROM {}", files_sql(&joined)),
        &format!(
            "SELECT a.id, a.k, w FROM read_parquet('{}') a JOIN read_parquet('{}') b ON a.k = b.k",
            glob(&a),
            glob(&b)
        ),
    );
}

/// Schema of a DataFrame's output files, as DuckDB reads them.
fn columns_of(df: &smallpond::DataFrame) -> Vec<(String, String)> {
    let conn = duckdb::Connection::open_in_memory().unwrap();
    let mut stmt = conn
        .prepare(&format!("DESCRIBE SELECT * FROM {}", files_sql(df)))
        .unwrap();
    let rows = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap);
    rows.collect()
}

/// CSV without a schema: DuckDB's sniffer reads the first file once, at the action, and
/// every partition reads every file with what it found; the result is one DuckDB
/// `read_csv` (auto-detecting) over the same files.
#[test]
fn csv_columns_header_and_delimiter_are_detected_once_for_every_partition() {
    let fx = Fixture::new();
    let dir = fx.path("events");
    std::fs::create_dir_all(&dir).unwrap();
    let mut files = Vec::new();
    for f in 0..3 {
        let mut text = String::from("user_id,name,score,day,note\n");
        for i in 0..200 {
            let id = f * 1000 + i;
            // A quoted field with the delimiter in it, empty fields, dates.
            let note = if i % 7 == 0 { "\"a, b\"" } else { "" };
            let score = if i % 5 == 0 {
                String::new()
            } else {
                format!("{}.5", i % 9)
            };
            text.push_str(&format!(
                "{id},user {id},{score},2024-01-{:02},{note}\n",
                1 + i % 28
            ));
        }
        let path = dir.join(format!("part-{f}.csv"));
        std::fs::write(&path, text).unwrap();
        files.push(path);
    }
    let df = fx
        .sp
        .read_csv_with(&[&dir], smallpond::CsvReadOptions::default())
        .unwrap()
        .repartition(3, Partitioning::Files)
        .unwrap();
    // Nothing is read before an action.
    let mapped = df.map("*").unwrap();
    let expected = format!("SELECT * FROM read_csv('{}/*.csv')", dir.display());
    assert_same_rows(&format!("SELECT * FROM {}", files_sql(&mapped)), &expected);
    let types: Vec<String> = columns_of(&mapped)
        .into_iter()
        .map(|(n, t)| format!("{n} {t}"))
        .collect();
    assert_eq!(
        types,
        [
            "user_id BIGINT",
            "name VARCHAR",
            "score DOUBLE",
            "day DATE",
            "note VARCHAR"
        ]
    );

    // A tab-separated file without a header line: the delimiter and the header are found.
    let tsv = fx.path("t.tsv");
    std::fs::write(&tsv, "1\tapple\t2.5\n2\tpear\t3.0\n3\tfig\t\n").unwrap();
    let df = fx
        .sp
        .read_csv_with(&[&tsv], smallpond::CsvReadOptions::default())
        .unwrap();
    assert_same_rows(
        &format!("SELECT * FROM {}", files_sql(&df.map("*").unwrap())),
        "VALUES (1, 'apple', 2.5), (2, 'pear', 3.0), (3, 'fig', NULL)",
    );

    // A schema given with header = true: the header line is skipped, the types are the
    // user's (the original's error "Could not convert string \"user_id\"" is gone).
    let options = smallpond::CsvReadOptions {
        schema: Some(
            [
                ("id", "INTEGER"),
                ("name", "VARCHAR"),
                ("score", "VARCHAR"),
                ("day", "VARCHAR"),
                ("note", "VARCHAR"),
            ]
            .iter()
            .map(|(n, t)| (n.to_string(), t.to_string()))
            .collect(),
        ),
        header: Some(true),
        delim: None,
    };
    let typed = fx.sp.read_csv_with(&[&files[0]], options).unwrap();
    let sums = fx
        .sp
        .partial_sql("SELECT count(*) AS n, sum(id) AS s FROM {0}", &[&typed])
        .unwrap();
    assert_same_rows(
        &format!("SELECT * FROM {}", files_sql(&sums)),
        "SELECT 200::BIGINT, (199 * 200 / 2)::HUGEINT",
    );

    // header = false given: the header line is a row, so every column is text.
    let options = smallpond::CsvReadOptions {
        header: Some(false),
        ..Default::default()
    };
    let raw = fx.sp.read_csv_with(&[&files[0]], options).unwrap();
    assert_eq!(raw.count().unwrap(), 201);

    // An empty file reads as DuckDB reads it: no rows.
    let empty = fx.path("empty.csv");
    std::fs::write(&empty, "").unwrap();
    let df = fx
        .sp
        .read_csv_with(&[&empty], smallpond::CsvReadOptions::default())
        .unwrap();
    assert_eq!(df.count().unwrap(), 0);

    // A file gone by the action: the detection says which.
    let gone = fx.path("gone.csv");
    std::fs::write(&gone, "a,b\n1,2\n").unwrap();
    let df = fx
        .sp
        .read_csv_with(&[&gone], smallpond::CsvReadOptions::default())
        .unwrap();
    std::fs::remove_file(&gone).unwrap();
    let text = format!("{:#}", df.count().unwrap_err());
    assert!(
        text.contains("cannot detect the columns of") && text.contains("gone.csv"),
        "{text}"
    );
}

#[test]
fn csv_with_tab_json_lines_and_parquet_options() {
    let fx = Fixture::new();
    let csv = fx.path("t.tsv");
    std::fs::write(&csv, "1\tapple\t2.5\n2\tpear\t3.0\n3\tfig\t\n").unwrap();
    let df = fx
        .sp
        .read_csv(
            &[&csv],
            &[("id", "BIGINT"), ("name", "VARCHAR"), ("price", "DOUBLE")],
            '\t',
        )
        .unwrap();
    assert_same_rows(
        &format!("SELECT * FROM {}", files_sql(&df.map("*").unwrap())),
        "VALUES (1, 'apple', 2.5), (2, 'pear', 3.0), (3, 'fig', NULL)",
    );

    let json = fx.path("t.json");
    std::fs::write(
        &json,
        "{\"id\": 1, \"tags\": [\"a\"]}\n{\"id\": 2, \"tags\": []}\n",
    )
    .unwrap();
    let df = fx
        .sp
        .read_json(&[&json], &[("id", "BIGINT"), ("tags", "VARCHAR[]")])
        .unwrap();
    let n = fx
        .sp
        .partial_sql("SELECT sum(len(tags)) AS n FROM {0}", &[&df])
        .unwrap();
    assert_same_rows(
        &format!("SELECT * FROM {}", files_sql(&n)),
        "SELECT 1::HUGEINT AS n",
    );

    // Column subset, recursive directories and union by name.
    let nested = fx.path("nested/deeper");
    std::fs::create_dir_all(&nested).unwrap();
    let conn = duckdb::Connection::open_in_memory().unwrap();
    conn.execute_batch(&format!(
        "COPY (SELECT 1 AS a, 2 AS b) TO '{}/x.parquet' (FORMAT parquet);
         COPY (SELECT 3 AS b, 4 AS c) TO '{}/y.parquet' (FORMAT parquet);",
        fx.path("nested").display(),
        nested.display()
    ))
    .unwrap();
    let opts = ParquetReadOptions {
        recursive: true,
        union_by_name: true,
        columns: Some(vec!["b".into()]),
    };
    let df = fx.sp.read_parquet_with(&[fx.path("nested")], opts).unwrap();
    assert_same_rows(
        &format!("SELECT * FROM {}", files_sql(&df.map("b").unwrap())),
        "VALUES (2), (3)",
    );
}

#[test]
fn from_arrow_round_trips() {
    use std::sync::Arc;

    use smallpond::arrow::array::{Int64Array, StringArray};
    use smallpond::arrow::datatypes::{DataType, Field, Schema};
    use smallpond::arrow::record_batch::RecordBatch;

    let fx = Fixture::new();
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("name", DataType::Utf8, true),
    ]));
    let batch = RecordBatch::try_new(
        schema,
        vec![
            Arc::new(Int64Array::from(vec![1, 2, 3])),
            Arc::new(StringArray::from(vec![Some("a"), None, Some("c")])),
        ],
    )
    .unwrap();
    let df = fx.sp.from_arrow(&[batch.clone(), batch]).unwrap();
    let out = fx
        .sp
        .partial_sql("SELECT id, count(*) AS n FROM {0} GROUP BY id", &[&df])
        .unwrap();
    assert_same_rows(
        &format!("SELECT * FROM {}", files_sql(&out)),
        "VALUES (1, 2), (2, 2), (3, 2)",
    );
    assert!(fx.sp.from_arrow(&[]).is_err());
}

#[test]
fn write_parquet_replaces_an_earlier_result_and_refuses_foreign_directories() {
    let fx = Fixture::new();
    let input = fx.parquet("t", TABLE, 1);
    let df = fx.sp.read_parquet(&[&input]).unwrap();
    let out = fx.path("out");
    df.repartition(4, Partitioning::hash(&["k"]))
        .unwrap()
        .write_parquet(&out)
        .unwrap();
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), 4);
    df.repartition(2, Partitioning::hash(&["k"]))
        .unwrap()
        .write_parquet(&out)
        .unwrap();
    assert_eq!(
        std::fs::read_dir(&out).unwrap().count(),
        2,
        "the earlier result is replaced, not mixed in"
    );
    assert_same_rows(&read_glob(&out), &read_glob(&input));

    let foreign = fx.path("foreign");
    std::fs::create_dir_all(&foreign).unwrap();
    std::fs::write(foreign.join("notes.txt"), "keep me").unwrap();
    let err = df.write_parquet(&foreign).unwrap_err().to_string();
    assert!(err.contains("notes.txt"), "{err}");
    assert_eq!(
        std::fs::read_to_string(foreign.join("notes.txt")).unwrap(),
        "keep me"
    );
    assert_eq!(std::fs::read_dir(&foreign).unwrap().count(), 1);
}

#[test]
fn lazy_writes_run_together_in_wait() {
    let fx = Fixture::new();
    let input = fx.parquet("t", TABLE, 1);
    let df = fx.sp.read_parquet(&[&input]).unwrap();
    let a = df
        .filter("p = 0")
        .unwrap()
        .write_parquet_lazy(fx.path("a"))
        .unwrap();
    let b = df
        .filter("p = 1")
        .unwrap()
        .write_parquet_lazy(fx.path("b"))
        .unwrap();
    assert!(!fx.path("a").exists());
    fx.sp.wait(&[&a, &b]).unwrap();
    assert_same_rows(
        &read_glob(&fx.path("a")),
        &format!("{} WHERE p = 0", read_glob(&input)),
    );
    assert_same_rows(
        &read_glob(&fx.path("b")),
        &format!("{} WHERE p = 1", read_glob(&input)),
    );
}

#[test]
fn job_directory_lifecycle() {
    let fx = Fixture::new();
    let input = fx.parquet("t", TABLE, 1);
    let job = fx.sp.job_dir().to_path_buf();
    assert!(job
        .file_name()
        .unwrap()
        .to_string_lossy()
        .ends_with(fx.sp.job_id().as_str()));
    let df = fx
        .sp
        .read_parquet(&[&input])
        .unwrap()
        .repartition(2, Partitioning::Random)
        .unwrap();
    assert_eq!(df.count().unwrap(), 10_000);
    assert!(job.join("config/plan-001.json").is_file());
    assert!(job.join("config/tasks-001.json").is_file());
    let records = smallpond_core::job::JobDirs::new(job.clone()).records();
    assert!(
        records.latest(smallpond_core::TaskId(0)).is_some()
            && records.latest(smallpond_core::TaskId(1)).is_none(),
        "one completed-task record, for the one hash task: {records:?}"
    );
    fx.sp.shutdown().unwrap();
    assert!(!job.join("staging").exists());
    assert!(!job.join("temp").exists());
    assert_eq!(
        std::fs::read_to_string(job.join("status")).unwrap().trim(),
        "success"
    );
    assert!(df.count().is_err(), "a shut-down session runs nothing");
}

#[test]
fn shuffles_carry_only_the_columns_the_query_uses() {
    let fx = Fixture::new();
    let input = fx.parquet("t", TABLE, 2);
    let df = fx.sp.read_parquet(&[&input]).unwrap();
    let parts = df.repartition(4, Partitioning::hash(&["k"])).unwrap();
    let agg = fx
        .sp
        .partial_sql("SELECT k, v * 2 AS w FROM {0} WHERE v > 10", &[&parts])
        .unwrap();
    assert_same_rows(
        &format!("SELECT * FROM {}", files_sql(&agg)),
        &format!(
            "SELECT k, v * 2 AS w FROM read_parquet('{}') WHERE v > 10",
            glob(&input)
        ),
    );
    let graph = fx.sp.graph().unwrap();
    assert!(graph.contains("Projection(k, v)"), "{graph}");
    // The DataFrame the user built still has every column.
    let conn = duckdb::Connection::open_in_memory().unwrap();
    let cols: i64 = conn
        .query_row(
            &format!(
                "SELECT count(*) FROM (DESCRIBE SELECT * FROM {})",
                files_sql(&parts)
            ),
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(cols, 4);
    // A query with `*` keeps everything.
    let all = fx.sp.partial_sql("SELECT * FROM {0}", &[&parts]).unwrap();
    assert_same_rows(
        &format!("SELECT * FROM {}", files_sql(&all)),
        &read_glob(&input),
    );
}

/// Column names and types of a query's result once written to Parquet (which, e.g., has no
/// HUGEINT: DuckDB stores it as DOUBLE).
fn schema_of(query: &str) -> Vec<(String, String)> {
    let conn = duckdb::Connection::open_in_memory().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("schema.parquet");
    conn.execute_batch(&format!(
        "COPY ({query}) TO '{}' (FORMAT parquet)",
        file.display()
    ))
    .unwrap();
    let mut stmt = conn
        .prepare(&format!(
            "DESCRIBE SELECT * FROM read_parquet('{}')",
            file.display()
        ))
        .unwrap();
    let rows = stmt
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
        .unwrap();
    rows.map(Result::unwrap).collect()
}

#[test]
fn aggregations_after_a_shuffle_are_split_around_it_exactly() {
    let fx = Fixture::new();
    let input = fx.parquet("t", TABLE, 3);
    let src = format!("read_parquet('{}')", glob(&input));
    let df = fx.sp.read_parquet(&[&input]).unwrap();
    let split_queries = [
        "SELECT k, count(*) AS n, sum(v) AS s FROM {0} GROUP BY k",
        "SELECT k, p, avg(v), min(v) AS lo, max(id), count(v) FROM {0} WHERE v > 100 GROUP BY k, p",
        "SELECT t.k AS key, sum(t.v * 2) FROM {0} AS t GROUP BY t.k",
        "SELECT sum(v) AS s, k FROM {0} GROUP BY k;",
        "SELECT DISTINCT k, p FROM {0}",
        "select distinct p, K from {0}",
        // {0} once, through a plain SELECT DISTINCT: that subquery runs before the shuffle.
        "SELECT k, p FROM (SELECT DISTINCT k, p FROM {0}) AS d WHERE p > 1",
    ];
    let kept_queries = [
        "SELECT k, count(DISTINCT v) AS n FROM {0} GROUP BY k",
        "SELECT k, sum(v) AS s FROM {0} GROUP BY k HAVING sum(v) > 100",
        "SELECT p, count(*) AS n FROM {0} GROUP BY p",
        "SELECT DISTINCT k, v + 1 AS w FROM {0}",
        "SELECT DISTINCT k FROM {0} WHERE v > 100",
        "SELECT k FROM (SELECT DISTINCT k, v + 1 AS w FROM {0})",
        "SELECT a.k, b.v FROM (SELECT DISTINCT k FROM {0}) a JOIN {0} b ON a.k = b.k",
    ];
    for (i, query) in split_queries.iter().chain(kept_queries.iter()).enumerate() {
        let parts = df.repartition(4, Partitioning::hash(&["k"])).unwrap();
        let out = fx.sp.partial_sql(query, &[&parts]).unwrap();
        let ours = format!("SELECT * FROM {}", files_sql(&out));
        let expected = query.trim_end_matches(';').replace("{0}", &src);
        // Hash partitions by k: grouping by p alone is per partition, so only compare
        // queries whose groups do not span partitions.
        if query.contains("GROUP BY p") {
            assert_eq!(out.count().unwrap(), 4 * 4, "{query}");
            continue;
        }
        assert_same_rows(&ours, &expected);
        assert_eq!(schema_of(&ours), schema_of(&expected), "{query}");
        let graph = fx.sp.graph().unwrap();
        let last_hash = graph
            .lines()
            .rfind(|l| l.contains("HashPartition"))
            .unwrap()
            .to_string();
        // Over this one-partition source, a GROUP BY that selects the key as it is and a
        // plain DISTINCT run whole in the shuffle's one producer
        // (`a_query_over_one_producer_...` below); the rest in every producer.
        let last_sql = graph.lines().rfind(|l| l.contains("SqlEngine")).unwrap();
        let whole = last_sql.contains(", then partitioned 4 ways by hash_by=k\" over node-0]");
        assert_eq!(whole, [0, 1, 3, 4, 5].contains(&i), "{query}: {last_sql}");
        assert_eq!(
            whole || last_hash.contains("pre_query"),
            i < split_queries.len(),
            "{query}: {last_hash}"
        );
    }
}

#[test]
fn a_query_over_one_producer_is_the_shuffle_itself_and_over_several_runs_again() {
    let fx = Fixture::new();
    let input = fx.parquet("t", TABLE, 3);
    let src = format!("read_parquet('{}')", glob(&input));
    let df = fx.sp.read_parquet(&[&input]).unwrap();
    let expected = format!("SELECT DISTINCT k, p FROM {src}");
    let tasks_of = |f: &dyn Fn() -> smallpond::DataFrame| {
        let before = fx.tasks_started();
        let out = f();
        out.compute().unwrap();
        (out, fx.tasks_started() - before)
    };

    // One producer: its DISTINCT is the result, partition by partition. The shuffle that
    // keeps each row's partition index still gives the query's columns only.
    for keep in [None, Some("__data_partition__".to_string())] {
        let (out, tasks) = tasks_of(&|| {
            let parts = df
                .repartition_keeping(
                    4,
                    Partitioning::hash(&["k"]),
                    Default::default(),
                    keep.clone(),
                )
                .unwrap();
            fx.sp
                .partial_sql("SELECT DISTINCT k, p FROM {0}", &[&parts])
                .unwrap()
        });
        assert_eq!(tasks, 1, "{keep:?}: only the producer runs");
        assert_eq!(out.num_partitions().unwrap(), 4);
        let ours = format!("SELECT * FROM {}", files_sql(&out));
        assert_same_rows(&ours, &expected);
        assert_eq!(schema_of(&ours), schema_of(&expected), "{keep:?}");
        // Every partition holds its own keys: no (k, p) in two of them.
        let files = out.files().unwrap();
        let per_partition: Vec<String> = files
            .iter()
            .filter(|f| !f.is_empty())
            .map(|f| format!("SELECT DISTINCT k FROM {}", read_files(f)))
            .collect();
        let conn = duckdb::Connection::open_in_memory().unwrap();
        let (sum, all): (i64, i64) = conn
            .query_row(
                &format!(
                    "SELECT (SELECT sum(n) FROM ({})), (SELECT count(DISTINCT k) FROM {src})",
                    per_partition
                        .iter()
                        .map(|q| format!("SELECT count(*) AS n FROM ({q})"))
                        .collect::<Vec<_>>()
                        .join(" UNION ALL ")
                ),
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!(sum, all, "{keep:?}: a key in two partitions");
    }

    // Several producers (the source split in 3 first): each deduplicates only its own rows,
    // so the query runs again in every partition.
    let (out, tasks) = tasks_of(&|| {
        let parts = df
            .repartition(3, Partitioning::Files)
            .unwrap()
            .repartition(4, Partitioning::hash(&["k"]))
            .unwrap();
        fx.sp
            .partial_sql("SELECT DISTINCT k, p FROM {0}", &[&parts])
            .unwrap()
    });
    assert_eq!(tasks, 3 + 4, "3 producers and 4 queries");
    assert_same_rows(&format!("SELECT * FROM {}", files_sql(&out)), &expected);

    // A query that asks for other threads than the shuffle runs as a task of its own.
    let (out, tasks) = tasks_of(&|| {
        let parts = df.repartition(4, Partitioning::hash(&["k"])).unwrap();
        let options = smallpond::TaskOptions {
            cpu_limit: Some(1),
            ..Default::default()
        };
        fx.sp
            .partial_sql_with("SELECT DISTINCT k, p FROM {0}", &[&parts], options)
            .unwrap()
    });
    assert_eq!(tasks, 1 + 4);
    assert_same_rows(&format!("SELECT * FROM {}", files_sql(&out)), &expected);

    // A GROUP BY that selects the key as it is: one task, the query's own names and types.
    // One that renames the key cannot be partitioned by it after the query: it is split.
    for (query, want) in [
        (
            "SELECT k, count(*) AS n, avg(v) AS a, max(p) AS m FROM {0} WHERE v > 10 GROUP BY k",
            1,
        ),
        ("SELECT k AS key, count(*) AS n FROM {0} GROUP BY k", 1 + 4),
        // Not one the producers may aggregate first (so far): it runs after the shuffle.
        (
            "SELECT k, count(DISTINCT p) AS d FROM {0} GROUP BY k",
            1 + 4,
        ),
    ] {
        let (out, tasks) = tasks_of(&|| {
            let parts = df.repartition(4, Partitioning::hash(&["k"])).unwrap();
            fx.sp.partial_sql(query, &[&parts]).unwrap()
        });
        assert_eq!(tasks, want, "{query}");
        let ours = format!("SELECT * FROM {}", files_sql(&out));
        let expected = query.replace("{0}", &src);
        assert_same_rows(&ours, &expected);
        assert_eq!(schema_of(&ours), schema_of(&expected), "{query}");
    }
}

#[test]
fn union_and_consolidate_rearrange_partitions_without_copying() {
    let fx = Fixture::new();
    let input = fx.parquet("t", TABLE, 2);
    let df = fx.sp.read_parquet(&[&input]).unwrap();
    let a = df.repartition(2, Partitioning::Files).unwrap();
    let b = df.filter("v < 10").unwrap();
    let both = a.union(&[&b]).unwrap();
    assert_eq!(both.num_partitions().unwrap(), 3);
    assert_same_rows(
        &format!("SELECT * FROM {}", files_sql(&both)),
        &format!(
            "{} UNION ALL ({} WHERE v < 10)",
            read_glob(&input),
            read_glob(&input)
        ),
    );
    let one = both.consolidate().unwrap();
    assert_eq!(one.num_partitions().unwrap(), 1);
    assert_eq!(one.count().unwrap(), both.count().unwrap());
}

#[test]
fn write_parquet_links_files_already_encoded_as_asked_and_reencodes_otherwise() {
    use std::os::unix::fs::MetadataExt;
    let fx = Fixture::new();
    let options = |codec: &str| smallpond::TaskOptions {
        parquet: smallpond::ParquetOptions::try_new(codec, 122_880).unwrap(),
        ..Default::default()
    };
    let df = fx
        .sp
        .partial_sql_with("SELECT * FROM range(1000) t(i)", &[], options("snappy"))
        .unwrap();
    df.compute().unwrap();
    let staged = df.files().unwrap().concat();
    let inode = |p: &std::path::Path| std::fs::metadata(p).unwrap().ino();
    let same = fx.path("same");
    df.write_parquet_with(&same, options("snappy"))
        .unwrap()
        .compute()
        .unwrap();
    let published: Vec<_> = std::fs::read_dir(&same)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(published.len(), 1);
    assert_eq!(
        inode(&published[0]),
        inode(&staged[0]),
        "snappy output is linked"
    );
    // write_parquet without options publishes task outputs as they are, as the original.
    let plain = fx.path("plain");
    df.write_parquet(&plain).unwrap();
    let published: Vec<_> = std::fs::read_dir(&plain)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(inode(&published[0]), inode(&staged[0]), "kept as encoded");
    let other = fx.path("other");
    df.write_parquet_with(&other, options("zstd"))
        .unwrap()
        .compute()
        .unwrap();
    let published: Vec<_> = std::fs::read_dir(&other)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_ne!(
        inode(&published[0]),
        inode(&staged[0]),
        "zstd output is re-encoded"
    );
    let conn = duckdb::Connection::open_in_memory().unwrap();
    let c: String = conn
        .query_row(
            &format!(
                "SELECT DISTINCT compression FROM parquet_metadata('{}')",
                glob(&other)
            ),
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(c.to_lowercase(), "zstd");
}

#[test]
fn appending_adds_files_named_after_the_job_and_keeps_whats_there() {
    let fx = Fixture::new();
    let input = fx.parquet("t", TABLE, 2);
    let df = fx.sp.read_parquet(&[&input]).unwrap();
    let out = fx.path("out");
    std::fs::create_dir_all(out.join("notes")).unwrap();
    std::fs::write(out.join("notes/readme.txt"), "kept").unwrap();
    std::fs::write(out.join("other.txt"), "kept too").unwrap();
    let first = df.append_parquet_lazy(&out).unwrap();
    first.compute().unwrap();
    // The result is the files written now, in the destination.
    let written = first.files().unwrap().concat();
    assert!(!written.is_empty() && written.iter().all(|f| f.parent() == Some(out.as_path())));
    let job = fx
        .sp
        .job_dir()
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    assert!(written.iter().all(|f| f
        .file_name()
        .unwrap()
        .to_string_lossy()
        .starts_with(&format!("part-{job}-"))));
    assert_eq!(
        std::fs::read_to_string(out.join("notes/readme.txt")).unwrap(),
        "kept"
    );
    assert_eq!(
        std::fs::read_to_string(out.join("other.txt")).unwrap(),
        "kept too"
    );
    // Another job adds its own files beside.
    let other = smallpond::Session::builder()
        .data_root(fx.path("root2"))
        .num_executors(2)
        .build()
        .unwrap();
    other
        .read_parquet(&[&input])
        .unwrap()
        .append_parquet_lazy(&out)
        .unwrap()
        .compute()
        .unwrap();
    assert_same_rows(
        &format!(
            "SELECT * FROM read_parquet('{}/part-*.parquet')",
            out.display()
        ),
        &format!("{} UNION ALL {}", read_glob(&input), read_glob(&input)),
    );
    // Replacing a directory with other files in it is still refused.
    let err = df.write_parquet(&out).unwrap_err().to_string();
    assert!(err.contains("not an earlier smallpond output"), "{err}");
    // A file is no destination, whether added to or replaced.
    let file = out.join("other.txt");
    for sink in [df.append_parquet_lazy(&file), df.write_parquet_lazy(&file)] {
        let err = sink.unwrap().compute().unwrap_err().to_string();
        assert!(err.contains("exists and is not a directory"), "{err}");
    }
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "kept too");
}

#[test]
fn the_optimizer_rewrites_at_the_action_and_the_graph_says_so() {
    let fx = Fixture::new();
    // The key renamed: aggregated before the shuffle and again after it, by a shuffle the
    // optimizer adds (as it is, the query would run whole in the shuffle's one producer).
    let (input, agg) = grouped(&fx, "SELECT k AS key, count(*) AS n FROM {0} GROUP BY k");
    // Built: the user's three nodes, nothing rewritten yet.
    let built = fx.sp.graph().unwrap();
    assert_eq!(built.lines().count(), 3, "{built}");
    assert!(!built.contains("optimiz"), "{built}");
    assert_same_rows(
        &format!("SELECT * FROM {}", files_sql(&agg)),
        &format!(
            "SELECT k AS key, count(*) AS n FROM {} GROUP BY k",
            read_glob(&input).replace("SELECT * FROM ", "")
        ),
    );
    let ran = fx.sp.graph().unwrap();
    assert!(ran.contains("[optimized: runs"), "{ran}");
    assert!(ran.contains("[added by the optimizer for node-2]"), "{ran}");
    // The user's node is as it was built.
    assert!(
        ran.lines()
            .any(|l| l.starts_with("node-2 SqlEngine(\"SELECT k AS key, count(*)")),
        "{ran}"
    );
    // Recomputing forgets the optimizer's shuffle too, and gives the same rows.
    let again = agg.recompute().unwrap();
    assert_eq!(again.count().unwrap(), 97);
}

#[test]
fn sql_over_sql_runs_as_one_query_unless_something_else_reads_the_inner_one() {
    let fx = Fixture::new();
    let input = fx.parquet("t", TABLE, 2);
    let df = fx
        .sp
        .read_parquet(&[glob(&input)])
        .unwrap()
        .repartition(3, Partitioning::hash(&["k"]))
        .unwrap();
    df.compute().unwrap();
    let want = format!(
        "SELECT k, v * 2 AS w, '{{x}}' AS brace FROM ({TABLE}) WHERE v * 2 > 100 AND k <> 'key-3'"
    );
    // A literal brace, a trailing comment and an alias, through four nodes.
    let chain = |df: &smallpond::DataFrame| {
        let mapped = df
            .map("k, v * 2 AS w, '{{x}}' AS brace -- doubled")
            .unwrap();
        let kept = fx
            .sp
            .partial_sql("SELECT t.* FROM {0} AS t WHERE t.w > 100", &[&mapped])
            .unwrap();
        (mapped, kept)
    };
    // Filters and sorts what `kept` holds, checks the rows and their order in every file,
    // and says how many tasks that ran.
    let sorted_tasks = |kept: &smallpond::DataFrame| -> usize {
        let sorted = kept
            .filter("k <> 'key-3'")
            .unwrap()
            .partial_sort(&["w"])
            .unwrap();
        let before = fx.tasks_started();
        assert_same_rows(&format!("SELECT * FROM {}", files_sql(&sorted)), &want);
        for files in sorted.files().unwrap() {
            let list: Vec<String> = files.iter().map(|f| format!("'{}'", f.display())).collect();
            assert_same_rows(
                &format!(
                    "SELECT count(*) FROM (SELECT w, lag(w) OVER (ORDER BY file_row_number) AS prev \
                     FROM read_parquet([{}], file_row_number = true)) WHERE prev > w",
                    list.join(", ")
                ),
                "SELECT 0",
            );
        }
        fx.tasks_started() - before
    };

    // One task per partition, for four SQL nodes, reading the shuffle computed before.
    let (_, kept) = chain(&df);
    assert_eq!(sorted_tasks(&kept), 3);
    let graph = fx.sp.graph().unwrap();
    assert!(graph.contains("__smallpond_node_"), "{graph}");

    // The same chain with a second reader of the map: the map runs on its own, what
    // reads only it still as one query.
    let (mapped, kept) = chain(&df);
    let _other = mapped.map("k").unwrap();
    assert_eq!(sorted_tasks(&kept), 6);

    // A node computed before is read, not computed again inside the next query.
    let (mapped, kept) = chain(&df);
    mapped.compute().unwrap();
    assert_eq!(sorted_tasks(&kept), 3);
}

#[test]
fn write_parquet_links_row_groups_a_chunk_over_the_size_asked_and_reencodes_larger_ones() {
    use std::os::unix::fs::MetadataExt;
    let fx = Fixture::new();
    // DuckDB closes a row group once it holds ROW_GROUP_SIZE rows, a scan's chunk at a time:
    // from a CSV file of several read buffers (32 MB) its row groups come out a little over
    // the size asked.
    let csv = fx.path("rows.csv");
    duckdb::Connection::open_in_memory()
        .unwrap()
        .execute_batch(&format!(
            "COPY (SELECT i, i % 7 AS k, repeat('x', 100) AS s FROM range(300000) t(i)) \
             TO '{}' (HEADER false)",
            csv.display()
        ))
        .unwrap();
    let options = |rows: u64| smallpond::TaskOptions {
        parquet: smallpond::ParquetOptions::try_new("zstd", rows).unwrap(),
        ..Default::default()
    };
    let src = fx
        .sp
        .read_csv(
            &[&csv],
            &[("i", "BIGINT"), ("k", "INTEGER"), ("s", "VARCHAR")],
            ',',
        )
        .unwrap();
    let df = fx
        .sp
        .partial_sql_with("SELECT * FROM {0} WHERE k <> 3", &[&src], options(122_880))
        .unwrap();
    df.compute().unwrap();
    let staged = df.files().unwrap().concat();
    let conn = duckdb::Connection::open_in_memory().unwrap();
    let largest: i64 = conn
        .query_row(
            &format!(
                "SELECT max(row_group_num_rows) FROM parquet_metadata('{}')",
                staged[0].display()
            ),
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(largest > 122_880, "{largest}: the case this test is about");
    let inode = |p: &std::path::Path| std::fs::metadata(p).unwrap().ino();
    let published = |dir: &std::path::Path| -> Vec<std::path::PathBuf> {
        std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect()
    };
    let same = fx.path("same");
    df.write_parquet_with(&same, options(122_880))
        .unwrap()
        .compute()
        .unwrap();
    assert_eq!(inode(&published(&same)[0]), inode(&staged[0]), "linked");
    let smaller = fx.path("smaller");
    df.write_parquet_with(&smaller, options(50_000))
        .unwrap()
        .compute()
        .unwrap();
    assert_ne!(
        inode(&published(&smaller)[0]),
        inode(&staged[0]),
        "re-encoded"
    );
    assert_same_rows(
        &format!("SELECT * FROM read_parquet('{}')", glob(&smaller)),
        &format!("SELECT * FROM {}", files_sql(&df)),
    );
}
