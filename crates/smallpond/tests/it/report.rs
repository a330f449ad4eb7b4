//! What a job leaves to be seen: its journal, timeline, plan graph, report page and status.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use smallpond::report::{self, JobState, JobView, Outcome};
use smallpond::{Partitioning, Session};

use crate::util::{Fixture, TABLE};

fn trace(dir: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(dir.join(report::TIMELINE)).unwrap();
    serde_json::from_str(&text).expect("the timeline is JSON")
}

/// The task bars of a trace (pid 0 holds one bar per stage).
fn bars(trace: &serde_json::Value) -> Vec<&serde_json::Value> {
    trace["traceEvents"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["ph"] == "X" && e["pid"] != 0)
        .collect()
}

#[test]
fn a_three_stage_job_leaves_its_timeline_graph_report_and_status() {
    let fx = Fixture::new();
    let input = fx.parquet("t", TABLE, 3);
    let parts = fx
        .sp
        .read_parquet(&[&input])
        .unwrap()
        .repartition(4, Partitioning::hash(&["k"]))
        .unwrap();
    let sums = fx
        .sp
        // The key renamed, so that the query runs after the shuffle (as it is, it would run
        // whole in the shuffle's one producer).
        .partial_sql(
            "SELECT k AS key, sum(v) AS s FROM {0} GROUP BY k",
            &[&parts],
        )
        .unwrap();
    sums.write_parquet(fx.path("out")).unwrap();
    let dir = fx.sp.job_dir().to_path_buf();
    fx.sp.shutdown().unwrap();

    let view = JobView::read(&dir).unwrap();
    assert_eq!(view.state, JobState::Succeeded);
    assert_eq!(view.runs.len(), 1);
    assert_eq!(view.attempts.len(), fx.tasks_started());
    assert!(view.stages.len() >= 3, "{:?}", view.stages);
    for s in &view.stages {
        assert!(s.tasks > 0 && s.done == s.tasks && s.running == 0, "{s:?}");
        assert!(s.first_start_us.unwrap() <= s.last_end_us.unwrap());
    }
    let sql = view.stages.iter().find(|s| s.kind == "SqlEngine").unwrap();
    assert_eq!((sql.tasks, sql.rows), (4, 97), "97 keys, 4 partitions");
    let shuffle = view
        .stages
        .iter()
        .find(|s| s.kind == "HashPartition")
        .unwrap();
    assert_eq!(
        sql.rows_in,
        Some(shuffle.rows),
        "the SQL node reads the shuffle"
    );

    // The timeline: one bar per attempt, packed into at most 2 lanes (2 executors), none
    // overlapping another of its lane.
    let trace = trace(&dir);
    let bars = bars(&trace);
    assert_eq!(bars.len(), view.attempts.len());
    let mut lanes: BTreeMap<(u64, u64), Vec<(u64, u64)>> = BTreeMap::new();
    for b in &bars {
        let key = (b["pid"].as_u64().unwrap(), b["tid"].as_u64().unwrap());
        let start = b["ts"].as_u64().unwrap();
        lanes
            .entry(key)
            .or_default()
            .push((start, start + b["dur"].as_u64().unwrap()));
        assert_eq!(b["args"]["outcome"], "succeeded", "{b}");
    }
    assert!(lanes.len() <= 2, "{} lanes for 2 executors", lanes.len());
    for spans in lanes.values_mut() {
        spans.sort();
        assert!(
            spans.windows(2).all(|w| w[0].1 <= w[1].0),
            "overlap in a lane: {spans:?}"
        );
    }

    // The graph: every node of the plan, the optimizer's pre-aggregation marked as its.
    let graph = std::fs::read_to_string(dir.join("log/graph.txt")).unwrap();
    assert!(graph.contains("added by the optimizer for"), "{graph}");
    assert!(graph.contains("(4 partitions)"), "{graph}");
    let svg = std::fs::read_to_string(dir.join("log/graph.svg")).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("97 rows"), "{svg}");

    // The page: status, every stage, the graph, a bar per attempt, no error section entry.
    let page = std::fs::read_to_string(dir.join(report::REPORT)).unwrap();
    assert!(page.contains(r#"<span id="status" class="badge succeeded">succeeded</span>"#));
    for s in &view.stages {
        assert!(
            page.contains(&s.name()),
            "{} missing from the page",
            s.name()
        );
    }
    assert!(page.contains("<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"plan-graph\""));
    assert_eq!(
        page.matches("<rect class=\"bar").count(),
        view.attempts.len()
    );
    assert!(page.contains("No attempt failed."));
    // Every attempt succeeded at once: its story is in its worker's attempts log, which
    // the page links, and no task has a log of its own.
    for a in &view.attempts {
        let log = view.attempt_log(a).expect("every attempt has a log");
        assert!(log.starts_with("log/attempts-"), "{log}");
        let text = std::fs::read_to_string(dir.join(&log)).unwrap();
        assert!(
            text.contains(&format!("{} attempt 1", a.task)),
            "{} not in {log}",
            a.task
        );
        let href = format!("href=\"{}\"", log.trim_start_matches("log/"));
        assert!(page.contains(&href), "{href} not on the page");
    }
    let task_logs = std::fs::read_dir(dir.join("log"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with("task-")
        })
        .count();
    assert_eq!(task_logs, 0);

    let status = report::status_text(&view);
    assert!(status.contains("status    succeeded"), "{status}");
    assert!(status.contains(&format!("{}/4 tasks", 4)), "{status}");
}

fn session(fx: &Fixture, id: &str, fault: f64, attempts: u32) -> Session {
    Session::builder()
        .data_root(fx.path("root"))
        .job_id(id)
        .num_executors(2)
        .fault_inject_prob(fault)
        .max_attempts(attempts)
        .build()
        .unwrap()
}

#[test]
fn retries_are_bars_of_their_own_and_a_failure_is_named_with_its_log() {
    let fx = Fixture::new();
    let input = fx.parquet("t", TABLE, 4);
    // Injected faults, all retried: the failed attempts are on the timeline and the page.
    let sp = session(&fx, "retried", 0.5, 40);
    let df = sp
        .read_parquet(&[&input])
        .unwrap()
        .repartition(16, Partitioning::hash(&["k"]))
        .unwrap();
    let df = sp.partial_sql("SELECT k, v FROM {0}", &[&df]).unwrap();
    assert_eq!(df.count().unwrap(), 10_000);
    let dir = sp.job_dir().to_path_buf();
    sp.shutdown().unwrap();
    let view = JobView::read(&dir).unwrap();
    assert_eq!(view.state, JobState::Succeeded);
    let retried = view
        .attempts
        .iter()
        .filter(|a| {
            matches!(
                a.outcome,
                Outcome::Failed {
                    will_retry: true,
                    ..
                }
            )
        })
        .count();
    assert!(
        retried > 0,
        "p=0.5 over {} tasks failed none",
        view.attempts.len()
    );
    let trace = trace(&dir);
    let failed_bars = bars(&trace)
        .into_iter()
        .filter(|b| b["args"]["outcome"] == "failed, retried")
        .count();
    assert_eq!(failed_bars, retried);
    let page = std::fs::read_to_string(dir.join(report::REPORT)).unwrap();
    assert!(page.contains(&format!("<h2>Errors ({retried})</h2>")));
    assert_eq!(page.matches("— retried · log:").count(), retried);
    let failed: usize = view.stages.iter().map(|s| s.failed_attempts).sum();
    assert_eq!(failed, retried);

    // A task that fails for good: the job's status names it, its error and its log.
    let sp = session(&fx, "failing", 0.0, 1);
    let df = sp.read_parquet(&[&input]).unwrap();
    let bad = sp
        .partial_sql(
            "SELECT k, v FROM {0} WHERE error('boom at ' || k) IS NULL",
            &[&df],
        )
        .unwrap();
    assert!(bad.count().is_err());
    let dir = sp.job_dir().to_path_buf();
    // Before shutdown: the session has written the failure.
    let view = JobView::read(&dir).unwrap();
    assert_eq!(view.state, JobState::Failed);
    let failure = view.failure().expect("the failing attempt");
    let Outcome::Failed { error, .. } = &failure.outcome else {
        unreachable!()
    };
    assert!(error.contains("boom at key-"), "{error}");
    let status = report::status_text(&view);
    assert!(status.contains("status    failed"), "{status}");
    assert!(
        status.contains(&format!("failed    {}", failure.task)),
        "{status}"
    );
    assert!(status.contains("boom at key-"), "{status}");
    assert!(
        status.contains(&format!("log/{}.log", failure.task)),
        "{status}"
    );
    let page = std::fs::read_to_string(dir.join(report::REPORT)).unwrap();
    assert!(page.contains("The job failed:") && page.contains("boom at key-"));
    assert!(page.contains(&format!("href=\"{}.log\"", failure.task)));
    sp.shutdown().unwrap();
    drop(sp);

    // Rerun with the same job id: a new driver, the failure behind it.
    let sp = session(&fx, "failing", 0.0, 1);
    let good = sp.read_parquet(&[&input]).unwrap();
    let good = sp.partial_sql("SELECT k, v FROM {0}", &[&good]).unwrap();
    assert_eq!(good.count().unwrap(), 10_000);
    sp.shutdown().unwrap();
    let view = JobView::read(&dir).unwrap();
    assert_eq!(
        (view.state.clone(), view.earlier_drivers),
        (JobState::Succeeded, 1)
    );
    assert!(view.failure().is_none());
    let hosts: HashSet<&str> = view
        .attempts
        .iter()
        .filter_map(|a| a.host.as_deref())
        .collect();
    assert_eq!(hosts.len(), 1, "{hosts:?}");
}

#[test]
fn a_job_whose_lock_is_free_but_says_running_is_reported_as_died() {
    let fx = Fixture::new();
    let input = fx.parquet("t", TABLE, 1);
    let df = fx.sp.read_parquet(&[&input]).unwrap();
    assert_eq!(
        fx.sp
            .partial_sql("SELECT * FROM {0}", &[&df])
            .unwrap()
            .count()
            .unwrap(),
        10_000
    );
    let dir = fx.sp.job_dir().to_path_buf();
    // The driver holds the job: running.
    assert_eq!(JobView::read(&dir).unwrap().state, JobState::Running);
    let status = report::status_text(&JobView::read(&dir).unwrap());
    assert!(
        status.contains(&format!("pid {}", std::process::id())),
        "{status}"
    );
    fx.sp.shutdown().unwrap();
    // What a killed driver leaves: `running` in the status file and nobody on the lock.
    std::fs::write(dir.join("status"), "running\n").unwrap();
    let view = JobView::read(&dir).unwrap();
    assert!(
        matches!(view.state, JobState::DriverGone(Some(ref h)) if h.contains(&std::process::id().to_string())),
        "{:?}",
        view.state
    );
    let status = report::status_text(&view);
    assert!(
        status.contains("status    died") && status.contains("killed or crashed"),
        "{status}"
    );
    let written = report::write(&dir).unwrap();
    assert_eq!(written.state.word(), "died");
    let page = std::fs::read_to_string(dir.join(report::REPORT)).unwrap();
    assert!(page.contains("is gone without ending the job"));
}
