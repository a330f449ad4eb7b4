//! Progress counted in Rust, so that Python hears of a task only when it asks.
//!
//! Calling Python for each scheduler event cost ~20 µs of the driver's CPU per event inside
//! a job (a GIL round trip and a dict), two events per task. The scheduler's events update
//! a [`Tally`] here instead; Python is called for the events a display needs at once (a job
//! starting or ending, a failed or speculative attempt, a finished stage) and reads the
//! counts with `_core.Session.progress()` when it redraws. When the callback answers the job's
//! start with `True` (the `smallpond` logger logs at debug), it gets every task's events too.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use smallpond::Event;

pub struct StageTally {
    pub node: u32,
    pub kind: String,
    pub tasks: usize,
    pub done: usize,
    pub reused: usize,
    pub running: usize,
    pub failed: usize,
    pub rows: u64,
    pub bytes: u64,
    start: Option<Instant>,
    end: Option<Instant>,
}

/// A stage as Python sees it: `(node, kind, tasks, done, reused, running, failed, rows,
/// bytes, elapsed seconds or None before it started)`.
pub type StageRow = (
    u32,
    String,
    usize,
    usize,
    usize,
    usize,
    usize,
    u64,
    u64,
    Option<f64>,
);

impl StageTally {
    pub fn row(&self) -> StageRow {
        let elapsed = self.start.map(|s| {
            self.end
                .unwrap_or_else(Instant::now)
                .duration_since(s)
                .as_secs_f64()
        });
        (
            self.node,
            self.kind.clone(),
            self.tasks,
            self.done,
            self.reused,
            self.running,
            self.failed,
            self.rows,
            self.bytes,
            elapsed,
        )
    }
}

#[derive(Default)]
pub struct Tally {
    pub stages: Vec<StageTally>,
    index: HashMap<u32, usize>,
    /// The callback asked for every task's events in this job.
    pub every_task: bool,
}

/// What the callback is told about an event, if anything.
pub enum Tell {
    Nothing,
    Event,
    /// The event, then the stage it finished (its row).
    EventAndStage(bool, StageRow),
}

pub type Shared = Arc<Mutex<Tally>>;

impl Tally {
    /// Counts `event`; says what Python must hear of it.
    pub fn count(&mut self, event: &Event) -> Tell {
        let now = Instant::now();
        let stage = |t: &mut Tally, node: u32| t.index.get(&node).copied();
        match event {
            Event::JobStarted { stages } => {
                self.every_task = false;
                self.index = stages
                    .iter()
                    .enumerate()
                    .map(|(i, s)| (s.node.0, i))
                    .collect();
                self.stages = stages
                    .iter()
                    .map(|s| StageTally {
                        node: s.node.0,
                        kind: s.node_kind.clone(),
                        tasks: s.tasks,
                        done: 0,
                        reused: 0,
                        running: 0,
                        failed: 0,
                        rows: 0,
                        bytes: 0,
                        start: None,
                        end: None,
                    })
                    .collect();
                Tell::Event
            }
            Event::TaskStarted { node, .. } | Event::TaskSpeculated { node, .. } => {
                if let Some(i) = stage(self, node.0) {
                    let s = &mut self.stages[i];
                    s.running += 1;
                    s.start.get_or_insert(now);
                }
                match event {
                    Event::TaskSpeculated { .. } => Tell::Event,
                    _ if self.every_task => Tell::Event,
                    _ => Tell::Nothing,
                }
            }
            Event::TaskFinished {
                node,
                rows,
                bytes,
                reused,
                ..
            } => {
                let Some(i) = stage(self, node.0) else {
                    return Tell::Nothing;
                };
                let s = &mut self.stages[i];
                s.done += 1;
                s.rows += rows;
                s.bytes += bytes;
                if *reused {
                    s.reused += 1;
                } else {
                    s.running = s.running.saturating_sub(1);
                }
                s.start.get_or_insert(now);
                if s.done == s.tasks {
                    s.end = Some(now);
                    return Tell::EventAndStage(self.every_task, s.row());
                }
                if self.every_task {
                    Tell::Event
                } else {
                    Tell::Nothing
                }
            }
            Event::TaskFailed { node, .. } => {
                if let Some(i) = stage(self, node.0) {
                    let s = &mut self.stages[i];
                    s.failed += 1;
                    s.running = s.running.saturating_sub(1);
                }
                Tell::Event
            }
            Event::JobFinished { .. } => {
                for s in &mut self.stages {
                    s.running = 0;
                    if s.start.is_some() {
                        s.end.get_or_insert(now);
                    }
                }
                Tell::Event
            }
        }
    }

    pub fn rows(&self) -> Vec<StageRow> {
        self.stages.iter().map(StageTally::row).collect()
    }
}
