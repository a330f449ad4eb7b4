//! The scheduler: runs an execution plan's tasks on a worker pool.
//!
//! Task lifecycle:
//! ```text
//!  Pending ──deps succeeded──► Ready ──fits in free cpus──► Running(attempt)
//!                                ▲                              │
//!                                └── failed, retryable, ────────┤
//!                                    attempts left              ├──► Succeeded(record)
//!                                                               └──► Failed ──► job fails
//! ```
//! Ready tasks start in id order (inputs before users) as long as the sum of running
//! tasks' cpus and memory fits the pool. With speculation on, a task running much longer
//! than its finished siblings gets a second attempt on a free slot; the first attempt to
//! finish wins, and the other's completion is ignored (its files are never referenced). A task whose completed record already exists in
//! `staging/` (a resumed job) is not run again. When a task fails for good, no new task
//! starts, the running ones are drained, and the error names the task and its last cause.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

use smallpond_core::task::{
    ExecutionPlan, JobDirs, Resources, TaskAttempt, TaskError, TaskRecord, TaskSpec,
};
use smallpond_core::{DataSet, NodeId, TaskId};

use crate::pool::WorkerPool;
use crate::{Error, Result};

/// Scheduler options.
#[derive(Debug, Clone)]
pub struct SchedulerConfig {
    /// Attempts per task, the first included.
    pub max_attempts: u32,
    /// Reuse the records of tasks that already completed in an earlier run of the job.
    pub resume: bool,
    /// Probability that each attempt fails on purpose (0 = never).
    pub fault_inject_prob: f64,
    pub speculation: Speculation,
    /// A task is never speculated before it has run this long.
    pub speculation_min: Duration,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            resume: true,
            fault_inject_prob: 0.0,
            speculation: Speculation::Enabled,
            speculation_min: Duration::from_secs(10),
        }
    }
}

/// Speculative execution of stragglers, as the original's `disable | enable | aggressive`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Speculation {
    Disabled,
    /// Once half of a stage is done, copy tasks running over 2x its median duration, when
    /// no new task is waiting for the slot.
    Enabled,
    /// Once a quarter of a stage is done, copy tasks running over 1.5x its median, even
    /// ahead of waiting tasks.
    Aggressive,
}

impl std::str::FromStr for Speculation {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "disable" | "disabled" => Ok(Speculation::Disabled),
            "enable" | "enabled" => Ok(Speculation::Enabled),
            "aggressive" => Ok(Speculation::Aggressive),
            other => Err(format!(
                "{other:?} is not one of disable, enable, aggressive"
            )),
        }
    }
}

/// A node's tasks in this run, for progress displays.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stage {
    pub node: NodeId,
    pub node_kind: String,
    pub tasks: usize,
}

/// What the scheduler reports while it runs.
#[derive(Debug, Clone)]
pub enum Event {
    JobStarted {
        stages: Vec<Stage>,
    },
    TaskStarted {
        task: TaskId,
        node: NodeId,
        attempt: u32,
    },
    TaskFinished {
        task: TaskId,
        node: NodeId,
        rows: u64,
        bytes: u64,
        reused: bool,
    },
    TaskFailed {
        task: TaskId,
        node: NodeId,
        attempt: u32,
        error: TaskError,
        will_retry: bool,
    },
    /// A straggler got a second, speculative attempt.
    TaskSpeculated {
        task: TaskId,
        node: NodeId,
        attempt: u32,
    },
    JobFinished {
        ok: bool,
    },
}

/// Runs every task of `plan`; returns the record of each.
pub fn run(
    plan: &ExecutionPlan,
    job: &JobDirs,
    pool: &mut dyn WorkerPool,
    config: &SchedulerConfig,
    on_event: &mut dyn FnMut(&Event),
) -> Result<HashMap<TaskId, TaskRecord>> {
    let capacity = pool.capacity();
    let largest = pool.largest_task().at_most(capacity);
    let result = Run::new(plan, job, capacity, largest, config).execute(pool, on_event);
    on_event(&Event::JobFinished { ok: result.is_ok() });
    result
}

