//! Progress counted from the scheduler's events: each stage's tasks, rows, bytes, failures
//! and time, for the displays (the CLI's bars, the Python package's lines, table and
//! `_core.Session.progress()`), so that each does not count them again.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::Event;

/// One stage (a node's tasks) of the running job.
#[derive(Debug, Clone)]
pub struct StageTally {
    pub node: u32,
    /// `node-3 SqlEngine`
    pub name: String,
    pub kind: String,
    pub tasks: usize,
    pub done: usize,
    /// Of `done`, taken from an earlier run's records.
    pub reused: usize,
    pub running: usize,
    pub failed: usize,
    pub rows: u64,
    pub bytes: u64,
    pub start: Option<Instant>,
    pub end: Option<Instant>,
}

impl StageTally {
    /// From its first task's start to its last one's end, or to now.
    pub fn elapsed(&self) -> Option<Duration> {
        let start = self.start?;
        Some(self.end.unwrap_or_else(Instant::now).duration_since(start))
    }

    /// When it should end (see [`eta`]).
    pub fn eta(&self) -> Option<Duration> {
        eta(self.elapsed()?, self.tasks, self.done, self.reused)
    }
}

/// How long a stage that ran for `elapsed` still needs, at the pace of the tasks it ran
/// itself (reused ones took no time); None before it ran one, or once it is done.
pub fn eta(elapsed: Duration, tasks: usize, done: usize, reused: usize) -> Option<Duration> {
    let ran = done.checked_sub(reused).filter(|&n| n > 0)?;
    let left = tasks.checked_sub(done).filter(|&n| n > 0)?;
    Some(elapsed.mul_f64(left as f64 / ran as f64))
}

/// The stages of the running (or last) job.
#[derive(Debug, Default)]
pub struct Tally {
    pub stages: Vec<StageTally>,
    index: HashMap<u32, usize>,
    /// Tasks finished in this job, of every stage.
    pub finished: usize,
}

impl Tally {
    /// Counts `event`. Returns the index of the stage it touched, and whether that stage just
    /// finished.
    pub fn count(&mut self, event: &Event) -> Option<(usize, bool)> {
        let now = Instant::now();
        match event {
            Event::JobStarted { stages } => {
                self.finished = 0;
                self.index = stages
                    .iter()
                    .enumerate()
                    .map(|(i, s)| (s.node.0, i))
                    .collect();
                self.stages = stages
                    .iter()
                    .map(|s| StageTally {
                        node: s.node.0,
                        name: format!("{} {}", s.node, s.node_kind),
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
                None
            }
            Event::TaskStarted { node, .. } | Event::TaskSpeculated { node, .. } => {
                let i = *self.index.get(&node.0)?;
                let s = &mut self.stages[i];
                s.running += 1;
                s.start.get_or_insert(now);
                Some((i, false))
            }
            Event::TaskFinished {
                node,
                rows,
                bytes,
                reused,
                ..
            } => {
                self.finished += 1;
                let i = *self.index.get(&node.0)?;
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
                let finished = s.done == s.tasks;
                if finished {
                    s.end = Some(now);
                }
                Some((i, finished))
            }
            Event::TaskFailed { node, .. } => {
                let i = *self.index.get(&node.0)?;
                let s = &mut self.stages[i];
                s.failed += 1;
                s.running = s.running.saturating_sub(1);
                Some((i, false))
            }
            Event::JobFinished { .. } => {
                for s in &mut self.stages {
                    s.running = 0;
                    if s.start.is_some() {
                        s.end.get_or_insert(now);
                    }
                }
                None
            }
        }
    }

    pub fn tasks(&self) -> usize {
        self.stages.iter().map(|s| s.tasks).sum()
    }

    pub fn failed(&self) -> usize {
        self.stages.iter().map(|s| s.failed).sum()
    }
}
