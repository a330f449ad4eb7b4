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
fn paths_of_unsupported_schemes_are_refused_and_urls_never_become_local_paths() {
    // Reported: write_parquet("s3://bucket/t/") wrote a local directory named "s3:", and
    // read_parquet read it back from there.
    let fx = Fixture::new();
    let cwd = std::env::current_dir().unwrap();
    for url in ["gs://b/x", "ftp://host/t.parquet"] {
        let err = fx.sp.read_parquet(&[url]).err().expect(url).to_string();
        assert!(err.contains("not supported") && err.contains(url), "{err}");
    }
    let df = fx.sp.partial_sql("SELECT 1 AS x", &[]).unwrap();
    let err = df
        .write_parquet("gs://bucket/t/")
        .expect_err("gs")
        .to_string();
    assert!(err.contains("gs:// scheme is not supported"), "{err}");
    let err = df
        .write_parquet("https://example.com/t/")
        .expect_err("https")
        .to_string();
    assert!(err.contains("read only"), "{err}");
    // A store that does not answer: an error, before any task, and nothing local.
    let closed = smallpond::S3Options {
        endpoint: Some("127.0.0.1:1".into()),
        use_ssl: Some(false),
        url_style: Some("path".into()),
        ..Default::default()
    };
    let sp = smallpond::Session::builder()
        .data_root(fx.path("root2"))
        .s3_options(closed)
        .build()
        .unwrap();
    let err = sp
        .read_parquet(&["s3://bucket/t/*.parquet"])
        .err()
        .expect("no store");
    assert!(err.to_string().contains("s3://bucket/t"), "{err}");
    let df = sp.partial_sql("SELECT 1 AS x", &[]).unwrap();
    let err = df.write_parquet("s3://bucket/t/").expect_err("no store");
    assert!(err.to_string().contains("s3://bucket/t"), "{err}");
    assert!(
        !cwd.join("s3:").exists() && !cwd.join("https:").exists(),
        "a local directory named after a scheme was created"
    );
}

/// Serves `dir` over HTTP/1.1 on 127.0.0.1 (HEAD, GET, byte ranges: what DuckDB's reader
/// asks), for as long as the test runs; returns the base URL.
fn serve(dir: std::path::PathBuf) -> String {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let dir = dir.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut out = stream;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let mut parts = line.split_whitespace();
                    let (method, path) = (
                        parts.next().unwrap_or("").to_string(),
                        parts.next().unwrap_or("/").to_string(),
                    );
                    let mut range = None;
                    loop {
                        let mut header = String::new();
                        if reader.read_line(&mut header).unwrap_or(0) == 0
                            || header.trim().is_empty()
                        {
                            break;
                        }
                        let lower = header.to_ascii_lowercase();
                        if let Some(r) = lower.strip_prefix("range: bytes=") {
                            let (a, b) = r.trim().split_once('-').unwrap();
                            range = Some((a.parse::<usize>().unwrap(), b.parse::<usize>().ok()));
                        }
                    }
                    let Ok(body) = std::fs::read(dir.join(path.trim_start_matches('/'))) else {
                        let _ =
                            out.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
                        continue;
                    };
                    let (status, slice) = match range {
                        Some((a, b)) => {
                            let end = b.map_or(body.len(), |b| (b + 1).min(body.len()));
                            (
                                format!(
                                    "206 Partial Content\r\nContent-Range: bytes {a}-{}/{}",
                                    end - 1,
                                    body.len()
                                ),
                                &body[a..end],
                            )
                        }
                        None => ("200 OK".to_string(), &body[..]),
                    };
                    let head = format!(
                        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nAccept-Ranges: bytes\r\n\
                         Last-Modified: Tue, 01 Dec 2026 00:00:00 GMT\r\n\r\n",
                        slice.len()
                    );
                    let _ = out.write_all(head.as_bytes());
                    if method != "HEAD" {
                        let _ = out.write_all(slice);
                    }
                }
            });
        }
    });
    base
}

#[test]
fn http_urls_are_read_one_file_each() {
    let fx = Fixture::new();
    let dir = fx.parquet(
        "web",
        "SELECT range AS id, range * 2 AS v FROM range(1000)",
        2,
    );
    std::fs::write(dir.join("users.csv"), "user_id,name\n1,ann\n2,bob\n").unwrap();
    let base = serve(dir);
    let files = [
        format!("{base}/web-0.parquet"),
        format!("{base}/web-1.parquet"),
    ];
    let df = fx.sp.read_parquet(&files).unwrap();
    let sum = fx
        .sp
        .partial_sql("SELECT count(*) AS n, sum(v) AS s FROM {0}", &[&df])
        .unwrap();
    sum.compute().unwrap();
    assert_same_rows(
        &format!("SELECT * FROM {}", files_sql(&sum)),
        "SELECT count(*), sum(range * 2) FROM range(1000)",
    );
    let csv = fx
        .sp
        .read_csv_with(&[format!("{base}/users.csv")], Default::default())
        .unwrap();
    assert_eq!(csv.count().unwrap(), 2);
    let err = fx
        .sp
        .read_parquet(&[format!("{base}/*.parquet")])
        .err()
        .expect("glob");
    assert!(err.to_string().contains("cannot be listed"), "{err}");
    let err = fx
        .sp
        .read_parquet(&[format!("{base}/gone.parquet")])
        .err()
        .expect("404");
    assert!(err.to_string().contains("404"), "{err}");
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
