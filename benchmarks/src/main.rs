//! `sp-bench`: end-to-end benchmarks, one JSON line per run:
//! `{"bench": ..., "system": ..., "rows": ..., "bytes": ..., "secs": ...}`. Usage: [`USAGE`]
//! (`sp-bench --help`).
//!
//! `graysort`: `smallpond bench graysort` (range-partition + sort + write of gensort
//! records) against one DuckDB process sorting the same Parquet files in one statement.
//! `global-sort`: the same, with the DataFrame's `sort` (sampled boundaries) instead of the
//! generator's key-prefix column (`smallpond bench graysort --global-sort`).
//! `shuffle-groupby`: hash-repartition (id, host, url, ts, v) P ways by host and GROUP BY
//! host per partition, with the `smallpond` command; against one DuckDB connection doing
//! the GROUP BY in one statement over the same files, with all cores. `startup`: the
//! wall time of a whole `smallpond query` job over a 1-row file. `task-statement`: the
//! statement of one tiny SQL task (200 rows read and written as Parquet, one thread), run as
//! a prepared statement that returns its row count and as a task runs it now, unprepared
//! with the count read from the footer; round-robin, one JSON line per way and run.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use duckdb::Connection;

struct Args {
    /// `--rows`, when given: each benchmark has its own default.
    rows: Option<u64>,
    partitions: u32,
    runs: usize,
    data: PathBuf,
    smallpond: PathBuf,
}

impl Args {
    /// Rows (or records) for the data benchmarks: `--rows`, or 20M.
    fn rows(&self) -> u64 {
        self.rows.unwrap_or(20_000_000)
    }
}

const USAGE: &str = "\
usage:
  sp-bench shuffle-groupby [--rows N] [--partitions P] [--runs R] [--data DIR] [--smallpond BIN]
  sp-bench shuffle-distinct [--rows N] [--partitions P] [--runs R] [--data DIR] [--smallpond BIN]
  sp-bench startup [--runs R] [--data DIR] [--smallpond BIN]
  sp-bench graysort [--rows RECORDS] [--partitions P] [--runs R] [--data DIR] [--smallpond BIN]
  sp-bench global-sort [--rows RECORDS] [--partitions P] [--runs R] [--data DIR] [--smallpond BIN]
  sp-bench task-statement [--rows TASKS] [--runs R] [--data DIR]
";

/// Exits with `message` and the usage (status 2), as for any bad command line.
fn usage_error(message: &str) -> ! {
    eprint!("sp-bench: {message}\n{USAGE}");
    std::process::exit(2)
}

/// `value` of `flag` as a number, or the usage error.
fn number<T: std::str::FromStr>(flag: &str, value: &str, what: &str) -> T {
    value
        .parse()
        .unwrap_or_else(|_| usage_error(&format!("{flag} needs a number ({what}), got {value:?}")))
}

fn parse(mut it: impl Iterator<Item = String>) -> Args {
    let exe = std::env::current_exe().expect("current exe");
    let mut args = Args {
        rows: None,
        partitions: 8,
        runs: 3,
        data: std::env::temp_dir().join("smallpond-bench"),
        smallpond: exe.with_file_name("smallpond"),
    };
    while let Some(flag) = it.next() {
        if flag == "-h" || flag == "--help" {
            print!("{USAGE}");
            std::process::exit(0);
        }
        let value = it
            .next()
            .unwrap_or_else(|| usage_error(&format!("{flag} needs a value")));
        match flag.as_str() {
            "--rows" => args.rows = Some(number(&flag, &value, "N")),
            "--partitions" => args.partitions = number(&flag, &value, "P"),
            "--runs" => args.runs = number(&flag, &value, "R"),
            "--data" => args.data = value.into(),
            "--smallpond" => args.smallpond = value.into(),
            other => usage_error(&format!("unknown flag {other}")),
        }
    }
    args
}

fn main() {
    let mut it = std::env::args().skip(1);
    let bench = it.next().unwrap_or_else(|| "shuffle-groupby".into());
    if bench == "-h" || bench == "--help" {
        print!("{USAGE}");
        return;
    }
    if bench == "__duckdb-sort" {
        let input = PathBuf::from(it.next().expect("input dir"));
        let out = PathBuf::from(it.next().expect("output file"));
        return duckdb_sort(&input, &out);
    }
    let args = parse(it);
    std::fs::create_dir_all(&args.data).expect("data dir");
    match bench.as_str() {
        "shuffle-groupby" => shuffle_groupby(&args),
        "startup" => startup(&args),
        "graysort" => graysort(&args, false),
        "global-sort" => graysort(&args, true),
        "shuffle-distinct" => shuffle_distinct(&args),
        "task-statement" => task_statement(&args),
        other => usage_error(&format!("unknown benchmark {other}")),
    }
}

