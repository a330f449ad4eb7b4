//! `smallpond._core`: the Python extension module over the smallpond-rs engine.
//!
//! ```text
//!  smallpond (Python: the original API)  ──►  _core.Session / _core.DataFrame  ──►  Rust API
//!                                                        │
//!  worker processes: python -m smallpond._worker  ──►  _core.serve_worker  (DuckDB tasks +
//!                                                        the `python` plugin for functions)
//!  the wheel's `smallpond` command: smallpond._cli  ──►  _core.cli_main  ──►  smallpond_cli::run
//! ```
//! The Python layer only translates arguments and results; planning, scheduling and
//! execution are the Rust engine's. Every call that runs tasks releases the GIL.

mod plugin;
mod pool;
mod session;
mod tally;

use pyo3::prelude::*;

pyo3::create_exception!(
    _core,
    SmallpondError,
    pyo3::exceptions::PyException,
    "A smallpond job or plan failed; the message carries the whole cause chain."
);

/// A Rust error as a Python exception whose message is the whole cause chain.
pub(crate) fn py_err(e: smallpond::Error) -> PyErr {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        let s_text = s.to_string();
        if !text.contains(&s_text) {
            text.push_str("\n  caused by: ");
            text.push_str(&s_text);
        }
        source = s.source();
    }
    SmallpondError::new_err(text)
}

/// Runs `job` (which may run a whole job) off the calling thread and without the GIL, while
/// the calling thread keeps looking for Ctrl-C: Python's SIGINT handler only sets a flag,
/// which Rust code running a job would never see. A `KeyboardInterrupt` (or another signal
/// handler's exception) cancels the job through `cancel`, waits for it to stop (seconds:
/// its tasks are killed or interrupted), and is raised. Any other outcome is the job's.
/// SIGTERM does the same meanwhile (see [`SigtermAsExit`]).
pub(crate) fn interruptible<T: Send + 'static>(
    py: Python<'_>,
    cancel: &smallpond_exec::CancelToken,
    job: impl FnOnce() -> smallpond::Result<T> + Send + 'static,
) -> PyResult<T> {
    let sigterm = SigtermAsExit::install(py);
    let result = run_interruptible(py, cancel, job);
    if let Some(sigterm) = sigterm {
        sigterm.restore(py);
    }
    result
}

/// While a job runs on the main thread, SIGTERM raises `SystemExit(143)` instead of killing
/// the driver on the spot, which would leave the job's status `running`: the exception is
/// raised where Ctrl-C's is, so the job is cancelled first. Only replaces the default
/// disposition; a handler the program set (or an ignored SIGTERM) is left alone.
struct SigtermAsExit {
    signal: Py<PyAny>,
}

impl SigtermAsExit {
    fn install(py: Python<'_>) -> Option<SigtermAsExit> {
        let installed = (|| -> PyResult<Option<Bound<'_, PyAny>>> {
            let threading = py.import("threading")?;
            let main = threading.call_method0("main_thread")?;
            if !threading.call_method0("current_thread")?.is(&main) {
                return Ok(None); // signal handlers can only be set on the main thread
            }
            let signal = py.import("signal")?;
            let term = signal.getattr("SIGTERM")?;
            let current = signal.call_method1("getsignal", (&term,))?;
            if !current.eq(signal.getattr("SIG_DFL")?)? {
                return Ok(None);
            }
            let handler = pyo3::types::PyCFunction::new_closure(
                py,
                None,
                None,
                |_args, _kwargs| -> PyResult<()> {
                    Err(pyo3::exceptions::PySystemExit::new_err(128 + 15))
                },
            )?;
            signal.call_method1("signal", (&term, handler))?;
            Ok(Some(signal.into_any()))
        })();
        match installed {
            Ok(Some(signal)) => Some(SigtermAsExit {
                signal: signal.unbind(),
            }),
            _ => None,
        }
    }

    fn restore(self, py: Python<'_>) {
        let signal = self.signal.bind(py);
        if let Ok(term) = signal.getattr("SIGTERM") {
            let _ = signal
                .getattr("SIG_DFL")
                .and_then(|dfl| signal.call_method1("signal", (term, dfl)));
        }
    }
}

fn run_interruptible<T: Send + 'static>(
    py: Python<'_>,
    cancel: &smallpond_exec::CancelToken,
    job: impl FnOnce() -> smallpond::Result<T> + Send + 'static,
) -> PyResult<T> {
    use std::sync::mpsc::RecvTimeoutError;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("smallpond-job".into())
        .spawn(move || {
            let _ = tx.send(job());
        })
        .map_err(|e| pyo3::exceptions::PyOSError::new_err(format!("starting a job thread: {e}")))?;
    let mut rx = rx;
    loop {
        // (The receiver moves in and out: the closure must be Send, a shared one is not.)
        let (received, back) = py.detach(move || {
            let r = rx.recv_timeout(std::time::Duration::from_millis(100));
            (r, rx)
        });
        rx = back;
        match received {
            Ok(result) => return result.map_err(py_err),
            Err(RecvTimeoutError::Disconnected) => {
                return Err(pyo3::exceptions::PyRuntimeError::new_err(
                    "the job's thread ended without a result (it panicked; see stderr)",
                ))
            }
            Err(RecvTimeoutError::Timeout) => {
                if let Err(interrupt) = py.check_signals() {
                    cancel.cancel();
                    let _ = py.detach(move || rx.recv());
                    return Err(interrupt);
                }
            }
        }
    }
}

