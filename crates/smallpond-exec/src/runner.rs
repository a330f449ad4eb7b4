use smallpond_core::task::{TaskAttempt, TaskError, TaskRecord};

/// Runs one task attempt to completion, in the calling thread.
///
/// The DuckDB runtime is the real implementation; tests use mocks. An implementation
/// publishes the output and writes the task record before returning `Ok`.
pub trait TaskRunner: Send + Sync {
    fn run(&self, attempt: &TaskAttempt) -> Result<TaskRecord, TaskError>;
}
