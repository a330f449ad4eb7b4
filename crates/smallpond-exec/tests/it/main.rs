//! Scheduler and pool tests with a mock runner and mock worker processes.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use smallpond_core::job::JobDirs;
use smallpond_core::plan::{
    DataSourceNode, HashPartitionNode, LogicalPlan, Node, PartitionMethod, SqlNode, TaskOptions,
};
use smallpond_core::planner::{Planner, PlannerConfig};
use smallpond_core::task::{
    ExecutionPlan, Resources, TaskAttempt, TaskError, TaskErrorKind, TaskRecord,
};
use smallpond_core::{DataSet, TaskId};
use smallpond_exec::pool::{LocalPool, WorkerCommand};
use smallpond_exec::scheduler::{self, Event, SchedulerConfig, Speculation};
use smallpond_exec::{Error, TaskRunner};

/// A runner that records concurrency and fails chosen tasks a number of times.
#[derive(Default)]
struct MockRunner {
    failures: Mutex<HashMap<TaskId, u32>>,
    retryable: bool,
    running_cpus: AtomicU32,
    peak_cpus: AtomicU32,
    runs: AtomicU32,
}

impl MockRunner {
    fn failing(task: TaskId, times: u32, retryable: bool) -> Self {
        let runner = Self {
            retryable,
            ..Self::default()
        };
        runner.failures.lock().unwrap().insert(task, times);
        runner
    }
}

fn record(attempt: &TaskAttempt) -> TaskRecord {
    let slots = attempt.kind.slots() as usize;
    TaskRecord {
        task: attempt.task,
        node: attempt.node,
        node_kind: attempt.node_kind.clone(),
        partition: attempt.partition,
        attempt: attempt.attempt,
        fingerprint: attempt.fingerprint,
        host: "test".into(),
        worker: "mock".into(),
        start_us: 0,
        end_us: 0,
        rows: 1,
        bytes: 1,
        outputs: (0..slots)
            .map(|s| vec![PathBuf::from(format!("{}-{s}", attempt.task))])
            .collect(),
        schema_file: None,
    }
}

impl TaskRunner for MockRunner {
    fn run(&self, attempt: &TaskAttempt) -> Result<TaskRecord, TaskError> {
        self.runs.fetch_add(1, Ordering::SeqCst);
        let now = self
            .running_cpus
            .fetch_add(attempt.resources.cpus, Ordering::SeqCst)
            + attempt.resources.cpus;
        self.peak_cpus.fetch_max(now, Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(5));
        self.running_cpus
            .fetch_sub(attempt.resources.cpus, Ordering::SeqCst);
        // Every input of a task must already be produced: resolution never sees a gap.
        for input in &attempt.inputs {
            assert!(
                !input.datasets.is_empty(),
                "{} got an unresolved input",
                attempt.task
            );
        }
        let mut failures = self.failures.lock().unwrap();
        if let Some(left) = failures.get_mut(&attempt.task) {
            if *left > 0 {
                *left -= 1;
                return Err(TaskError {
                    kind: TaskErrorKind::Sql {
                        sql: "select broken".into(),
                    },
                    message: "Binder Error: boom".into(),
                    retryable: self.retryable,
                });
            }
        }
        Ok(record(attempt))
    }
}

/// source -> hash(4) -> sql: 1 producer + 4 consumers.
fn plan(cpus: u32) -> ExecutionPlan {
    let mut plan = LogicalPlan::new();
    let src = plan
        .add(Node::DataSource(DataSourceNode {
            dataset: DataSet::parquet(vec!["in.parquet".into()]),
        }))
        .unwrap();
    let h = plan
        .add(Node::HashPartition(HashPartitionNode {
            input: src,
            npartitions: 4,
            method: PartitionMethod::Hash(vec!["k".into()]),
            pre_query: None,
            partition_column: None,
            result: false,
            options: TaskOptions::default(),
        }))
        .unwrap();
    let q = plan
        .add(Node::Sql(
            SqlNode::try_new(vec![h], "select * from {0}", TaskOptions::default()).unwrap(),
        ))
        .unwrap();
    let config = PlannerConfig::single_machine(cpus, 1 << 30);
    Planner::new(&plan, &HashMap::new(), config, 0)
        .plan(&[q])
        .unwrap()
}

