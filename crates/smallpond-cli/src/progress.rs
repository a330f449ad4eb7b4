//! Progress display driven by scheduler events.
//!
//! On a terminal: a header line whose clock runs from the first second, and one bar per
//! stage that has started (tasks done/total, that stage's rows and bytes, elapsed, ETA once
//! it has finished tasks); a finished stage's bar stays as a line. Elsewhere: a plain line
//! per finished stage and per retried failure. A summary line at the end, with the report.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use smallpond::report::{bytes, thousands};
use smallpond::Event;

struct Stage {
    name: String,
    tasks: usize,
    done: usize,
    reused: usize,
    failed: usize,
    rows: u64,
    bytes: u64,
    start: Option<Instant>,
    bar: Option<ProgressBar>,
}

impl Stage {
    fn eta(&self) -> Option<Duration> {
        let ran = self.done.checked_sub(self.reused).filter(|&n| n > 0)?;
        let left = self.tasks.checked_sub(self.done).filter(|&n| n > 0)?;
        Some(self.start?.elapsed() / ran as u32 * left as u32)
    }

    fn message(&self) -> String {
        let mut m = format!("{} rows  {}", thousands(self.rows), bytes(self.bytes));
        if self.reused > 0 {
            m.push_str(&format!("  {} reused", self.reused));
        }
        if self.failed > 0 {
            m.push_str(&format!("  {} failed attempts", self.failed));
        }
        if let Some(eta) = self.eta() {
            m.push_str(&format!("  ETA {:.0}s", eta.as_secs_f64().ceil()));
        }
        m
    }
}

pub struct Progress {
    quiet: bool,
    terminal: bool,
    multi: Option<MultiProgress>,
    header: Option<ProgressBar>,
    stages: Vec<Stage>,
    index: HashMap<u32, usize>,
    finished: usize,
    total: usize,
    start: Instant,
    /// The job's report page, named in the summary.
    pub report: Option<PathBuf>,
}

impl Progress {
    pub fn new(quiet: bool) -> Self {
        Self {
            quiet,
            terminal: std::io::stderr().is_terminal(),
            multi: None,
            header: None,
            stages: Vec::new(),
            index: HashMap::new(),
            finished: 0,
            total: 0,
            start: Instant::now(),
            report: None,
        }
    }

    /// A line above the bars, or on its own without them.
    fn println(&self, line: String) {
        match &self.multi {
            Some(multi) => {
                let _ = multi.println(line);
            }
            None => eprintln!("{line}"),
        }
    }

    fn started(&mut self, i: usize) {
        let stage = &mut self.stages[i];
        if stage.start.is_none() {
            stage.start = Some(Instant::now());
        }
        if stage.bar.is_some() {
            return;
        }
        if let Some(multi) = &self.multi {
            let bar = multi.add(ProgressBar::new(stage.tasks as u64));
            bar.set_style(
                ProgressStyle::with_template(
                    "  {prefix:26} {bar:20} {pos}/{len} tasks  {elapsed:>4}  {msg}",
                )
                .expect("valid template"),
            );
            bar.set_prefix(stage.name.clone());
            bar.set_message(stage.message());
            stage.bar = Some(bar);
        }
    }

    pub fn handle(&mut self, event: &Event) {
        if self.quiet {
            return;
        }
        match event {
            Event::JobStarted { stages } => {
                self.start = Instant::now();
                self.total = stages.iter().map(|s| s.tasks).sum();
                self.finished = 0;
                self.index = stages
                    .iter()
                    .enumerate()
                    .map(|(i, s)| (s.node.0, i))
                    .collect();
                self.stages = stages
                    .iter()
                    .map(|s| Stage {
                        name: format!("{} {}", s.node, s.node_kind),
                        tasks: s.tasks,
                        done: 0,
                        reused: 0,
                        failed: 0,
                        rows: 0,
                        bytes: 0,
                        start: None,
                        bar: None,
                    })
                    .collect();
                if self.terminal && self.total > 0 {
                    let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
                    let header = multi.add(ProgressBar::new(self.total as u64));
                    header.set_style(
                        ProgressStyle::with_template(
                            "{spinner} [{elapsed_precise}] {pos}/{len} tasks in {msg}",
                        )
                        .expect("valid template"),
                    );
                    header.set_message(format!("{} stages", stages.len()));
                    // The clock runs between events.
                    header.enable_steady_tick(Duration::from_millis(200));
                    self.header = Some(header);
                    self.multi = Some(multi);
                }
            }
            Event::TaskStarted { node, .. } | Event::TaskSpeculated { node, .. } => {
                if let Some(&i) = self.index.get(&node.0) {
                    self.started(i);
                }
            }
            Event::TaskFinished {
                node,
                rows,
                bytes,
                reused,
                ..
            } => {
                self.finished += 1;
                if let Some(header) = &self.header {
                    header.set_position(self.finished as u64);
                }
                let Some(&i) = self.index.get(&node.0) else {
                    return;
                };
                self.started(i);
                let stage = &mut self.stages[i];
                stage.done += 1;
                stage.rows += rows;
                stage.bytes += bytes;
                stage.reused += usize::from(*reused);
                let done = stage.done == stage.tasks;
                if let Some(bar) = &stage.bar {
                    bar.set_position(stage.done as u64);
                    bar.set_message(stage.message());
                    if done {
                        bar.finish();
                    }
                }
                if done && self.multi.is_none() {
                    let elapsed = stage.start.map_or(Duration::ZERO, |s| s.elapsed());
                    eprintln!(
                        "[{:>7.2}s] {} done: {} task(s) in {:.2}s, {}; {} tasks of {} finished{}",
                        self.start.elapsed().as_secs_f64(),
                        stage.name,
                        stage.tasks,
                        elapsed.as_secs_f64(),
                        stage.message(),
                        self.finished,
                        self.total,
                        if stage.reused > 0 {
                            format!(" ({} reused from an earlier run)", stage.reused)
                        } else {
                            String::new()
                        }
                    );
                }
            }
            Event::TaskFailed {
                task,
                node,
                attempt,
                error,
                will_retry,
            } => {
                if let Some(&i) = self.index.get(&node.0) {
                    let stage = &mut self.stages[i];
                    stage.failed += 1;
                    if let Some(bar) = &stage.bar {
                        bar.set_message(stage.message());
                    }
                }
                // A failure for good ends the job, whose error says it (once).
                if *will_retry {
                    let line = format!(
                        "{task} attempt {attempt} failed (will retry): {}",
                        error.message.lines().next().unwrap_or_default()
                    );
                    self.println(line);
                }
            }
            Event::JobFinished { ok } => {
                if let Some(header) = self.header.take() {
                    header.finish_and_clear();
                }
                self.multi = None;
                for stage in &mut self.stages {
                    stage.bar = None;
                }
                let failed: usize = self.stages.iter().map(|s| s.failed).sum();
                let mut line = format!(
                    "{}: {} stages, {}/{} tasks",
                    if *ok { "done" } else { "FAILED" },
                    self.stages.len(),
                    self.finished,
                    self.total
                );
                if failed > 0 {
                    line.push_str(&format!(", {failed} failed attempts"));
                }
                line.push_str(&format!(" in {:.2}s", self.start.elapsed().as_secs_f64()));
                if let Some(report) = &self.report {
                    line.push_str(&format!("; report: {}", report.display()));
                }
                eprintln!("{line}");
            }
        }
    }
}
