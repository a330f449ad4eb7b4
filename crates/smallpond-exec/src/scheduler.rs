//! The scheduler: runs an execution plan's tasks on a worker pool.
//!
//! Each task is in one [`TaskState`]:
//! ```text
//!  Waiting(deps left) ──last dep succeeded──► Ready ──fits in the pool──► Running(attempts)
//!                                               ▲                            │
//!                                               └── failed, retryable, ──────┤
//!                                                   attempts left            ├──► Succeeded(record)
//!                                                                            └──► Failed(error)
//!  Waiting | Ready ──the job failed──► Cancelled
//! ```
//! A reverse-dependency index moves a task to `Ready` when its last input succeeds, so each
//! completion costs time in the number of its users, not of the plan's tasks. Ready tasks
//! start in id order (inputs before users) as long as the sum of running attempts' cpus and
//! memory fits the pool. With speculation on, a task running much longer than its finished
//! siblings gets a second attempt on a free slot; the first attempt to finish wins, and the
//! other's completion is ignored (its files are never referenced). A task whose completed
//! record already exists in `staging/` (a resumed job) is not run again. When a task fails
//! for good, no new task starts, the running ones are drained, the rest are cancelled, and
//! the error names the task and its last cause.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

use smallpond_core::job::JobDirs;
use smallpond_core::task::{
    ExecutionPlan, Resources, TaskAttempt, TaskError, TaskRecord, TaskSpec,
};
use smallpond_core::{DataSet, NodeId, TaskId};

use crate::pool::WorkerPool;
use crate::{Error, Result};

/// Cancels a running job from any thread (Ctrl-C, a signal, the user): the scheduler
/// notices within a tick, starts nothing more, stops the running attempts
/// ([`WorkerPool::cancel`]) and returns [`Error::Cancelled`].
#[derive(Debug, Clone, Default)]
pub struct CancelToken(std::sync::Arc<std::sync::atomic::AtomicBool>);

impl CancelToken {
    pub fn cancel(&self) {
        self.0.store(true, std::sync::atomic::Ordering::SeqCst);
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Ready for the next job (after a cancelled one).
    pub fn reset(&self) {
        self.0.store(false, std::sync::atomic::Ordering::SeqCst);
    }
}

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
    pub cancel: CancelToken,
    /// How tasks reach S3 (given to every attempt), when the session has settings for it.
    pub s3: Option<smallpond_core::storage::S3Options>,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            resume: true,
            fault_inject_prob: 0.0,
            speculation: Speculation::Enabled,
            speculation_min: Duration::from_secs(10),
            cancel: CancelToken::default(),
            s3: None,
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
        partition: u32,
        attempt: u32,
    },
    /// A task's output is there: computed by `attempt` now, or `reused` from a record of
    /// an earlier run of the job. `host` and `worker` are where that attempt ran.
    TaskFinished {
        task: TaskId,
        node: NodeId,
        attempt: u32,
        rows: u64,
        bytes: u64,
        reused: bool,
        host: String,
        worker: String,
    },
    TaskFailed {
        task: TaskId,
        node: NodeId,
        attempt: u32,
        error: TaskError,
        will_retry: bool,
    },
    /// A straggler got a second, speculative attempt (it is not reported as started).
    TaskSpeculated {
        task: TaskId,
        node: NodeId,
        partition: u32,
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

/// Where one task is in this run.
#[derive(Debug)]
enum TaskState {
    /// Waiting for this many inputs (distinct tasks) to succeed.
    Waiting(usize),
    /// Its inputs are there; it runs when the pool has room.
    Ready,
    /// Attempts in the pool (two when speculated), by attempt number.
    Running(BTreeMap<u32, Attempt>),
    Succeeded(TaskRecord),
    Failed(TaskError),
    /// Never ran: the job failed first.
    Cancelled,
}

/// Why no new task starts: the first task that failed for good, the pool refused one, or
/// the job was cancelled.
enum Stop {
    Task(TaskId),
    Pool(Error),
    Cancelled,
}

/// How long a cancelled job waits for its stopped attempts to report before it returns
/// anyway (an attempt that cannot be stopped, e.g. Python code on a thread, is abandoned).
const CANCEL_DRAIN: Duration = Duration::from_secs(5);

/// A running attempt.
#[derive(Debug)]
struct Attempt {
    resources: Resources,
    started: Instant,
}

struct Task<'a> {
    spec: &'a TaskSpec,
    /// [`TaskSpec::fingerprint`], computed once per run (producers first).
    fingerprint: u64,
    state: TaskState,
    /// Attempts started so far, the first included.
    attempts: u32,
    /// Doublings of the task's memory after it ran out of memory.
    memory_boost: u32,
    /// Whether it got its one speculative attempt.
    speculated: bool,
}

