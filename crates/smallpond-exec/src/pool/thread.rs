use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use smallpond_core::task::{Resources, TaskAttempt, TaskError, TaskErrorKind, TaskRecord};

use super::local::{Canceller, LocalPool, Slot};
use crate::TaskRunner;

/// A slot that runs attempts on its own thread; a panic fails only its attempt.
struct ThreadSlot(Arc<dyn TaskRunner>);

impl Slot for ThreadSlot {
    fn run(&mut self, attempt: &TaskAttempt) -> Result<TaskRecord, TaskError> {
        catch_unwind(AssertUnwindSafe(|| self.0.run(attempt))).unwrap_or_else(|panic| {
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
        })
    }

    fn canceller(&self) -> Canceller {
        let runner = Arc::clone(&self.0);
        Box::new(move || runner.interrupt())
    }
}

impl LocalPool {
    /// Runs attempts on threads of this process: no start-up cost, but a task that aborts
    /// the process takes the driver with it (use [`LocalPool::processes`] for isolation).
    pub fn threads(runner: Arc<dyn TaskRunner>, capacity: Resources) -> Self {
        LocalPool::start(capacity, "smallpond-worker", |_| {
            ThreadSlot(Arc::clone(&runner))
        })
    }
}
