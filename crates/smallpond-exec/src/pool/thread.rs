use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use smallpond_core::task::{Resources, TaskAttempt, TaskError, TaskErrorKind};

use super::{Completion, WorkerPool};
use crate::{Error, Result, TaskRunner};

/// Runs attempts on threads of this process: no start-up cost, but a task that aborts
/// the process takes the driver with it (use [`super::ProcessPool`] for isolation).
/// A panicking task fails alone.
pub struct ThreadPool {
    capacity: Resources,
    jobs: Option<Sender<TaskAttempt>>,
    done: Receiver<Completion>,
    threads: Vec<JoinHandle<()>>,
    running: usize,
}

impl ThreadPool {
    pub fn new(runner: Arc<dyn TaskRunner>, capacity: Resources) -> Self {
        let (jobs_tx, jobs_rx) = channel::<TaskAttempt>();
        let (done_tx, done) = channel();
        let jobs_rx = Arc::new(Mutex::new(jobs_rx));
        let threads = (0..capacity.cpus.max(1))
            .map(|i| {
                let jobs = Arc::clone(&jobs_rx);
                let done = done_tx.clone();
                let runner = Arc::clone(&runner);
                std::thread::Builder::new()
                    .name(format!("smallpond-worker-{i}"))
                    .spawn(move || loop {
                        let next = jobs.lock().map(|rx| rx.recv());
                        let Ok(Ok(attempt)) = next else { return };
                        let result = catch_unwind(AssertUnwindSafe(|| runner.run(&attempt)))
                            .unwrap_or_else(|panic| {
                                let what = panic
                                    .downcast_ref::<String>()
                                    .cloned()
                                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                                    .unwrap_or_else(|| "unknown panic".into());
                                Err(TaskError {
                                    kind: TaskErrorKind::Crashed,
                                    message: format!("task panicked: {what}"),
                                    retryable: true,
                                })
                            });
                        let completion = Completion {
                            task: attempt.task,
                            attempt: attempt.attempt,
                            result,
                        };
                        if done.send(completion).is_err() {
                            return;
                        }
                    })
                    .expect("spawning a worker thread")
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

impl WorkerPool for ThreadPool {
    fn capacity(&self) -> Resources {
        self.capacity
    }

    fn submit(&mut self, attempt: TaskAttempt) -> Result<()> {
        let jobs = self.jobs.as_ref().ok_or(Error::Cancelled)?;
        jobs.send(attempt)
            .map_err(|_| Error::Pool("all worker threads have exited".into()))?;
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
            .map_err(|_| Error::Pool("all worker threads have exited".into()))?;
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

impl Drop for ThreadPool {
    fn drop(&mut self) {
        self.jobs = None; // closes the queue: idle threads return
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}
