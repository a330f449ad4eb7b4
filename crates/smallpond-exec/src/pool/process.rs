//! A pool of worker processes on this machine.
//!
//! ```text
//!  driver                               worker process (e.g. `smallpond __worker`)
//!  slot thread ── TaskAttempt (JSON line) ──► stdin   serve(): run the task
//!              ◄── Result<TaskRecord, TaskError> ──── stdout
//! ```
//! One long-lived process per CPU slot, so the per-task cost is a pipe round trip. A task
//! that kills its process (abort, segfault, OOM killer, `kill -9`) ends that process's
//! pipe: its attempt fails as `Crashed` (and is retried by the scheduler), the slot starts
//! a fresh process for the next attempt, and the driver carries on.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use smallpond_core::task::{Resources, TaskAttempt, TaskError, TaskErrorKind, TaskRecord};

use super::local::{Canceller, LocalPool, Slot};
use crate::{Result, TaskRunner};

/// How to start a worker process. The process must call [`serve`] on its stdin/stdout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerCommand {
    pub program: PathBuf,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
}

/// glibc allocator settings for worker processes, unless the environment sets them: keep
/// freed memory for the next task instead of returning it to the kernel at once. A worker
/// runs task after task, each with a fresh DuckDB instance that allocates hundreds of MB; by
/// default glibc hands most of it back on free and the next task faults every page in again
/// (page faults and zeroing were 8.5% of the GraySort profile; with these settings the 2 GiB
/// sort took 16.1 s instead of 17.9 s, docs/benchmarks.md). At most 256 MiB per arena stays
/// free.
pub const ALLOCATOR_ENV: [(&str, &str); 3] = [
    ("MALLOC_MMAP_THRESHOLD_", "67108864"),
    ("MALLOC_TRIM_THRESHOLD_", "268435456"),
    ("MALLOC_TOP_PAD_", "67108864"),
];

/// The settings of [`ALLOCATOR_ENV`] a worker is started with, given the driver's environment
/// `var`: those it does not set itself, or none with `SP_WORKER_MALLOC=glibc` (glibc's own
/// defaults, e.g. to measure the difference).
pub fn allocator_env(
    var: impl Fn(&str) -> Option<std::ffi::OsString>,
) -> Vec<(&'static str, &'static str)> {
    if var("SP_WORKER_MALLOC").is_some_and(|v| v == "glibc") {
        return Vec::new();
    }
    ALLOCATOR_ENV
        .into_iter()
        .filter(|(k, _)| var(k).is_none())
        .collect()
}