/// Runs tasks read from the driver until it closes the pipe. `output_fd` is the protocol
/// channel (the worker's stdout, duplicated before `sys.stdout` was pointed at stderr, so
/// that user code that prints cannot corrupt it).
#[pyfunction]
fn serve_worker(py: Python<'_>, output_fd: i32) -> PyResult<()> {
    let path = format!("/proc/self/fd/{output_fd}");
    let output = std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .map_err(|e| pyo3::exceptions::PyOSError::new_err(format!("{path}: {e}")))?;
    let runner =
        smallpond_duckdb::DuckDbRunner::new(format!("python@{}", smallpond_duckdb::hostname()))
            .with_plugins(session::plugins());
    py.detach(|| {
        let stdin = std::io::stdin();
        smallpond_exec::pool::serve(&runner, stdin.lock(), std::io::BufWriter::new(output))
    })
    .map_err(|e| pyo3::exceptions::PyOSError::new_err(format!("worker protocol: {e}")))
}

/// Runs one task attempt (JSON, as the scheduler sends it) in this process and returns
/// its result as JSON: how a Ray task (or any foreign worker) runs our tasks. `worker`
/// names this worker in the task record (e.g. the Ray node).
#[pyfunction]
fn run_task(py: Python<'_>, attempt_json: &str, worker: &str) -> PyResult<String> {
    use smallpond_exec::TaskRunner;
    let attempt: smallpond_core::task::TaskAttempt = serde_json::from_str(attempt_json)
        .map_err(|e| pyo3::exceptions::PyValueError::new_err(format!("bad task: {e}")))?;
    let runner = task_runner(worker);
    let result = py.detach(|| runner.run(&attempt));
    serde_json::to_string(&result)
        .map_err(|e| pyo3::exceptions::PyValueError::new_err(format!("task result: {e}")))
}

/// This process's runner for `worker`, kept across [`run_task`] calls so that its DuckDB
/// database serves task after task (an open costs 10-20 ms, as in worker processes).
fn task_runner(worker: &str) -> std::sync::Arc<smallpond_duckdb::DuckDbRunner> {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex, OnceLock};
    static RUNNERS: OnceLock<Mutex<HashMap<String, Arc<smallpond_duckdb::DuckDbRunner>>>> =
        OnceLock::new();
    let mut runners = RUNNERS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    Arc::clone(runners.entry(worker.to_string()).or_insert_with(|| {
        Arc::new(smallpond_duckdb::DuckDbRunner::new(worker).with_plugins(session::plugins()))
    }))
}

/// The `smallpond` command line (`argv`: the program name first), run in this process, as
/// the wheel's console command: the same CLI as the cargo-built binary, whose worker
/// processes are `worker + ["__worker"]`. Returns the exit status.
#[pyfunction]
fn cli_main(py: Python<'_>, argv: Vec<std::ffi::OsString>, worker: Vec<String>) -> PyResult<i32> {
    let mut worker = worker.into_iter();
    let program = worker
        .next()
        .ok_or_else(|| pyo3::exceptions::PyValueError::new_err("worker command is empty"))?;
    let worker = smallpond_cli::WorkerCommand {
        program: program.into(),
        args: worker.collect(),
        env: vec![],
    };
    Ok(py.detach(|| smallpond_cli::run(argv, worker)))
}

/// Starts the worker process of the next session whose pool starts workers with this
/// command (`command`: the program, then its arguments) and environment, before that session
/// exists (see `smallpond_exec::pool::prestart`): `init()` calls it before it imports the
/// DataFrame API.
#[pyfunction]
fn prestart_worker(command: Vec<String>, env: Vec<(String, String)>) -> PyResult<()> {
    let mut command = command.into_iter();
    let program = command
        .next()
        .ok_or_else(|| pyo3::exceptions::PyValueError::new_err("worker command is empty"))?;
    smallpond_exec::pool::prestart(smallpond_exec::pool::WorkerCommand {
        program: program.into(),
        args: command.collect(),
        env,
    })
    .map_err(|e| pyo3::exceptions::PyOSError::new_err(format!("could not start a worker: {e}")))
}

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    if std::env::var_os("SMALLPOND_LOG").is_some() {
        smallpond_cli::init_tracing();
    }
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("SmallpondError", m.py().get_type::<SmallpondError>())?;
    m.add_class::<session::Session>()?;
    m.add_class::<session::DataFrame>()?;
    m.add_class::<session::PyTaskOptions>()?;
    m.add_class::<session::PyPartitioning>()?;
    m.add_class::<session::PyUdf>()?;
    m.add_function(wrap_pyfunction!(serve_worker, m)?)?;
    m.add_function(wrap_pyfunction!(run_task, m)?)?;
    m.add_function(wrap_pyfunction!(cli_main, m)?)?;
    m.add_function(wrap_pyfunction!(prestart_worker, m)?)?;
    Ok(())
}
