//! The job's timeline in the Chrome trace-event format (`log/timeline.json`), which
//! Perfetto (ui.perfetto.dev) and `chrome://tracing` open: one process per host, one lane
//! (thread) per worker slot on it, one bar per task attempt — failed ones, retries and
//! speculative copies as such — and a `stages` process with one bar per stage.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::view::{AttemptView, JobView, Outcome};

/// The trace of `view`, as JSON text.
pub fn chrome_trace(view: &JobView) -> String {
    let mut events: Vec<Value> = Vec::new();
    let origin = view.start_us;
    let now = view.end_us();
    let ts = |us: u64| us.saturating_sub(origin);

    events.push(meta("process_name", 0, None, "stages"));
    events.push(
        json!({"name": "process_sort_index", "ph": "M", "pid": 0, "args": {"sort_index": 0}}),
    );
    for (i, stage) in view.stages.iter().enumerate() {
        let Some(start) = stage.first_start_us else {
            continue;
        };
        let tid = i as u64 + 1;
        events.push(meta("thread_name", 0, Some(tid), &stage.name()));
        events.push(json!({
            "name": stage.name(), "cat": "stage", "ph": "X", "pid": 0, "tid": tid,
            "ts": ts(start), "dur": stage.wall_us(now).max(1),
            "args": {
                "tasks": stage.tasks, "done": stage.done, "reused": stage.reused,
                "failed attempts": stage.failed_attempts, "speculative attempts": stage.speculative,
                "rows": stage.rows, "bytes": stage.bytes,
            },
        }));
    }

    for (h, (host, lanes)) in lanes(view).into_iter().enumerate() {
        let pid = h as u64 + 1;
        events.push(meta("process_name", pid, None, &host));
        events.push(json!({"name": "process_sort_index", "ph": "M", "pid": pid, "args": {"sort_index": pid}}));
        for (lane, attempts) in lanes.iter().enumerate() {
            let tid = lane as u64 + 1;
            events.push(meta("thread_name", pid, Some(tid), &format!("slot {tid}")));
            for a in attempts {
                events.push(bar(view, a, pid, tid, ts(a.start_us), now));
            }
        }
    }
    let trace = json!({
        "traceEvents": events,
        "displayTimeUnit": "ms",
        "otherData": {"job_id": view.job_id, "job_dir": view.dir.display().to_string(), "status": view.state.word()},
    });
    serde_json::to_string(&trace).expect("a trace serialises")
}

fn meta(name: &str, pid: u64, tid: Option<u64>, value: &str) -> Value {
    let mut e = json!({"name": name, "ph": "M", "pid": pid, "args": {"name": value}});
    if let Some(tid) = tid {
        e["tid"] = json!(tid);
    }
    e
}

fn bar(view: &JobView, a: &AttemptView, pid: u64, tid: u64, ts: u64, now: u64) -> Value {
    let stage = view
        .stages
        .iter()
        .find(|s| s.node == a.node)
        .map_or_else(|| a.node.to_string(), |s| s.name());
    let mut name = format!("{stage} p{}", a.partition);
    if a.attempt > 1 {
        name.push_str(&format!(" (attempt {})", a.attempt));
    }
    if a.speculative {
        name.push_str(" speculative");
    }
    let mut args = json!({
        "task": a.task.to_string(), "partition": a.partition, "attempt": a.attempt,
        "speculative": a.speculative, "outcome": outcome_word(&a.outcome),
    });
    let colour = match &a.outcome {
        Outcome::Succeeded { rows, bytes } => {
            args["rows"] = json!(rows);
            args["bytes"] = json!(bytes);
            if a.speculative {
                "yellow"
            } else {
                "good"
            }
        }
        Outcome::Failed { error, will_retry } => {
            args["error"] = json!(error.lines().next().unwrap_or_default());
            args["will retry"] = json!(will_retry);
            "terrible"
        }
        Outcome::Abandoned => "grey",
        Outcome::Running => "rail_animation",
    };
    if let Some(worker) = &a.worker {
        args["worker"] = json!(worker);
    }
    json!({
        "name": name, "cat": stage, "ph": "X", "pid": pid, "tid": tid,
        "ts": ts, "dur": a.duration_us(now).max(1), "cname": colour, "args": args,
    })
}

pub fn outcome_word(outcome: &Outcome) -> &'static str {
    match outcome {
        Outcome::Running => "running",
        Outcome::Succeeded { .. } => "succeeded",
        Outcome::Failed {
            will_retry: true, ..
        } => "failed, retried",
        Outcome::Failed { .. } => "failed",
        Outcome::Abandoned => "abandoned",
    }
}

/// Attempts per host, packed into lanes: an attempt takes the first lane free at its
/// start, so a host shows as many lanes as it ran attempts at once. An attempt whose host
/// is unknown (it failed, or never reported) goes to the driver's host when every known
/// attempt ran there (the embedded pool), else to "unknown host".
pub fn lanes(view: &JobView) -> BTreeMap<String, Vec<Vec<&AttemptView>>> {
    let mut hosts: Vec<&str> = view
        .attempts
        .iter()
        .filter_map(|a| a.host.as_deref())
        .collect();
    hosts.sort_unstable();
    hosts.dedup();
    let fallback = match hosts.as_slice() {
        [] => view.host.clone(),
        [one] if *one == view.host => view.host.clone(),
        _ => "unknown host".to_string(),
    };
    let mut by_host: BTreeMap<String, Vec<&AttemptView>> = BTreeMap::new();
    for a in &view.attempts {
        let host = a.host.clone().unwrap_or_else(|| fallback.clone());
        by_host.entry(host).or_default().push(a);
    }
    let now = view.end_us();
    by_host
        .into_iter()
        .map(|(host, mut attempts)| {
            attempts.sort_by_key(|a| (a.start_us, a.task, a.attempt));
            let mut lanes: Vec<Vec<&AttemptView>> = Vec::new();
            let mut free_at: Vec<u64> = Vec::new();
            for a in attempts {
                let end = a.start_us + a.duration_us(now);
                match free_at.iter().position(|&t| t <= a.start_us) {
                    Some(i) => {
                        free_at[i] = end;
                        lanes[i].push(a);
                    }
                    None => {
                        free_at.push(end);
                        lanes.push(vec![a]);
                    }
                }
            }
            (host, lanes)
        })
        .collect()
}