struct Run<'a> {
    specs: BTreeMap<TaskId, &'a TaskSpec>,
    job: &'a JobDirs,
    config: &'a SchedulerConfig,
    /// What the pool holds: never more at once.
    capacity: Resources,
    /// What its largest machine holds: never more for one task.
    largest: Resources,
    deps: HashMap<TaskId, Vec<TaskId>>,
    pending: BTreeSet<TaskId>,
    attempts: HashMap<TaskId, u32>,
    running: HashMap<(TaskId, u32), Attempt>,
    speculated: BTreeSet<TaskId>,
    /// Doublings of a task's memory after it ran out of memory.
    memory_boost: HashMap<TaskId, u32>,
    done: HashMap<TaskId, TaskRecord>,
}

/// A running attempt.
struct Attempt {
    resources: Resources,
    started: Instant,
}

impl<'a> Run<'a> {
    fn new(
        plan: &'a ExecutionPlan,
        job: &'a JobDirs,
        capacity: Resources,
        largest: Resources,
        config: &'a SchedulerConfig,
    ) -> Self {
        let specs: BTreeMap<TaskId, &TaskSpec> = plan.tasks.iter().map(|t| (t.id, t)).collect();
        Self {
            deps: plan.tasks.iter().map(|t| (t.id, t.deps())).collect(),
            pending: specs.keys().copied().collect(),
            specs,
            job,
            config,
            capacity,
            largest,
            attempts: HashMap::new(),
            running: HashMap::new(),
            speculated: BTreeSet::new(),
            memory_boost: HashMap::new(),
            done: HashMap::new(),
        }
    }

    fn execute(
        mut self,
        pool: &mut dyn WorkerPool,
        on_event: &mut dyn FnMut(&Event),
    ) -> Result<HashMap<TaskId, TaskRecord>> {
        on_event(&Event::JobStarted {
            stages: self.stages(),
        });
        if self.config.resume {
            self.reuse_records(on_event);
        }
        let mut failure: Option<Error> = None;
        let tick = Duration::from_millis(100);
        loop {
            if failure.is_none() {
                if let Err(e) = self.start_ready(pool, on_event) {
                    failure = Some(e);
                }
                if let Err(e) = self.speculate(pool, on_event) {
                    failure = Some(e);
                }
            }
            // Attempts of tasks that are already done (speculation losers) are not waited for.
            if !self.running.keys().any(|(t, _)| !self.done.contains_key(t)) {
                break;
            }
            let completion = if self.config.speculation == Speculation::Disabled {
                pool.wait()?
            } else {
                match pool.wait_timeout(tick)? {
                    Some(c) => c,
                    None => continue,
                }
            };
            if self
                .running
                .remove(&(completion.task, completion.attempt))
                .is_none()
            {
                continue; // an attempt of an earlier run, finished late
            }
            let spec = self.specs[&completion.task];
            if self.done.contains_key(&spec.id) {
                tracing::debug!(task = %spec, attempt = completion.attempt, "late attempt discarded");
                continue;
            }
            let sibling_running = self.running.keys().any(|(t, _)| *t == spec.id);
            match completion.result {
                Ok(record) => {
                    on_event(&Event::TaskFinished {
                        task: spec.id,
                        node: spec.node,
                        rows: record.rows,
                        bytes: record.bytes,
                        reused: false,
                    });
                    self.done.insert(spec.id, record);
                }
                Err(error) if sibling_running => {
                    // Another attempt of the task is still running; let it decide.
                    on_event(&Event::TaskFailed {
                        task: spec.id,
                        node: spec.node,
                        attempt: completion.attempt,
                        error,
                        will_retry: true,
                    });
                }
                Err(error) => {
                    let attempts = self.attempts[&spec.id];
                    let will_retry =
                        failure.is_none() && error.retryable && attempts < self.config.max_attempts;
                    tracing::warn!(task = %spec, attempt = completion.attempt, will_retry, "task failed: {error}");
                    on_event(&Event::TaskFailed {
                        task: spec.id,
                        node: spec.node,
                        attempt: completion.attempt,
                        error: error.clone(),
                        will_retry,
                    });
                    if will_retry {
                        if error.kind == smallpond_core::task::TaskErrorKind::OutOfMemory {
                            // Retry with twice the memory, within what the pool has.
                            *self.memory_boost.entry(spec.id).or_insert(0) += 1;
                        }
                        self.pending.insert(spec.id);
                    } else if failure.is_none() {
                        failure = Some(Error::TaskFailed {
                            task: spec.id,
                            node: spec.node,
                            node_kind: spec.node_kind.clone(),
                            partition: spec.partition,
                            attempts,
                            source: error,
                        });
                    }
                }
            }
        }
        if let Some(e) = failure {
            return Err(e);
        }
        if let Some(stuck) = self.pending.first() {
            return Err(Error::Pool(format!(
                "{stuck} can never run: its inputs were not produced"
            )));
        }
        Ok(self.done)
    }

