//! `smallpond status`: a job, or the last jobs of a data root, as text.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::format::{bytes, seconds, thousands, utc_time};
use super::view::{JobState, JobView, Outcome};
use crate::error::{io, Result};

/// The job directories under `data_root` (those with a status file), newest first: by the
/// start time their names begin with (to the second), then by when they were created.
pub fn job_dirs(data_root: &Path) -> Result<Vec<PathBuf>> {
    let mut dirs: Vec<(String, std::time::SystemTime, PathBuf)> = std::fs::read_dir(data_root)
        .map_err(io(data_root))?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.join("status").is_file())
        .map(|p| {
            let name = p
                .file_name()
                .map_or(String::new(), |n| n.to_string_lossy().into_owned());
            let time = name.split('.').next().unwrap_or_default().to_string();
            let created = std::fs::metadata(&p)
                .and_then(|m| m.created().or_else(|_| m.modified()))
                .unwrap_or(std::time::UNIX_EPOCH);
            (time, created, p)
        })
        .collect();
    dirs.sort();
    Ok(dirs.into_iter().rev().map(|(_, _, p)| p).collect())
}

/// One line for a job in a list.
pub fn list_line(view: &JobView) -> String {
    let tasks: usize = view.stages.iter().map(|s| s.tasks).sum();
    let done: usize = view.stages.iter().map(|s| s.done).sum();
    let name = view
        .dir
        .file_name()
        .map_or(String::new(), |n| n.to_string_lossy().into_owned());
    let mut line = format!(
        "{name:<44} {:<10} {:>9} {:>15}",
        view.state.word(),
        seconds(view.elapsed_us()),
        format!("{done}/{tasks} tasks"),
    );
    if let Some(error) = view.run_error().filter(|_| view.state != JobState::Running) {
        let _ = write!(line, "  {}", error.lines().next().unwrap_or_default());
    }
    line
}

/// The whole status of one job.
pub fn status_text(view: &JobView) -> String {
    let mut out = String::new();
    let now = view.end_us();
    let _ = writeln!(out, "job       {}", view.dir.display());
    let _ = write!(
        out,
        "status    {}  (started {}, elapsed {}",
        view.state.word(),
        utc_time(view.start_us),
        seconds(view.elapsed_us())
    );
    match &view.state {
        JobState::Running => {
            let _ = write!(out, ", driver pid {} on {}", view.pid, view.host);
        }
        JobState::DriverGone(holder) => {
            let _ = write!(
                out,
                "; its driver ({}) is gone without ending it: killed or crashed. Run it again with the same job id to resume",
                holder.as_deref().unwrap_or("unknown")
            );
        }
        _ => {}
    }
    if view.earlier_drivers > 0 {
        let _ = write!(
            out,
            "; resumed after {} earlier driver(s)",
            view.earlier_drivers
        );
    }
    out.push_str(")\n");
    if view.stages.is_empty() {
        out.push_str("stages    none ran yet\n");
    }
    for (i, s) in view.stages.iter().enumerate() {
        let label = if i == 0 { "stages" } else { "" };
        let _ = write!(
            out,
            "{label:<9} {:<28} {:>15}  {:>14} rows  {:>9}  {:>8}",
            s.name(),
            format!("{}/{} tasks", s.done, s.tasks),
            thousands(s.rows),
            bytes(s.bytes),
            seconds(s.wall_us(now))
        );
        if s.reused > 0 {
            let _ = write!(out, "  {} reused", s.reused);
        }
        if s.running > 0 {
            let _ = write!(out, "  {} running", s.running);
            let elapsed = std::time::Duration::from_micros(s.wall_us(now));
            if let Some(eta) = crate::progress::eta(elapsed, s.tasks, s.done, s.reused) {
                let _ = write!(out, "  ETA {}", seconds(eta.as_micros() as u64));
            }
        }
        if s.failed_attempts > 0 {
            let _ = write!(out, "  {} failed attempt(s)", s.failed_attempts);
        }
        out.push('\n');
    }
    if let Some(a) = view.failure() {
        if let Outcome::Failed { error, .. } = &a.outcome {
            let stage = view.stage_name(a.node);
            let _ = writeln!(
                out,
                "failed    {} ({stage}, partition {}, attempt {})",
                a.task, a.partition, a.attempt
            );
            for line in error.lines().take(12) {
                let _ = writeln!(out, "          {line}");
            }
            if let Some(log) = view.task_log(a.task) {
                let _ = writeln!(out, "          log: {}", view.dir.join(log).display());
            }
        }
    } else if let Some(error) = view.run_error() {
        for (i, line) in error.lines().take(12).enumerate() {
            let _ = writeln!(out, "{:<9} {line}", if i == 0 { "error" } else { "" });
        }
    }
    let report = view.dir.join(super::REPORT);
    if report.exists() {
        let _ = writeln!(out, "report    {}", report.display());
    }
    out
}
