//! Shuffle data in a memory-backed directory of its own ([`SessionBuilder::shuffle_dir`]).

use std::path::Path;
use std::time::{Duration, SystemTime};

use smallpond::{Partitioning, Session};
use smallpond_core::job::JobDirs;
use smallpond_core::TaskId;

use crate::util::{assert_same_rows, file_list, files_sql, read_files, Fixture, TABLE};

fn session(fx: &Fixture, base: Option<&Path>) -> Session {
    Session::builder()
        .data_root(fx.path("root2"))
        .num_executors(2)
        .shuffle_dir(base.map(Path::to_path_buf))
        .build()
        .unwrap()
}

/// `query` over `input` hash-partitioned `n` ways by `k`.
fn hashed(sp: &Session, input: &Path, n: u32, query: &str) -> smallpond::DataFrame {
    let df = sp
        .read_parquet(&[input])
        .unwrap()
        .repartition(n, Partitioning::hash(&["k"]))
        .unwrap();
    sp.partial_sql(query, &[&df]).unwrap()
}

/// Runs a job whose shuffle completes and whose query after it fails, and ends the session.
fn fail_after_shuffle(sp: Session, input: &Path) {
    let df = hashed(
        &sp,
        input,
        2,
        "SELECT * FROM {0} WHERE error('stop') IS NULL",
    );
    assert!(df.count().is_err());
    sp.shutdown().unwrap();
}

/// The output files of every task record of the job so far, by task.
fn outputs(sp: &Session) -> Vec<(TaskId, Vec<std::path::PathBuf>)> {
    let records = JobDirs::new(sp.job_dir().to_path_buf()).records();
    (0..16)
        .filter_map(|t| {
            let r = records.latest(TaskId(t))?;
            Some((r.task, r.outputs.iter().flatten().cloned().collect()))
        })
        .collect()
}

#[test]
fn partition_outputs_go_to_the_shuffle_directory_and_go_with_a_successful_job() {
    let fx = Fixture::new();
    let input = fx.parquet("t", TABLE, 3);
    let base = fx.path("shm");
    let sp = session(&fx, Some(&base));
    let shuffle = sp.shuffle_dir().expect("a shuffle directory").to_path_buf();
    assert!(shuffle.starts_with(&base), "{shuffle:?}");
    // The key renamed: the query runs after the shuffle, not in its one producer.
    let query = "SELECT k AS key, count(*) AS n, sum(v) AS s FROM {0} GROUP BY k";
    let df = hashed(&sp, &input, 4, query);
    df.compute().unwrap();
    assert_same_rows(
        &format!("SELECT * FROM {}", files_sql(&df)),
        &format!("SELECT k AS key, count(*) AS n, sum(v) AS s FROM ({TABLE}) GROUP BY k"),
    );

    let outputs = outputs(&sp);
    assert_eq!(
        outputs.len(),
        5,
        "one partition task, four SQL tasks: {outputs:?}"
    );
    let staging = sp.job_dir().join("staging");
    for (task, files) in &outputs {
        let partition = *task == TaskId(0);
        for f in files {
            let place = if partition { &shuffle } else { &staging };
            assert!(f.starts_with(place) && f.is_file(), "{task}: {f:?}");
        }
    }
    sp.shutdown().unwrap();
    assert!(
        !shuffle.exists(),
        "a successful job removes its shuffle data"
    );
}