fn duckdb() -> Connection {
    let conn = Connection::open_in_memory().expect("duckdb");
    conn.execute_batch("SET preserve_insertion_order = false;")
        .expect("settings");
    conn
}

fn dir_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok()?.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

/// 8 Parquet files of `rows` rows of (id, host, url, ts, v), 10^5 hosts; generated once.
fn generate(args: &Args) -> PathBuf {
    let dir = args.data.join(format!("hosts-{}", args.rows()));
    if dir.join("done").exists() {
        return dir;
    }
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("input dir");
    eprintln!("generating {} rows into {}", args.rows(), dir.display());
    let conn = duckdb();
    conn.execute_batch(&format!(
        "COPY (SELECT i AS id, 'host-' || (hash(i) % 100000) AS host,
                      'https://host-' || (hash(i) % 100000) || '.example.com/path/' || (hash(i * 7) % 1000003) || '/index.html?q=' || i AS url,
                      TIMESTAMP '2026-01-01' + to_seconds(i % 31536000) AS ts,
                      (hash(i * 13) % 100000) / 100.0 AS v,
                      i % 8 AS file
               FROM range({}) t(i))
         TO '{}' (FORMAT parquet, PARTITION_BY (file), WRITE_PARTITION_COLUMNS false)",
        args.rows(),
        dir.join("hive").display()
    ))
    .expect("generate");
    for f in 0..8 {
        let from = dir.join(format!("hive/file={f}/data_0.parquet"));
        std::fs::rename(&from, dir.join(format!("part-{f}.parquet"))).expect("flatten");
    }
    std::fs::remove_dir_all(dir.join("hive")).expect("cleanup");
    std::fs::write(dir.join("done"), "").expect("marker");
    dir
}

fn report(bench: &str, system: &str, rows: u64, bytes: u64, secs: f64) {
    println!(
        "{{\"bench\": \"{bench}\", \"system\": \"{system}\", \"rows\": {rows}, \"bytes\": {bytes}, \"secs\": {secs:.3}}}"
    );
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(|a, b| a.total_cmp(b));
    xs[xs.len() / 2]
}

fn run_smallpond(args: &Args, sql: &str, input: &str, extra: &[&str], out: &Path) -> f64 {
    let _ = std::fs::remove_dir_all(out);
    let start = Instant::now();
    let status = Command::new(&args.smallpond)
        .args(["query", sql, "--input", input, "--quiet", "--output"])
        .arg(out)
        .arg("--data-root")
        .arg(args.data.join("root"))
        .args(extra)
        .status()
        .unwrap_or_else(|e| panic!("running {}: {e}", args.smallpond.display()));
    let secs = start.elapsed().as_secs_f64();
    assert!(status.success(), "smallpond failed");
    secs
}

fn shuffle_groupby(args: &Args) {
    shuffle(
        args,
        "shuffle-groupby",
        "SELECT host, count(*) AS n, sum(v) AS s FROM {0} GROUP BY host",
        "host",
    );
}

fn shuffle_distinct(args: &Args) {
    shuffle(
        args,
        "shuffle-distinct",
        "SELECT DISTINCT host FROM {0}",
        "host",
    );
}

/// A hash repartition by `hash_by` + `query` per partition, against one DuckDB statement.
fn shuffle(args: &Args, bench: &str, query: &str, hash_by: &str) {
    let input = generate(args);
    let bytes = dir_bytes(&input);
    let glob = format!("{}/*.parquet", input.display());
    let out = args.data.join("out");
    let conn = duckdb();
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    let mut expected = 0;
    for _ in 0..args.runs {
        let target = args.data.join("duckdb-out.parquet");
        let start = Instant::now();
        let sql = format!(
            "COPY ({}) TO '{}' (FORMAT parquet)",
            query.replace("{0}", &format!("read_parquet('{glob}')")),
            target.display()
        );
        expected = conn.execute(&sql, []).expect("duckdb query") as u64;
        theirs.push(start.elapsed().as_secs_f64());

        let p = args.partitions.to_string();
        ours.push(run_smallpond(
            args,
            query,
            &glob,
            &["--partitions", &p, "--hash-by", hash_by],
            &out,
        ));
        let got: i64 = conn
            .query_row(
                &format!(
                    "SELECT count(*) FROM read_parquet('{}/*.parquet')",
                    out.display()
                ),
                [],
                |r| r.get(0),
            )
            .expect("count output");
        assert_eq!(
            got as u64, expected,
            "smallpond and DuckDB disagree on the number of result rows"
        );
    }
    let (ours, theirs) = (median(ours), median(theirs));
    report(bench, "duckdb", args.rows(), bytes, theirs);
    report(bench, "smallpond-rs", args.rows(), bytes, ours);
    eprintln!(
        "{bench}: {} rows, {expected} result rows: smallpond-rs {ours:.2}s, duckdb {theirs:.2}s, ratio {:.2}x (medians of {})",
        args.rows(),
        ours / theirs,
        args.runs
    );
}

