use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use duckdb::Connection;
use smallpond::{DataFrame, Event, Session};

/// A session with its own data root, plus a scratch directory for inputs and outputs.
pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub sp: Session,
    pub events: Arc<Mutex<Vec<Event>>>,
}

impl Fixture {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let events = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&events);
        let sp = Session::builder()
            .data_root(dir.path().join("root"))
            .num_executors(2)
            .on_event(move |e| sink.lock().unwrap().push(e.clone()))
            .build()
            .unwrap();
        Self { dir, sp, events }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Writes `query`'s result as Parquet file(s) named `name-<i>.parquet`, `files` of them
    /// (rows are spread over the files by `id % files`).
    pub fn parquet(&self, name: &str, query: &str, files: usize) -> PathBuf {
        let dir = self.path(name);
        std::fs::create_dir_all(&dir).unwrap();
        let conn = Connection::open_in_memory().unwrap();
        for i in 0..files {
            let file = dir.join(format!("{name}-{i}.parquet"));
            conn.execute_batch(&format!(
                "COPY (SELECT * FROM ({query}) WHERE id % {files} = {i}) TO '{}' (FORMAT parquet)",
                file.display()
            ))
            .unwrap();
        }
        dir
    }

    /// Writes one Parquet file per `(file name, query)` into the directory `name`.
    pub fn parquet_files(&self, name: &str, files: &[(&str, &str)]) -> PathBuf {
        let dir = self.path(name);
        std::fs::create_dir_all(&dir).unwrap();
        let conn = Connection::open_in_memory().unwrap();
        for (file, query) in files {
            conn.execute_batch(&format!(
                "COPY ({query}) TO '{}' (FORMAT parquet)",
                dir.join(file).display()
            ))
            .unwrap();
        }
        dir
    }

    /// Tasks started so far (counted from scheduler events).
    pub fn tasks_started(&self) -> usize {
        self.events
            .lock()
            .unwrap()
            .iter()
            .filter(|e| matches!(e, Event::TaskStarted { .. }))
            .count()
    }
}

/// The standard test table: 10,000 rows of (id, k, v, p) with integer values, so that
/// aggregates are exact whatever the order of summation.
pub const TABLE: &str = "SELECT i AS id, 'key-' || (i * 7919 % 97) AS k, (i * 31 % 1000) AS v, \
                         (i % 4) AS p FROM range(10000) t(i)";

/// A DuckDB expression reading the files of a DataFrame.
pub fn files_sql(df: &DataFrame) -> String {
    let files: Vec<PathBuf> = df.files().unwrap().into_iter().flatten().collect();
    assert!(!files.is_empty(), "the DataFrame has no files");
    read_files(&files)
}

/// A DuckDB expression reading these Parquet files.
pub fn read_files<P: AsRef<Path>>(files: &[P]) -> String {
    format!("read_parquet({})", file_list(files))
}

/// These paths as a DuckDB list literal.
pub fn file_list<P: AsRef<Path>>(files: &[P]) -> String {
    let list: Vec<String> = files
        .iter()
        .map(|f| format!("'{}'", f.as_ref().display()))
        .collect();
    format!("[{}]", list.join(", "))
}

/// Rows per partition, from the partition files.
pub fn partition_rows(df: &DataFrame) -> Vec<i64> {
    let conn = Connection::open_in_memory().unwrap();
    df.files()
        .unwrap()
        .iter()
        .map(|files| {
            if files.is_empty() {
                return 0;
            }
            let list: Vec<String> = files.iter().map(|f| format!("'{}'", f.display())).collect();
            conn.query_row(
                &format!("SELECT count(*) FROM read_parquet([{}])", list.join(", ")),
                [],
                |r| r.get(0),
            )
            .unwrap()
        })
        .collect()
}

/// Asserts that two queries return the same multiset of rows.
pub fn assert_same_rows(left: &str, right: &str) {
    let conn = Connection::open_in_memory().unwrap();
    let count = |q: &str| -> i64 { conn.query_row(q, [], |r| r.get(0)).unwrap() };
    let l = count(&format!("SELECT count(*) FROM ({left})"));
    let r = count(&format!("SELECT count(*) FROM ({right})"));
    assert_eq!(l, r, "row counts differ:\n  {left}\n  {right}");
    let extra = count(&format!(
        "SELECT count(*) FROM (({left}) EXCEPT ALL ({right}))"
    ));
    let missing = count(&format!(
        "SELECT count(*) FROM (({right}) EXCEPT ALL ({left}))"
    ));
    assert_eq!(
        (extra, missing),
        (0, 0),
        "rows differ:\n  {left}\n  {right}"
    );
}

pub fn glob(dir: &Path) -> String {
    format!("{}/*.parquet", dir.display())
}

pub fn read_glob(dir: &Path) -> String {
    format!("SELECT * FROM read_parquet('{}')", glob(dir))
}