/// Finished tasks of one node, for speculation.
#[derive(Default)]
struct StageStats {
    tasks: usize,
    /// Durations of its succeeded tasks, in microseconds.
    durations: Vec<u64>,
}

struct Run<'a> {
    tasks: BTreeMap<TaskId, Task<'a>>,
    /// The tasks that read each task's output.
    users: HashMap<TaskId, Vec<TaskId>>,
    /// Index of the tasks in [`TaskState::Ready`], in start order.
    ready: BTreeSet<TaskId>,
    /// Index of the tasks in [`TaskState::Running`]. Both indexes change only in
    /// [`Run::set_state`].
    running: BTreeSet<TaskId>,
    /// Attempts still in the pool whose task another attempt already finished: they hold
    /// resources until they end, and their results are ignored.
    abandoned: HashMap<(TaskId, u32), Resources>,
    stages: HashMap<NodeId, StageStats>,
    job: &'a JobDirs,
    config: &'a SchedulerConfig,
    /// What the pool holds: never more at once.
    capacity: Resources,
    /// What its largest machine holds: never more for one task.
    largest: Resources,
    /// The sum of the resources of the attempts in the pool.
    in_use: Resources,
    /// Attempts in the pool whose task is still running.
    live: usize,
}

impl<'a> Run<'a> {
    fn new(
        plan: &'a ExecutionPlan,
        job: &'a JobDirs,
        capacity: Resources,
        largest: Resources,
        config: &'a SchedulerConfig,
    ) -> Self {
        let mut users: HashMap<TaskId, Vec<TaskId>> = HashMap::new();
        let mut stages: HashMap<NodeId, StageStats> = HashMap::new();
        let mut tasks = BTreeMap::new();
        let mut ready = BTreeSet::new();
        let mut fingerprints: HashMap<TaskId, u64> = HashMap::new();
        for spec in &plan.tasks {
            // Tasks come in a runnable order: producers' fingerprints are known.
            let fingerprint = spec.fingerprint(&|producer| fingerprints[&producer]);
            fingerprints.insert(spec.id, fingerprint);
            let deps = spec.deps();
            for dep in &deps {
                users.entry(*dep).or_default().push(spec.id);
            }
            stages.entry(spec.node).or_default().tasks += 1;
            let state = if deps.is_empty() {
                ready.insert(spec.id);
                TaskState::Ready
            } else {
                TaskState::Waiting(deps.len())
            };
            tasks.insert(
                spec.id,
                Task {
                    spec,
                    fingerprint,
                    state,
                    attempts: 0,
                    memory_boost: 0,
                    speculated: false,
                },
            );
        }
        Self {
            tasks,
            users,
            ready,
            running: BTreeSet::new(),
            abandoned: HashMap::new(),
            stages,
            job,
            config,
            capacity,
            largest,
            in_use: Resources::new(0, 0),
            live: 0,
        }
    }

