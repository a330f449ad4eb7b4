//! What a job leaves for people to read, under `JOB_DIR/log/`.
//!
//! ```text
//!  scheduler events ──► Journal ──► events.jsonl       appended as they happen
//!  the plan at each run ──────────► graph.json
//!        events.jsonl + graph.json + status + lock ──► JobView ──► timeline.json  (Chrome trace)
//!                                                          ├──────► report.html    (the page)
//!                                                          ├──────► graph.svg, graph.txt
//!                                                          └──────► `smallpond status`
//! ```
//! Everything shown is read back from files of the job directory, so `smallpond status`
//! (and [`write`]) work from any process on a running job, a finished one, or one whose
//! driver was killed. The session writes the files at the end of every run, every
//! [`REFRESH`] while one runs, and when it shuts down.

mod format;
mod graph;
pub(crate) mod html;
pub(crate) mod journal;
mod status;
mod timeline;
mod view;

use std::path::Path;
use std::time::Duration;

pub use format::{bytes, seconds, thousands, utc_time};
pub use graph::{GraphNode, NodeTotals, PlanGraph, Rewrite};
pub use journal::{Entry, StageEntry};
pub use status::{job_dirs, list_line, status_text};
pub use timeline::chrome_trace;
pub use view::{AttemptView, JobState, JobView, Outcome, RunView, StageView};

use crate::error::{io, Result};

/// How often a running job's page and timeline are rewritten.
pub const REFRESH: Duration = Duration::from_secs(30);

/// The files [`write`] produces, relative to the job directory.
pub const REPORT: &str = "log/report.html";
pub const TIMELINE: &str = "log/timeline.json";

/// Reads the job in `dir` and writes its timeline, report page and plan graph images into
/// its `log/` (each file replaced whole: a reader never sees half a page).
pub fn write(dir: &Path) -> Result<JobView> {
    let view = JobView::read(dir)?;
    let log = dir.join("log");
    replace(&log.join("timeline.json"), chrome_trace(&view).as_bytes())?;
    replace(&log.join("report.html"), html::page(&view).as_bytes())?;
    if let Some(graph) = &view.graph {
        let totals = view.node_totals();
        replace(&log.join("graph.svg"), graph.svg(Some(&totals)).as_bytes())?;
        replace(&log.join("graph.txt"), graph.text(Some(&totals)).as_bytes())?;
    }
    Ok(view)
}

/// Writes `bytes` to `path` through a temporary file and a rename.
pub(crate) fn replace(path: &Path, bytes: &[u8]) -> Result<()> {
    // Named after the whole file name: graph.svg and graph.txt must not share one.
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.tmp-{}", std::process::id()));
    std::fs::write(&tmp, bytes).map_err(io(&tmp))?;
    std::fs::rename(&tmp, path).map_err(io(path))
}
