//! Worker pools: where task attempts run.
//!
//! The scheduler submits attempts and waits for completions; a pool decides where and how
//! an attempt runs (a thread of this process, a worker process, a Ray task on some node).
//! A pool never decides *what* runs: retries, ordering and resource accounting are the
//! scheduler's, written once for every pool.

mod local;
mod process;
mod thread;

use smallpond_core::task::{Resources, TaskAttempt, TaskError, TaskRecord};
use smallpond_core::TaskId;

pub use local::LocalPool;
pub use process::{allocator_env, prestart, serve, WorkerCommand, ALLOCATOR_ENV};

use crate::Result;

/// The end of one attempt.
#[derive(Debug)]
pub struct Completion {
    pub task: TaskId,
    pub attempt: u32,
    pub result: Result<TaskRecord, TaskError>,
}

pub trait WorkerPool: Send {
    /// Resources of the pool; the scheduler keeps the running tasks' sum within them.
    fn capacity(&self) -> Resources;

    /// The largest task one machine of the pool can run (a pool of several machines, such
    /// as a Ray cluster, is larger than any of them); no task asks for more.
    fn largest_task(&self) -> Resources {
        self.capacity()
    }

    /// Starts an attempt. The scheduler only submits what fits into the free capacity.
    fn submit(&mut self, attempt: TaskAttempt) -> Result<()>;

    /// Blocks until a submitted attempt ends.
    fn wait(&mut self) -> Result<Completion>;

    /// Like [`WorkerPool::wait`], but gives up after `timeout` (so the scheduler can look
    /// for stragglers meanwhile).
    fn wait_timeout(&mut self, timeout: std::time::Duration) -> Result<Option<Completion>>;

    /// Stops every running attempt now (the job was cancelled): worker processes are
    /// killed, DuckDB queries on threads interrupted. Their completions still arrive, as
    /// failures.
    fn cancel(&mut self) {}
}

/// Machine resources seen by this process.
pub fn local_resources() -> Resources {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get()) as u32;
    Resources::new(cpus, total_memory().unwrap_or(4 << 30))
}

fn total_memory() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}