    fn execute(
        mut self,
        pool: &mut dyn WorkerPool,
        on_event: &mut dyn FnMut(&Event),
    ) -> Result<HashMap<TaskId, TaskRecord>> {
        on_event(&Event::JobStarted {
            stages: self.stage_list(),
        });
        if self.config.resume {
            self.reuse_records(on_event);
        }
        let mut stopped: Option<Stop> = None;
        let mut drain_until: Option<Instant> = None;
        let tick = Duration::from_millis(100);
        loop {
            if self.config.cancel.is_cancelled() && !matches!(stopped, Some(Stop::Cancelled)) {
                tracing::info!(running = self.live, "job cancelled: stopping its attempts");
                stopped = Some(Stop::Cancelled);
                pool.cancel();
                drain_until = Some(Instant::now() + CANCEL_DRAIN);
            }
            if stopped.is_none() {
                if let Err(e) = self
                    .start_ready(pool, on_event)
                    .and_then(|()| self.speculate(pool, on_event))
                {
                    stopped = Some(Stop::Pool(e));
                }
            }
            // Abandoned attempts (speculation losers) are not waited for.
            if self.live == 0 || drain_until.is_some_and(|t| Instant::now() >= t) {
                break;
            }
            let Some(completion) = pool.wait_timeout(tick)? else {
                continue;
            };
            let key = (completion.task, completion.attempt);
            if let Some(resources) = self.abandoned.remove(&key) {
                self.release(resources);
                tracing::debug!(task = %completion.task, attempt = completion.attempt, "late attempt discarded");
                continue;
            }
            let Some(task) = self.tasks.get_mut(&completion.task) else {
                continue; // not a task of this run
            };
            let TaskState::Running(attempts) = &mut task.state else {
                continue; // an attempt of an earlier run, finished late
            };
            let Some(attempt) = attempts.remove(&completion.attempt) else {
                continue;
            };
            let others_running = !attempts.is_empty();
            let spec = task.spec;
            self.live -= 1;
            self.release(attempt.resources);
            match completion.result {
                Ok(record) => {
                    on_event(&Event::TaskFinished {
                        task: spec.id,
                        node: spec.node,
                        attempt: completion.attempt,
                        rows: record.rows,
                        bytes: record.bytes,
                        reused: false,
                        host: record.host.clone(),
                        worker: record.worker.clone(),
                    });
                    self.succeed(spec.id, record);
                }
                Err(error) if others_running => {
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
                    let task = self.tasks.get_mut(&spec.id).expect("a task of this run");
                    let will_retry = stopped.is_none()
                        && error.retryable
                        && task.attempts < self.config.max_attempts;
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
                            task.memory_boost += 1;
                        }
                        self.set_state(spec.id, TaskState::Ready);
                    } else {
                        self.set_state(spec.id, TaskState::Failed(error));
                        stopped.get_or_insert(Stop::Task(spec.id));
                    }
                }
            }
        }
        if let Some(stop) = stopped {
            self.cancel_rest();
            return Err(match stop {
                Stop::Pool(e) => e,
                Stop::Task(id) => self.failure(id),
                Stop::Cancelled => Error::Cancelled,
            });
        }
        if let Some(stuck) = self
            .tasks
            .values()
            .find(|t| matches!(t.state, TaskState::Waiting(_) | TaskState::Ready))
        {
            return Err(Error::Pool(format!(
                "{} can never run: its inputs were not produced",
                stuck.spec.id
            )));
        }
        Ok(self
            .tasks
            .into_iter()
            .filter_map(|(id, t)| match t.state {
                TaskState::Succeeded(record) => Some((id, record)),
                _ => None,
            })
            .collect())
    }

    /// Marks `id` succeeded: its still-running attempts are abandoned, its users whose
    /// last input it was become ready.
    fn succeed(&mut self, id: TaskId, record: TaskRecord) {
        if let Some(stats) = self.stages.get_mut(&self.tasks[&id].spec.node) {
            stats
                .durations
                .push(record.end_us.saturating_sub(record.start_us));
        }
        if let TaskState::Running(attempts) = self.set_state(id, TaskState::Succeeded(record)) {
            for (n, a) in attempts {
                self.live -= 1;
                self.abandoned.insert((id, n), a.resources);
            }
        }
        for i in 0..self.users.get(&id).map_or(0, Vec::len) {
            let user = self.users[&id][i];
            let task = self
                .tasks
                .get_mut(&user)
                .expect("users are tasks of this run");
            if let TaskState::Waiting(left) = &mut task.state {
                *left -= 1;
                if *left == 0 {
                    self.set_state(user, TaskState::Ready);
                }
            }
        }
    }

    /// Every change of a task's state, so that the indexes of ready and running tasks
    /// stay true. Returns the state it leaves.
    fn set_state(&mut self, id: TaskId, state: TaskState) -> TaskState {
        let task = self.tasks.get_mut(&id).expect("a task of this run");
        let previous = std::mem::replace(&mut task.state, state);
        for (set, was, is) in [
            (
                &mut self.ready,
                matches!(previous, TaskState::Ready),
                matches!(task.state, TaskState::Ready),
            ),
            (
                &mut self.running,
                matches!(previous, TaskState::Running(_)),
                matches!(task.state, TaskState::Running(_)),
            ),
        ] {
            match (was, is) {
                (false, true) => {
                    set.insert(id);
                }
                (true, false) => {
                    set.remove(&id);
                }
                _ => {}
            }
        }
        previous
    }

    /// The job's error when task `id` failed for good.
    fn failure(&self, id: TaskId) -> Error {
        let task = &self.tasks[&id];
        let TaskState::Failed(error) = &task.state else {
            unreachable!("{id} stopped the job without failing");
        };
        let spec = task.spec;
        Error::TaskFailed {
            task: spec.id,
            node: spec.node,
            node_kind: spec.node_kind.clone(),
            partition: spec.partition,
            attempts: task.attempts,
            error: error.clone(),
        }
    }

    /// After a failure: tasks that never started will not.
    fn cancel_rest(&mut self) {
        let unstarted: Vec<TaskId> = self
            .tasks
            .iter()
            .filter(|(_, t)| matches!(t.state, TaskState::Waiting(_) | TaskState::Ready))
            .map(|(id, _)| *id)
            .collect();
        for id in unstarted {
            self.set_state(id, TaskState::Cancelled);
        }
    }

    fn stage_list(&self) -> Vec<Stage> {
        let mut stages: Vec<Stage> = Vec::new();
        for task in self.tasks.values() {
            let spec = task.spec;
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
        let journal = self.job.records();
        if journal.is_empty() {
            return;
        }
        let ids: Vec<TaskId> = self.tasks.keys().copied().collect();
        for id in ids {
            let task = &self.tasks[&id];
            let spec = task.spec;
            if let Some(record) = journal.reusable(spec, task.fingerprint) {
                on_event(&Event::TaskFinished {
                    task: id,
                    node: spec.node,
                    attempt: record.attempt,
                    rows: record.rows,
                    bytes: record.bytes,
                    reused: true,
                    host: record.host.clone(),
                    worker: record.worker.clone(),
                });
                self.succeed(id, record);
            }
        }
    }

    fn release(&mut self, r: Resources) {
        self.in_use = Resources::new(
            self.in_use.cpus - r.cpus,
            self.in_use.memory_bytes - r.memory_bytes,
        );
    }

    fn start_ready(
        &mut self,
        pool: &mut dyn WorkerPool,
        on_event: &mut dyn FnMut(&Event),
    ) -> Result<()> {
        while let Some(&id) = self.ready.first() {
            // A task never asks for more than the pool has, or it could never start.
            let want = self.want(id);
            if !self.fits(want) {
                break; // keep id order: a big task is not starved by later small ones
            }
            let attempt = self.launch(pool, id, want)?;
            let spec = self.tasks[&id].spec;
            on_event(&Event::TaskStarted {
                task: id,
                node: spec.node,
                partition: spec.partition,
                attempt,
            });
        }
        Ok(())
    }

    fn fits(&self, want: Resources) -> bool {
        let used = self.in_use;
        let empty = self.live == 0 && self.abandoned.is_empty();
        used.cpus + want.cpus <= self.capacity.cpus.max(1)
            && (empty || used.memory_bytes + want.memory_bytes <= self.capacity.memory_bytes)
    }

    fn want(&self, id: TaskId) -> Resources {
        let task = &self.tasks[&id];
        let boost = task.memory_boost.min(16);
        Resources {
            memory_bytes: task.spec.resources.memory_bytes.saturating_mul(1 << boost),
            ..task.spec.resources
        }
        .at_most(self.largest)
    }

    fn launch(&mut self, pool: &mut dyn WorkerPool, id: TaskId, want: Resources) -> Result<u32> {
        let task = self.tasks.get_mut(&id).expect("a task of this run");
        task.attempts += 1;
        let attempt = task.attempts;
        let resolved = self.resolve(id, attempt, want);
        // Only a submitted attempt is running: one the pool refused is never waited for.
        pool.submit(resolved)?;
        let running = Attempt {
            resources: want,
            started: Instant::now(),
        };
        match &mut self.tasks.get_mut(&id).expect("a task of this run").state {
            TaskState::Running(attempts) => {
                attempts.insert(attempt, running);
            }
            _ => {
                self.set_state(id, TaskState::Running(BTreeMap::from([(attempt, running)])));
            }
        }
        self.live += 1;
        self.in_use = Resources::new(
            self.in_use.cpus + want.cpus,
            self.in_use.memory_bytes + want.memory_bytes,
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
        if !self.ready.is_empty() && self.config.speculation == Speculation::Enabled {
            return Ok(());
        }
        let candidates: Vec<(TaskId, Duration)> = self
            .running
            .iter()
            .map(|id| (*id, &self.tasks[id]))
            .filter(|(_, t)| !t.speculated)
            .filter_map(|(id, t)| match &t.state {
                TaskState::Running(attempts) => attempts
                    .values()
                    .map(|a| a.started.elapsed())
                    .max()
                    .map(|elapsed| (id, elapsed)),
                _ => None,
            })
            .collect();
        for (id, elapsed) in candidates {
            let spec = self.tasks[&id].spec;
            // A sink publishes into the user's directory: two at once would race.
            if matches!(spec.kind, smallpond_core::task::TaskKind::Sink { .. })
                || elapsed < self.config.speculation_min
            {
                continue;
            }
            let stats = &self.stages[&spec.node];
            if stats.durations.is_empty()
                || (stats.durations.len() as f64) < fraction * stats.tasks as f64
            {
                continue;
            }
            let mut durations = stats.durations.clone();
            let middle = durations.len() / 2;
            let median = Duration::from_micros(*durations.select_nth_unstable(middle).1);
            let want = self.want(id);
            if elapsed.as_secs_f64() < factor * median.as_secs_f64() || !self.fits(want) {
                continue;
            }
            self.tasks
                .get_mut(&id)
                .expect("a task of this run")
                .speculated = true;
            let attempt = self.launch(pool, id, want)?;
            tracing::info!(task = %spec, attempt, ?elapsed, ?median, "speculating a straggler");
            on_event(&Event::TaskSpeculated {
                task: id,
                node: spec.node,
                partition: spec.partition,
                attempt,
            });
        }
        Ok(())
    }

    /// Binds a task's inputs to the files its dependencies produced.
    fn resolve(&self, id: TaskId, attempt: u32, resources: Resources) -> TaskAttempt {
        let Task {
            spec, fingerprint, ..
        } = &self.tasks[&id];
        let outputs = |task: TaskId, slot: u32| -> DataSet {
            match &self.tasks[&task].state {
                TaskState::Succeeded(record) => record.slot(slot),
                state => unreachable!("{task} is read by {id} while {state:?}"),
            }
        };
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
            fingerprint: *fingerprint,
            fault_inject_prob: self.config.fault_inject_prob,
            s3: self.config.s3.clone(),
        }
    }
}
