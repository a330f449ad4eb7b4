//! Plugins: functions the plan names but that live in another language runtime.
//!
//! The plan carries an [`ExternalFunction`] (runtime name + opaque payload); the runner
//! finds the plugin registered for that runtime and lets it
//! * register a scalar function in a task's DuckDB connection (SQL UDFs), or
//! * transform a partition's record batches (`map_batches`), or
//! * run a script over a task's input datasets that writes files (`run_script`).
//!
//! The Python extension module registers the `python` plugin; this crate knows no Python.

use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use duckdb::Connection;
use smallpond_core::plan::ExternalFunction;

/// What a plugin reports when user code fails: shown to the user as it is.
pub type PluginError = String;

pub trait Plugin: Send + Sync {
    /// The `runtime` name in [`ExternalFunction`]s this plugin runs.
    fn runtime(&self) -> &str;

    /// Whether its functions get strings and blobs as `LargeUtf8` / `LargeBinary` (as the
    /// original smallpond hands them to Python) rather than `Utf8` / `Binary`.
    fn large_strings(&self) -> bool {
        false
    }

    /// Registers `function` as a scalar function named `function.name` in `conn`.
    fn register_scalar(
        &self,
        conn: &Connection,
        function: &ExternalFunction,
    ) -> Result<(), PluginError>;

    /// Feeds `input` (batches of at most the node's batch size) through `function`,
    /// calling `emit` for each output batch. Returns the output schema when the plugin
    /// knows it, which is what an output without any batch is written with.
    fn map_batches(
        &self,
        function: &ExternalFunction,
        input_schema: SchemaRef,
        input: &mut dyn Iterator<Item = RecordBatch>,
        emit: &mut dyn FnMut(RecordBatch) -> Result<(), PluginError>,
    ) -> Result<Option<SchemaRef>, PluginError>;

    /// Runs `function` as a script task (see [`ScriptCall`]).
    fn run_script(
        &self,
        function: &ExternalFunction,
        call: &ScriptCall<'_>,
    ) -> Result<(), PluginError> {
        let _ = call;
        Err(format!(
            "the {} runtime cannot run script functions ({})",
            self.runtime(),
            function.name
        ))
    }
}

/// What a script function is given: the task's inputs and where to leave its output.
pub struct ScriptCall<'a> {
    /// One resolved partition per input of the node.
    pub inputs: &'a [smallpond_core::task::ResolvedPartition],
    /// Empty, private to this attempt; every file left here is the output.
    pub output_dir: &'a std::path::Path,
    /// Scratch space, removed after the attempt.
    pub temp_dir: &'a std::path::Path,
    /// The attempt as JSON (`smallpond_duckdb::tasks::script::Context`).
    pub context: String,
}

/// The plugins of one runner, by runtime name.
#[derive(Clone, Default)]
pub struct Plugins(Vec<Arc<dyn Plugin>>);

impl Plugins {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with(mut self, plugin: Arc<dyn Plugin>) -> Self {
        self.0.retain(|p| p.runtime() != plugin.runtime());
        self.0.push(plugin);
        self
    }

    pub fn get(&self, runtime: &str) -> crate::Result<&dyn Plugin> {
        self.0
            .iter()
            .find(|p| p.runtime() == runtime)
            .map(|p| p.as_ref())
            .ok_or_else(|| {
                crate::Error::InvalidInput(format!(
                    "this worker cannot run {runtime} functions (no {runtime} runtime is loaded)"
                ))
            })
    }
}
