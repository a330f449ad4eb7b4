use smallpond_core::task::{TaskAttempt, TaskError, TaskRecord};

/// Runs one task attempt to completion, in the calling thread.
///
/// The DuckDB runtime is the real implementation; tests use mocks. An implementation
/// publishes the output and writes the task record before returning `Ok`.
pub trait TaskRunner: Send + Sync {
    fn run(&self, attempt: &TaskAttempt) -> Result<TaskRecord, TaskError>;

    /// Done once by a worker process before its first task (while the driver is still
    /// planning): whatever makes the first task as cheap as the next ones.
    fn warm_up(&self) {}

    /// Makes the attempts this runner is running (on threads of this process) stop soon,
    /// failing: the job was cancelled.
    fn interrupt(&self) {}
}