#[test]
fn a_query_run_whole_in_the_shuffle_writes_its_result_to_staging_as_asked() {
    let fx = Fixture::new();
    let input = fx.parquet("t", TABLE, 3);
    let base = fx.path("shm");
    let sp = session(&fx, Some(&base));
    let shuffle = sp.shuffle_dir().expect("a shuffle directory").to_path_buf();
    let query = "SELECT k, count(*) AS n, sum(v) AS s FROM {0} GROUP BY k";
    let df = hashed(&sp, &input, 4, query);
    df.compute().unwrap();
    let outputs = outputs(&sp);
    assert_eq!(outputs.len(), 1, "the shuffle's one task: {outputs:?}");
    let staging = sp.job_dir().join("staging");
    let files: Vec<_> = outputs[0]
        .1
        .iter()
        .filter(|f| f.file_name() != Some("schema.parquet".as_ref()))
        .collect();
    assert_eq!(files.len(), 4, "{files:?}");
    for f in &files {
        assert!(
            f.starts_with(&staging) && !f.starts_with(&shuffle) && f.is_file(),
            "{f:?}"
        );
    }
    // Written as the query's node asks (zstd by default), not as shuffle data (snappy).
    let conn = duckdb::Connection::open_in_memory().unwrap();
    let read = read_files(&files);
    let codecs: String = conn
        .query_row(
            &format!(
                "SELECT string_agg(DISTINCT compression, ',') FROM parquet_metadata({})",
                file_list(&files)
            ),
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(codecs.to_lowercase(), "zstd");
    assert_same_rows(
        &format!("SELECT * FROM {read}"),
        &format!("SELECT k, count(*) AS n, sum(v) AS s FROM ({TABLE}) GROUP BY k"),
    );
    sp.shutdown().unwrap();
}

#[test]
fn an_unusable_shuffle_directory_falls_back_to_staging() {
    let fx = Fixture::new();
    let input = fx.parquet("t", TABLE, 2);
    // Not a directory at all: the session keeps shuffle data in staging/.
    let file = fx.path("not-a-dir");
    std::fs::write(&file, b"x").unwrap();
    let sp = session(&fx, Some(&file));
    assert_eq!(sp.shuffle_dir(), None);
    let df = hashed(&sp, &input, 3, "SELECT * FROM {0}");
    assert_eq!(df.count().unwrap(), 10_000);
    sp.shutdown().unwrap();

    // Usable at the start, gone when the partition runs: that task writes to staging/.
    let sp = Session::builder()
        .data_root(fx.path("root3"))
        .num_executors(2)
        .shuffle_dir(Some(fx.path("shm")))
        .build()
        .unwrap();
    let shuffle = sp.shuffle_dir().unwrap().to_path_buf();
    std::fs::remove_dir_all(&shuffle).unwrap();
    std::fs::write(&shuffle, b"in the way").unwrap();
    let df = hashed(&sp, &input, 3, "SELECT * FROM {0}");
    assert_eq!(df.count().unwrap(), 10_000);
    let staging = sp.job_dir().join("staging");
    let outputs = outputs(&sp);
    assert!(!outputs.is_empty());
    for (_, files) in &outputs {
        assert!(files.iter().all(|f| f.starts_with(&staging)), "{files:?}");
    }
    std::fs::remove_file(&shuffle).unwrap();
}

#[test]
fn a_session_removes_the_shuffle_data_of_jobs_whose_driver_is_long_gone() {
    let fx = Fixture::new();
    let base = fx.path("shm");
    let input = fx.parquet("t", TABLE, 1);
    // A job whose session failed after its shuffle: its driver gone, its shuffle data kept
    // for a re-run; its status last written at `ended`.
    let failed = |name: &str, ended: SystemTime| {
        let sp = Session::builder()
            .data_root(fx.path(name))
            .job_id(name)
            .shuffle_dir(Some(base.clone()))
            .build()
            .unwrap();
        let (job, shuffle) = (
            sp.job_dir().to_path_buf(),
            sp.shuffle_dir().unwrap().to_path_buf(),
        );
        fail_after_shuffle(sp, &input);
        assert!(shuffle.join("staging").read_dir().unwrap().next().is_some());
        let status = job.join("status");
        assert_eq!(std::fs::read_to_string(&status).unwrap().trim(), "failure");
        let f = std::fs::File::options().write(true).open(&status).unwrap();
        f.set_modified(ended).unwrap();
        (job, shuffle)
    };
    // A failed job with a random id cannot be run again: its shuffle data goes at once.
    let sp = session(&fx, Some(&base));
    let random = sp.shuffle_dir().unwrap().to_path_buf();
    fail_after_shuffle(sp, &input);
    assert!(!random.exists(), "{random:?}");

    let now = SystemTime::now();
    let (_, old) = failed("old", now - Duration::from_secs(3600));
    let (_, recent) = failed("recent", now);
    let (gone_job, gone) = failed("deleted", now);
    std::fs::remove_dir_all(&gone_job).unwrap();
    // A live driver's.
    let live = session(&fx, Some(&base));
    let live_dir = live.shuffle_dir().unwrap().to_path_buf();

    let next = Session::builder()
        .data_root(fx.path("next"))
        .shuffle_dir(Some(base.clone()))
        .build()
        .unwrap();
    assert!(!old.exists(), "failed an hour ago: removed");
    assert!(!gone.exists(), "its job directory deleted: removed");
    assert!(recent.exists(), "failed a moment ago: kept for a re-run");
    assert!(live_dir.exists(), "a running job's: kept");
    assert!(next.shuffle_dir().unwrap().exists());
}

/// The distinct codecs of Parquet files.
fn codecs(files: &[std::path::PathBuf]) -> Vec<String> {
    let list: Vec<String> = files.iter().map(|f| format!("'{}'", f.display())).collect();
    let conn = duckdb::Connection::open_in_memory().unwrap();
    let mut stmt = conn
        .prepare(&format!(
            "SELECT DISTINCT lower(compression) FROM parquet_metadata([{}]) ORDER BY 1",
            list.join(", ")
        ))
        .unwrap();
    let rows = stmt.query_map([], |r| r.get(0)).unwrap();
    rows.map(Result::unwrap).collect()
}

#[test]
fn partitions_in_memory_are_snappy_in_staging_as_asked_and_published_as_the_sink_asks() {
    let fx = Fixture::new();
    let input = fx.parquet("t", TABLE, 2);
    let zstd = smallpond::TaskOptions::default();
    assert_eq!(zstd.parquet.compression, "zstd");
    let gzip = smallpond::TaskOptions {
        parquet: smallpond::ParquetOptions::try_new("gzip", 122_880).unwrap(),
        ..Default::default()
    };
    let lz4 = smallpond::TaskOptions {
        parquet: smallpond::ParquetOptions::try_new("lz4", 122_880).unwrap(),
        ..Default::default()
    };
    let base = fx.path("shm");
    for (shuffle, options, want) in [
        (Some(&base), &zstd, "snappy"),
        (Some(&base), &gzip, "snappy"),
        // A codec lighter than snappy is kept.
        (Some(&base), &lz4, "lz4_raw"),
        (None, &zstd, "zstd"),
        (None, &gzip, "gzip"),
    ] {
        let sp = session(&fx, shuffle.map(|p| p.as_path()));
        let df = sp
            .read_parquet(&[&input])
            .unwrap()
            .repartition_with(3, Partitioning::hash(&["k"]), options.clone())
            .unwrap();
        df.compute().unwrap();
        let files: Vec<_> = df.files().unwrap().concat();
        assert_eq!(codecs(&files), [want], "{shuffle:?} {options:?}");
        // Published as written, it is the sink's codec, zstd, wherever the shuffle was.
        let out = fx.path(&format!("out-{}-{want}", shuffle.is_some()));
        df.write_parquet(&out).unwrap();
        let published: Vec<_> = std::fs::read_dir(&out)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        let expected = match shuffle {
            Some(_) => "zstd",
            None => want,
        };
        assert_eq!(codecs(&published), [expected], "{shuffle:?} {options:?}");
        assert_same_rows(
            &format!("SELECT * FROM read_parquet('{}/*.parquet')", out.display()),
            TABLE,
        );
        sp.shutdown().unwrap();
    }
}

#[test]
fn a_partition_a_sink_reads_stays_in_staging_and_is_published_by_hard_links() {
    use std::os::unix::fs::MetadataExt;
    let fx = Fixture::new();
    let input = fx.parquet("t", TABLE, 2);
    let base = fx.path("shm");
    let sp = session(&fx, Some(&base));
    let df = sp
        .read_parquet(&[&input])
        .unwrap()
        .repartition(3, Partitioning::hash(&["k"]))
        .unwrap();
    let out = fx.path("out");
    df.write_parquet_lazy(&out).unwrap().compute().unwrap();
    // Through a consolidate too (the Python package's sinks read one partition of all).
    let whole = fx.path("whole");
    let again = sp
        .read_parquet(&[&input])
        .unwrap()
        .repartition(2, Partitioning::hash(&["k"]))
        .unwrap();
    again
        .consolidate()
        .unwrap()
        .write_parquet_lazy(&whole)
        .unwrap()
        .compute()
        .unwrap();
    let staging = sp.job_dir().join("staging");
    let again_files = again.files().unwrap().concat();
    assert!(
        again_files.iter().all(|f| f.starts_with(&staging)),
        "{again_files:?}"
    );
    let inodes = |files: Vec<std::path::PathBuf>| -> std::collections::BTreeSet<u64> {
        files
            .iter()
            .map(|f| std::fs::metadata(f).unwrap().ino())
            .collect()
    };
    let staged = df.files().unwrap().concat();
    assert!(staged.iter().all(|f| f.starts_with(&staging)), "{staged:?}");
    let published: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(inodes(published), inodes(staged), "hard links");
    assert_same_rows(
        &format!("SELECT * FROM read_parquet('{}/*.parquet')", out.display()),
        TABLE,
    );
    // What only a query reads still goes to the shuffle directory.
    let shuffle = sp.shuffle_dir().unwrap().to_path_buf();
    let other = hashed(&sp, &input, 2, "SELECT k, v FROM {0}");
    other.compute().unwrap();
    let outputs = outputs(&sp);
    let last_partition = outputs
        .iter()
        .filter(|(_, files)| files.iter().any(|f| f.starts_with(&shuffle)))
        .count();
    assert_eq!(last_partition, 1, "{outputs:?}");
    sp.shutdown().unwrap();
}
