//! Calls an external script function with a task's inputs; the files it writes are the output.

use std::path::{Path, PathBuf};

use serde::Serialize;
use smallpond_core::plan::ExternalFunction;
use smallpond_core::task::TaskAttempt;

use super::Output;
use crate::error::io;
use crate::plugin::{Plugins, ScriptCall};
use crate::{Error, Result};

/// What a script knows about its attempt (`ScriptCall::context`, as JSON).
#[derive(Debug, Serialize)]
pub struct Context<'a> {
    pub job_dir: &'a Path,
    /// Where partition tasks' outputs are, if not in the job's `staging/`: like the files
    /// there, they go when the job ends.
    pub shuffle_dir: Option<&'a Path>,
    pub task: u32,
    pub attempt: u32,
    pub node: u32,
    pub partition: u32,
    pub cpus: u32,
    pub memory_bytes: u64,
    pub gpus: f64,
    /// Derived from what the task computes: every attempt (and a resumed run) gets the same.
    pub rand_seed: u64,
    pub inputs: &'a [smallpond_core::task::ResolvedPartition],
}

pub fn run(
    plugins: &Plugins,
    function: &ExternalFunction,
    a: &TaskAttempt,
    dir: &Path,
    temp: &Path,
) -> Result<Output> {
    let plugin = plugins.get(&function.runtime)?;
    let context = Context {
        job_dir: &a.job.root,
        shuffle_dir: a.job.shuffle.as_deref(),
        task: a.task.0,
        attempt: a.attempt,
        node: a.node.0,
        partition: a.partition,
        cpus: a.resources.cpus.max(1),
        memory_bytes: a.resources.memory_bytes,
        gpus: a.resources.gpus.get(),
        rand_seed: a.fingerprint,
        inputs: &a.inputs,
    };
    let context = serde_json::to_string(&context)
        .map_err(|e| Error::InvalidInput(format!("cannot describe the task to its script: {e}")))?;
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    std::fs::create_dir_all(temp).map_err(io(temp))?;
    plugin
        .run_script(
            function,
            &ScriptCall {
                inputs: &a.inputs,
                output_dir: dir,
                temp_dir: temp,
                context,
            },
        )
        .map_err(|message| Error::Function {
            name: function.name.clone(),
            message,
        })?;
    let files = all_files(dir)?;
    let mut rows = 0;
    for f in files
        .iter()
        .filter(|f| f.extension().is_some_and(|e| e == "parquet"))
    {
        rows += super::footer_rows(f, "a script")?;
    }
    Ok(Output {
        outputs: vec![files],
        rows,
        schema_file: None,
        detail: None,
    })
}

/// Every regular file below `dir`, sorted (a script may write any format, in subdirectories).
fn all_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).map_err(io(&d))? {
            let entry = entry.map_err(io(&d))?;
            let kind = entry.file_type().map_err(io(entry.path()))?;
            if kind.is_dir() {
                stack.push(entry.path());
            } else if kind.is_file() {
                out.push(entry.path());
            } else {
                return Err(Error::InvalidInput(format!(
                    "a script left {} in its output directory, which is not a regular file",
                    entry.path().display()
                )));
            }
        }
    }
    out.sort();
    Ok(out)
}