fn startup(args: &Args) {
    let input = args.data.join("one-row.parquet");
    duckdb()
        .execute_batch(&format!(
            "COPY (SELECT 1 AS x) TO '{}' (FORMAT parquet)",
            input.display()
        ))
        .expect("one-row file");
    let out = args.data.join("startup-out");
    let input = input.to_string_lossy().into_owned();
    let secs: Vec<f64> = (0..args.runs.max(5))
        .map(|_| run_smallpond(args, "SELECT * FROM {0}", &input, &[], &out))
        .collect();
    let med = median(secs);
    report("startup", "smallpond-rs", 1, 0, med);
    eprintln!("startup: a 1-row job takes {med:.3}s (median)");
}

/// `sp-bench task-statement`: `--rows` tasks (default here 400) per way and run, each the
/// `COPY` a W6 map task runs, over one 200-row input, into a file of its own.
fn task_statement(args: &Args) {
    use smallpond_core::plan::ParquetOptions;
    use smallpond_duckdb::source;
    use smallpond_duckdb::tasks::{copy_to_file, write_parquet_file};
    let tasks = args.rows.unwrap_or(400);
    let dir = args.data.join("task-statement");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("data dir");
    let input = dir.join("input.parquet");
    let conn = Connection::open_in_memory().expect("duckdb");
    conn.execute_batch("SET threads = 1; SET preserve_insertion_order = true;")
        .expect("settings");
    conn.execute_batch(&format!(
        "COPY (SELECT range::BIGINT AS k, range / 10.0 AS v FROM range(200)) TO '{}' (FORMAT parquet)",
        input.display()
    ))
    .expect("input");
    // The query as a W6 map task runs it: its input named in a WITH clause of its own.
    let template = "SELECT k, v * 2 AS v FROM {0}";
    let inputs = [smallpond_core::task::ResolvedPartition {
        datasets: vec![smallpond_core::DataSet::parquet(vec![input])],
        columns: None,
    }];
    let bound = source::bind_query(template, 1, &Default::default()).expect("bind");
    let query = source::with_input_ctes(&bound, &inputs, &source::used_inputs(template))
        .expect("inputs")
        .expect("a SELECT takes a WITH clause");
    let options = ParquetOptions::default();
    let mut secs: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
    for run in 0..args.runs {
        for (way, system) in ["prepared", "unprepared"].iter().enumerate() {
            let start = Instant::now();
            for t in 0..tasks {
                let file = dir.join(format!("{system}-{run}-{t}.parquet"));
                let rows = match way {
                    0 => {
                        let sql = copy_to_file(&query, &file, &options);
                        smallpond_duckdb::connection::query_u64(&conn, &sql, "copy")
                    }
                    _ => write_parquet_file(&conn, &query, &file, &options, "copy"),
                };
                assert_eq!(rows.expect("task statement"), 200);
            }
            let s = start.elapsed().as_secs_f64();
            report("task-statement", system, tasks * 200, 0, s);
            secs[way].push(s);
        }
    }
    let per_task = |xs: &[f64]| median(xs.to_vec()) * 1000.0 / tasks as f64;
    eprintln!(
        "task-statement: {:.3} ms per task prepared, {:.3} ms unprepared (medians of {} runs)",
        per_task(&secs[0]),
        per_task(&secs[1]),
        args.runs
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Peak resident memory of this process (VmHWM), in MiB.
fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("VmHWM:"))?.to_string();
            line.split_whitespace().nth(1)?.parse::<f64>().ok()
        })
        .map_or(0.0, |kib| (kib / 1024.0 * 10.0).round() / 10.0)
}

