//! Fault injection, retries and resuming a job by its id.

use smallpond::{Event, Partitioning, Session};

use crate::util::*;

fn session(
    fx: &Fixture,
    job_id: &str,
    p: f64,
    attempts: u32,
) -> (Session, std::sync::Arc<std::sync::Mutex<Vec<Event>>>) {
    let events = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = std::sync::Arc::clone(&events);
    let sp = Session::builder()
        .data_root(fx.path("faulty-root"))
        .job_id(job_id)
        .num_executors(2)
        .fault_inject_prob(p)
        .max_attempts(attempts)
        .on_event(move |e| sink.lock().unwrap().push(e.clone()))
        .build()
        .unwrap();
    (sp, events)
}

const QUERY: &str = "SELECT k, count(*) AS n, sum(v) AS s FROM {0} GROUP BY k";

#[test]
fn injected_faults_are_retried_and_the_output_is_unchanged() {
    let fx = Fixture::new();
    let input = fx.parquet("t", TABLE, 4);
    // p = 0.5 over 1 + 8 + 8 + 1 tasks: some attempt fails with certainty (1 - 2^-18);
    // 40 attempts make a task that never succeeds practically impossible.
    let (sp, events) = session(&fx, "faulty", 0.5, 40);
    let df = sp
        .read_parquet(&[&input])
        .unwrap()
        .repartition(8, Partitioning::hash(&["k"]))
        .unwrap();
    let df = sp.partial_sql(QUERY, &[&df]).unwrap();
    let out = fx.path("out");
    df.write_parquet(&out).unwrap();
    let injected = events
        .lock()
        .unwrap()
        .iter()
        .filter(|e| matches!(e, Event::TaskFailed { error, will_retry: true, .. } if error.message.contains("injected fault")))
        .count();
    assert!(injected > 0, "no fault was injected");
    assert_same_rows(
        &read_glob(&out),
        &QUERY.replace("{0}", &format!("read_parquet('{}')", glob(&input))),
    );
    // Nothing of the failed attempts is left behind in the output.
    for entry in std::fs::read_dir(&out).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        assert!(
            name.starts_with("part-") && name.ends_with(".parquet"),
            "{name}"
        );
    }
}

#[test]
fn exhausted_retries_name_the_task_and_the_injected_cause() {
    let fx = Fixture::new();
    let input = fx.parquet("t", TABLE, 1);
    let (sp, _) = session(&fx, "doomed", 0.999, 2);
    let df = sp
        .read_parquet(&[&input])
        .unwrap()
        .repartition(2, Partitioning::hash(&["k"]))
        .unwrap();
    let err = df.count().unwrap_err().to_string();
    assert!(
        err.contains("task-000000") && err.contains("HashPartition"),
        "{err}"
    );
    assert!(
        err.contains("2 attempt(s)") && err.contains("injected fault"),
        "{err}"
    );
    assert!(Session::builder().fault_inject_prob(1.5).build().is_err());
}

#[test]
fn rerunning_a_failed_job_id_reuses_completed_tasks() {
    let fx = Fixture::new();
    let input = fx.parquet("t", TABLE, 1);
    let script = |sp: &Session, query: &str| {
        let df = sp
            .read_parquet(&[&input])
            .unwrap()
            .repartition(4, Partitioning::hash(&["k"]))
            .unwrap();
        sp.partial_sql(query, &[&df]).unwrap()
    };
    // First run: the shuffle completes, the query after it fails.
    let (sp, _) = session(&fx, "resumable", 0.0, 1);
    let job_dir = sp.job_dir().to_path_buf();
    assert!(
        script(&sp, "SELECT k, v FROM {0} WHERE error('stop here') IS NULL")
            .count()
            .is_err()
    );
    sp.shutdown().unwrap();
    drop(sp);
    // Second run of the script, its query fixed, with the same job id: the shuffle (same
    // node, same partition, same fingerprint) is not run again.
    let (sp, events) = session(&fx, "resumable", 0.0, 1);
    assert_eq!(sp.job_dir(), job_dir, "the job id finds its directory");
    let fixed = script(&sp, "SELECT k, v FROM {0}");
    assert_eq!(fixed.count().unwrap(), 10_000);
    let events = events.lock().unwrap();
    let reused = events
        .iter()
        .filter(|e| matches!(e, Event::TaskFinished { reused: true, .. }))
        .count();
    let started: Vec<_> = events
        .iter()
        .filter(|e| matches!(e, Event::TaskStarted { .. }))
        .collect();
    assert_eq!(reused, 1, "the completed shuffle is reused");
    assert_eq!(started.len(), 4, "only the four SQL tasks run: {started:?}");
}

#[test]
fn a_task_out_of_memory_is_retried_with_more_memory() {
    let fx = Fixture::new();
    let (sp, events) = session(&fx, "hungry", 0.0, 3);
    let options = smallpond::TaskOptions {
        memory_limit: Some(64_000_000),
        cpu_limit: Some(1),
        ..Default::default()
    };
    // One list of 6M integers does not fit in 64 MB (nor 128 MB), and cannot spill.
    let df = sp
        .partial_sql_with(
            "SELECT len(list(i)) AS n FROM range(6000000) t(i)",
            &[],
            options,
        )
        .unwrap();
    assert_eq!(df.count().unwrap(), 1);
    let failures: Vec<String> = events
        .lock()
        .unwrap()
        .iter()
        .filter_map(|e| match e {
            Event::TaskFailed {
                error,
                will_retry: true,
                ..
            } => Some(error.message.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(failures.len(), 2, "{failures:?}");
    assert!(
        failures[0].contains("Out of Memory") && failures[0].contains("memory_limit: 64 MB"),
        "{failures:?}"
    );
    assert!(failures[1].contains("memory_limit: 128 MB"), "{failures:?}");
}

#[test]
fn concurrent_jobs_with_different_ids_do_not_see_each_others_files() {
    let fx = Fixture::new();
    let input = fx.parquet("t", TABLE, 2);
    let run = |id: &'static str, p: i64| {
        let (sp, _) = session(&fx, id, 0.0, 3);
        let df = sp
            .read_parquet(&[&input])
            .unwrap()
            .repartition(4, Partitioning::hash(&["k"]))
            .unwrap();
        let df = sp
            .partial_sql(&format!("SELECT * FROM {{0}} WHERE p = {p}"), &[&df])
            .unwrap();
        df.write_parquet(fx.path(id)).unwrap();
        sp.job_dir().to_path_buf()
    };
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| run("job-a", 0));
        let b = s.spawn(|| run("job-b", 1));
        (a.join().unwrap(), b.join().unwrap())
    });
    assert_ne!(a, b);
    assert_same_rows(
        &read_glob(&fx.path("job-a")),
        &format!("{} WHERE p = 0", read_glob(&input)),
    );
    assert_same_rows(
        &read_glob(&fx.path("job-b")),
        &format!("{} WHERE p = 1", read_glob(&input)),
    );
}
