//! A job as its directory tells it: the journal of its latest driver, its status file, its
//! lock and its plan graph, read into one value that the timeline, the report page and
//! `smallpond status` show. Works on a running job, a finished one and one whose driver died.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use smallpond_core::job::{DriverState, JobDirs, JobStatus};
use smallpond_core::{NodeId, TaskId};

use super::graph::{NodeTotals, PlanGraph};
use super::journal::{self, Entry};
use crate::error::Result;

/// Where the job is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobState {
    Running,
    Succeeded,
    Failed,
    Cancelled,
    /// The status says running but no driver holds the job: it was killed or crashed.
    DriverGone(Option<String>),
}

impl JobState {
    pub fn word(&self) -> &'static str {
        match self {
            JobState::Running => "running",
            JobState::Succeeded => "succeeded",
            JobState::Failed => "failed",
            JobState::Cancelled => "cancelled",
            JobState::DriverGone(_) => "died",
        }
    }
}

/// How an attempt ended, as far as the journal knows.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Running,
    Succeeded {
        rows: u64,
        bytes: u64,
    },
    Failed {
        error: String,
        will_retry: bool,
    },
    /// Never reported: another attempt finished its task first, or its run ended (a
    /// cancellation, a failure elsewhere, a driver that died).
    Abandoned,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AttemptView {
    pub run: u32,
    pub task: TaskId,
    pub node: NodeId,
    pub partition: u32,
    pub attempt: u32,
    pub speculative: bool,
    pub start_us: u64,
    /// None while it runs.
    pub end_us: Option<u64>,
    pub outcome: Outcome,
    pub host: Option<String>,
    pub worker: Option<String>,
}

impl AttemptView {
    pub fn duration_us(&self, now_us: u64) -> u64 {
        self.end_us.unwrap_or(now_us).saturating_sub(self.start_us)
    }
}

/// One node's tasks over the runs of the job's latest driver.
#[derive(Debug, Clone, PartialEq)]
pub struct StageView {
    pub node: NodeId,
    pub kind: String,
    pub tasks: usize,
    pub done: usize,
    /// Of `done`, taken from an earlier driver's records.
    pub reused: usize,
    pub running: usize,
    pub failed_attempts: usize,
    pub speculative: usize,
    pub rows: u64,
    pub bytes: u64,
    /// Rows its inputs produced in this job (the plan graph's edges).
    pub rows_in: Option<u64>,
    /// The sum of its succeeded attempts' durations.
    pub busy_us: u64,
    pub first_start_us: Option<u64>,
    pub last_end_us: Option<u64>,
}

impl StageView {
    fn new(node: NodeId, kind: &str) -> Self {
        Self {
            node,
            kind: kind.to_string(),
            tasks: 0,
            done: 0,
            reused: 0,
            running: 0,
            failed_attempts: 0,
            speculative: 0,
            rows: 0,
            bytes: 0,
            rows_in: None,
            busy_us: 0,
            first_start_us: None,
            last_end_us: None,
        }
    }

    /// From its first start to its last end (or now, while it runs).
    pub fn wall_us(&self, now_us: u64) -> u64 {
        let Some(start) = self.first_start_us else {
            return 0;
        };
        let end = if self.running > 0 {
            now_us
        } else {
            self.last_end_us.unwrap_or(start)
        };
        end.saturating_sub(start)
    }