/// `sp-bench graysort`: the `smallpond bench graysort` job (partition + sort + write of
/// gensort records, validated) against one DuckDB process sorting the same Parquet input
/// with `COPY (SELECT key, value ... ORDER BY key) TO ...`, checked to hold the same records
/// in the same order.
fn graysort(args: &Args, global_sort: bool) {
    let bench = if global_sort {
        "global-sort"
    } else {
        "graysort"
    };
    let records = args.rows();
    let input = args
        .data
        .join(format!("graysort-{records}-{}", args.partitions));
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for run in 0..args.runs {
        let out = args.data.join("graysort-out");
        let _ = std::fs::remove_dir_all(&out);
        let size = format!("{}", records * 100);
        let result = Command::new(&args.smallpond)
            .args(["bench", "graysort", "--size", &size])
            .args(["--partitions", &args.partitions.to_string()])
            .args(global_sort.then_some("--global-sort"))
            .arg("--input")
            .arg(&input)
            .arg("--output")
            .arg(&out)
            .arg("--data-root")
            .arg(args.data.join("root"))
            .output()
            .expect("run smallpond");
        assert!(
            result.status.success(),
            "smallpond bench graysort failed: {}",
            String::from_utf8_lossy(&result.stderr)
        );
        let line = String::from_utf8_lossy(&result.stdout);
        let v: serde_json::Value = serde_json::from_str(line.trim()).expect("JSON report");
        assert_eq!(v["valid"], true, "{line}");
        let secs = v["secs"].as_f64().expect("secs");
        println!("{}", line.trim());
        ours.push(secs);
        let ours_checksum = v["checksum"].as_str().unwrap_or_default().to_string();
        let _ = std::fs::remove_dir_all(&out);

        // DuckDB: the same input files, one statement, all cores; run in a child process so
        // that its peak memory is its own.
        let duck_out = args.data.join("graysort-duckdb.parquet");
        let child = Command::new(std::env::current_exe().expect("exe"))
            .args(["__duckdb-sort"])
            .arg(&input)
            .arg(&duck_out)
            .output()
            .expect("run duckdb sort");
        assert!(
            child.status.success(),
            "{}",
            String::from_utf8_lossy(&child.stderr)
        );
        let line = String::from_utf8_lossy(&child.stdout);
        let d: serde_json::Value = serde_json::from_str(line.trim()).expect("JSON");
        theirs.push(d["secs"].as_f64().expect("secs"));
        // Same records, same order: compare DuckDB's output with ours by order and checksum.
        let conn = duckdb();
        let unordered: i64 = conn
            .query_row(
                &format!(
                    "SELECT count(*) FROM (SELECT key, lag(key) OVER (ORDER BY file_row_number) AS p \
                     FROM read_parquet('{}', file_row_number = true)) WHERE p > key",
                    duck_out.display()
                ),
                [],
                |r| r.get(0),
            )
            .expect("check order");
        assert_eq!(unordered, 0, "duckdb output out of order");
        let n: i64 = conn
            .query_row(
                &format!(
                    "SELECT count(*) FROM read_parquet('{}')",
                    duck_out.display()
                ),
                [],
                |r| r.get(0),
            )
            .expect("count");
        assert_eq!(n as u64, records, "duckdb lost records");
        println!(
            "{}",
            serde_json::json!({"bench": bench, "system": "duckdb", "run": run, "records": records,
                "bytes": records * 100, "secs": d["secs"], "peak_rss_mb": d["peak_rss_mb"],
                "smallpond_checksum": ours_checksum})
        );
        let _ = std::fs::remove_file(&duck_out);
    }
    let (o, t) = (median(ours), median(theirs));
    eprintln!(
        "{bench}: {records} records ({:.2} GiB): smallpond-rs {o:.2}s, duckdb {t:.2}s, ratio {:.2}x (medians of {})",
        (records * 100) as f64 / (1u64 << 30) as f64,
        o / t,
        args.runs
    );
}

/// The DuckDB side of `graysort`, in its own process: prints `{secs, peak_rss_mb}`.
fn duckdb_sort(input: &Path, out: &Path) {
    let conn = Connection::open_in_memory().expect("duckdb");
    let t = Instant::now();
    conn.execute_batch(&format!(
        "COPY (SELECT key, value FROM read_parquet('{}/*.parquet') ORDER BY key) TO '{}' \
         (FORMAT parquet, COMPRESSION snappy)",
        input.display(),
        out.display()
    ))
    .expect("duckdb sort");
    let secs = t.elapsed().as_secs_f64();
    println!(
        "{}",
        serde_json::json!({"secs": secs, "peak_rss_mb": peak_rss_mb()})
    );
}
