//! The job's timeline in the Chrome trace-event format (`log/timeline.json`), which
//! Perfetto (ui.perfetto.dev) and `chrome://tracing` open: one process per host, one lane
//! (thread) per worker slot on it, one bar per task attempt — failed ones, retries and
//! speculative copies as such — and a `stages` process with one bar per stage.

use std::collections::BTreeMap;

use serde::Serialize;

use super::view::{pack_lanes, AttemptView, JobView, Outcome};

/// One trace event; written by serde straight from borrowed fields (a `serde_json::Value`
/// per event cost 15 ms for 1,000 attempts).
#[derive(Serialize)]
struct TraceEvent<'a> {
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    cat: Option<&'a str>,
    ph: &'static str,
    pid: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    tid: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ts: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    dur: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cname: Option<&'static str>,
    args: Args<'a>,
}

#[derive(Serialize)]
#[serde(untagged)]
enum Args<'a> {
    Name {
        name: &'a str,
    },
    Sort {
        sort_index: u64,
    },
    Stage {
        tasks: usize,
        done: usize,
        reused: usize,
        #[serde(rename = "failed attempts")]
        failed: usize,
        #[serde(rename = "speculative attempts")]
        speculative: usize,
        rows: u64,
        bytes: u64,
    },
    Attempt {
        task: String,
        partition: u32,
        attempt: u32,
        speculative: bool,
        outcome: &'static str,
        #[serde(skip_serializing_if = "Option::is_none")]
        rows: Option<u64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        bytes: Option<u64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        error: Option<&'a str>,
        #[serde(rename = "will retry", skip_serializing_if = "Option::is_none")]
        will_retry: Option<bool>,
        #[serde(skip_serializing_if = "Option::is_none")]
        worker: Option<&'a str>,
    },
}

impl<'a> TraceEvent<'a> {
    fn meta(name: &'a str, pid: u64, tid: Option<u64>, args: Args<'a>) -> Self {
        TraceEvent {
            name,
            cat: None,
            ph: "M",
            pid,
            tid,
            ts: None,
            dur: None,
            cname: None,
            args,
        }
    }
}

/// The trace of `view`, as JSON text.
pub fn chrome_trace(view: &JobView) -> String {
    let origin = view.start_us;
    let now = view.end_us();
    let ts = |us: u64| Some(us.saturating_sub(origin));
    let mut out = String::with_capacity(256 * (view.attempts.len() + 16));
    let mut first = true;
    let mut push = |out: &mut String, event: &TraceEvent<'_>| {
        if !first {
            out.push_str(",\n");
        }
        first = false;
        out.push_str(&serde_json::to_string(event).expect("trace events serialise"));
    };
    out.push_str("{\"traceEvents\":[\n");
    push(
        &mut out,
        &TraceEvent::meta("process_name", 0, None, Args::Name { name: "stages" }),
    );
    push(
        &mut out,
        &TraceEvent::meta("process_sort_index", 0, None, Args::Sort { sort_index: 0 }),
    );
    let names: Vec<String> = view.stages.iter().map(|s| s.name()).collect();
    let stage_name: std::collections::HashMap<_, &str> = view
        .stages
        .iter()
        .zip(&names)
        .map(|(s, n)| (s.node, n.as_str()))
        .collect();
    for (i, stage) in view.stages.iter().enumerate() {
        let Some(start) = stage.first_start_us else {
            continue;
        };
        let tid = Some(i as u64 + 1);
        push(
            &mut out,
            &TraceEvent::meta("thread_name", 0, tid, Args::Name { name: &names[i] }),
        );
        let bar = TraceEvent {
            name: &names[i],
            cat: Some("stage"),
            ph: "X",
            pid: 0,
            tid,
            ts: ts(start),
            dur: Some(stage.wall_us(now).max(1)),
            cname: None,
            args: Args::Stage {
                tasks: stage.tasks,
                done: stage.done,
                reused: stage.reused,
                failed: stage.failed_attempts,
                speculative: stage.speculative,
                rows: stage.rows,
                bytes: stage.bytes,
            },
        };
        push(&mut out, &bar);
    }
    for (h, (host, lanes)) in lanes(view).into_iter().enumerate() {
        let pid = h as u64 + 1;
        push(
            &mut out,
            &TraceEvent::meta("process_name", pid, None, Args::Name { name: &host }),
        );
        push(
            &mut out,
            &TraceEvent::meta(
                "process_sort_index",
                pid,
                None,
                Args::Sort { sort_index: pid },
            ),
        );
        for (lane, attempts) in lanes.iter().enumerate() {
            let tid = lane as u64 + 1;
            let slot = format!("slot {tid}");
            push(
                &mut out,
                &TraceEvent::meta("thread_name", pid, Some(tid), Args::Name { name: &slot }),
            );
            for a in attempts {
                let stage = stage_name.get(&a.node).copied().unwrap_or("?");
                let name = bar_name(stage, a);
                push(
                    &mut out,
                    &bar(&name, stage, a, pid, tid, ts(a.start_us), now),
                );
            }
        }
    }
    out.push_str("\n],\"displayTimeUnit\":\"ms\",\"otherData\":");
    let other = serde_json::json!({
        "job_id": view.job_id,
        "job_dir": view.dir.display().to_string(),
        "status": view.state.word(),
    });
    out.push_str(&other.to_string());
    out.push_str("}\n");
    out
}

fn bar_name(stage: &str, a: &AttemptView) -> String {
    let mut name = format!("{stage} p{}", a.partition);
    if a.attempt > 1 {
        name.push_str(&format!(" (attempt {})", a.attempt));
    }
    if a.speculative {
        name.push_str(" speculative");
    }
    name
}

fn bar<'a>(
    name: &'a str,
    stage: &'a str,
    a: &'a AttemptView,
    pid: u64,
    tid: u64,
    ts: Option<u64>,
    now: u64,
) -> TraceEvent<'a> {
    let (rows, bytes, error, will_retry) = match &a.outcome {
        Outcome::Succeeded { rows, bytes } => (Some(*rows), Some(*bytes), None, None),
        Outcome::Failed { error, will_retry } => (
            None,
            None,
            Some(error.lines().next().unwrap_or_default()),
            Some(*will_retry),
        ),
        Outcome::Abandoned | Outcome::Running => (None, None, None, None),
    };
    let colour = match &a.outcome {
        Outcome::Succeeded { .. } if a.speculative => "yellow",
        Outcome::Succeeded { .. } => "good",
        Outcome::Failed { .. } => "terrible",
        Outcome::Abandoned => "grey",
        Outcome::Running => "rail_animation",
    };
    TraceEvent {
        name,
        cat: Some(stage),
        ph: "X",
        pid,
        tid: Some(tid),
        ts,
        dur: Some(a.duration_us(now).max(1)),
        cname: Some(colour),
        args: Args::Attempt {
            task: a.task.to_string(),
            partition: a.partition,
            attempt: a.attempt,
            speculative: a.speculative,
            outcome: outcome_word(&a.outcome),
            rows,
            bytes,
            error,
            will_retry,
            worker: a.worker.as_deref(),
        },
    }
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

/// Attempts per host, packed into lanes ([`pack_lanes`]). An attempt whose host
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
        .map(|(host, attempts)| (host, pack_lanes(attempts, now)))
        .collect()
}
