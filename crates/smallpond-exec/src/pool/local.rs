//! The machinery both local pools share: one thread per CPU slot, each with its own queue of
//! attempts, and a channel of completions. A pool differs only in what a slot does with an
//! attempt ([`Slot`]): run it in this process, or hand it to a worker process.
//!
//! An attempt goes to the idle slot of lowest index, or waits for one: a job that runs one
//! task at a time keeps using one slot (and one worker process, see
//! [`LocalPool::processes`]) instead of waking each slot in turn.

use std::collections::VecDeque;
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, Sender};
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
    /// Each slot's queue; empty once the pool is closed.
    slots: Vec<Sender<TaskAttempt>>,
    idle: Vec<bool>,
    /// Attempts submitted while every slot was busy.
    waiting: VecDeque<TaskAttempt>,
    done: Receiver<(usize, Completion)>,
    threads: Vec<JoinHandle<()>>,
    cancellers: Vec<Canceller>,
    running: usize,
}

impl LocalPool {
    /// Starts `capacity.cpus` slot threads named `{name}-{i}`, slot `i` being `make(i)`.
    pub(crate) fn start<S: Slot>(capacity: Resources, name: &str, make: impl Fn(u32) -> S) -> Self {
        let (done_tx, done) = channel();
        let mut cancellers = Vec::new();
        let mut slots = Vec::new();
        let threads = (0..capacity.cpus.max(1))
            .map(|i| {
                let (jobs_tx, jobs) = channel::<TaskAttempt>();
                slots.push(jobs_tx);
                let done = done_tx.clone();
                let mut slot = make(i);
                cancellers.push(slot.canceller());
                std::thread::Builder::new()
                    .name(format!("{name}-{i}"))
                    .spawn(move || {
                        for attempt in jobs {
                            let completion = Completion {
                                task: attempt.task,
                                attempt: attempt.attempt,
                                result: slot.run(&attempt),
                            };
                            if done.send((i as usize, completion)).is_err() {
                                return;
                            }
                        }
                    })
                    .expect("spawning a pool slot thread")
            })
            .collect();
        Self {
            capacity,
            idle: vec![true; slots.len()],
            slots,
            waiting: VecDeque::new(),
            done,
            threads,
            cancellers,
            running: 0,
        }
    }

    /// Hands waiting attempts to idle slots, lowest index first.
    fn dispatch(&mut self) -> Result<()> {
        while !self.waiting.is_empty() {
            let Some(i) = self.idle.iter().position(|&idle| idle) else {
                return Ok(());
            };
            let attempt = self.waiting.pop_front().expect("an attempt waits");
            self.slots[i].send(attempt).map_err(|_| gone())?;
            self.idle[i] = false;
        }
        Ok(())
    }

    fn received(&mut self, (slot, completion): (usize, Completion)) -> Result<Completion> {
        self.running -= 1;
        self.idle[slot] = true;
        self.dispatch()?;
        Ok(completion)
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
        if self.slots.is_empty() {
            return Err(Error::Cancelled);
        }
        self.waiting.push_back(attempt);
        self.running += 1;
        self.dispatch()
    }

    fn wait(&mut self) -> Result<Completion> {
        if self.running == 0 {
            return Err(Error::Pool("wait() with no attempt running".into()));
        }
        let completion = self.done.recv().map_err(|_| gone())?;
        self.received(completion)
    }

    fn wait_timeout(&mut self, timeout: Duration) -> Result<Option<Completion>> {
        if self.running == 0 {
            return Err(Error::Pool("wait() with no attempt running".into()));
        }
        match self.done.recv_timeout(timeout) {
            Ok(completion) => self.received(completion).map(Some),
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
        self.slots.clear(); // closes the queues: idle slots end, busy ones finish first
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}
