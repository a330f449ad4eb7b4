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