    pub fn name(&self) -> String {
        format!("{} {}", self.node, self.kind)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct RunView {
    pub run: u32,
    pub start_us: u64,
    pub end_us: Option<u64>,
    pub status: Option<String>,
    pub error: Option<String>,
}

#[derive(Debug, Clone)]
pub struct JobView {
    pub dir: PathBuf,
    pub job_id: String,
    pub state: JobState,
    /// The latest driver: when it opened the job, its pid and host.
    pub start_us: u64,
    pub pid: u32,
    pub host: String,
    /// Drivers before it (a resumed job).
    pub earlier_drivers: usize,
    /// The last time the journal heard of the job.
    pub last_us: u64,
    /// Now, when the view was read (the end of what is shown, for a running job).
    pub now_us: u64,
    pub runs: Vec<RunView>,
    pub stages: Vec<StageView>,
    pub attempts: Vec<AttemptView>,
    pub graph: Option<PlanGraph>,
}

impl JobView {
    /// Reads the job in `dir`.
    pub fn read(dir: &Path) -> Result<Self> {
        let dirs = JobDirs::new(dir.to_path_buf());
        // A job of a version before the journal has none: its status alone.
        let path = journal::Journal::path(&dirs.log());
        let entries = if path.exists() {
            journal::read(&path)?
        } else {
            Vec::new()
        };
        let graph = std::fs::read(dirs.log().join("graph.json"))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok());
        let state = match (dirs.status(), dirs.driver()) {
            (Some(JobStatus::Running), DriverState::Gone(holder)) => JobState::DriverGone(holder),
            (Some(JobStatus::Running) | None, _) => JobState::Running,
            (Some(JobStatus::Success), _) => JobState::Succeeded,
            (Some(JobStatus::Failure), _) => JobState::Failed,
            (Some(JobStatus::Cancelled), _) => JobState::Cancelled,
        };
        Ok(Self::from_entries(
            dir,
            &entries,
            state,
            graph,
            journal::now_us(),
        ))
    }

    pub fn from_entries(
        dir: &Path,
        entries: &[Entry],
        state: JobState,
        graph: Option<PlanGraph>,
        now_us: u64,
    ) -> Self {
        let drivers: Vec<usize> = entries
            .iter()
            .enumerate()
            .filter(|(_, e)| matches!(e, Entry::Driver { .. }))
            .map(|(i, _)| i)
            .collect();
        let latest = drivers.last().copied().unwrap_or(0);
        let mut view = JobView {
            dir: dir.to_path_buf(),
            job_id: String::new(),
            state,
            start_us: 0,
            pid: 0,
            host: String::new(),
            earlier_drivers: drivers.len().saturating_sub(1),
            last_us: 0,
            now_us,
            runs: Vec::new(),
            stages: Vec::new(),
            attempts: Vec::new(),
            graph,
        };
        let mut attempt_index: HashMap<(u32, TaskId, u32), usize> = HashMap::new();
        let mut stage_index: HashMap<NodeId, usize> = HashMap::new();
        for entry in &entries[latest.min(entries.len())..] {
            match entry {
                Entry::Driver {
                    at_us,
                    job_id,
                    pid,
                    host,
                } => {
                    view.job_id = job_id.clone();
                    view.start_us = *at_us;
                    view.pid = *pid;
                    view.host = host.clone();
                    view.last_us = *at_us;
                }
                Entry::RunStarted { at_us, run, stages } => {
                    view.last_us = *at_us;
                    view.runs.push(RunView {
                        run: *run,
                        start_us: *at_us,
                        end_us: None,
                        status: None,
                        error: None,
                    });
                    for s in stages {
                        let i = *stage_index.entry(s.node).or_insert_with(|| {
                            view.stages.push(StageView::new(s.node, &s.kind));
                            view.stages.len() - 1
                        });
                        view.stages[i].tasks += s.tasks;
                    }
                }
                Entry::Started {
                    at_us,
                    run,
                    task,
                    node,
                    partition,
                    attempt,
                    speculative,
                } => {
                    view.last_us = *at_us;
                    attempt_index.insert((*run, *task, *attempt), view.attempts.len());
                    view.attempts.push(AttemptView {
                        run: *run,
                        task: *task,
                        node: *node,
                        partition: *partition,
                        attempt: *attempt,
                        speculative: *speculative,
                        start_us: *at_us,
                        end_us: None,
                        outcome: Outcome::Running,
                        host: None,
                        worker: None,
                    });
                    if let Some(&i) = stage_index.get(node) {
                        let stage = &mut view.stages[i];
                        stage.running += 1;
                        stage.speculative += usize::from(*speculative);
                        stage.first_start_us =
                            Some(stage.first_start_us.map_or(*at_us, |s| s.min(*at_us)));
                    }
                }
                Entry::Finished {
                    at_us,
                    run,
                    task,
                    node,
                    attempt,
                    rows,
                    bytes,
                    reused,
                    host,
                    worker,
                } => {
                    view.last_us = *at_us;
                    let stage = stage_index.get(node).map(|&i| &mut view.stages[i]);
                    let ran = (!reused)
                        .then(|| attempt_index.get(&(*run, *task, *attempt)).copied())
                        .flatten();
                    if let Some(i) = ran {
                        let a = &mut view.attempts[i];
                        a.end_us = Some(*at_us);
                        a.outcome = Outcome::Succeeded {
                            rows: *rows,
                            bytes: *bytes,
                        };
                        a.host = Some(host.clone());
                        a.worker = Some(worker.clone());
                        let duration = a.duration_us(*at_us);
                        if let Some(stage) = stage {
                            stage.running -= 1;
                            stage.busy_us += duration;
                            stage.last_end_us =
                                Some(stage.last_end_us.map_or(*at_us, |e| e.max(*at_us)));
                            stage.done += 1;
                            stage.rows += rows;
                            stage.bytes += bytes;
                        }
                    } else if let Some(stage) = stage {
                        stage.done += 1;
                        stage.reused += usize::from(*reused);
                        stage.rows += rows;
                        stage.bytes += bytes;
                    }
                }
                Entry::Failed {
                    at_us,
                    run,
                    task,
                    node,
                    attempt,
                    error,
                    will_retry,
                } => {
                    view.last_us = *at_us;
                    if let Some(&i) = attempt_index.get(&(*run, *task, *attempt)) {
                        let a = &mut view.attempts[i];
                        a.end_us = Some(*at_us);
                        a.outcome = Outcome::Failed {
                            error: error.clone(),
                            will_retry: *will_retry,
                        };
                    }
                    if let Some(&i) = stage_index.get(node) {
                        let stage = &mut view.stages[i];
                        stage.running = stage.running.saturating_sub(1);
                        stage.failed_attempts += 1;
                        stage.last_end_us =
                            Some(stage.last_end_us.map_or(*at_us, |e| e.max(*at_us)));
                    }
                }
                Entry::RunEnded {
                    at_us,
                    run,
                    status,
                    error,
                } => {
                    view.last_us = *at_us;
                    if let Some(r) = view.runs.iter_mut().rev().find(|r| r.run == *run) {
                        r.end_us = Some(*at_us);
                        r.status = Some(status.clone());
                        r.error = error.clone();
                    }
                    // What was still running when its run ended will not report.
                    for a in view.attempts.iter_mut().filter(|a| a.run == *run) {
                        if a.outcome == Outcome::Running {
                            a.outcome = Outcome::Abandoned;
                            a.end_us = Some(*at_us);
                            if let Some(&i) = stage_index.get(&a.node) {
                                view.stages[i].running = view.stages[i].running.saturating_sub(1);
                            }
                        }
                    }
                }
            }
        }
        // A driver that died: its running attempts are lost with it.
        if matches!(view.state, JobState::DriverGone(_)) {
            for a in view
                .attempts
                .iter_mut()
                .filter(|a| a.outcome == Outcome::Running)
            {
                a.outcome = Outcome::Abandoned;
                a.end_us = Some(view.last_us);
            }
            for s in &mut view.stages {
                s.running = 0;
            }
        }
        // A speculation loser: its task succeeded by another attempt.
        let succeeded: std::collections::HashSet<(u32, TaskId)> = view
            .attempts
            .iter()
            .filter(|a| matches!(a.outcome, Outcome::Succeeded { .. }))
            .map(|a| (a.run, a.task))
            .collect();
        for a in view.attempts.iter_mut() {
            if a.outcome == Outcome::Running && succeeded.contains(&(a.run, a.task)) {
                a.outcome = Outcome::Abandoned;
                a.end_us = a.end_us.or(Some(view.last_us));
                if let Some(&i) = stage_index.get(&a.node) {
                    view.stages[i].running = view.stages[i].running.saturating_sub(1);
                }
            }
        }
        view.fill_rows_in();
        view
    }

    fn fill_rows_in(&mut self) {
        let Some(graph) = &self.graph else {
            return;
        };
        let rows: HashMap<NodeId, u64> = self.stages.iter().map(|s| (s.node, s.rows)).collect();
        let reads: HashMap<NodeId, Vec<NodeId>> = graph
            .nodes
            .iter()
            .map(|n| {
                let inputs = n.optimized.as_ref().map_or(&n.inputs, |r| &r.inputs);
                (n.id, inputs.clone())
            })
            .collect();
        for stage in &mut self.stages {
            let Some(inputs) = reads.get(&stage.node) else {
                continue;
            };
            let known: Vec<u64> = inputs.iter().filter_map(|i| rows.get(i).copied()).collect();
            if !inputs.is_empty() && known.len() == inputs.len() {
                stage.rows_in = Some(known.iter().sum());
            }
        }
    }

    /// The end of what is shown: now while the job runs, else the journal's last event.
    pub fn end_us(&self) -> u64 {
        match self.state {
            JobState::Running => self.now_us.max(self.last_us),
            _ => self.last_us,
        }
    }

    pub fn elapsed_us(&self) -> u64 {
        self.end_us().saturating_sub(self.start_us)
    }

    /// The attempt that failed for good, if one did.
    pub fn failure(&self) -> Option<&AttemptView> {
        self.attempts.iter().rev().find(|a| {
            matches!(
                a.outcome,
                Outcome::Failed {
                    will_retry: false,
                    ..
                }
            )
        })
    }

    /// The error of the last run, if it failed.
    pub fn run_error(&self) -> Option<&str> {
        self.runs.last().and_then(|r| r.error.as_deref())
    }

    /// Per node, what the plan graph shows.
    pub fn node_totals(&self) -> HashMap<NodeId, NodeTotals> {
        self.stages
            .iter()
            .map(|s| {
                let t = NodeTotals {
                    tasks: s.done,
                    rows: s.rows,
                    bytes: s.bytes,
                    wall_us: s.wall_us(self.end_us()),
                };
                (s.node, t)
            })
            .collect()
    }

    /// The name of node `node`'s stage (`node-3 SqlEngine`).
    pub fn stage_name(&self, node: NodeId) -> String {
        self.stages
            .iter()
            .find(|s| s.node == node)
            .map_or_else(|| node.to_string(), StageView::name)
    }

    /// The log of a task that failed or was retried (`log/<task>.log`), relative to the
    /// job directory, if there is one.
    pub fn task_log(&self, task: TaskId) -> Option<String> {
        self.existing(JobDirs::new(self.dir.clone()).task_log(task))
    }

    /// Where attempt `a`'s story is, relative to the job directory: its task's log if the
    /// task had one (a failure, a retry), else the attempts log of the worker process that
    /// ran it (its `worker` ends in `:<pid>`).
    pub fn attempt_log(&self, a: &AttemptView) -> Option<String> {
        if let Some(log) = self.task_log(a.task) {
            return Some(log);
        }
        let pid: u32 = a.worker.as_deref()?.rsplit(':').next()?.parse().ok()?;
        self.existing(JobDirs::new(self.dir.clone()).attempts_log(a.host.as_deref()?, pid))
    }

    /// `path`, a file of the job directory, relative to it if it exists.
    fn existing(&self, path: PathBuf) -> Option<String> {
        let rel = path
            .strip_prefix(&self.dir)
            .ok()?
            .to_string_lossy()
            .into_owned();
        path.exists().then_some(rel)
    }
}

/// Attempts packed into lanes, as a Gantt draws them: each takes the first lane free at its
/// start, so there are as many lanes as attempts ran at once.
pub fn pack_lanes(mut attempts: Vec<&AttemptView>, now_us: u64) -> Vec<Vec<&AttemptView>> {
    attempts.sort_by_key(|a| (a.start_us, a.task, a.attempt));
    let mut lanes: Vec<Vec<&AttemptView>> = Vec::new();
    let mut free_at: Vec<u64> = Vec::new();
    for a in attempts {
        let end = a.start_us + a.duration_us(now_us);
        match free_at.iter().position(|&t| t <= a.start_us) {
            Some(i) => {
                free_at[i] = end;
                lanes[i].push(a);
            }
            None => {
                free_at.push(end);
                lanes.push(vec![a]);
            }
        }
    }
    lanes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::journal::StageEntry;

    fn started(at_us: u64, task: u32, attempt: u32, speculative: bool) -> Entry {
        Entry::Started {
            at_us,
            run: 1,
            task: TaskId(task),
            node: NodeId(1),
            partition: task,
            attempt,
            speculative,
        }
    }

    fn finished(at_us: u64, task: u32, attempt: u32) -> Entry {
        Entry::Finished {
            at_us,
            run: 1,
            task: TaskId(task),
            node: NodeId(1),
            attempt,
            rows: 10,
            bytes: 100,
            reused: false,
            host: "h".into(),
            worker: "w".into(),
        }
    }

    fn job(entries: Vec<Entry>, state: JobState) -> JobView {
        let mut all = vec![
            Entry::Driver {
                at_us: 0,
                job_id: "j".into(),
                pid: 7,
                host: "h".into(),
            },
            Entry::RunStarted {
                at_us: 1,
                run: 1,
                stages: vec![StageEntry {
                    node: NodeId(1),
                    kind: "SqlEngine".into(),
                    tasks: 2,
                }],
            },
        ];
        all.extend(entries);
        JobView::from_entries(Path::new("/j"), &all, state, None, 1_000)
    }

    #[test]
    fn a_speculation_loser_is_abandoned_and_a_dead_drivers_attempts_too() {
        let view = job(
            vec![
                started(10, 0, 1, false),
                started(11, 1, 1, false),
                started(50, 0, 2, true),
                finished(60, 0, 2),
            ],
            JobState::Running,
        );
        let outcome = |task: u32, attempt: u32| {
            let a = view
                .attempts
                .iter()
                .find(|a| a.task.0 == task && a.attempt == attempt);
            a.unwrap().outcome.clone()
        };
        assert_eq!(outcome(0, 1), Outcome::Abandoned, "its twin won");
        assert_eq!(
            outcome(0, 2),
            Outcome::Succeeded {
                rows: 10,
                bytes: 100
            }
        );
        assert_eq!(outcome(1, 1), Outcome::Running);
        let stage = &view.stages[0];
        assert_eq!((stage.done, stage.speculative, stage.running), (1, 1, 1));
        assert_eq!(
            stage.wall_us(1_000),
            990,
            "a running stage's wall runs to now"
        );

        let view = job(vec![started(10, 0, 1, false)], JobState::DriverGone(None));
        assert_eq!(view.attempts[0].outcome, Outcome::Abandoned);
        assert_eq!((view.stages[0].running, view.end_us()), (0, 10));
    }

    #[test]
    fn only_the_latest_driver_is_shown_and_a_cut_last_line_is_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let mut journal = journal::Journal::open(dir.path(), "j").unwrap();
        journal.record(
            1,
            &smallpond_exec::Event::JobStarted {
                stages: vec![smallpond_exec::Stage {
                    node: NodeId(0),
                    node_kind: "SqlEngine".into(),
                    tasks: 3,
                }],
            },
        );
        drop(journal);
        let _second = journal::Journal::open(dir.path(), "j").unwrap();
        let path = journal::Journal::path(dir.path());
        let mut text = std::fs::read_to_string(&path).unwrap();
        text.push_str(r#"{"event":"started","at_us":5,"ru"#);
        std::fs::write(&path, text).unwrap();
        let entries = journal::read(&path).unwrap();
        assert_eq!(entries.len(), 3);
        let view = JobView::from_entries(dir.path(), &entries, JobState::Running, None, 0);
        assert_eq!((view.earlier_drivers, view.stages.len()), (1, 0));
    }
}