fn job() -> (tempfile::TempDir, JobDirs) {
    let dir = tempfile::tempdir().unwrap();
    let job = JobDirs::new(dir.path().to_path_buf());
    std::fs::create_dir_all(job.staging()).unwrap();
    (dir, job)
}

fn capacity(cpus: u32) -> Resources {
    Resources::new(cpus, 1 << 30)
}

/// Attempt `attempt` of the plan's first task (its inputs left out).
fn producer_attempt(
    job: &JobDirs,
    plan: &ExecutionPlan,
    attempt: u32,
    fingerprint: u64,
) -> TaskAttempt {
    let producer = &plan.tasks[0];
    TaskAttempt {
        task: producer.id,
        attempt,
        node: producer.node,
        node_kind: producer.node_kind.clone(),
        partition: producer.partition,
        kind: producer.kind.clone(),
        inputs: vec![],
        resources: producer.resources,
        job: job.clone(),
        fingerprint,
        fault_inject_prob: 0.0,
        s3: None,
    }
}

/// Writes a completed record (with existing output files) for the plan's first task, as
/// an earlier run of the job would have.
fn write_producer_record(job: &JobDirs, plan: &ExecutionPlan, fingerprint: u64) {
    let mut rec = record(&producer_attempt(job, plan, 1, fingerprint));
    for (slot, files) in rec.outputs.iter_mut().enumerate() {
        let f = job.staging().join(format!("out-{slot}.parquet"));
        std::fs::write(&f, b"x").unwrap();
        *files = vec![f];
    }
    job.write_record(&rec).unwrap();
}

/// Runs `plan` on `pool` with the default scheduler options, ignoring events.
fn run_default(
    plan: &ExecutionPlan,
    job: &JobDirs,
    pool: &mut LocalPool,
) -> Result<HashMap<TaskId, TaskRecord>, Error> {
    scheduler::run(plan, job, pool, &SchedulerConfig::default(), &mut |_| {})
}

#[test]
fn runs_every_task_within_the_pool_capacity() {
    let (_d, job) = job();
    let runner = Arc::new(MockRunner::default());
    let mut pool = LocalPool::threads(runner.clone(), capacity(2));
    let mut events = Vec::new();
    let records = scheduler::run(
        &plan(2),
        &job,
        &mut pool,
        &SchedulerConfig::default(),
        &mut |e| events.push(e.clone()),
    )
    .unwrap();
    assert_eq!(records.len(), 5);
    assert_eq!(runner.runs.load(Ordering::SeqCst), 5);
    assert!(runner.peak_cpus.load(Ordering::SeqCst) <= 2);
    let started = events
        .iter()
        .filter(|e| matches!(e, Event::TaskStarted { .. }))
        .count();
    assert_eq!(started, 5);
    assert!(matches!(
        events.last(),
        Some(Event::JobFinished { ok: true })
    ));
}

#[test]
fn failed_attempts_are_retried() {
    let (_d, job) = job();
    let runner = Arc::new(MockRunner::failing(TaskId(2), 2, true));
    let mut pool = LocalPool::threads(runner.clone(), capacity(2));
    let records = run_default(&plan(2), &job, &mut pool).unwrap();
    assert_eq!(records[&TaskId(2)].attempt, 3);
    assert_eq!(runner.runs.load(Ordering::SeqCst), 7);
}

