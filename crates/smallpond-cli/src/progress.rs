//! Progress display driven by scheduler events: a bar on a terminal, plain lines
//! otherwise.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use smallpond::{Event, Stage};

pub struct Progress {
    bar: Option<ProgressBar>,
    quiet: bool,
    stages: Vec<Stage>,
    done: HashMap<u32, usize>,
    reused: u64,
    rows: u64,
    total: u64,
    finished: u64,
    start: Instant,
}

impl Progress {
    pub fn new(quiet: bool) -> Self {
        Self {
            bar: None,
            quiet,
            stages: Vec::new(),
            done: HashMap::new(),
            reused: 0,
            rows: 0,
            total: 0,
            finished: 0,
            start: Instant::now(),
        }
    }

    /// A line above the bar, or on its own without one.
    fn println(&self, line: String) {
        match &self.bar {
            Some(bar) => bar.println(line),
            None => eprintln!("{line}"),
        }
    }

    pub fn handle(&mut self, event: &Event) {
        if self.quiet {
            return;
        }
        match event {
            Event::JobStarted { stages } => {
                self.stages = stages.clone();
                self.total = stages.iter().map(|s| s.tasks as u64).sum();
                self.finished = 0;
                self.done.clear();
                if std::io::stderr().is_terminal() && self.total > 0 {
                    let bar = ProgressBar::new(self.total);
                    bar.set_style(
                        ProgressStyle::with_template(
                            "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} tasks  {msg}",
                        )
                        .expect("valid template"),
                    );
                    self.bar = Some(bar);
                }
            }
            Event::TaskFinished {
                node, rows, reused, ..
            } => {
                self.finished += 1;
                self.rows += rows;
                if *reused {
                    self.reused += 1;
                }
                let done = self.done.entry(node.0).or_insert(0);
                *done += 1;
                let done = *done;
                let stage = self.stages.iter().find(|s| s.node == *node);
                match (&self.bar, stage) {
                    (Some(bar), Some(stage)) => {
                        bar.set_position(self.finished);
                        bar.set_message(format!(
                            "{} {}/{}  {} rows",
                            stage.node_kind, done, stage.tasks, self.rows
                        ));
                    }
                    (None, Some(stage)) if done == stage.tasks => eprintln!(
                        "[{:>7.2}s] {} done: {} task(s), {} tasks of {} finished ({} reused from an earlier run)",
                        self.start.elapsed().as_secs_f64(),
                        stage.node_kind,
                        stage.tasks,
                        self.finished,
                        self.total,
                        self.reused
                    ),
                    _ => {}
                }
            }
            // A failure for good ends the job, whose error says it (once).
            Event::TaskFailed {
                task,
                attempt,
                error,
                will_retry: true,
                ..
            } => {
                let line = format!(
                    "{task} attempt {attempt} failed (will retry): {}",
                    error.message.lines().next().unwrap_or_default()
                );
                self.println(line);
            }
            Event::TaskFailed { .. } => {}
            Event::JobFinished { .. } => {
                if let Some(bar) = self.bar.take() {
                    bar.finish_and_clear();
                }
            }
            Event::TaskSpeculated { task, attempt, .. } => {
                let line = format!("{task} is a straggler: speculative attempt {attempt} started");
                self.println(line);
            }
            Event::TaskStarted { .. } => {}
        }
    }
}
