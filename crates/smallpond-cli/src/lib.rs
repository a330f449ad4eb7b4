//! The `smallpond` command, as a library: [`run`] is the whole command line.
//!
//! Two programs call it: the `smallpond` binary (`src/main.rs`), and the `smallpond`
//! console command of the Python wheel, which calls it inside the extension module
//! (`smallpond._core.cli_main`), so that the wheel carries one copy of the engine, not two.
//! Each says how its worker processes start: a [`WorkerCommand`] to which `__worker` is
//! appended.

mod args;
mod progress;

use std::ffi::OsString;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::Parser;
use smallpond::{DataFrame, ParquetOptions, Partitioning, PoolKind, Session, TaskOptions};

pub use smallpond::WorkerCommand;

use args::{Cli, Command, Format, QueryArgs};

/// Runs the command line `args` (the program name first, as `std::env::args_os` gives it)
/// and returns the process exit status: 0 on success, 1 on an error (printed to stderr),
/// clap's status (2) for bad arguments, 0 for `--help` and `--version`.
pub fn run(args: impl IntoIterator<Item = OsString>, worker: WorkerCommand) -> i32 {
    init_tracing();
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return e.exit_code();
        }
    };
    let result = match cli.command {
        Command::Query(args) => query(*args, &worker),
        Command::Status(args) => status(args),
        Command::Report { job_dir } => report(&job_dir),
        Command::Bench(args::BenchCommand::Graysort(args)) => graysort(args, &worker),
        Command::Worker => serve_worker(),
    };
    match result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: {e:#}");
            match e.downcast_ref::<smallpond::Error>() {
                // As a shell reports a command ended by SIGINT.
                Some(smallpond::Error::Job(smallpond_exec::Error::Cancelled)) => 130,
                _ => 1,
            }
        }
    }
}

/// Ctrl-C (SIGINT) and SIGTERM cancel the session's job: its tasks are stopped, nothing is
/// published, the status says `cancelled` and a re-run resumes it. A second signal ends
/// the process at once.
fn cancel_on_signals(sp: &Session) -> Result<()> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM])
        .context("installing the Ctrl-C handler")?;
    let token = sp.cancel_token();
    std::thread::Builder::new()
        .name("smallpond-signals".into())
        .spawn(move || {
            let mut received = signals.forever();
            if received.next().is_some() {
                eprintln!("smallpond: cancelling the job (Ctrl-C again to stop at once)");
                token.cancel();
            }
            if let Some(signal) = received.next() {
                std::process::exit(128 + signal);
            }
        })
        .context("starting the Ctrl-C handler")?;
    Ok(())
}