    fn stages(&self) -> Vec<Stage> {
        let mut stages: Vec<Stage> = Vec::new();
        for spec in self.specs.values() {
            match stages.iter_mut().find(|s| s.node == spec.node) {
                Some(stage) => stage.tasks += 1,
                None => stages.push(Stage {
                    node: spec.node,
                    node_kind: spec.node_kind.clone(),
                    tasks: 1,
                }),
            }
        }
        stages
    }

    /// Takes over the records of tasks completed by an earlier run of this job.
    fn reuse_records(&mut self, on_event: &mut dyn FnMut(&Event)) {
        for id in self.pending.clone() {
            let spec = self.specs[&id];
            let Ok(text) = std::fs::read_to_string(self.job.task_record(id)) else {
                continue;
            };
            let Ok(record) = serde_json::from_str::<TaskRecord>(&text) else {
                continue;
            };
            let intact = record.node == spec.node
                && record.partition == spec.partition
                && record.fingerprint == spec.fingerprint()
                && record.outputs.iter().flatten().all(|f| f.is_file());
            if intact {
                on_event(&Event::TaskFinished {
                    task: id,
                    node: spec.node,
                    rows: record.rows,
                    bytes: record.bytes,
                    reused: true,
                });
                self.pending.remove(&id);
                self.done.insert(id, record);
            }
        }
    }

    fn in_use(&self) -> Resources {
        self.running
            .values()
            .map(|a| a.resources)
            .fold(Resources::new(0, 0), |a, r| {
                Resources::new(a.cpus + r.cpus, a.memory_bytes + r.memory_bytes)
            })
    }

    fn start_ready(
        &mut self,
        pool: &mut dyn WorkerPool,
        on_event: &mut dyn FnMut(&Event),
    ) -> Result<()> {
        let ready: Vec<TaskId> = self
            .pending
            .iter()
            .copied()
            .filter(|id| self.deps[id].iter().all(|d| self.done.contains_key(d)))
            .collect();
        for id in ready {
            let spec = self.specs[&id];
            // A task never asks for more than the pool has, or it could never start.
            let want = self.want(spec);
            if !self.fits(want) {
                break; // keep id order: a big task is not starved by later small ones
            }
            self.pending.remove(&id);
            let attempt = self.launch(pool, spec, want)?;
            on_event(&Event::TaskStarted {
                task: id,
                node: spec.node,
                attempt,
            });
        }
        Ok(())
    }

    fn fits(&self, want: Resources) -> bool {
        let used = self.in_use();
        used.cpus + want.cpus <= self.capacity.cpus.max(1)
            && (self.running.is_empty()
                || used.memory_bytes + want.memory_bytes <= self.capacity.memory_bytes)
    }

