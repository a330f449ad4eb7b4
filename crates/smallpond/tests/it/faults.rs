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

/// The key renamed, so that the query runs after the shuffle in a task per partition (as
/// `SELECT k, ...` it would run whole in the shuffle's one producer: fewer tasks to fail).
const QUERY: &str = "SELECT k AS key, count(*) AS n, sum(v) AS s FROM {0} GROUP BY k";

#[test]
fn injected_faults_are_retried_and_the_output_is_unchanged() {
    let fx = Fixture::new();
    let input = fx.parquet("t", TABLE, 4);
    // p = 0.5 over 1 + 8 + 1 tasks: some attempt fails but once in 2^10 runs;
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

/// The events' count of reused and of started tasks.
fn reused_and_started(events: &std::sync::Mutex<Vec<Event>>) -> (usize, usize) {
    let events = events.lock().unwrap();
    let reused = events
        .iter()
        .filter(|e| matches!(e, Event::TaskFinished { reused: true, .. }))
        .count();
    let started = events
        .iter()
        .filter(|e| matches!(e, Event::TaskStarted { .. }))
        .count();
    (reused, started)
}

/// sum(v) over the result of `df`.
fn total(df: &smallpond::DataFrame) -> i64 {
    use smallpond::arrow::array::{Array, Int64Array};
    let batches = df.to_arrow().unwrap();
    let mut sum = 0;
    for b in &batches {
        let col = b.column_by_name("s").unwrap();
        let col =
            smallpond::arrow::compute::cast(col, &smallpond::arrow::datatypes::DataType::Int64)
                .unwrap();
        let col = col.as_any().downcast_ref::<Int64Array>().unwrap();
        sum += (0..col.len()).map(|i| col.value(i)).sum::<i64>();
    }
    sum
}

const SUM: &str = "SELECT k, sum(v) AS s FROM {0} GROUP BY k";
// Both queries read (k, v), so they plan the same shuffle (a GROUP BY would be planned as a
// pre-aggregating shuffle, a different task); only the first fails.
const PASS: &str = "SELECT k, v AS s FROM {0}";
const FAIL: &str = "SELECT k, v AS s FROM {0} WHERE error('stop') IS NULL";

#[test]
fn a_rerun_after_its_input_files_changed_in_place_recomputes() {
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
    let (sp, _) = session(&fx, "changed-input", 0.0, 1);
    assert!(script(&sp, FAIL).count().is_err());
    sp.shutdown().unwrap();
    drop(sp);
    // The same path, other content: every v doubled.
    fx.parquet(
        "t",
        &format!("SELECT id, k, v * 2 AS v, p FROM ({TABLE})"),
        1,
    );
    let (sp, events) = session(&fx, "changed-input", 0.0, 1);
    let expected: i64 = (0..10_000i64).map(|i| i * 31 % 1000 * 2).sum();
    assert_eq!(
        total(&script(&sp, PASS)),
        expected,
        "the old input's shuffle was reused"
    );
    assert_eq!(reused_and_started(&events).0, 0);
}

#[test]
fn a_consumer_is_not_reused_when_its_producer_reruns() {
    let fx = Fixture::new();
    let input = fx.parquet("t", TABLE, 1);
    let stage = |sp: &Session| {
        let df = sp
            .read_parquet(&[&input])
            .unwrap()
            .repartition(4, Partitioning::hash(&["k"]))
            .unwrap();
        sp.partial_sql("SELECT k, v FROM {0} WHERE v >= 0", &[&df])
            .unwrap()
    };
    // First run: the shuffle and the filter complete (records for both), the sum fails.
    let (sp, _) = session(&fx, "upstream-changed", 0.0, 1);
    let filtered = stage(&sp);
    filtered.compute().unwrap();
    let failing = sp
        .partial_sql(
            "SELECT k, sum(v) AS s FROM {0} WHERE error('stop') IS NULL GROUP BY k",
            &[&filtered],
        )
        .unwrap();
    assert!(failing.count().is_err());
    sp.shutdown().unwrap();
    drop(sp);
    fx.parquet(
        "t",
        &format!("SELECT id, k, v + 1 AS v, p FROM ({TABLE})"),
        1,
    );
    // Second run: the shuffle reruns on the new input, so the filter's record (of the old
    // shuffle's output) must not be reused either.
    let (sp, events) = session(&fx, "upstream-changed", 0.0, 1);
    let summed = sp.partial_sql(SUM, &[&stage(&sp)]).unwrap();
    let expected: i64 = (0..10_000i64).map(|i| i * 31 % 1000 + 1).sum();
    assert_eq!(total(&summed), expected, "a stale filter record was reused");
    assert_eq!(reused_and_started(&events).0, 0);
}

#[test]
fn a_rerun_with_other_in_memory_data_recomputes_and_with_the_same_data_resumes() {
    use smallpond::arrow::array::{Int64Array, StringArray};
    use smallpond::arrow::datatypes::{DataType, Field, Schema};
    use smallpond::arrow::record_batch::RecordBatch;
    let fx = Fixture::new();
    let batch = |factor: i64| {
        let schema = Schema::new(vec![
            Field::new("k", DataType::Utf8, false),
            Field::new("v", DataType::Int64, false),
        ]);
        let keys: Vec<String> = (0..1000).map(|i| format!("key-{}", i % 7)).collect();
        let values: Vec<i64> = (0..1000).map(|i| i * factor).collect();
        RecordBatch::try_new(
            std::sync::Arc::new(schema),
            vec![
                std::sync::Arc::new(StringArray::from(keys)),
                std::sync::Arc::new(Int64Array::from(values)),
            ],
        )
        .unwrap()
    };
    let script = |sp: &Session, factor: i64, query: &str| {
        let df = sp
            .from_arrow(&[batch(factor)])
            .unwrap()
            .repartition(3, Partitioning::hash(&["k"]))
            .unwrap();
        sp.partial_sql(query, &[&df]).unwrap()
    };
    let (sp, _) = session(&fx, "in-memory", 0.0, 1);
    assert!(script(&sp, 1, FAIL).count().is_err());
    sp.shutdown().unwrap();
    drop(sp);
    // Other values under the same job id: nothing of the first run is reused.
    let (sp, events) = session(&fx, "in-memory", 0.0, 1);
    assert!(script(&sp, 3, FAIL).count().is_err());
    assert_eq!(
        reused_and_started(&events).0,
        0,
        "the old data's shuffle was reused"
    );
    sp.shutdown().unwrap();
    drop(sp);
    // The same values as the last run: its shuffle is reused, and the answer is right.
    let (sp, events) = session(&fx, "in-memory", 0.0, 1);
    assert_eq!(total(&script(&sp, 3, PASS)), 3 * (0..1000).sum::<i64>());
    assert_eq!(
        reused_and_started(&events),
        (1, 3),
        "identical data should resume"
    );
}

#[test]
fn job_ids_that_end_alike_get_directories_of_their_own() {
    // Reported: ids `b` and `x.b` ended up in one job directory (found by its suffix).
    let fx = Fixture::new();
    let input = fx.parquet("t", TABLE, 1);
    let run = |id: &str, p: i64| {
        let (sp, _) = session(&fx, id, 0.0, 1);
        let df = sp.read_parquet(&[&input]).unwrap();
        let df = sp
            .partial_sql(&format!("SELECT * FROM {{0}} WHERE p = {p}"), &[&df])
            .unwrap();
        df.write_parquet(fx.path(&format!("out-{id}"))).unwrap();
        let dir = sp.job_dir().to_path_buf();
        sp.shutdown().unwrap();
        dir
    };
    let b = run("b", 0);
    let xb = run("x.b", 1);
    let b_again = run("b", 2);
    assert_ne!(b, xb);
    assert_eq!(b, b_again, "a job id still finds its own directory");
    assert!(xb.file_name().unwrap().to_string_lossy().ends_with(".x.b"));
    for (id, p) in [("b", 2), ("x.b", 1)] {
        assert_same_rows(
            &read_glob(&fx.path(&format!("out-{id}"))),
            &format!("{} WHERE p = {p}", read_glob(&input)),
        );
    }
}

#[test]
fn a_second_driver_on_a_job_in_use_is_refused() {
    let fx = Fixture::new();
    let (first, _) = session(&fx, "owned", 0.0, 1);
    let err = Session::builder()
        .data_root(fx.path("faulty-root"))
        .job_id("owned")
        .build()
        .err()
        .expect("a second driver on a job directory in use must be refused");
    let text = err.to_string();
    assert!(text.contains("in use") && text.contains("owned"), "{text}");
    assert!(
        text.contains(&std::process::id().to_string()),
        "names the holder: {text}"
    );
    // The first driver is unaffected, and once it ends the job can be opened again.
    assert_eq!(
        first
            .partial_sql("SELECT 1 AS x", &[])
            .unwrap()
            .count()
            .unwrap(),
        1
    );
    first.shutdown().unwrap();
    let (again, _) = session(&fx, "owned", 0.0, 1);
    again.shutdown().unwrap();
}

#[test]
fn a_job_time_that_would_make_ids_ambiguous_is_refused() {
    let fx = Fixture::new();
    let err = Session::builder()
        .data_root(fx.path("faulty-root"))
        .job_id("t")
        .job_time("2026.12")
        .build()
        .err()
        .expect("a job_time with '.' must be refused");
    assert!(err.to_string().contains("job_time"), "{err}");
}

#[test]
fn a_cancelled_job_stops_within_seconds_and_a_rerun_resumes_it() {
    let fx = Fixture::new();
    let input = fx.parquet("t", TABLE, 1);
    // The shuffle is quick; the query after it would run for minutes.
    let heavy = "SELECT k, count(*) AS n FROM {0}, range(2000000000) r(i) WHERE hash(i, v) % 7 = 0 GROUP BY k";
    let script = |sp: &Session, query: &str| {
        let df = sp
            .read_parquet(&[&input])
            .unwrap()
            .repartition(2, Partitioning::hash(&["k"]))
            .unwrap();
        sp.partial_sql(&format!("SELECT * FROM ({query})"), &[&df])
            .unwrap()
    };
    let (sp, events) = session(&fx, "cancelled", 0.0, 1);
    let token = sp.cancel_token();
    let canceller = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(1500));
        token.cancel();
        std::time::Instant::now()
    });
    let err = script(&sp, heavy)
        .count()
        .expect_err("the job was cancelled");
    let stopped = std::time::Instant::now();
    let cancelled_at = canceller.join().unwrap();
    assert!(
        stopped.duration_since(cancelled_at) < std::time::Duration::from_secs(3),
        "took {:?} to stop",
        stopped.duration_since(cancelled_at)
    );
    assert!(err.to_string().contains("cancelled"), "{err}");
    let status = std::fs::read_to_string(sp.job_dir().join("status")).unwrap();
    assert_eq!(status.trim(), "cancelled");
    assert!(reused_and_started(&events).1 >= 1);
    // The session still works.
    assert_eq!(
        sp.partial_sql("SELECT 1 AS x", &[])
            .unwrap()
            .count()
            .unwrap(),
        1
    );
    sp.shutdown().unwrap();
    let status = std::fs::read_to_string(sp.job_dir().join("status")).unwrap();
    assert_eq!(
        status.trim(),
        "cancelled",
        "a cancelled session ends cancelled"
    );
    drop(sp);
    // A re-run resumes: the completed shuffle is reused.
    let (sp, events) = session(&fx, "cancelled", 0.0, 1);
    assert_eq!(script(&sp, PASS).count().unwrap(), 10_000);
    assert_eq!(reused_and_started(&events).0, 1, "the shuffle is reused");
}
