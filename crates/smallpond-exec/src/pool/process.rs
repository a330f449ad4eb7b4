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
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use smallpond_core::task::{Resources, TaskAttempt, TaskError, TaskErrorKind, TaskRecord};

use super::{Completion, WorkerPool};
use crate::{Error, Result, TaskRunner};

/// How to start a worker process. The process must call [`serve`] on its stdin/stdout.
#[derive(Debug, Clone)]
pub struct WorkerCommand {
    pub program: PathBuf,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
}

pub struct ProcessPool {
    capacity: Resources,
    jobs: Option<Sender<TaskAttempt>>,
    done: Receiver<Completion>,
    threads: Vec<JoinHandle<()>>,
    running: usize,
}

struct Worker {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Worker {
    fn spawn(command: &WorkerCommand) -> std::io::Result<Self> {
        let mut child = Command::new(&command.program)
            .args(&command.args)
            .envs(command.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
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

impl ProcessPool {
    /// Starts `capacity.cpus` slots; each spawns its process on first use.
    pub fn new(command: WorkerCommand, capacity: Resources) -> Self {
        let (jobs_tx, jobs_rx) = channel::<TaskAttempt>();
        let (done_tx, done) = channel();
        let jobs_rx = Arc::new(Mutex::new(jobs_rx));
        let threads = (0..capacity.cpus.max(1))
            .map(|i| {
                let jobs = Arc::clone(&jobs_rx);
                let done = done_tx.clone();
                let command = command.clone();
                std::thread::Builder::new()
                    .name(format!("smallpond-slot-{i}"))
                    .spawn(move || slot(i, &command, &jobs, &done))
                    .expect("spawning a pool slot thread")
            })
            .collect();
        Self {
            capacity,
            jobs: Some(jobs_tx),
            done,
            threads,
            running: 0,
        }
    }
}

fn slot(
    index: u32,
    command: &WorkerCommand,
    jobs: &Mutex<Receiver<TaskAttempt>>,
    done: &Sender<Completion>,
) {
    let mut worker: Option<Worker> = None;
    loop {
        let next = jobs.lock().map(|rx| rx.recv());
        let Ok(Ok(attempt)) = next else { break };
        let result = match worker.take().map_or_else(|| Worker::spawn(command), Ok) {
            Err(e) => Err(TaskError {
                kind: TaskErrorKind::Crashed,
                message: format!(
                    "could not start worker process {}: {e}",
                    command.program.display()
                ),
                retryable: false,
            }),
            Ok(mut w) => match w.run(&attempt) {
                Ok(result) => {
                    worker = Some(w);
                    result
                }
                Err(io) => {
                    let how = w.reap();
                    tracing::warn!(slot = index, task = %attempt.task, "worker process {how}");
                    Err(TaskError {
                        kind: TaskErrorKind::Crashed,
                        message: format!("the worker process running it {how} ({io})"),
                        retryable: true,
                    })
                }
            },
        };
        let completion = Completion {
            task: attempt.task,
            attempt: attempt.attempt,
            result,
        };
        if done.send(completion).is_err() {
            break;
        }
    }
    if let Some(w) = worker {
        w.reap();
    }
}

impl WorkerPool for ProcessPool {
    fn capacity(&self) -> Resources {
        self.capacity
    }

    fn submit(&mut self, attempt: TaskAttempt) -> Result<()> {
        let jobs = self.jobs.as_ref().ok_or(Error::Cancelled)?;
        jobs.send(attempt)
            .map_err(|_| Error::Pool("all pool slots have exited".into()))?;
        self.running += 1;
        Ok(())
    }

    fn wait(&mut self) -> Result<Completion> {
        if self.running == 0 {
            return Err(Error::Pool("wait() with no attempt running".into()));
        }
        let completion = self
            .done
            .recv()
            .map_err(|_| Error::Pool("all pool slots have exited".into()))?;
        self.running -= 1;
        Ok(completion)
    }

    fn wait_timeout(&mut self, timeout: std::time::Duration) -> Result<Option<Completion>> {
        if self.running == 0 {
            return Err(Error::Pool("wait() with no attempt running".into()));
        }
        match self.done.recv_timeout(timeout) {
            Ok(completion) => {
                self.running -= 1;
                Ok(Some(completion))
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => Ok(None),
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                Err(Error::Pool("all workers have exited".into()))
            }
        }
    }
}

impl Drop for ProcessPool {
    fn drop(&mut self) {
        self.jobs = None;
        for t in self.threads.drain(..) {
            let _ = t.join();
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
        output.write_all(reply.as_bytes())?;
        output.flush()?;
    }
    Ok(())
}