/// Engine logs to stderr, filtered by `SMALLPOND_LOG` (`info`, `debug`, `smallpond_exec=debug`,
/// ...); errors only without it. No colours where stderr is not a terminal. The Python
/// module calls it too, so that `SMALLPOND_LOG` works there as in the command.
pub fn init_tracing() {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_env("SMALLPOND_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("error"));
    // `try_`: a Python process may run the command more than once.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .try_init();
}

/// `smallpond status`.
fn status(args: args::StatusArgs) -> Result<()> {
    use smallpond::report::{self, JobView};
    if let Some(dir) = &args.job_dir {
        let view = JobView::read(&job_dir(dir)?)?;
        print!("{}", report::status_text(&view));
        return Ok(());
    }
    let root = args
        .data_root
        .expect("clap requires a job directory or --data-root");
    if !root.is_dir() {
        bail!("{}: no such directory", root.display());
    }
    let dirs = report::job_dirs(&root)?;
    if dirs.is_empty() {
        bail!("{}: no job directories here", root.display());
    }
    for dir in dirs.iter().take(args.last) {
        match JobView::read(dir) {
            Ok(view) => println!("{}", report::list_line(&view)),
            Err(e) => println!("{}: {e}", dir.display()),
        }
    }
    Ok(())
}

/// `smallpond report`.
fn report(dir: &std::path::Path) -> Result<()> {
    let dir = job_dir(dir)?;
    smallpond::report::write(&dir)?;
    println!("{}", dir.join(smallpond::report::REPORT).display());
    Ok(())
}

/// A job directory given on the command line: it must have a journal.
fn job_dir(dir: &std::path::Path) -> Result<std::path::PathBuf> {
    if !dir.join("status").is_file() || !dir.join("log").is_dir() {
        bail!(
            "{}: not a smallpond job directory (no status file and log/); `smallpond status --data-root DIR` lists the jobs of a data root",
            dir.display()
        );
    }
    Ok(dir.to_path_buf())
}

/// `smallpond __worker`: runs the tasks the driver sends on stdin.
fn serve_worker() -> Result<()> {
    let runner =
        smallpond_duckdb::DuckDbRunner::new(format!("process@{}", smallpond_duckdb::hostname()))
            .with_plugins(smallpond_bench::plugins());
    let stdin = std::io::stdin().lock();
    let stdout = std::io::stdout().lock();
    smallpond_exec::pool::serve(&runner, stdin, stdout).context("worker protocol")
}

fn query(args: QueryArgs, worker: &WorkerCommand) -> Result<()> {
    let start = Instant::now();
    if args.inputs.is_empty() {
        bail!("no --input given; the query's {{0}} needs one");
    }
    let partitioning = partitioning(&args)?;
    let options = TaskOptions {
        parquet: ParquetOptions::try_new(
            &args.compression,
            ParquetOptions::default().row_group_size,
        )?,
        ..TaskOptions::default()
    };
    let progress = Arc::new(Mutex::new(progress::Progress::new(args.quiet)));
    let handler = Arc::clone(&progress);
    let mut builder = Session::builder()
        .max_attempts(args.max_attempts)
        .speculation(args.speculative_exec)
        .on_event(move |e| handler.lock().unwrap_or_else(|p| p.into_inner()).handle(e));
    if let Some(root) = &args.data_root {
        builder = builder.data_root(root);
    }
    if let Some(n) = args.threads {
        builder = builder.num_executors(n);
    }
    if let Some(p) = args.fault_inject {
        builder = builder.fault_inject_prob(p);
    }
    if let Some(id) = &args.job_id {
        builder = builder.job_id(id);
    }
    if !args.in_process {
        builder = builder.pool(process_pool(worker));
    }
    let sp = builder.build()?;
    progress.lock().unwrap_or_else(|p| p.into_inner()).report =
        Some(sp.job_dir().join(smallpond::report::REPORT));
    cancel_on_signals(&sp)?;

    let mut inputs: Vec<DataFrame> = Vec::new();
    for input in &args.inputs {
        let df = read(&sp, &args, input)?;
        let df = match (&partitioning, args.partitions) {
            (Some(how), Some(n)) => df.repartition(n, how.clone())?,
            _ => df,
        };
        inputs.push(df);
    }
    let refs: Vec<&DataFrame> = inputs.iter().collect();
    // The query writes the output's encoding, so the sink publishes its files as they are.
    let mut result = sp.partial_sql_with(&args.sql, &refs, options.clone())?;
    if let Some(keys) = &args.order_by {
        result = result.sort_with(&sort_keys(keys)?, None, options.clone())?;
    }
    let sink = result.write_parquet_with(&args.output, options)?;
    if args.explain {
        let tasks = sp.plan(&[&sink])?;
        let svg = sp.job_dir().join("log/graph.svg");
        std::fs::write(&svg, sp.graph_svg()?)
            .with_context(|| format!("writing {}", svg.display()))?;
        print!("{}", sp.graph()?);
        println!("{tasks} tasks would run; the plan drawn: {}", svg.display());
        sp.shutdown()?;
        return Ok(());
    }
    sink.compute()?;
    let files: usize = sink.files()?.iter().map(Vec::len).sum();
    let rows = sink.count()?;
    sp.shutdown()?;
    if !args.quiet {
        eprintln!(
            "wrote {rows} rows in {files} files to {} in {:.2}s",
            args.output.display(),
            start.elapsed().as_secs_f64()
        );
    }
    Ok(())
}

/// Worker processes running this command's `__worker` (with the benchmark plugins).
fn process_pool(worker: &WorkerCommand) -> PoolKind {
    let mut command = worker.clone();
    command.args.push("__worker".into());
    PoolKind::Processes(command)
}

fn graysort(args: args::GraysortArgs, worker: &WorkerCommand) -> Result<()> {
    use smallpond_bench::graysort;
    let records = graysort::records_for_size(&args.size).map_err(anyhow::Error::msg)?;
    let cores = smallpond_exec::pool::local_resources().cpus;
    let mut builder = Session::builder()
        .pool(process_pool(worker))
        .plugins(smallpond_bench::plugins());
    if let Some(root) = &args.data_root {
        builder = builder.data_root(root);
    }
    if let Some(n) = args.threads {
        builder = builder.num_executors(n);
    }
    let sp = builder.build()?;
    cancel_on_signals(&sp)?;
    let output = match &args.output {
        Some(dir) => dir.clone(),
        None => sp.job_dir().join("output").join("graysort"),
    };
    let config = graysort::Config {
        records,
        partitions: args.partitions.unwrap_or(4 * cores),
        generators: args.generators.unwrap_or(cores),
        ascii: args.ascii,
        output: output.clone(),
        compression: args.compression.clone(),
        shuffle_compression: args.shuffle_compression.clone(),
        input_dir: args.input.clone(),
        global_sort: args.global_sort,
    };
    let report = graysort::run(&sp, &config)?;
    let valid = report.valid();
    println!(
        "{}",
        serde_json::json!({
            "bench": if args.global_sort { "global-sort" } else { "graysort" },
            "system": "smallpond-rs",
            "records": report.records,
            "bytes": report.bytes,
            "partitions": config.partitions,
            "generate_secs": round3(report.generate_secs),
            "secs": round3(report.sort_secs),
            "validate_secs": round3(report.validate_secs),
            "input_files": report.input_files.len(),
            "records_per_sec": report.records_per_sec().round(),
            "mib_per_sec": round3(report.mib_per_sec()),
            "duplicate_keys": report.output.duplicates,
            "checksum": format!("{:x}", report.output.checksum),
            "valid": valid.is_ok(),
        })
    );
    if !args.keep && args.output.is_none() {
        let _ = std::fs::remove_dir_all(&output);
    }
    sp.shutdown()?;
    valid.map_err(|e| anyhow::anyhow!("the sorted output is not valid: {e}"))
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// `--order-by` items: `KEY`, `KEY ASC` or `KEY DESC`.
fn sort_keys(items: &[String]) -> Result<Vec<smallpond::SortKey>> {
    let mut keys = Vec::new();
    for item in items {
        let item = item.trim();
        let (expr, descending) = match item.rsplit_once(char::is_whitespace) {
            Some((expr, dir)) if dir.eq_ignore_ascii_case("desc") => (expr.trim(), true),
            Some((expr, dir)) if dir.eq_ignore_ascii_case("asc") => (expr.trim(), false),
            _ => (item, false),
        };
        if expr.is_empty() {
            bail!("--order-by has an empty key in {items:?}");
        }
        keys.push(smallpond::SortKey {
            expr: expr.to_string(),
            descending,
        });
    }
    Ok(keys)
}

fn partitioning(args: &QueryArgs) -> Result<Option<Partitioning>> {
    let how = if let Some(cols) = &args.hash_by {
        Partitioning::Hash(cols.iter().map(|c| c.trim().to_string()).collect())
    } else if let Some(col) = &args.by {
        Partitioning::Column(col.clone())
    } else if args.by_rows {
        Partitioning::Rows
    } else {
        Partitioning::Files
    };
    match args.partitions {
        Some(0) => bail!("--partitions must be at least 1, got 0"),
        Some(_) => Ok(Some(how)),
        None if how != Partitioning::Files => {
            bail!("--hash-by, --by and --by-rows need --partitions N")
        }
        None => Ok(None),
    }
}

fn read(sp: &Session, args: &QueryArgs, input: &str) -> Result<DataFrame> {
    let paths = [input];
    Ok(match args.format {
        Format::Parquet => sp.read_parquet(&paths)?,
        Format::Csv => {
            let delim = match args.delim.as_deref() {
                None => None,
                Some("tab") => Some('\t'),
                Some(d) => Some(smallpond::csv_delimiter(d)?),
            };
            let schema = args.schema.as_deref().map(parse_schema).transpose()?;
            let options = smallpond::CsvReadOptions {
                schema,
                header: args.header,
                delim,
            };
            sp.read_csv_with(&paths, options)?
        }
        Format::Json => {
            let text = args
                .schema
                .as_deref()
                .context("--schema \"name TYPE, ...\" is required for JSON input")?;
            let schema = parse_schema(text)?;
            let schema: Vec<(&str, &str)> = schema
                .iter()
                .map(|(n, t)| (n.as_str(), t.as_str()))
                .collect();
            sp.read_json(&paths, &schema)?
        }
    })
}

/// `"a BIGINT, b DECIMAL(18,3)"` -> [("a", "BIGINT"), ("b", "DECIMAL(18,3)")].
fn parse_schema(text: &str) -> Result<Vec<(String, String)>> {
    let mut fields = Vec::new();
    let (mut depth, mut start) = (0i32, 0);
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                fields.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    fields.push(&text[start..]);
    fields
        .into_iter()
        .map(|f| {
            let f = f.trim();
            match f.split_once(char::is_whitespace) {
                Some((name, ty)) if !ty.trim().is_empty() => {
                    Ok((name.to_string(), ty.trim().to_string()))
                }
                _ => bail!("--schema entry {f:?} is not \"name TYPE\""),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::parse_schema;

    #[test]
    fn schema_with_parenthesised_types() {
        let s = parse_schema("a BIGINT, b DECIMAL(18,3) ,c VARCHAR").unwrap();
        assert_eq!(
            s,
            vec![
                ("a".into(), "BIGINT".into()),
                ("b".into(), "DECIMAL(18,3)".into()),
                ("c".into(), "VARCHAR".into())
            ]
        );
        assert!(parse_schema("a").is_err());
    }
}
