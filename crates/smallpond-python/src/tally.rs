//! Progress counted in Rust, so that Python hears of a task only when it asks.
//!
//! Calling Python for each scheduler event cost ~20 µs of the driver's CPU per event inside
//! a job (a GIL round trip and a dict), two events per task. The events update a
//! [`smallpond::progress::Tally`] instead; Python is called for the events a display needs
//! at once (a job starting or ending, a failed or speculative attempt, a finished stage) and
//! reads the counts with `_core.Session.progress()` when it redraws. When the callback
//! answers the job's start with `True` (the `smallpond` logger logs at debug), it gets
//! every task's events too.

use std::sync::{Arc, Mutex};

use smallpond::progress::{StageTally, Tally};
use smallpond::Event;

/// A stage as Python sees it: `(node, kind, tasks, done, reused, running, failed, rows,
/// bytes, elapsed seconds or None before it started, ETA seconds or None)`.
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
    Option<f64>,
);

pub fn row(s: &StageTally) -> StageRow {
    (
        s.node,
        s.kind.clone(),
        s.tasks,
        s.done,
        s.reused,
        s.running,
        s.failed,
        s.rows,
        s.bytes,
        s.elapsed().map(|d| d.as_secs_f64()),
        s.eta().map(|d| d.as_secs_f64()),
    )
}

#[derive(Default)]
pub struct Counts {
    pub tally: Tally,
    /// The callback asked for every task's events in this job.
    pub every_task: bool,
}

/// What the callback is told about an event.
pub enum Tell {
    Nothing,
    Event,
    /// The event too (or not), then the stage it finished.
    EventAndStage(bool, StageRow),
}

pub type Shared = Arc<Mutex<Counts>>;

impl Counts {
    /// Counts `event`; says what Python must hear of it.
    pub fn count(&mut self, event: &Event) -> Tell {
        let touched = self.tally.count(event);
        match (event, touched) {
            (Event::JobStarted { .. }, _) => {
                self.every_task = false;
                Tell::Event
            }
            (Event::TaskFinished { .. }, Some((i, true))) => {
                Tell::EventAndStage(self.every_task, row(&self.tally.stages[i]))
            }
            (Event::TaskStarted { .. } | Event::TaskFinished { .. }, _) if !self.every_task => {
                Tell::Nothing
            }
            _ => Tell::Event,
        }
    }

    pub fn rows(&self) -> Vec<StageRow> {
        self.tally.stages.iter().map(row).collect()
    }
}
