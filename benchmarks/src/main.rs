//! `sp-bench`: end-to-end benchmarks, one JSON line per run:
//! `{"bench": ..., "system": ..., "rows": ..., "bytes": ..., "secs": ...}`.
//!
//! ```text
//! sp-bench shuffle-groupby [--rows N] [--partitions P] [--runs R] [--data DIR] [--smallpond BIN]
//! sp-bench startup [--runs R] [--data DIR] [--smallpond BIN]
//! ```
//! `shuffle-groupby`: hash-repartition (id, host, url, ts, v) P ways by host and GROUP BY
//! host per partition, with the `smallpond` command; against one DuckDB connection doing
//! the GROUP BY in one statement over the same files, with all cores. `startup`: the
//! wall time of a whole `smallpond query` job over a 1-row file.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use duckdb::Connection;

struct Args {
    rows: u64,
    partitions: u32,
    runs: usize,
    data: PathBuf,
    smallpond: PathBuf,
}

fn parse(mut it: impl Iterator<Item = String>) -> Args {
    let exe = std::env::current_exe().expect("current exe");
    let mut args = Args {
        rows: 20_000_000,
        partitions: 8,
        runs: 3,
        data: std::env::temp_dir().join("smallpond-bench"),
        smallpond: exe.with_file_name("smallpond"),
    };
    while let Some(flag) = it.next() {
        let value = it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--rows" => args.rows = value.parse().expect("--rows N"),
            "--partitions" => args.partitions = value.parse().expect("--partitions P"),
            "--runs" => args.runs = value.parse().expect("--runs R"),
            "--data" => args.data = value.into(),
            "--smallpond" => args.smallpond = value.into(),
            other => panic!("unknown flag {other}"),
        }
    }
    args
}

fn main() {
    let mut it = std::env::args().skip(1);
    let bench = it.next().unwrap_or_else(|| "shuffle-groupby".into());
    let args = parse(it);
    std::fs::create_dir_all(&args.data).expect("data dir");
    match bench.as_str() {
        "shuffle-groupby" => shuffle_groupby(&args),
        "startup" => startup(&args),
        other => panic!("unknown benchmark {other}; try shuffle-groupby or startup"),
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
    let dir = args.data.join(format!("hosts-{}", args.rows));
    if dir.join("done").exists() {
        return dir;
    }
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("input dir");
    eprintln!("generating {} rows into {}", args.rows, dir.display());
    let conn = duckdb();
    conn.execute_batch(&format!(
        "COPY (SELECT i AS id, 'host-' || (hash(i) % 100000) AS host,
                      'https://host-' || (hash(i) % 100000) || '.example.com/path/' || (hash(i * 7) % 1000003) || '/index.html?q=' || i AS url,
                      TIMESTAMP '2026-01-01' + to_seconds(i % 31536000) AS ts,
                      (hash(i * 13) % 100000) / 100.0 AS v,
                      i % 8 AS file
               FROM range({}) t(i))
         TO '{}' (FORMAT parquet, PARTITION_BY (file), WRITE_PARTITION_COLUMNS false)",
        args.rows,
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
    let input = generate(args);
    let bytes = dir_bytes(&input);
    let glob = format!("{}/*.parquet", input.display());
    let query = "SELECT host, count(*) AS n, sum(v) AS s FROM {0} GROUP BY host";
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
            &["--partitions", &p, "--hash-by", "host"],
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
            "smallpond and DuckDB disagree on the number of groups"
        );
    }
    let (ours, theirs) = (median(ours), median(theirs));
    report("shuffle-groupby", "duckdb", args.rows, bytes, theirs);
    report("shuffle-groupby", "smallpond-rs", args.rows, bytes, ours);
    eprintln!(
        "shuffle-groupby: {} rows, {expected} groups: smallpond-rs {ours:.2}s, duckdb {theirs:.2}s, ratio {:.2}x (medians of {})",
        args.rows,
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