#[test]
fn exhausted_retries_name_the_task_and_its_cause() {
    let (_d, job) = job();
    let runner = Arc::new(MockRunner::failing(TaskId(3), 5, true));
    let mut pool = LocalPool::threads(runner, capacity(2));
    let err = run_default(&plan(2), &job, &mut pool).unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(err, Error::TaskFailed { attempts: 3, .. }),
        "{text}"
    );
    assert!(text.contains("task-000003"), "{text}");
    assert!(text.contains("SqlEngine"), "{text}");
    assert!(text.contains("Binder Error: boom"), "{text}");
    assert!(text.contains("select broken"), "{text}");
}

#[test]
fn errors_that_cannot_heal_are_not_retried() {
    let (_d, job) = job();
    let runner = Arc::new(MockRunner::failing(TaskId(1), 1, false));
    let mut pool = LocalPool::threads(runner.clone(), capacity(1));
    let err = run_default(&plan(1), &job, &mut pool).unwrap_err();
    assert!(
        matches!(err, Error::TaskFailed { attempts: 1, .. }),
        "{err}"
    );
}

#[test]
fn completed_records_are_reused_on_resume() {
    let (_d, job) = job();
    let plan = plan(2);
    // Pretend the producer finished in an earlier run of the job.
    write_producer_record(
        &job,
        &plan,
        plan.tasks[0].fingerprint(&|_| unreachable!("the producer reads no task")),
    );
    let runner = Arc::new(MockRunner::default());
    let mut pool = LocalPool::threads(runner.clone(), capacity(2));
    let mut reused = 0;
    scheduler::run(
        &plan,
        &job,
        &mut pool,
        &SchedulerConfig::default(),
        &mut |e| {
            if let Event::TaskFinished { reused: true, .. } = e {
                reused += 1;
            }
        },
    )
    .unwrap();
    assert_eq!(reused, 1);
    assert_eq!(runner.runs.load(Ordering::SeqCst), 4);
}

#[test]
fn a_panicking_task_fails_alone() {
    struct Panics;
    impl TaskRunner for Panics {
        fn run(&self, attempt: &TaskAttempt) -> Result<TaskRecord, TaskError> {
            if attempt.task == TaskId(4) && attempt.attempt == 1 {
                panic!("kaboom");
            }
            Ok(record(attempt))
        }
    }
    let (_d, job) = job();
    let mut pool = LocalPool::threads(Arc::new(Panics), capacity(2));
    let mut failures = Vec::new();
    scheduler::run(
        &plan(2),
        &job,
        &mut pool,
        &SchedulerConfig::default(),
        &mut |e| {
            if let Event::TaskFailed { error, .. } = e {
                failures.push(error.message.clone());
            }
        },
    )
    .unwrap();
    assert_eq!(failures.len(), 1);
    assert!(failures[0].contains("kaboom"), "{failures:?}");
}

/// A worker process written in shell: the first attempt of every task kills its own
/// process with SIGKILL; later attempts reply with a record. The driver must survive.
/// A worker process in shell: for each task (its id in `$task`) it runs `before`, then
/// answers with a successful record of 4 output slots.
fn shell_worker(before: &str) -> WorkerCommand {
    let script = format!(
        r#"while IFS= read -r line; do
  task=$(printf '%s' "$line" | sed -E 's/^\{{"task":([0-9]+),.*/\1/')
  {before}
  printf '{{"Ok":{{"task":%s,"node":0,"node_kind":"x","partition":0,"attempt":1,"host":"h","worker":"w","start_us":0,"end_us":0,"rows":1,"bytes":1,"outputs":[["a"],["b"],["c"],["d"]],"schema_file":null}}}}\n' "$task"
done"#
    );
    WorkerCommand {
        program: "/bin/sh".into(),
        args: vec!["-c".into(), script],
        env: vec![],
    }
}

