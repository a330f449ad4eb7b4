//! Every input row is read once: file names are never taken as globs once listed, symlink
//! loops are not followed around, and paths of unsupported schemes are refused.

use smallpond::Partitioning;

use crate::util::*;

/// 100 rows with ids `from..from + 100`.
fn hundred(from: i64) -> String {
    format!("SELECT i AS id FROM range({from}, {}) t(i)", from + 100)
}

fn sum_of_ids(df: &smallpond::DataFrame) -> i64 {
    let fx_sum = format!("SELECT sum(id)::BIGINT FROM {}", files_sql(df));
    scalar_i64(&fx_sum)
}

fn scalar_i64(query: &str) -> i64 {
    let conn = duckdb::Connection::open_in_memory().unwrap();
    conn.query_row(query, [], |r| r.get(0)).unwrap()
}

#[test]
fn file_names_with_glob_characters_are_read_once() {
    // Reported: read through their directory, these were read twice (900 rows, not 700).
    let fx = Fixture::new();
    let dir = fx.path("odd");
    std::fs::create_dir_all(&dir).unwrap();
    let names = [
        "a[1].parquet",
        "b*.parquet",
        "c?.parquet",
        "d{1,2}.parquet",
        "b.parquet",
        "bb.parquet",
        "c1.parquet",
    ];
    for (i, name) in names.iter().enumerate() {
        let one = fx.parquet(&format!("src{i}"), &hundred(i as i64 * 100), 1);
        std::fs::rename(one.join(format!("src{i}-0.parquet")), dir.join(name)).unwrap();
    }
    let expected: i64 = (0..700).sum();
    for df in [
        fx.sp.read_parquet(&[&dir]).unwrap(),
        fx.sp.read_parquet(&[dir.join("*.parquet")]).unwrap(),
    ] {
        assert_eq!(df.count().unwrap(), 700);
        let copied = fx.sp.partial_sql("SELECT id FROM {0}", &[&df]).unwrap();
        assert_eq!(copied.count().unwrap(), 700);
        assert_eq!(sum_of_ids(&copied), expected);
        let shuffled = df.repartition(3, Partitioning::hash(&["id"])).unwrap();
        let shuffled = fx
            .sp
            .partial_sql("SELECT id FROM {0}", &[&shuffled])
            .unwrap();
        assert_eq!(sum_of_ids(&shuffled), expected);
    }
}

#[test]
fn a_symlink_loop_under_a_recursive_directory_is_read_once() {
    // Reported: a file under a directory with a link back to it was read 41 times.
    let fx = Fixture::new();
    let root = fx.path("tree");
    std::fs::create_dir_all(root.join("sub")).unwrap();
    let one = fx.parquet("src", &hundred(0), 1);
    std::fs::rename(one.join("src-0.parquet"), root.join("sub/x.parquet")).unwrap();
    std::os::unix::fs::symlink(&root, root.join("sub/back")).unwrap();
    let options = smallpond::ParquetReadOptions {
        recursive: true,
        ..Default::default()
    };
    let df = fx.sp.read_parquet_with(&[&root], options).unwrap();
    assert_eq!(df.count().unwrap(), 100);
}

#[test]
fn paths_with_a_url_scheme_are_refused_as_not_supported() {
    // Reported: write_parquet("s3://bucket/t/") wrote a local directory named "s3:", and
    // read_parquet read it back from there.
    let fx = Fixture::new();
    let cwd = std::env::current_dir().unwrap();
    for url in [
        "s3://bucket/t/*.parquet",
        "https://example.com/t.parquet",
        "gs://b/x",
    ] {
        let err = fx.sp.read_parquet(&[url]).err().expect(url).to_string();
        assert!(err.contains("not supported") && err.contains(url), "{err}");
    }
    let df = fx.sp.partial_sql("SELECT 1 AS x", &[]).unwrap();
    let err = df
        .write_parquet("s3://bucket/t/")
        .expect_err("write to s3")
        .to_string();
    assert!(
        err.contains("not supported") && err.contains("s3://bucket/t/"),
        "{err}"
    );
    assert!(
        !cwd.join("s3:").exists(),
        "a local directory named 's3:' was created"
    );
}

