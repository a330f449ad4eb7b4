//! The job's journal, `log/events.jsonl`: one JSON line per scheduler event, stamped with
//! the driver's clock, appended as it happens (so that `smallpond status` sees a running
//! job, and a job whose driver died keeps what it did up to then). A resumed job appends
//! to the same file: a `driver` line starts each driver's part.

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use smallpond_core::{NodeId, TaskId};
use smallpond_exec::Event;

use crate::error::{io, Result};

/// One line of the journal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Entry {
    /// A driver opened the job (the first, or one resuming it).
    Driver {
        at_us: u64,
        job_id: String,
        pid: u32,
        host: String,
    },
    /// An action started running tasks: the stages it runs.
    RunStarted {
        at_us: u64,
        run: u32,
        stages: Vec<StageEntry>,
    },
    Started {
        at_us: u64,
        run: u32,
        task: TaskId,
        node: NodeId,
        partition: u32,
        attempt: u32,
        speculative: bool,
    },
    Finished {
        at_us: u64,
        run: u32,
        task: TaskId,
        node: NodeId,
        attempt: u32,
        rows: u64,
        bytes: u64,
        /// Taken from a record of an earlier run: nothing ran.
        reused: bool,
        host: String,
        worker: String,
    },
    Failed {
        at_us: u64,
        run: u32,
        task: TaskId,
        node: NodeId,
        attempt: u32,
        error: String,
        will_retry: bool,
    },
    /// The action ended: `success`, `failure` or `cancelled`, with the job's error.
    RunEnded {
        at_us: u64,
        run: u32,
        status: String,
        error: Option<String>,
    },
}

/// A stage of a run: a node's tasks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageEntry {
    pub node: NodeId,
    pub kind: String,
    pub tasks: usize,
}

/// Now, in microseconds since the Unix epoch.
pub fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

/// Appends entries to a job's journal.
pub(crate) struct Journal {
    path: PathBuf,
    file: File,
    run: u32,
    /// A line that could not be written: said once, then the journal stays quiet (a job
    /// does not fail because its journal cannot be written).
    broken: bool,
    /// Time spent writing it (its cost to the job, logged at shutdown).
    pub spent: std::time::Duration,
}

impl Journal {
    pub fn path(log_dir: &Path) -> PathBuf {
        log_dir.join("events.jsonl")
    }

    /// Opens (or creates) the journal of the job whose log directory is `log_dir`, and
    /// records this driver.
    pub fn open(log_dir: &Path, job_id: &str) -> Result<Self> {
        let path = Self::path(log_dir);
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(io(&path))?;
        let mut journal = Self {
            path,
            file,
            run: 0,
            broken: false,
            spent: std::time::Duration::ZERO,
        };
        journal.append(&Entry::Driver {
            at_us: now_us(),
            job_id: job_id.to_string(),
            pid: std::process::id(),
            host: smallpond_core::job::hostname(),
        });
        Ok(journal)
    }

    /// Records an event of run `run`.
    pub fn record(&mut self, run: u32, event: &Event) {
        self.run = run;
        let at_us = now_us();
        let entry = match event {
            Event::JobStarted { stages } => Entry::RunStarted {
                at_us,
                run,
                stages: stages
                    .iter()
                    .map(|s| StageEntry {
                        node: s.node,
                        kind: s.node_kind.clone(),
                        tasks: s.tasks,
                    })
                    .collect(),
            },
            Event::TaskStarted {
                task,
                node,
                partition,
                attempt,
            }
            | Event::TaskSpeculated {
                task,
                node,
                partition,
                attempt,
            } => Entry::Started {
                at_us,
                run,
                task: *task,
                node: *node,
                partition: *partition,
                attempt: *attempt,
                speculative: matches!(event, Event::TaskSpeculated { .. }),
            },
            Event::TaskFinished {
                task,
                node,
                attempt,
                rows,
                bytes,
                reused,
                host,
                worker,
            } => Entry::Finished {
                at_us,
                run,
                task: *task,
                node: *node,
                attempt: *attempt,
                rows: *rows,
                bytes: *bytes,
                reused: *reused,
                host: host.clone(),
                worker: worker.clone(),
            },
            Event::TaskFailed {
                task,
                node,
                attempt,
                error,
                will_retry,
            } => Entry::Failed {
                at_us,
                run,
                task: *task,
                node: *node,
                attempt: *attempt,
                error: error.to_string(),
                will_retry: *will_retry,
            },
            // The session says how the run ended, with its error: `run_ended`.
            Event::JobFinished { .. } => return,
        };
        self.append(&entry);
    }

    /// Records the end of the current run.
    pub fn run_ended(&mut self, status: smallpond_core::job::JobStatus, error: Option<String>) {
        let entry = Entry::RunEnded {
            at_us: now_us(),
            run: self.run,
            status: status.to_string(),
            error,
        };
        self.append(&entry);
    }

    fn append(&mut self, entry: &Entry) {
        if self.broken {
            return;
        }
        let start = std::time::Instant::now();
        let mut line = serde_json::to_vec(entry).expect("journal entries serialise");
        line.push(b'\n');
        // One write per line (an O_APPEND write lands whole), unbuffered: a reader sees
        // each event as soon as it happened.
        if let Err(e) = self.file.write_all(&line) {
            self.broken = true;
            tracing::warn!(
                "{}: cannot write the job's journal: {e}",
                self.path.display()
            );
        }
        self.spent += start.elapsed();
    }
}

/// Reads a journal. A line that does not parse (the last one, cut by a crash mid-write) is
/// skipped.
pub fn read(path: &Path) -> Result<Vec<Entry>> {
    let file = File::open(path).map_err(io(path))?;
    let mut entries = Vec::new();
    for line in BufReader::new(file).lines() {
        let line = line.map_err(io(path))?;
        if let Ok(entry) = serde_json::from_str(&line) {
            entries.push(entry);
        }
    }
    Ok(entries)
}