#[test]
fn one_worker_process_serves_a_job_until_tasks_queue() {
    use smallpond_exec::WorkerPool;
    let (dir, job) = job();
    let log = dir.path().join("log");
    // Each worker notes when it started; each task sleeps 0.2 s and notes which worker ran
    // it and when it ended.
    let mut command = shell_worker(&format!(
        "sleep 0.2; echo \"end $task $$ $(date +%s%N)\" >> {}",
        log.display()
    ));
    command.args[1] = format!(
        "echo \"start $$ $(date +%s%N)\" >> {}\n{}",
        log.display(),
        command.args[1]
    );
    let mut pool = LocalPool::processes(command, capacity(2));
    // One producer (alone in its stage), then four consumers two at a time.
    let plan = plan(2);
    let records = run_default(&plan, &job, &mut pool).unwrap();
    assert_eq!(records.len(), 5);
    // Then two attempts one after the other: both go to the first slot's worker.
    for attempt in [2, 3] {
        pool.submit(producer_attempt(&job, &plan, attempt, 0))
            .unwrap();
        pool.wait().unwrap().result.unwrap();
    }
    drop(pool);
    let log = std::fs::read_to_string(&log).unwrap();
    let field = |line: &str, i: usize| line.split(' ').nth(i).unwrap().parse::<u128>().unwrap();
    let starts: Vec<&str> = log.lines().filter(|l| l.starts_with("start")).collect();
    let ends: Vec<&str> = log.lines().filter(|l| l.starts_with("end")).collect();
    assert_eq!(
        starts.len(),
        2,
        "one worker per slot once tasks queue: {log}"
    );
    assert_eq!(ends.len(), 7, "{log}");
    let (first, producer_end) = (field(ends[0], 2), field(ends[0], 3));
    assert_eq!(
        field(starts[0], 1),
        first,
        "the pre-started worker ran the producer: {log}"
    );
    assert!(field(starts[0], 2) < producer_end, "{log}");
    assert!(
        field(starts[1], 2) > producer_end,
        "the second worker started before a second task was ready: {log}"
    );
    assert!(
        ends[1..5].iter().any(|l| field(l, 2) != first),
        "the consumers ran on both workers: {log}"
    );
    assert!(
        ends[5..].iter().all(|l| field(l, 2) == first),
        "one task at a time stays on the first worker: {log}"
    );
}