    fn want(&self, spec: &TaskSpec) -> Resources {
        let boost = self
            .memory_boost
            .get(&spec.id)
            .copied()
            .unwrap_or(0)
            .min(16);
        Resources {
            memory_bytes: spec.resources.memory_bytes.saturating_mul(1 << boost),
            ..spec.resources
        }
        .at_most(self.largest)
    }

    fn launch(
        &mut self,
        pool: &mut dyn WorkerPool,
        spec: &TaskSpec,
        want: Resources,
    ) -> Result<u32> {
        let attempt = {
            let n = self.attempts.entry(spec.id).or_insert(0);
            *n += 1;
            *n
        };
        let task = self.resolve(spec, attempt, want);
        // Only a submitted attempt is running: one the pool refused is never waited for.
        pool.submit(task)?;
        self.running.insert(
            (spec.id, attempt),
            Attempt {
                resources: want,
                started: Instant::now(),
            },
        );
        Ok(attempt)
    }

    /// Starts a second attempt of stragglers, where the mode and free capacity allow.
    fn speculate(
        &mut self,
        pool: &mut dyn WorkerPool,
        on_event: &mut dyn FnMut(&Event),
    ) -> Result<()> {
        let (fraction, factor) = match self.config.speculation {
            Speculation::Disabled => return Ok(()),
            Speculation::Enabled => (0.5, 2.0),
            Speculation::Aggressive => (0.25, 1.5),
        };
        let waiting = self
            .pending
            .iter()
            .any(|id| self.deps[id].iter().all(|d| self.done.contains_key(d)));
        if waiting && self.config.speculation == Speculation::Enabled {
            return Ok(());
        }
        let candidates: Vec<(TaskId, Duration)> = self
            .running
            .iter()
            .filter(|((t, _), _)| !self.done.contains_key(t) && !self.speculated.contains(t))
            .map(|((t, _), a)| (*t, a.started.elapsed()))
            .collect();
        for (id, elapsed) in candidates {
            let spec = self.specs[&id];
            // A sink publishes into the user's directory: two at once would race.
            if matches!(spec.kind, smallpond_core::task::TaskKind::Sink { .. })
                || elapsed < self.config.speculation_min
            {
                continue;
            }
            let siblings = self.specs.values().filter(|s| s.node == spec.node).count();
            let mut durations: Vec<u64> = self
                .done
                .values()
                .filter(|r| r.node == spec.node)
                .map(|r| r.end_us.saturating_sub(r.start_us))
                .collect();
            if durations.is_empty() || (durations.len() as f64) < fraction * siblings as f64 {
                continue;
            }
            durations.sort_unstable();
            let median = Duration::from_micros(durations[durations.len() / 2]);
            let want = self.want(spec);
            if elapsed.as_secs_f64() < factor * median.as_secs_f64() || !self.fits(want) {
                continue;
            }
            self.speculated.insert(id);
            let attempt = self.launch(pool, spec, want)?;
            tracing::info!(task = %spec, attempt, ?elapsed, ?median, "speculating a straggler");
            on_event(&Event::TaskSpeculated {
                task: id,
                node: spec.node,
                attempt,
            });
        }
        Ok(())
    }

    /// Binds a task's inputs to the files its dependencies produced.
    fn resolve(&self, spec: &TaskSpec, attempt: u32, resources: Resources) -> TaskAttempt {
        let outputs = |task: TaskId, slot: u32| -> DataSet { self.done[&task].slot(slot) };
        TaskAttempt {
            task: spec.id,
            attempt,
            node: spec.node,
            node_kind: spec.node_kind.clone(),
            partition: spec.partition,
            kind: spec.kind.clone(),
            inputs: spec.inputs.iter().map(|p| p.resolve(&outputs)).collect(),
            resources,
            job: self.job.clone(),
            fingerprint: spec.fingerprint(),
            fault_inject_prob: self.config.fault_inject_prob,
        }
    }
}
