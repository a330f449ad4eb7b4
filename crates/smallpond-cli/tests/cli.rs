//! The `smallpond` command, run as a user would.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use duckdb::Connection;

struct Dir(tempfile::TempDir);

impl Dir {
    fn new() -> Self {
        Self(tempfile::tempdir().unwrap())
    }
    fn path(&self, p: &str) -> PathBuf {
        self.0.path().join(p)
    }
    fn parquet(&self, name: &str, query: &str) -> PathBuf {
        let path = self.path(name);
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(&format!(
            "COPY ({query}) TO '{}' (FORMAT parquet)",
            path.display()
        ))
        .unwrap();
        path
    }
    fn smallpond(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_smallpond"))
            .args(args)
            .arg("--data-root")
            .arg(self.path("root"))
            .output()
            .unwrap()
    }
}

fn scalar(query: &str) -> i64 {
    let conn = Connection::open_in_memory().unwrap();
    conn.query_row(query, [], |r| r.get(0)).unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn help_documents_the_query_command() {
    let out = Command::new(env!("CARGO_BIN_EXE_smallpond"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success());
    let help = text(&out);
    assert!(help.contains("query"), "{help}");
    let out = Command::new(env!("CARGO_BIN_EXE_smallpond"))
        .args(["query", "--help"])
        .output()
        .unwrap();
    let help = text(&out);
    for flag in [
        "--input",
        "--format",
        "--partitions",
        "--hash-by",
        "--by",
        "--by-rows",
        "--output",
        "--data-root",
        "--threads",
    ] {
        assert!(help.contains(flag), "missing {flag} in:\n{help}");
    }
}

#[test]
fn quickstart_query_in_worker_processes() {
    let d = Dir::new();
    let input = d.parquet(
        "prices.parquet",
        "SELECT 'T' || (i % 20) AS ticker, (i * 37 % 1000) / 10 AS price FROM range(2000) t(i)",
    );
    let out_dir = d.path("out");
    let out = d.smallpond(&[
        "query",
        "SELECT ticker, min(price) AS lo, max(price) AS hi FROM {0} GROUP BY ticker",
        "--input",
        s(&input),
        "--partitions",
        "3",
        "--hash-by",
        "ticker",
        "--output",
        s(&out_dir),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let summary = text(&out);
    assert!(summary.contains("wrote 20 rows in 3 files"), "{summary}");
    let mut names: Vec<String> = std::fs::read_dir(&out_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names.len(), 3);
    assert!(
        names[0].starts_with("part-00000-") && names[2].starts_with("part-00002-"),
        "{names:?}"
    );
    let n = scalar(&format!(
        "SELECT count(*) FROM (SELECT * FROM read_parquet('{0}/*.parquet') EXCEPT ALL \
         SELECT ticker, min(price), max(price) FROM read_parquet('{1}') GROUP BY ticker)",
        out_dir.display(),
        input.display()
    ));
    assert_eq!(n, 0);
}

#[test]
fn two_inputs_hashed_alike_join_per_partition() {
    let d = Dir::new();
    let a = d.parquet(
        "a.parquet",
        "SELECT i AS id, i % 50 AS k FROM range(1000) t(i)",
    );
    let b = d.parquet(
        "b.parquet",
        "SELECT i AS k, 'name-' || i AS name FROM range(50) t(i)",
    );
    let out_dir = d.path("joined");
    let out = d.smallpond(&[
        "query",
        "SELECT id, name FROM {0} JOIN {1} USING (k)",
        "-i",
        s(&a),
        "-i",
        s(&b),
        "-n",
        "4",
        "--hash-by",
        "k",
        "-o",
        s(&out_dir),
        "--threads",
        "2",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        scalar(&format!(
            "SELECT count(*) FROM read_parquet('{}/*.parquet')",
            out_dir.display()
        )),
        1000
    );
}

#[test]
fn csv_input_with_tab_delimiter() {
    let d = Dir::new();
    let csv = d.path("t.tsv");
    std::fs::write(&csv, "a\t1\nb\t2\na\t3\n").unwrap();
    let out_dir = d.path("out");
    let out = d.smallpond(&[
        "query",
        "SELECT k, sum(v) AS s FROM {0} GROUP BY k",
        "-i",
        s(&csv),
        "--format",
        "csv",
        "--schema",
        "k VARCHAR, v BIGINT",
        "--delim",
        "\\t",
        "-o",
        s(&out_dir),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        scalar(&format!(
            "SELECT sum(s)::BIGINT FROM read_parquet('{}/*.parquet') WHERE k = 'a'",
            out_dir.display()
        )),
        4
    );
}

#[test]
fn errors_exit_non_zero_with_a_clear_message_and_no_output() {
    let d = Dir::new();
    let input = d.parquet("t.parquet", "SELECT i AS k FROM range(10) t(i)");
    let out_dir = d.path("out");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["query", "SELEC * FROM {0}", "-i", s(&input)],
            "SELEC * FROM {0}",
        ),
        (vec!["query", "SELECT * FROM {1}", "-i", s(&input)], "{1}"),
        (
            vec!["query", "SELECT * FROM {0}", "-i", "/no/such/file.parquet"],
            "/no/such/file.parquet",
        ),
        (
            vec!["query", "SELECT * FROM {0}", "-i", s(&input), "-n=-1"],
            "-1",
        ),
        (
            vec![
                "query",
                "SELECT * FROM {0}",
                "-i",
                s(&input),
                "--compression",
                "zip",
            ],
            "compression",
        ),
        (
            vec![
                "query",
                "SELECT * FROM {0}",
                "-i",
                s(&input),
                "--speculative-exec",
                "sometimes",
            ],
            "sometimes",
        ),
        (
            vec!["query", "SELECT * FROM {0}", "-i", s(&input), "-n", "0"],
            "at least 1",
        ),
        (
            vec![
                "query",
                "SELECT * FROM {0}",
                "-i",
                s(&input),
                "-n",
                "2",
                "--by",
                "k",
            ],
            "is out of range 0-1",
        ),
    ];
    for (args, expected) in cases {
        let mut args = args.clone();
        args.extend(["-o", s(&out_dir)]);
        let out = d.smallpond(&args);
        let msg = text(&out);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert!(
            msg.contains("error:") && msg.contains(expected),
            "{args:?}: expected {expected:?} in:\n{msg}"
        );
        assert!(!out_dir.exists(), "{args:?} left {out_dir:?} behind");
    }
}

#[test]
fn a_misspelt_column_is_reported_before_the_shuffle_runs_and_once() {
    let d = Dir::new();
    let input = d.parquet(
        "t.parquet",
        "SELECT i AS k, i * 2 AS v FROM range(1000) t(i)",
    );
    let out_dir = d.path("out");
    let query = "SELECT k, sum(vv) FROM {0} GROUP BY k";
    let out = d.smallpond(&[
        "query",
        query,
        "-i",
        s(&input),
        "-n",
        "4",
        "--hash-by",
        "k",
        "-o",
        s(&out_dir),
    ]);
    let msg = text(&out);
    assert_eq!(out.status.code(), Some(1), "{msg}");
    assert!(
        msg.contains("Binder Error") && msg.contains("\"vv\""),
        "{msg}"
    );
    assert!(
        msg.contains("Candidate bindings: \"v\""),
        "the input's columns: {msg}"
    );
    assert_eq!(msg.matches(query).count(), 1, "the query, once:\n{msg}");
    assert_eq!(
        msg.matches("Binder Error").count(),
        1,
        "the error, once:\n{msg}"
    );
    assert!(
        !msg.contains("COPY") && !msg.contains("__smallpond"),
        "{msg}"
    );
    assert!(!msg.contains("HashPartition"), "no task ran:\n{msg}");
    assert!(!out_dir.exists());
    // A caret under the misspelt name, as the user wrote the query.
    let lines: Vec<&str> = msg.lines().collect();
    let at = lines.iter().position(|l| l.ends_with(query)).unwrap();
    let caret = lines[at + 1].find('^').unwrap();
    assert_eq!(&lines[at][caret..caret + 2], "vv", "{msg}");
    // A misspelt partition key, the same.
    let out = d.smallpond(&[
        "query",
        "SELECT * FROM {0}",
        "-i",
        s(&input),
        "-n",
        "4",
        "--hash-by",
        "kk",
        "-o",
        s(&out_dir),
    ]);
    let msg = text(&out);
    assert!(
        msg.contains("\"kk\"") && msg.contains("the columns are k, v"),
        "{msg}"
    );
    assert!(!msg.contains("HashPartition"), "no task ran:\n{msg}");
}

#[test]
fn fault_injection_with_retries_gives_the_same_output() {
    let d = Dir::new();
    let input = d.parquet(
        "t.parquet",
        "SELECT i % 40 AS k, i AS v FROM range(5000) t(i)",
    );
    let out_dir = d.path("out");
    let out = d.smallpond(&[
        "query",
        "SELECT k, sum(v) AS s FROM {0} GROUP BY k",
        "-i",
        s(&input),
        "-n",
        "6",
        "--hash-by",
        "k",
        "--fault-inject",
        "0.2",
        "--max-attempts",
        "40",
        "-o",
        s(&out_dir),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let missing = scalar(&format!(
        "SELECT count(*) FROM (SELECT i % 40 AS k, sum(i)::DOUBLE AS s FROM range(5000) t(i) GROUP BY k \
         EXCEPT ALL SELECT k, s::DOUBLE FROM read_parquet('{}/*.parquet'))",
        out_dir.display()
    ));
    let rows = scalar(&format!(
        "SELECT count(*) FROM read_parquet('{}/*.parquet')",
        out_dir.display()
    ));
    assert_eq!(rows, 40);
    assert_eq!(missing, 0);
    let bad = d.smallpond(&[
        "query",
        "SELECT 1",
        "-i",
        s(&input),
        "--fault-inject",
        "2",
        "-o",
        s(&d.path("x")),
    ]);
    assert!(
        !bad.status.success() && text(&bad).contains("fault_inject_prob"),
        "{}",
        text(&bad)
    );
}

#[test]
fn a_worker_killed_mid_task_is_replaced_and_the_task_retried() {
    let d = Dir::new();
    let input = d.parquet("one.parquet", "SELECT 1 AS x");
    let out_dir = d.path("out");
    let child = Command::new(env!("CARGO_BIN_EXE_smallpond"))
        .args([
            "query",
            "SELECT count(*) AS n, min(hash(i + x)) AS h FROM range(400000000) t(i), {0}",
            "-i",
            s(&input),
            "--threads",
            "1",
            "-o",
            s(&out_dir),
            "--data-root",
            s(&d.path("root")),
        ])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait for the worker process to start its task, then kill it with SIGKILL.
    let mut killed = false;
    for _ in 0..100 {
        std::thread::sleep(std::time::Duration::from_millis(50));
        let workers = Command::new("pgrep")
            .args(["-P", &child.id().to_string()])
            .output()
            .unwrap();
        let pids = String::from_utf8_lossy(&workers.stdout).to_string();
        if let Some(pid) = pids.split_whitespace().next() {
            std::thread::sleep(std::time::Duration::from_millis(300));
            killed = Command::new("kill")
                .args(["-9", pid])
                .status()
                .unwrap()
                .success();
            break;
        }
    }
    let out = child.wait_with_output().unwrap();
    let log = text(&out);
    assert!(killed, "no worker process to kill");
    assert!(out.status.success(), "{log}");
    assert!(
        log.contains("attempt 1 failed (will retry)") && log.contains("signal 9"),
        "{log}"
    );
    assert_eq!(
        scalar(&format!(
            "SELECT n FROM read_parquet('{}/*.parquet')",
            out_dir.display()
        )),
        400_000_000
    );
}

#[test]
fn a_driver_killed_with_sigkill_resumes_from_completed_tasks() {
    let d = Dir::new();
    let input = d.parquet(
        "t.parquet",
        "SELECT i % 100 AS k, i AS v FROM range(20000) t(i)",
    );
    let out_dir = d.path("out");
    let root = d.path("root");
    let args = [
        "query",
        "SELECT k, count(*) AS n FROM {0}, range(20000) r(j) GROUP BY k",
        "-i",
        s(&input),
        "-n",
        "4",
        "--hash-by",
        "k",
        "--job-id",
        "resume-me",
        "-o",
        s(&out_dir),
        "--data-root",
        s(&root),
    ];
    let mut first = Command::new(env!("CARGO_BIN_EXE_smallpond"))
        .args(args)
        .spawn()
        .unwrap();
    // Kill the driver as soon as the shuffle's completed-task record exists.
    let mut killed = false;
    for _ in 0..400 {
        std::thread::sleep(std::time::Duration::from_millis(25));
        let done = std::fs::read_dir(&root)
            .ok()
            .and_then(|mut jobs| jobs.next())
            .is_some_and(|job| {
                let job = smallpond_core::job::JobDirs::new(job.unwrap().path());
                job.records().latest(smallpond_core::TaskId(0)).is_some()
            });
        if done {
            // While the driver lives, its job is running.
            let status = status_of(&root);
            assert!(status.contains("status    running"), "{status}");
            first.kill().unwrap(); // SIGKILL
            killed = true;
            break;
        }
    }
    first.wait().unwrap();
    assert!(killed, "the shuffle never completed");
    assert!(!out_dir.exists(), "a killed job publishes nothing");
    // Its status file still says running; `status` knows better.
    assert_eq!(job_status(&root), "running");
    let status = status_of(&root);
    assert!(
        status.contains("status    died") && status.contains("killed or crashed"),
        "{status}"
    );
    assert!(status.contains("node-"), "stages are listed: {status}");
    let second = Command::new(env!("CARGO_BIN_EXE_smallpond"))
        .args(args)
        .output()
        .unwrap();
    let log = text(&second);
    assert!(second.status.success(), "{log}");
    assert!(log.contains("(1 reused from an earlier run)"), "{log}");
    let status = status_of(&root);
    assert!(
        status.contains("status    succeeded") && status.contains("resumed after 1 earlier driver"),
        "{status}"
    );
    assert!(status.contains("1 reused"), "{status}");
    assert_eq!(
        scalar(&format!(
            "SELECT sum(n)::BIGINT FROM read_parquet('{}/*.parquet')",
            out_dir.display()
        )),
        20000 * 20000
    );
    assert_eq!(
        scalar(&format!(
            "SELECT count(*) FROM read_parquet('{}/*.parquet')",
            out_dir.display()
        )),
        100
    );
}

/// A 2 MB tmpfs, unmounted on drop; `None` where mounting is not allowed (not root).
struct TinyFs(PathBuf);

impl TinyFs {
    fn mount(at: PathBuf) -> Option<Self> {
        std::fs::create_dir_all(&at).unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=2m", "tmpfs"])
            .arg(&at)
            .status()
            .is_ok_and(|s| s.success());
        ok.then_some(TinyFs(at))
    }
}

impl Drop for TinyFs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn a_full_disk_fails_the_job_and_leaves_the_destination_as_it_was() {
    let d = Dir::new();
    let Some(tiny) = TinyFs::mount(d.path("tiny")) else {
        let root = Command::new("id").arg("-u").output().unwrap();
        assert_ne!(
            String::from_utf8_lossy(&root.stdout).trim(),
            "0",
            "root could not mount a tmpfs"
        );
        eprintln!("skipped: mounting a tmpfs needs root");
        return;
    };
    let small = d.parquet("small.parquet", "SELECT i AS k FROM range(10) t(i)");
    let big = d.parquet(
        "big.parquet",
        "SELECT i AS k, md5(i::VARCHAR) || md5((i + 1)::VARCHAR) AS pad FROM range(300000) t(i)",
    );
    let out_dir = tiny.0.join("out");
    let ok = d.smallpond(&[
        "query",
        "SELECT * FROM {0}",
        "-i",
        s(&small),
        "-o",
        s(&out_dir),
    ]);
    assert!(ok.status.success(), "{}", text(&ok));
    let before: Vec<_> = std::fs::read_dir(&out_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    // The staged result (on the roomy disk) does not fit into the 2 MB destination.
    let full = d.smallpond(&[
        "query",
        "SELECT * FROM {0}",
        "-i",
        s(&big),
        "--compression",
        "uncompressed",
        "-o",
        s(&out_dir),
    ]);
    let log = text(&full);
    assert!(!full.status.success(), "{log}");
    assert!(
        log.contains("error:") && log.contains("No space left"),
        "{log}"
    );
    let after: Vec<_> = std::fs::read_dir(&out_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(before, after, "the earlier result is untouched");
    assert_eq!(
        scalar(&format!(
            "SELECT count(*) FROM read_parquet('{}/*.parquet')",
            out_dir.display()
        )),
        10
    );
    let leftovers = std::fs::read_dir(&tiny.0).unwrap().count();
    assert_eq!(
        leftovers, 1,
        "no staging directory is left beside the output"
    );
}

#[test]
fn a_bad_environment_variable_is_named() {
    let d = Dir::new();
    let input = d.parquet("t.parquet", "SELECT 1 AS k");
    let out = Command::new(env!("CARGO_BIN_EXE_smallpond"))
        .args([
            "query",
            "SELECT * FROM {0}",
            "-i",
            s(&input),
            "-o",
            s(&d.path("out")),
        ])
        .arg("--data-root")
        .arg(d.path("root"))
        .env("SP_NUM_EXECUTORS", "many")
        .output()
        .unwrap();
    let log = text(&out);
    assert!(
        !out.status.success() && log.contains("SP_NUM_EXECUTORS") && log.contains("many"),
        "{log}"
    );
    assert!(!d.path("out").exists());
}

#[test]
fn bench_graysort_sorts_validates_and_reports_json() {
    let d = Dir::new();
    let out_dir = d.path("sorted");
    let out = d.smallpond(&[
        "bench",
        "graysort",
        "--size",
        "2MB",
        "--partitions",
        "3",
        "--output",
        s(&out_dir),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let line = String::from_utf8_lossy(&out.stdout);
    let report: serde_json::Value = serde_json::from_str(line.trim()).unwrap();
    assert_eq!(report["records"], 20_000);
    assert_eq!(report["valid"], true);
    let rows = scalar(&format!(
        "SELECT count(*) FROM read_parquet('{}/*.parquet')",
        out_dir.display()
    ));
    assert_eq!(rows, 20_000);
    // The files, read in name order, hold the keys in order.
    let unordered = scalar(&format!(
        "SELECT count(*) FROM (SELECT key, lag(key) OVER (ORDER BY filename, file_row_number) AS prev \
         FROM read_parquet('{}/*.parquet', filename = true, file_row_number = true)) WHERE prev > key",
        out_dir.display()
    ));
    assert_eq!(unordered, 0);
}

#[test]
fn the_query_writes_the_asked_compression_so_the_output_is_not_encoded_twice() {
    let d = Dir::new();
    let input = d.parquet(
        "in.parquet",
        "SELECT i, repeat('x', 50) || i AS s FROM range(20000) t(i)",
    );
    let out_dir = d.path("out");
    let out = d.smallpond(&[
        "query",
        "SELECT * FROM {0} ORDER BY i DESC",
        "-i",
        s(&input),
        "--compression",
        "snappy",
        "-o",
        s(&out_dir),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let file = out_dir.join("part-00000-0000.parquet");
    let meta = format!("parquet_metadata('{}')", file.display());
    let chunks = scalar(&format!("SELECT count(*) FROM {meta}"));
    assert!(chunks > 0);
    let snappy = scalar(&format!(
        "SELECT count(*) FROM {meta} WHERE compression = 'SNAPPY'"
    ));
    assert_eq!(snappy, chunks, "every column chunk is snappy");
    // The SQL task's own file is what was published: same size, not re-encoded by the sink.
    let mut sql_bytes = Vec::new();
    for entry in std::fs::read_dir(d.path("root")).unwrap() {
        let log = entry.unwrap().path().join("log");
        for f in std::fs::read_dir(&log).unwrap() {
            let f = f.unwrap().path();
            let name = f.file_name().unwrap().to_string_lossy().to_string();
            if !(name.starts_with("tasks-") && name.ends_with(".json")) {
                continue;
            }
            let records: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(&f).unwrap()).unwrap();
            for r in records.as_array().unwrap() {
                if r["node_kind"] == "SqlEngine" {
                    sql_bytes.push(r["bytes"].as_u64().unwrap());
                }
            }
        }
    }
    assert_eq!(sql_bytes, vec![std::fs::metadata(&file).unwrap().len()]);
}

/// Replaces `dest` by an earlier result of `files` files (links to one small Parquet file
/// named as our outputs are).
fn earlier_result(d: &Dir, dest: &Path, files: usize) {
    let one = d.parquet("old-row.parquet", "SELECT -1 AS k");
    if dest.exists() {
        std::fs::remove_dir_all(dest).unwrap();
    }
    std::fs::create_dir_all(dest).unwrap();
    for i in 0..files {
        std::fs::hard_link(&one, dest.join(format!("part-{i:05}-0000.parquet"))).unwrap();
    }
}

/// What `dest` holds: the earlier result (`files` files), the new one (one file of the
/// new rows), or something else (a failure of the test).
fn whole_result(dest: &Path, files: usize) -> Result<&'static str, String> {
    let names: Vec<String> = match std::fs::read_dir(dest) {
        Ok(entries) => entries
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect(),
        Err(e) => return Err(format!("{} is not there: {e}", dest.display())),
    };
    if names.len() == files {
        return Ok("earlier");
    }
    if names == ["part-00000-0000.parquet"]
        && scalar(&format!(
            "SELECT count(*) FROM read_parquet('{}/*.parquet') WHERE k >= 0",
            dest.display()
        )) == 1000
    {
        return Ok("new");
    }
    Err(format!(
        "{} holds {} entries: {:?}",
        dest.display(),
        names.len(),
        &names[..names.len().min(5)]
    ))
}

/// Leftovers of publishing beside `dest` (hidden siblings).
fn leftovers(dest: &Path) -> Vec<String> {
    std::fs::read_dir(dest.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect()
}

/// The running worker processes that driver `driver` started, wherever they are now
/// (they carry the driver's pid in their environment).
fn workers_of(driver: u32) -> Vec<String> {
    let mark = format!("SMALLPOND_DRIVER_PID={driver}");
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|pid| pid.chars().all(|c| c.is_ascii_digit()))
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/environ"))
                .is_ok_and(|env| env.split(|b| *b == 0).any(|var| var == mark.as_bytes()))
        })
        .filter(running)
        .collect()
}

/// Whether process `pid` is running (not gone, nor a zombie waiting to be reaped).
fn running(pid: &String) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| !stat.contains(") Z "))
}

fn pids_of_children(parent: u32) -> Vec<String> {
    let out = Command::new("pgrep")
        .args(["-P", &parent.to_string()])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(String::from)
        .collect()
}

/// Reported: `kill -9` of the worker running the sink while it removed an earlier result
/// of 20,000 files left the destination so that the retry failed ("Directory not empty")
/// and every later job writing there failed too. Kills at moments spread over the sink's
/// work (assembling, swapping, removing), first of its workers (the job retries), then of
/// the whole job (a later job writes there); the destination is always one whole result.
#[test]
fn publishing_survives_a_kill_at_any_moment_while_it_replaces_20000_files() {
    const OLD: usize = 20_000;
    let d = Dir::new();
    let input = d.parquet("t.parquet", "SELECT i AS k FROM range(1000) t(i)");
    let dest = d.path("published/out");
    let job = |group: bool| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_smallpond"));
        cmd.args([
            "query",
            "SELECT k FROM {0}",
            "-i",
            s(&input),
            "-o",
            s(&dest),
        ])
        .args([
            "--max-attempts",
            "4",
            "--quiet",
            "--data-root",
            s(&d.path("root")),
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
        if group {
            std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        }
        cmd.spawn().unwrap()
    };
    for delay_ms in [150, 300, 450, 600, 750, 900] {
        // The workers are killed; the driver retries the sink.
        earlier_result(&d, &dest, OLD);
        let child = job(false);
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        for pid in pids_of_children(child.id()) {
            let _ = Command::new("kill").args(["-9", &pid]).status();
        }
        whole_result(&dest, OLD)
            .unwrap_or_else(|e| panic!("after killing workers at {delay_ms} ms: {e}"));
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "killed workers at {delay_ms} ms: {}",
            text(&out)
        );
        assert_eq!(
            whole_result(&dest, OLD),
            Ok("new"),
            "killed workers at {delay_ms} ms"
        );
        assert_eq!(
            leftovers(&dest),
            Vec::<String>::new(),
            "killed workers at {delay_ms} ms"
        );

        // The whole job is killed; a later job writes the destination.
        earlier_result(&d, &dest, OLD);
        let child = job(true);
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        let driver = child.id();
        // `--`: without it, procps kill reads "-PGID" as an option and kills everything
        // it may signal (kill(-1, SIGKILL)).
        let _ = Command::new("kill")
            .args(["-s", "KILL", "--", &format!("-{}", child.id())])
            .status();
        let _ = child.wait_with_output();
        // Its workers (in groups of their own) die with it; a re-run comes after that.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while !workers_of(driver).is_empty() && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        assert_eq!(
            workers_of(driver),
            Vec::<String>::new(),
            "workers outlived the driver"
        );
        whole_result(&dest, OLD)
            .unwrap_or_else(|e| panic!("after killing the job at {delay_ms} ms: {e}"));
        let out = job(false).wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "a job after one killed at {delay_ms} ms: {}",
            text(&out)
        );
        assert_eq!(whole_result(&dest, OLD), Ok("new"));
        assert_eq!(
            leftovers(&dest),
            Vec::<String>::new(),
            "after a job killed at {delay_ms} ms"
        );
    }
}

#[test]
fn an_output_directory_with_a_250_byte_name_is_written() {
    // Reported: it failed with an I/O error (the publishing directory beside it was named
    // after it, longer than a file name may be).
    let d = Dir::new();
    let input = d.parquet("t.parquet", "SELECT 1 AS k");
    let dest = d.path(&"o".repeat(250));
    let out = d.smallpond(&[
        "query",
        "SELECT k FROM {0}",
        "-i",
        s(&input),
        "-o",
        s(&dest),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        scalar(&format!(
            "SELECT count(*) FROM read_parquet('{}/*.parquet')",
            dest.display()
        )),
        1
    );
    // Again, replacing the first result.
    let out = d.smallpond(&[
        "query",
        "SELECT k FROM {0}",
        "-i",
        s(&input),
        "-o",
        s(&dest),
    ]);
    assert!(out.status.success(), "{}", text(&out));
}

#[test]
fn the_workers_of_a_killed_driver_do_not_run_on() {
    let d = Dir::new();
    let input = d.parquet("one.parquet", "SELECT 1 AS x");
    let child = Command::new(env!("CARGO_BIN_EXE_smallpond"))
        .args([
            "query",
            "SELECT count(*) AS n, min(hash(i + x)) AS h FROM range(4000000000) t(i), {0}",
            "-i",
            s(&input),
            "-o",
            s(&d.path("out")),
            "--data-root",
            s(&d.path("root")),
        ])
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut workers = Vec::new();
    for _ in 0..100 {
        std::thread::sleep(std::time::Duration::from_millis(50));
        workers = pids_of_children(child.id());
        if workers.len() >= 2 {
            break;
        }
    }
    assert!(!workers.is_empty(), "no worker processes");
    std::thread::sleep(std::time::Duration::from_millis(500)); // the task is running
    assert!(Command::new("kill")
        .args(["-9", &child.id().to_string()])
        .status()
        .unwrap()
        .success());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while !workers_of(child.id()).is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let survivors = workers_of(child.id());
    assert!(
        survivors.is_empty(),
        "workers {survivors:?} outlived their driver"
    );
    let mut child = child;
    let _ = child.wait();
}

/// `smallpond status` of the only job under `root`.
fn status_of(root: &Path) -> String {
    let job = std::fs::read_dir(root)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let out = Command::new(env!("CARGO_BIN_EXE_smallpond"))
        .arg("status")
        .arg(&job)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    text(&out)
}

/// The status file of the only job under `root`.
fn job_status(root: &Path) -> String {
    let dirs: Vec<PathBuf> = std::fs::read_dir(root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    std::fs::read_to_string(dirs[0].join("status"))
        .unwrap()
        .trim()
        .to_string()
}

#[test]
fn ctrl_c_cancels_the_job_and_says_so_in_its_status() {
    // Reported: after a Ctrl-C the status file still said `running`.
    let d = Dir::new();
    let input = d.parquet("t.parquet", "SELECT i AS k FROM range(1000) t(i)");
    for signal in ["INT", "TERM"] {
        let root = d.path(&format!("root-{signal}"));
        let out_dir = d.path(&format!("out-{signal}"));
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_smallpond"));
        cmd.args([
            "query",
            "SELECT k, count(*) AS n FROM {0}, range(4000000000) r(i) WHERE hash(i, k) % 7 = 0 GROUP BY k",
            "-i",
            s(&input),
            "-n",
            "2",
            "--hash-by",
            "k",
            "-o",
            s(&out_dir),
            "--job-id",
            "interrupted",
            "--data-root",
            s(&root),
        ])
        .stderr(std::process::Stdio::piped());
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let child = cmd.spawn().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(1500));
        let driver = child.id();
        let sent = std::time::Instant::now();
        // A terminal's Ctrl-C goes to the foreground process group (`--`: see above).
        assert!(Command::new("kill")
            .args(["-s", signal, "--", &format!("-{driver}")])
            .status()
            .unwrap()
            .success());
        let out = child.wait_with_output().unwrap();
        let took = sent.elapsed();
        let log = text(&out);
        assert!(
            took < std::time::Duration::from_secs(5),
            "SIG{signal}: took {took:?}"
        );
        assert_eq!(out.status.code(), Some(130), "SIG{signal}: {log}");
        assert!(log.contains("cancel"), "{log}");
        assert_eq!(job_status(&root), "cancelled");
        assert!(status_of(&root).contains("status    cancelled"));
        assert!(!out_dir.exists(), "a cancelled job published its output");
        assert_eq!(
            workers_of(driver),
            Vec::<String>::new(),
            "workers outlived the cancel"
        );
    }
}

#[test]
fn status_lists_jobs_and_refuses_what_is_not_a_job() {
    let d = Dir::new();
    let input = d.parquet("t.parquet", "SELECT i AS k FROM range(100) t(i)");
    for (id, query) in [
        ("good", "SELECT k FROM {0}"),
        ("bad", "SELECT k FROM {0} WHERE error('nope ' || k) IS NULL"),
    ] {
        let out = d.smallpond(&[
            "query",
            query,
            "-i",
            s(&input),
            "--job-id",
            id,
            "-o",
            s(&d.path(id)),
        ]);
        assert_eq!(out.status.success(), id == "good", "{}", text(&out));
        assert!(
            text(&out).contains("report: "),
            "the summary names the report: {}",
            text(&out)
        );
    }
    let list = Command::new(env!("CARGO_BIN_EXE_smallpond"))
        .args(["status", "--data-root", s(&d.path("root"))])
        .output()
        .unwrap();
    let listed = text(&list);
    assert!(list.status.success(), "{listed}");
    let lines: Vec<&str> = listed.lines().collect();
    assert_eq!(lines.len(), 2, "{listed}");
    assert!(
        lines[0].contains(".bad") && lines[0].contains("failed") && lines[0].contains("nope"),
        "newest first: {listed}"
    );
    assert!(
        lines[1].contains(".good") && lines[1].contains("succeeded"),
        "{listed}"
    );

    let not_a_job = Command::new(env!("CARGO_BIN_EXE_smallpond"))
        .args(["status", s(&d.path("root"))])
        .output()
        .unwrap();
    assert_eq!(not_a_job.status.code(), Some(1));
    assert!(
        text(&not_a_job).contains("not a smallpond job directory"),
        "{}",
        text(&not_a_job)
    );
    let missing = Command::new(env!("CARGO_BIN_EXE_smallpond"))
        .args(["status", "--data-root", s(&d.path("nowhere"))])
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        text(&missing).contains("nowhere: no such directory"),
        "{}",
        text(&missing)
    );
    let report_of_nothing = Command::new(env!("CARGO_BIN_EXE_smallpond"))
        .args(["report", s(&d.path("root"))])
        .output()
        .unwrap();
    assert_eq!(report_of_nothing.status.code(), Some(1));
    assert!(text(&report_of_nothing).contains("not a smallpond job directory"));
    let neither = Command::new(env!("CARGO_BIN_EXE_smallpond"))
        .arg("status")
        .output()
        .unwrap();
    assert_eq!(neither.status.code(), Some(2), "{}", text(&neither));

    // `report` writes the page again from the directory alone.
    let bad_job = std::fs::read_dir(d.path("root"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with(".bad"))
        .unwrap();
    std::fs::remove_file(bad_job.join("log/report.html")).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_smallpond"))
        .arg("report")
        .arg(&bad_job)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let page = std::fs::read_to_string(bad_job.join("log/report.html")).unwrap();
    assert!(
        page.contains("badge failed") && page.contains("nope "),
        "the page names the failure"
    );
}

#[test]
fn explain_prints_and_draws_the_plan_without_running_it() {
    let d = Dir::new();
    let input = d.parquet("t.parquet", "SELECT i AS k FROM range(100) t(i)");
    let out_dir = d.path("out");
    let out = d.smallpond(&[
        "query",
        "SELECT k, count(*) AS n FROM {0} GROUP BY k",
        "-i",
        s(&input),
        "-n",
        "4",
        "--hash-by",
        "k",
        "-o",
        s(&out_dir),
        "--explain",
    ]);
    let printed = text(&out);
    assert!(out.status.success(), "{printed}");
    assert!(
        printed.contains("HashPartition(n=4, hash_by=k) (4 partitions)"),
        "{printed}"
    );
    // One producer: the query runs whole in it, and only it and the sink would run.
    assert!(
        printed.contains(
            "[optimized: runs \"SELECT k, count(*) AS n FROM {0} GROUP BY k, then partitioned 4 \
             ways by hash_by=k\" over node-0]"
        ),
        "{printed}"
    );
    assert!(printed.contains("2 tasks would run"), "{printed}");
    let svg = printed.lines().last().unwrap().rsplit(": ").next().unwrap();
    assert!(std::fs::read_to_string(svg).unwrap().starts_with("<svg"));
    assert!(!out_dir.exists(), "--explain ran the job");
    let journal = std::path::Path::new(svg).with_file_name("events.jsonl");
    let journal = std::fs::read_to_string(journal).unwrap();
    assert!(
        journal.contains(r#""event":"driver""#) && !journal.contains("run_started"),
        "{journal}"
    );
}

#[test]
fn order_by_sorts_the_result_globally_across_its_files() {
    let d = Dir::new();
    let input = d.parquet(
        "events.parquet",
        "SELECT i AS id, CASE WHEN i % 9 = 0 THEN NULL ELSE (i * 37) % 100 END AS v \
         FROM range(5000) t(i)",
    );
    let out_dir = d.path("out");
    let out = d.smallpond(&[
        "query",
        "SELECT id, v FROM {0} WHERE id % 2 = 0",
        "-i",
        s(&input),
        "-n",
        "3",
        "--by-rows",
        "--order-by",
        "v DESC, id",
        "-o",
        s(&out_dir),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let files = std::fs::read_dir(&out_dir).unwrap().count();
    assert_eq!(files, 3, "one file per range");
    // Read in file-name order, one thread: the rows come in the order of one ORDER BY.
    let conn = Connection::open_in_memory().unwrap();
    conn.execute_batch("SET threads = 1").unwrap();
    let misplaced: i64 = conn
        .query_row(
            &format!(
                "SELECT count(*) FROM \
                 (SELECT id, row_number() OVER () AS rn FROM read_parquet('{}/*.parquet')) got \
                 FULL JOIN (SELECT id, row_number() OVER (ORDER BY v DESC NULLS LAST, id) AS rn \
                 FROM '{}' WHERE id % 2 = 0) want USING (id) \
                 WHERE got.rn IS DISTINCT FROM want.rn",
                out_dir.display(),
                input.display()
            ),
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(misplaced, 0);

    let bad = d.smallpond(&[
        "query",
        "SELECT * FROM {0}",
        "-i",
        s(&input),
        "--order-by",
        "nope",
        "-o",
        s(&d.path("bad")),
    ]);
    assert!(!bad.status.success());
    assert!(text(&bad).contains("nope"), "{}", text(&bad));
}
