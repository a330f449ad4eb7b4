//! A worker pool implemented in Python (the Ray pool, `smallpond/_ray.py`).
//!
//! The scheduler stays ours; the Python object only places attempts and reports their
//! ends. It must provide `capacity() -> (cpus, memory_bytes)` (the whole pool, asked again
//! before every run, as nodes may come and go), `largest_task() -> (cpus, memory_bytes)`
//! (what one node holds), `submit(task, attempt, attempt_json, cpus, memory_bytes, gpus,
//! name)` and `wait(timeout_secs or None) -> None | (task, attempt, "ok" | "crashed", text)`
//! where text is `run_task`'s JSON result or, for "crashed", why the attempt's process died.

use pyo3::prelude::*;
use smallpond_core::task::{Resources, TaskAttempt, TaskError, TaskErrorKind, TaskRecord};
use smallpond_core::TaskId;
use smallpond_exec::pool::Completion;
use smallpond_exec::WorkerPool;

pub struct PyPool {
    pool: Py<PyAny>,
    /// The last answers, used if asking again fails (the error then surfaces on submit).
    capacity: Resources,
    largest: Resources,
}

fn job_error(what: &str, e: impl std::fmt::Display) -> smallpond_exec::Error {
    smallpond_exec::Error::Pool(format!("{what}: {e}"))
}

impl PyPool {
    pub fn new(py: Python<'_>, pool: Py<PyAny>) -> PyResult<Self> {
        let capacity = resources(&pool.bind(py).call_method0("capacity")?)?;
        let largest = resources(&pool.bind(py).call_method0("largest_task")?)?;
        Ok(Self {
            pool,
            capacity,
            largest,
        })
    }

    fn ask(&self, method: &str) -> Option<Resources> {
        Python::attach(|py| resources(&self.pool.bind(py).call_method0(method)?)).ok()
    }

    fn wait_for(&mut self, timeout: Option<f64>) -> smallpond_exec::Result<Option<Completion>> {
        let reply = Python::attach(|py| -> PyResult<Option<(u32, u32, String, String)>> {
            self.pool
                .bind(py)
                .call_method1("wait", (timeout,))?
                .extract()
        })
        .map_err(|e| job_error("waiting for a task", e))?;
        let Some((task, attempt, status, text)) = reply else {
            return Ok(None);
        };
        let result: Result<TaskRecord, TaskError> = match status.as_str() {
            "ok" => match serde_json::from_str(&text) {
                Ok(result) => result,
                Err(e) => Err(TaskError {
                    kind: TaskErrorKind::Other,
                    message: format!("undecodable task result: {e}"),
                    retryable: false,
                }),
            },
            _ => Err(TaskError {
                kind: TaskErrorKind::Crashed,
                message: text,
                retryable: true,
            }),
        };
        Ok(Some(Completion {
            task: TaskId(task),
            attempt,
            result,
        }))
    }
}

impl WorkerPool for PyPool {
    fn capacity(&self) -> Resources {
        self.ask("capacity").unwrap_or(self.capacity)
    }

    fn largest_task(&self) -> Resources {
        self.ask("largest_task").unwrap_or(self.largest)
    }

    fn submit(&mut self, attempt: TaskAttempt) -> smallpond_exec::Result<()> {
        let json = serde_json::to_string(&attempt).map_err(|e| job_error("encoding a task", e))?;
        let name = format!("{}-{}.{}", attempt.node_kind, attempt.task, attempt.attempt);
        Python::attach(|py| {
            self.pool.bind(py).call_method1(
                "submit",
                (
                    attempt.task.0,
                    attempt.attempt,
                    json,
                    attempt.resources.cpus,
                    attempt.resources.memory_bytes,
                    attempt.resources.gpus.get(),
                    name,
                ),
            )?;
            Ok::<_, PyErr>(())
        })
        .map_err(|e| job_error("submitting a task", e))
    }

    fn wait(&mut self) -> smallpond_exec::Result<Completion> {
        loop {
            if let Some(c) = self.wait_for(None)? {
                return Ok(c);
            }
        }
    }

    fn wait_timeout(
        &mut self,
        timeout: std::time::Duration,
    ) -> smallpond_exec::Result<Option<Completion>> {
        self.wait_for(Some(timeout.as_secs_f64()))
    }

    fn cancel(&mut self) {
        let cancelled = Python::attach(|py| self.pool.bind(py).call_method0("cancel").map(drop));
        if let Err(e) = cancelled {
            tracing::warn!("cancelling the pool's tasks: {e}");
        }
    }
}

fn resources(reply: &Bound<'_, PyAny>) -> PyResult<Resources> {
    let (cpus, memory_bytes): (u32, u64) = reply.extract()?;
    Ok(Resources::new(cpus.max(1), memory_bytes))
}