struct Worker {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

/// The pid of a slot's current worker process (0: none), for its canceller. It is cleared
/// before the process is reaped: until then its pid cannot belong to another process.
type WorkerPid = Arc<AtomicU32>;

impl Worker {
    fn spawn(command: &WorkerCommand) -> std::io::Result<Self> {
        use std::os::unix::process::CommandExt;
        let mut child = Command::new(&command.program)
            .args(&command.args)
            .envs(allocator_env(|k| std::env::var_os(k)))
            .envs(command.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .env(DRIVER_PID, std::process::id().to_string())
            // A process group of its own: a terminal's Ctrl-C reaches the driver, which
            // decides, and a cancel kills the worker with whatever it started.
            .process_group(0)
            .spawn()?;
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        Ok(Self {
            child,
            stdin,
            stdout,
        })
    }

    /// Sends one attempt and reads its result; `Err` means the process is gone.
    fn run(&mut self, attempt: &TaskAttempt) -> std::io::Result<Result<TaskRecord, TaskError>> {
        let mut line = serde_json::to_string(attempt)?;
        line.push('\n');
        self.stdin.write_all(line.as_bytes())?;
        self.stdin.flush()?;
        let mut reply = String::new();
        if self.stdout.read_line(&mut reply)? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        Ok(serde_json::from_str(&reply)?)
    }

    /// Lets an idle worker go when its pool ends: its input closes, so it exits, and a
    /// thread of its own reaps it. The driver does not wait for the exit: an interpreter
    /// and a DuckDB that give back their memory take 50-100 ms, which every job's end paid.
    fn release(self) {
        // Without a thread, the worker still exits (its input closes as it is dropped) and
        // is reaped when the driver ends.
        let _ = std::thread::Builder::new()
            .name("smallpond-reaper".into())
            .spawn(move || self.reap());
    }

    /// Reaps the process and describes how it ended.
    fn reap(mut self) -> String {
        drop(self.stdin);
        match self.child.wait() {
            Ok(status) => describe_exit(status),
            Err(e) => format!("could not be waited for: {e}"),
        }
    }
}

fn describe_exit(status: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exited with code {code}"),
        (None, Some(signal)) => format!("was killed by signal {signal}"),
        (None, None) => "ended".into(),
    }
}

/// The one worker process a pool starts with itself, for the slot that gets the first
/// attempt (the lowest idle one, see [`LocalPool`]): its start-up (exec, loading DuckDB, its
/// warm-up) overlaps the driver's planning instead of delaying the first task, tens of
/// milliseconds with the shared DuckDB library (docs/benchmarks.md). The other workers
/// start with the attempts that need them: a job that never runs two tasks at once (one
/// producer, one query) keeps one process, not an idle one per other CPU (an interpreter
/// and a DuckDB: ~25 MB resident, ~10 MB of PSS beside the others); when tasks do queue,
/// the second worker's start overlaps the first one's task.
struct Spare(Mutex<Option<Worker>>);

/// A worker started before its pool, and the command it was started with (see
/// [`prestart`]).
static PRESTARTED: Mutex<Option<(WorkerCommand, Worker)>> = Mutex::new(None);

/// Starts a worker process for the next pool of this process that starts its workers with
/// `command`, before that pool exists: what the driver does meanwhile (Python's `init()`
/// imports the DataFrame API, 30-40 ms) then overlaps the worker's own start (an
/// interpreter, the engine's library, DuckDB's warm-up). A pool with another command starts
/// its own and leaves it; a later call lets it go.
pub fn prestart(command: WorkerCommand) -> std::io::Result<()> {
    let worker = Worker::spawn(&command)?;
    let earlier = PRESTARTED
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .replace((command, worker));
    if let Some((_, unused)) = earlier {
        unused.release();
    }
    Ok(())
}

impl Spare {
    fn start(command: &WorkerCommand) -> Self {
        let prestarted = {
            let mut slot = PRESTARTED.lock().unwrap_or_else(|p| p.into_inner());
            match slot.take() {
                Some((started_with, worker)) if started_with == *command => Some(worker),
                other => {
                    *slot = other;
                    None
                }
            }
        };
        let worker = prestarted.or_else(|| {
            Worker::spawn(command)
                // The first attempt tries again and reports the error.
                .map_err(|e| tracing::debug!("worker not started early: {e}"))
                .ok()
        });
        Self(Mutex::new(worker))
    }

    fn take(&self) -> Option<Worker> {
        self.0.lock().ok()?.take()
    }
}

impl Drop for Spare {
    fn drop(&mut self) {
        if let Some(w) = self.0.get_mut().ok().and_then(Option::take) {
            w.release();
        }
    }
}

/// A slot that hands attempts to its worker process: the pool's spare, or one it starts
/// with its first attempt, and again after it dies.
struct ProcessSlot {
    index: u32,
    command: WorkerCommand,
    worker: Option<Worker>,
    spare: Arc<Spare>,
    pid: WorkerPid,
}

impl ProcessSlot {
    /// The pool's spare if no slot has taken it yet, else a new process.
    fn spawn(&mut self) -> std::io::Result<Worker> {
        let w = match self.spare.take() {
            Some(w) => w,
            None => Worker::spawn(&self.command)?,
        };
        self.pid.store(w.child.id(), Ordering::SeqCst);
        Ok(w)
    }

    fn reap(&mut self, w: Worker) -> String {
        self.pid.store(0, Ordering::SeqCst);
        w.reap()
    }
}

impl Slot for ProcessSlot {
    fn canceller(&self) -> Canceller {
        let pid = Arc::clone(&self.pid);
        Box::new(move || {
            let pid = pid.load(Ordering::SeqCst);
            if let Some(pid) = rustix::process::Pid::from_raw(pid as i32) {
                // The worker's group (it and what it started, which may hold its pipe): the
                // slot's read of the reply ends, its attempt fails as crashed.
                let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
            }
        })
    }

