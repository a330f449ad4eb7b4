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
//! tasks' cpus and memory fits the pool. A task whose completed record already exists in
//! `staging/` (a resumed job) is not run again. When a task fails for good, no new task
//! starts, the running ones are drained, and the error names the task and its last cause.

use std::collections::{BTreeMap, BTreeSet, HashMap};

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
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            resume: true,
            fault_inject_prob: 0.0,
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
    let result = Run::new(plan, job, pool.capacity(), config).execute(pool, on_event);
    on_event(&Event::JobFinished { ok: result.is_ok() });
    result
}

struct Run<'a> {
    specs: BTreeMap<TaskId, &'a TaskSpec>,
    job: &'a JobDirs,
    config: &'a SchedulerConfig,
    capacity: Resources,
    deps: HashMap<TaskId, Vec<TaskId>>,
    pending: BTreeSet<TaskId>,
    attempts: HashMap<TaskId, u32>,
    running: HashMap<TaskId, Resources>,
    done: HashMap<TaskId, TaskRecord>,
}

impl<'a> Run<'a> {
    fn new(
        plan: &'a ExecutionPlan,
        job: &'a JobDirs,
        capacity: Resources,
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
            attempts: HashMap::new(),
            running: HashMap::new(),
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
        loop {
            if failure.is_none() {
                if let Err(e) = self.start_ready(pool, on_event) {
                    failure = Some(e);
                }
            }
            if self.running.is_empty() {
                break;
            }
            let completion = pool.wait()?;
            let spec = self.specs[&completion.task];
            let resources = self.running.remove(&completion.task);
            debug_assert!(
                resources.is_some(),
                "completion of a task that is not running"
            );
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
        self.running.values().fold(
            Resources {
                cpus: 0,
                memory_bytes: 0,
            },
            |a, r| Resources {
                cpus: a.cpus + r.cpus,
                memory_bytes: a.memory_bytes + r.memory_bytes,
            },
        )
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
            let want = Resources {
                cpus: spec.resources.cpus.clamp(1, self.capacity.cpus.max(1)),
                memory_bytes: spec.resources.memory_bytes.min(self.capacity.memory_bytes),
            };
            let used = self.in_use();
            let fits = used.cpus + want.cpus <= self.capacity.cpus.max(1)
                && (self.running.is_empty()
                    || used.memory_bytes + want.memory_bytes <= self.capacity.memory_bytes);
            if !fits {
                break; // keep id order: a big task is not starved by later small ones
            }
            let attempt = {
                let n = self.attempts.entry(id).or_insert(0);
                *n += 1;
                *n
            };
            let task = self.resolve(spec, attempt, want);
            self.pending.remove(&id);
            self.running.insert(id, want);
            on_event(&Event::TaskStarted {
                task: id,
                node: spec.node,
                attempt,
            });
            pool.submit(task)?;
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