#[test]
fn a_fifo_among_the_inputs_is_an_error_at_once() {
    // Reported: an input that is a FIFO hung the job (DuckDB waits for a writer forever).
    let fx = Fixture::new();
    let dir = fx.path("with-fifo");
    std::fs::create_dir_all(&dir).unwrap();
    let one = fx.parquet("src", &hundred(0), 1);
    std::fs::rename(one.join("src-0.parquet"), dir.join("a.parquet")).unwrap();
    let fifo = dir.join("b.parquet");
    assert!(std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let (tx, rx) = std::sync::mpsc::channel();
    let root = fx.path("fifo-root");
    let (d, f) = (dir.clone(), fifo.clone());
    std::thread::spawn(move || {
        let sp = smallpond::Session::builder()
            .data_root(root)
            .build()
            .unwrap();
        let through_dir = sp
            .read_parquet(&[&d])
            .map(|_| ())
            .map_err(|e| e.to_string());
        let named = sp
            .read_parquet(&[&f])
            .map(|_| ())
            .map_err(|e| e.to_string());
        let _ = tx.send((through_dir, named));
    });
    let (through_dir, named) = rx
        .recv_timeout(std::time::Duration::from_secs(20))
        .expect("reading a FIFO hung");
    for result in [through_dir, named] {
        let err = result.expect_err("a FIFO is not an input file");
        assert!(
            err.contains("b.parquet") && err.contains("not a regular file"),
            "{err}"
        );
    }
}

/// Column names and DuckDB types of one Parquet file.
fn columns_of(file: &std::path::Path) -> Vec<(String, String)> {
    let conn = duckdb::Connection::open_in_memory().unwrap();
    let mut stmt = conn
        .prepare(&format!(
            "DESCRIBE SELECT * FROM read_parquet('{}')",
            file.display()
        ))
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(|r| r.unwrap())
        .collect()
}

#[test]
fn a_result_whose_partitions_drifted_apart_is_written_with_one_schema() {
    let fx = Fixture::new();
    // The old files have k BIGINT, the new one k VARCHAR and one more column.
    let dir = fx.parquet_files(
        "drift",
        &[
            (
                "a.parquet",
                "SELECT i AS id, i AS k FROM range(0, 100) t(i)",
            ),
            (
                "b.parquet",
                "SELECT i AS id, i AS k FROM range(100, 200) t(i)",
            ),
            (
                "c.parquet",
                "SELECT i AS id, 'v' || i AS k, 1.5 AS x FROM range(200, 300) t(i)",
            ),
        ],
    );
    let df = fx.sp.read_parquet(&[&dir]).unwrap();
    let df = df.repartition(3, Partitioning::Files).unwrap();
    let out = fx.path("out");
    df.map("*").unwrap().write_parquet(&out).unwrap();
    let files: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 3);
    let schemas: Vec<_> = files.iter().map(|f| columns_of(f)).collect();
    let expected: Vec<(String, String)> =
        [("id", "BIGINT"), ("k", "VARCHAR"), ("x", "DECIMAL(2,1)")]
            .iter()
            .map(|(n, t)| (n.to_string(), t.to_string()))
            .collect();
    for (file, schema) in files.iter().zip(&schemas) {
        assert_eq!(schema, &expected, "{}", file.display());
    }
    // Every row is there, with its value.
    let check = format!(
        "SELECT count(*), count(DISTINCT id), sum(CASE WHEN k = CAST(id AS VARCHAR) OR k = 'v' || id THEN 1 ELSE 0 END), count(x) \
         FROM read_parquet('{}/*.parquet')",
        out.display()
    );
    let row: (i64, i64, i64, i64) = duckdb::Connection::open_in_memory()
        .unwrap()
        .query_row(&check, [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })
        .unwrap();
    assert_eq!(row, (300, 300, 300, 100));
    // Read back by the driver: the same one schema.
    let batches = fx.sp.read_parquet(&[&out]).unwrap().to_arrow().unwrap();
    assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 300);
}

#[test]
fn partitions_whose_types_cannot_combine_are_an_error_naming_files_and_columns() {
    let fx = Fixture::new();
    let dir = fx.parquet_files(
        "clash",
        &[
            ("a.parquet", "SELECT 1 AS id, {'a': 1} AS s"),
            ("b.parquet", "SELECT 2 AS id, [1, 2] AS s"),
        ],
    );
    let df = fx.sp.read_parquet(&[&dir]).unwrap();
    let df = df.repartition(2, Partitioning::Files).unwrap();
    let out = fx.path("out");
    let err = df
        .map("*")
        .unwrap()
        .write_parquet(&out)
        .unwrap_err()
        .to_string();
    assert!(err.contains("column \"s\""), "{err}");
    assert!(
        err.contains("part-00000-0000.parquet") && err.contains("part-00001-0000.parquet"),
        "{err}"
    );
    assert!(!out.exists(), "nothing is published");
}