#[test]
fn a_prestarted_worker_serves_the_next_pool_started_with_its_command() {
    use smallpond_exec::WorkerPool;
    let (dir, job) = job();
    let log = dir.path().join("log");
    let mut command = shell_worker(&format!("echo \"end $task $$\" >> {}", log.display()));
    command.args[1] = format!(
        "echo \"start $$\" >> {}\n{}",
        log.display(),
        command.args[1]
    );
    let mut other = command.clone();
    other.env.push(("A_POOL_OF_ITS_OWN".into(), "1".into()));
    let started = |log: &std::path::Path, n: usize| {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while std::time::Instant::now() < deadline {
            let text = std::fs::read_to_string(log).unwrap_or_default();
            if text.lines().filter(|l| l.starts_with("start")).count() >= n {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("{n} workers did not start");
    };
    // A worker for `other`, then one for `command`: the first is let go, unused.
    smallpond_exec::pool::prestart(other).unwrap();
    started(&log, 1);
    smallpond_exec::pool::prestart(command.clone()).unwrap();
    started(&log, 2);
    let mut pool = LocalPool::processes(command, capacity(1));
    let plan = plan(1);
    pool.submit(producer_attempt(&job, &plan, 1, 0)).unwrap();
    pool.wait().unwrap().result.unwrap();
    drop(pool);
    let log = std::fs::read_to_string(&log).unwrap();
    let pid = |line: &str, i: usize| line.split(' ').nth(i).unwrap().to_string();
    let starts: Vec<String> = log
        .lines()
        .filter(|l| l.starts_with("start"))
        .map(|l| pid(l, 1))
        .collect();
    let ends: Vec<String> = log
        .lines()
        .filter(|l| l.starts_with("end"))
        .map(|l| pid(l, 2))
        .collect();
    assert_eq!(
        starts.len(),
        2,
        "the pool started no worker of its own: {log}"
    );
    assert_eq!(
        ends,
        [starts[1].clone()],
        "the task ran on the worker prestarted for it: {log}"
    );
}

#[test]
fn a_worker_process_that_dies_fails_only_its_attempt() {
    let (dir, job) = job();
    let marks = dir.path().join("marks");
    std::fs::create_dir_all(&marks).unwrap();
    // The first attempt of each task kills its own worker process.
    let command = shell_worker(&format!(
        "if [ ! -e {marks}/$task ]; then touch {marks}/$task; kill -9 $$; fi",
        marks = marks.display()
    ));
    let mut pool = LocalPool::processes(command, capacity(2));
    let mut crashes = Vec::new();
    let records = scheduler::run(
        &plan(2),
        &job,
        &mut pool,
        &SchedulerConfig::default(),
        &mut |e| {
            if let Event::TaskFailed {
                error, will_retry, ..
            } = e
            {
                assert!(*will_retry);
                assert_eq!(error.kind, TaskErrorKind::Crashed);
                crashes.push(error.message.clone());
            }
        },
    )
    .unwrap();
    assert_eq!(records.len(), 5);
    assert_eq!(crashes.len(), 5);
    assert!(crashes[0].contains("killed by signal 9"), "{crashes:?}");
}

#[test]
fn a_record_of_a_different_task_with_the_same_id_is_not_reused() {
    let (_d, job) = job();
    let plan = plan(2);
    write_producer_record(
        &job,
        &plan,
        plan.tasks[0].fingerprint(&|_| unreachable!("the producer reads no task")) ^ 1,
    );
    let runner = Arc::new(MockRunner::default());
    let mut pool = LocalPool::threads(runner.clone(), capacity(2));
    run_default(&plan, &job, &mut pool).unwrap();
    assert_eq!(
        runner.runs.load(Ordering::SeqCst),
        5,
        "the stale record must not be trusted"
    );
}

/// The first attempt of task 2 hangs for 3 s; everything else takes 5 ms.
struct Straggler;

impl TaskRunner for Straggler {
    fn run(&self, attempt: &TaskAttempt) -> Result<TaskRecord, TaskError> {
        let slow = attempt.task == TaskId(2) && attempt.attempt == 1;
        std::thread::sleep(Duration::from_millis(if slow { 3000 } else { 5 }));
        let mut rec = record(attempt);
        rec.start_us = 0;
        rec.end_us = 5_000;
        Ok(rec)
    }
}

fn straggler_run(mode: Speculation) -> (HashMap<TaskId, TaskRecord>, Vec<Event>) {
    let (_d, job) = job();
    let mut pool = LocalPool::threads(Arc::new(Straggler), capacity(2));
    let config = SchedulerConfig {
        speculation: mode,
        speculation_min: Duration::from_millis(100),
        ..SchedulerConfig::default()
    };
    let mut events = Vec::new();
    let records = scheduler::run(&plan(2), &job, &mut pool, &config, &mut |e| {
        events.push(e.clone())
    })
    .unwrap();
    (records, events)
}

#[test]
fn a_straggler_gets_a_speculative_attempt_and_the_first_to_finish_wins() {
    let (records, events) = straggler_run(Speculation::Aggressive);
    assert_eq!(records[&TaskId(2)].attempt, 2, "the speculative copy won");
    let speculated: Vec<_> = events
        .iter()
        .filter(|e| {
            matches!(
                e,
                Event::TaskSpeculated {
                    task: TaskId(2),
                    attempt: 2,
                    ..
                }
            )
        })
        .collect();
    assert_eq!(speculated.len(), 1);
    // The slow attempt never shows up as a result: one finish per task.
    let finished = events
        .iter()
        .filter(|e| matches!(e, Event::TaskFinished { .. }))
        .count();
    assert_eq!(finished, 5);
}

#[test]
fn without_speculation_the_straggler_is_waited_for() {
    let (records, events) = straggler_run(Speculation::Disabled);
    assert_eq!(records[&TaskId(2)].attempt, 1);
    assert!(!events
        .iter()
        .any(|e| matches!(e, Event::TaskSpeculated { .. })));
}

/// A pool of several machines, none larger than `largest`, that may refuse a submission.
struct Cluster {
    inner: LocalPool,
    largest: Resources,
    refuse_submission: Option<u32>,
    submitted: u32,
    max_task_cpus: Arc<AtomicU32>,
}

impl smallpond_exec::WorkerPool for Cluster {
    fn capacity(&self) -> Resources {
        self.inner.capacity()
    }
    fn largest_task(&self) -> Resources {
        self.largest
    }
    fn submit(&mut self, attempt: TaskAttempt) -> smallpond_exec::Result<()> {
        self.submitted += 1;
        if self.refuse_submission == Some(self.submitted) {
            return Err(Error::Pool("no node can run this task".into()));
        }
        self.max_task_cpus
            .fetch_max(attempt.resources.cpus, Ordering::SeqCst);
        self.inner.submit(attempt)
    }
    fn wait(&mut self) -> smallpond_exec::Result<smallpond_exec::pool::Completion> {
        self.inner.wait()
    }
    fn wait_timeout(
        &mut self,
        timeout: Duration,
    ) -> smallpond_exec::Result<Option<smallpond_exec::pool::Completion>> {
        self.inner.wait_timeout(timeout)
    }
}

fn cluster(refuse_submission: Option<u32>) -> (Cluster, Arc<AtomicU32>) {
    let max = Arc::new(AtomicU32::new(0));
    let pool = Cluster {
        inner: LocalPool::threads(Arc::new(MockRunner::default()), capacity(4)),
        largest: Resources::new(1, 1 << 28),
        refuse_submission,
        submitted: 0,
        max_task_cpus: max.clone(),
    };
    (pool, max)
}

#[test]
fn no_task_asks_for_more_than_the_largest_machine_has() {
    let (_d, job) = job();
    // Planned for one 4-CPU machine: the lone producer asks for all 4 CPUs.
    let plan = plan(4);
    assert_eq!(plan.tasks[0].resources.cpus, 4);
    let (mut pool, max) = cluster(None);
    let records = scheduler::run(
        &plan,
        &job,
        &mut pool,
        &SchedulerConfig::default(),
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(records.len(), 5);
    assert_eq!(max.load(Ordering::SeqCst), 1);
}

#[test]
fn a_refused_submission_fails_the_job_instead_of_hanging() {
    for speculation in [Speculation::Disabled, Speculation::Enabled] {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let (_d, job) = job();
            let (mut pool, _) = cluster(Some(3));
            let config = SchedulerConfig {
                speculation,
                ..SchedulerConfig::default()
            };
            let _ = tx.send(scheduler::run(
                &plan(4),
                &job,
                &mut pool,
                &config,
                &mut |_| {},
            ));
        });
        let result = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("the scheduler hung after the pool refused a task");
        let err = result.unwrap_err().to_string();
        assert!(err.contains("no node can run this task"), "{err}");
    }
}

#[test]
fn worker_processes_keep_freed_memory_for_the_next_task() {
    let (dir, job) = job();
    let seen = dir.path().join("seen");
    // Notes the allocator settings it was started with.
    let command = shell_worker(&format!(
        r#"echo "$MALLOC_MMAP_THRESHOLD_ $MALLOC_TRIM_THRESHOLD_ $MALLOC_TOP_PAD_" >> {seen}"#,
        seen = seen.display()
    ));
    let mut pool = LocalPool::processes(command, capacity(2));
    let records = run_default(&plan(2), &job, &mut pool).unwrap();
    assert_eq!(records.len(), 5);
    // What the driver's environment sets is passed on; the rest are the defaults.
    let given = smallpond_exec::pool::allocator_env(|k| std::env::var_os(k));
    let expected: Vec<String> = smallpond_exec::pool::ALLOCATOR_ENV
        .iter()
        .map(|(k, _)| {
            std::env::var(k)
                .ok()
                .or_else(|| {
                    given
                        .iter()
                        .find(|(g, _)| g == k)
                        .map(|(_, v)| v.to_string())
                })
                .unwrap_or_default()
        })
        .collect();
    let seen = std::fs::read_to_string(&seen).unwrap();
    assert_eq!(seen.lines().count(), 5);
    for line in seen.lines() {
        assert_eq!(line, expected.join(" "));
    }
}

/// Runs `plan` on `pool` in a thread, cancels it after `after`, and returns the result with
/// the time from the cancel to the return.
fn cancel_after(
    pool: Box<dyn smallpond_exec::WorkerPool>,
    after: Duration,
) -> (
    Result<HashMap<TaskId, TaskRecord>, Error>,
    Duration,
    Vec<Event>,
) {
    let (_d, job) = job();
    let config = SchedulerConfig {
        speculation: Speculation::Disabled,
        ..SchedulerConfig::default()
    };
    let token = config.cancel.clone();
    let handle = std::thread::spawn(move || {
        let mut pool = pool;
        let mut events = Vec::new();
        let result = scheduler::run(&plan(2), &job, pool.as_mut(), &config, &mut |e| {
            events.push(e.clone())
        });
        (result, std::time::Instant::now(), events)
    });
    std::thread::sleep(after);
    let cancelled = std::time::Instant::now();
    token.cancel();
    let (result, returned, events) = handle.join().unwrap();
    (result, returned.duration_since(cancelled), events)
}

#[test]
fn a_cancelled_job_kills_its_worker_processes_and_stops() {
    let dir = tempfile::tempdir().unwrap();
    let pids = dir.path().join("pids");
    // Every task hangs; the worker writes its pid first.
    let command = shell_worker(&format!("echo $$ >> {}; sleep 60", pids.display()));
    let pool = LocalPool::processes(command, capacity(2));
    let (result, took, events) = cancel_after(Box::new(pool), Duration::from_millis(500));
    assert!(
        matches!(result, Err(Error::Cancelled)),
        "{:?}",
        result.err()
    );
    assert!(took < Duration::from_secs(3), "took {took:?} to stop");
    let started = events
        .iter()
        .filter(|e| matches!(e, Event::TaskStarted { .. }))
        .count();
    assert_eq!(started, 1, "nothing starts after the cancel: {events:?}");
    let pids = std::fs::read_to_string(&pids).unwrap();
    for pid in pids.split_whitespace() {
        assert!(
            !std::path::Path::new(&format!("/proc/{pid}")).exists(),
            "worker {pid} survived the cancel"
        );
    }
}

/// Runs until interrupted (or a minute).
#[derive(Default)]
struct UntilInterrupted(std::sync::atomic::AtomicBool);

impl TaskRunner for UntilInterrupted {
    fn run(&self, attempt: &TaskAttempt) -> Result<TaskRecord, TaskError> {
        let start = std::time::Instant::now();
        while start.elapsed() < Duration::from_secs(60) {
            if self.0.load(Ordering::SeqCst) {
                return Err(TaskError {
                    kind: TaskErrorKind::Other,
                    message: "interrupted".into(),
                    retryable: true,
                });
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Ok(record(attempt))
    }
    fn interrupt(&self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

#[test]
fn a_cancelled_job_interrupts_attempts_on_threads() {
    let pool = LocalPool::threads(Arc::new(UntilInterrupted::default()), capacity(2));
    let (result, took, _) = cancel_after(Box::new(pool), Duration::from_millis(300));
    assert!(
        matches!(result, Err(Error::Cancelled)),
        "{:?}",
        result.err()
    );
    assert!(took < Duration::from_secs(2), "took {took:?} to stop");
}
