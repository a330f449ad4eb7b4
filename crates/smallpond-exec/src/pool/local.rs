//! The machinery both local pools share: one thread per CPU slot, a shared queue of
//! attempts and a channel of completions. A pool differs only in what a slot does with
//! an attempt ([`Slot`]): run it in this process, or hand it to a worker process.

use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use smallpond_core::task::{Resources, TaskAttempt, TaskError, TaskRecord};

use super::{Completion, WorkerPool};
use crate::{Error, Result};

/// What one slot does with an attempt. Dropped when its thread ends (pool shut down).
pub(crate) trait Slot: Send + 'static {
    fn run(&mut self, attempt: &TaskAttempt) -> Result<TaskRecord, TaskError>;
    /// What stops the slot's running attempt from another thread (see
    /// [`WorkerPool::cancel`]).
    fn canceller(&self) -> Canceller;
}

/// Stops a slot's running attempt.
pub(crate) type Canceller = Box<dyn Fn() + Send + Sync>;

/// A pool of slots on this machine: see [`LocalPool::threads`] and
/// [`LocalPool::processes`].
pub struct LocalPool {
    capacity: Resources,
    jobs: Option<Sender<TaskAttempt>>,
    done: Receiver<Completion>,
    threads: Vec<JoinHandle<()>>,
    cancellers: Vec<Canceller>,
    running: usize,
}

impl LocalPool {
    /// Starts `capacity.cpus` slot threads named `{name}-{i}`, slot `i` being `make(i)`.
    pub(crate) fn start<S: Slot>(capacity: Resources, name: &str, make: impl Fn(u32) -> S) -> Self {
        let (jobs_tx, jobs_rx) = channel::<TaskAttempt>();
        let (done_tx, done) = channel();
        let jobs_rx = Arc::new(Mutex::new(jobs_rx));
        let mut cancellers = Vec::new();
        let threads = (0..capacity.cpus.max(1))
            .map(|i| {
                let jobs = Arc::clone(&jobs_rx);
                let done = done_tx.clone();
                let mut slot = make(i);
                cancellers.push(slot.canceller());
                std::thread::Builder::new()
                    .name(format!("{name}-{i}"))
                    .spawn(move || loop {
                        let next = jobs.lock().map(|rx| rx.recv());
                        let Ok(Ok(attempt)) = next else { return };
                        let completion = Completion {
                            task: attempt.task,
                            attempt: attempt.attempt,
                            result: slot.run(&attempt),
                        };
                        if done.send(completion).is_err() {
                            return;
                        }
                    })
                    .expect("spawning a pool slot thread")
            })
            .collect();
        Self {
            capacity,
            jobs: Some(jobs_tx),
            done,
            threads,
            cancellers,
            running: 0,
        }
    }

    fn received(&mut self, completion: Completion) -> Completion {
        self.running -= 1;
        completion
    }
}

fn gone() -> Error {
    Error::Pool("all pool slots have exited".into())
}

impl WorkerPool for LocalPool {
    fn capacity(&self) -> Resources {
        self.capacity
    }

    fn submit(&mut self, attempt: TaskAttempt) -> Result<()> {
        let jobs = self.jobs.as_ref().ok_or(Error::Cancelled)?;
        jobs.send(attempt).map_err(|_| gone())?;
        self.running += 1;
        Ok(())
    }

    fn wait(&mut self) -> Result<Completion> {
        if self.running == 0 {
            return Err(Error::Pool("wait() with no attempt running".into()));
        }
        let completion = self.done.recv().map_err(|_| gone())?;
        Ok(self.received(completion))
    }

    fn wait_timeout(&mut self, timeout: Duration) -> Result<Option<Completion>> {
        if self.running == 0 {
            return Err(Error::Pool("wait() with no attempt running".into()));
        }
        match self.done.recv_timeout(timeout) {
            Ok(completion) => Ok(Some(self.received(completion))),
            Err(RecvTimeoutError::Timeout) => Ok(None),
            Err(RecvTimeoutError::Disconnected) => Err(gone()),
        }
    }

    fn cancel(&mut self) {
        for cancel in &self.cancellers {
            cancel();
        }
    }
}

impl Drop for LocalPool {
    fn drop(&mut self) {
        self.jobs = None; // closes the queue: idle slots end, busy ones finish first
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}
