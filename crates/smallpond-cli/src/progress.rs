//! Progress display driven by scheduler events.
//!
//! On a terminal: a header line whose clock runs from the first second, and one bar per
//! stage that has started (tasks done/total, that stage's rows and bytes, elapsed, ETA once
//! it has finished tasks); a finished stage's bar stays as a line. Elsewhere: a plain line
//! per finished stage and per retried failure. A summary line at the end, with the report.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use smallpond::progress::{StageTally, Tally};
use smallpond::report::{bytes, thousands};
use smallpond::Event;

fn message(s: &StageTally) -> String {
    let mut m = format!("{} rows  {}", thousands(s.rows), bytes(s.bytes));
    if s.reused > 0 {
        m.push_str(&format!("  {} reused", s.reused));
    }
    if s.failed > 0 {
        m.push_str(&format!("  {} failed attempts", s.failed));
    }
    if let Some(eta) = s.eta() {
        m.push_str(&format!("  ETA {:.0}s", eta.as_secs_f64().ceil()));
    }
    m
}

pub struct Progress {
    quiet: bool,
    terminal: bool,
    multi: Option<MultiProgress>,
    header: Option<ProgressBar>,
    tally: Tally,
    /// One bar per stage that has started (terminal only), by stage index.
    bars: Vec<Option<ProgressBar>>,
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
            tally: Tally::default(),
            bars: Vec::new(),
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

    /// Stage `i`'s bar, made when it starts.
    fn bar(&mut self, i: usize) -> Option<&ProgressBar> {
        let multi = self.multi.as_ref()?;
        let stage = &self.tally.stages[i];
        Some(self.bars[i].get_or_insert_with(|| {
            let bar = multi.add(ProgressBar::new(stage.tasks as u64));
            bar.set_style(
                ProgressStyle::with_template(
                    "  {prefix:26} {bar:20} {pos}/{len} tasks  {elapsed:>4}  {msg}",
                )
                .expect("valid template"),
            );
            bar.set_prefix(stage.name.clone());
            bar
        }))
    }

    pub fn handle(&mut self, event: &Event) {
        if self.quiet {
            return;
        }
        let touched = self.tally.count(event);
        match event {
            Event::JobStarted { stages } => {
                self.start = Instant::now();
                self.bars = vec![None; stages.len()];
                let total = self.tally.tasks();
                if self.terminal && total > 0 {
                    let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
                    let header = multi.add(ProgressBar::new(total as u64));
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
            Event::TaskFailed {
                task,
                attempt,
                error,
                will_retry,
                ..
            } => {
                // A failure for good ends the job, whose error says it (once).
                if *will_retry {
                    let line = format!(
                        "{task} attempt {attempt} failed (will retry): {}",
                        error.message.lines().next().unwrap_or_default()
                    );
                    self.println(line);
                }
            }
            Event::TaskSpeculated { task, attempt, .. } => {
                let line = format!("{task} is a straggler: speculative attempt {attempt} started");
                self.println(line);
            }
            Event::JobFinished { ok } => {
                if let Some(header) = self.header.take() {
                    header.finish_and_clear();
                }
                self.multi = None;
                self.bars.clear();
                let mut line = format!(
                    "{}: {} stages, {}/{} tasks",
                    if *ok { "done" } else { "FAILED" },
                    self.tally.stages.len(),
                    self.tally.finished,
                    self.tally.tasks()
                );
                let failed = self.tally.failed();
                if failed > 0 {
                    line.push_str(&format!(", {failed} failed attempts"));
                }
                line.push_str(&format!(" in {:.2}s", self.start.elapsed().as_secs_f64()));
                if let Some(report) = &self.report {
                    line.push_str(&format!("; report: {}", report.display()));
                }
                eprintln!("{line}");
                return;
            }
            Event::TaskStarted { .. } | Event::TaskFinished { .. } => {}
        }
        if let Some(header) = &self.header {
            header.set_position(self.tally.finished as u64);
        }
        let Some((i, finished)) = touched else {
            return;
        };
        let msg = message(&self.tally.stages[i]);
        let done = self.tally.stages[i].done as u64;
        if self.multi.is_some() {
            if let Some(bar) = self.bar(i) {
                bar.set_position(done);
                bar.set_message(msg);
                if finished {
                    bar.finish();
                }
            }
        } else if finished {
            let s = &self.tally.stages[i];
            eprintln!(
                "[{:>7.2}s] {} done: {} task(s) in {:.2}s, {msg}; {} tasks of {} finished{}",
                self.start.elapsed().as_secs_f64(),
                s.name,
                s.tasks,
                s.elapsed().unwrap_or_default().as_secs_f64(),
                self.tally.finished,
                self.tally.tasks(),
                if s.reused > 0 {
                    format!(" ({} reused from an earlier run)", s.reused)
                } else {
                    String::new()
                }
            );
        }
    }
}