    fn run(&mut self, attempt: &TaskAttempt) -> Result<TaskRecord, TaskError> {
        let spawned = match self.worker.take() {
            Some(w) => Ok(w),
            None => self.spawn(),
        };
        let mut w = match spawned {
            Ok(w) => w,
            Err(e) => {
                return Err(TaskError {
                    kind: TaskErrorKind::Crashed,
                    message: format!(
                        "could not start worker process {}: {e}",
                        self.command.program.display()
                    ),
                    retryable: false,
                })
            }
        };
        match w.run(attempt) {
            Ok(result) => {
                self.worker = Some(w);
                result
            }
            Err(io) => {
                let how = self.reap(w);
                tracing::warn!(slot = self.index, task = %attempt.task, "worker process {how}");
                Err(TaskError {
                    kind: TaskErrorKind::Crashed,
                    message: format!("the worker process running it {how} ({io})"),
                    retryable: true,
                })
            }
        }
    }
}

impl Drop for ProcessSlot {
    fn drop(&mut self) {
        if let Some(w) = self.worker.take() {
            self.pid.store(0, Ordering::SeqCst);
            w.release();
        }
    }
}

impl LocalPool {
    /// One long-lived worker process per CPU slot: one started with the pool, the others
    /// on first use.
    pub fn processes(command: WorkerCommand, capacity: Resources) -> Self {
        let spare = Arc::new(Spare::start(&command));
        LocalPool::start(capacity, "smallpond-slot", |index| ProcessSlot {
            index,
            command: command.clone(),
            worker: None,
            spare: Arc::clone(&spare),
            pid: WorkerPid::default(),
        })
    }
}

/// Tells a worker process which driver started it (see [`die_with_driver`]).
const DRIVER_PID: &str = "SMALLPOND_DRIVER_PID";

/// Makes this worker process die with the driver that started it: a killed driver leaves
/// no worker running on (the kernel sends SIGKILL when the parent goes). If the driver
/// died before that was in place, the worker is already orphaned and exits now.
fn die_with_driver() {
    let Some(driver) = std::env::var(DRIVER_PID)
        .ok()
        .and_then(|p| p.parse::<i32>().ok())
    else {
        return; // not started by a local pool (e.g. by hand)
    };
    #[cfg(target_os = "linux")]
    {
        use rustix::process::{getppid, set_parent_process_death_signal, Signal};
        if let Err(e) = set_parent_process_death_signal(Some(Signal::KILL)) {
            tracing::debug!("worker: no parent-death signal: {e}");
        }
        if getppid().map(|p| p.as_raw_nonzero().get()) != Some(driver) {
            tracing::debug!("worker: the driver (pid {driver}) is gone; exiting");
            std::process::exit(0);
        }
    }
}

/// The worker side: runs attempts read from `input` (one JSON line each) and writes one
/// JSON line of result per attempt to `output`, until `input` ends.
pub fn serve(
    runner: &dyn TaskRunner,
    input: impl BufRead,
    mut output: impl Write,
) -> std::io::Result<()> {
    die_with_driver();
    runner.warm_up();
    for line in input.lines() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let result: Result<TaskRecord, TaskError> = match serde_json::from_str::<TaskAttempt>(&line)
        {
            Ok(attempt) => runner.run(&attempt),
            Err(e) => Err(TaskError {
                kind: TaskErrorKind::Other,
                message: format!("worker could not decode the task: {e}"),
                retryable: false,
            }),
        };
        let mut reply = serde_json::to_string(&result)?;
        reply.push('\n');
        match output
            .write_all(reply.as_bytes())
            .and_then(|()| output.flush())
        {
            // The driver is gone (killed, or it exited while this task ran): as when the
            // input ends, there is nobody to work for.
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
                tracing::debug!("the driver closed the pipe; worker exits");
                return Ok(());
            }
            other => other?,
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::ffi::OsString;

    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<OsString> + 'a {
        move |k| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.into())
    }

    struct NoTasks;
    impl TaskRunner for NoTasks {
        fn run(&self, _: &TaskAttempt) -> Result<TaskRecord, TaskError> {
            unreachable!("no line in these tests is a task")
        }
    }

    /// A writer that fails every write with `kind`.
    struct Failing(std::io::ErrorKind);
    impl Write for Failing {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(self.0.into())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_worker_whose_driver_is_gone_ends_quietly() {
        // A line that is not a task still gets a reply: the write hits the closed pipe.
        let input = &b"not a task\n"[..];
        let broken = Failing(std::io::ErrorKind::BrokenPipe);
        assert!(serve(&NoTasks, input, broken).is_ok());
        let other = Failing(std::io::ErrorKind::PermissionDenied);
        assert!(serve(&NoTasks, input, other).is_err());
        let mut replies = Vec::new();
        serve(&NoTasks, input, &mut replies).unwrap();
        let reply = String::from_utf8(replies).unwrap();
        assert!(
            reply.contains("worker could not decode the task"),
            "{reply}"
        );
    }

    #[test]
    fn workers_get_the_allocator_settings_the_environment_does_not_set() {
        assert_eq!(allocator_env(env(&[])), ALLOCATOR_ENV.to_vec());
        let given = allocator_env(env(&[("MALLOC_TRIM_THRESHOLD_", "1")]));
        assert_eq!(given, vec![ALLOCATOR_ENV[0], ALLOCATOR_ENV[2]]);
        assert!(allocator_env(env(&[("SP_WORKER_MALLOC", "glibc")])).is_empty());
        assert_eq!(
            allocator_env(env(&[("SP_WORKER_MALLOC", "other")])),
            ALLOCATOR_ENV.to_vec()
        );
    }
}
