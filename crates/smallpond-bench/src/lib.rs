//! Benchmark workloads for smallpond-rs.
//!
//! * [`gensort`]: records compatible with the Sort Benchmark's `gensort`, generated from any
//!   record number (so parallel tasks produce parts of one sequence).
//! * [`plugin`]: the `gensort` runtime plugin: generation and valsort-style validation as
//!   engine tasks (register it with `DuckDbRunner::with_plugins`).
//! * [`graysort`]: the GraySort pipeline (generate, range-partition, sort, write, validate).

pub mod gensort;
pub mod graysort;
pub mod plugin;

use std::sync::Arc;

/// The plugins benchmark jobs need in every worker.
pub fn plugins() -> smallpond::Plugins {
    smallpond::Plugins::new().with(Arc::new(plugin::GensortPlugin))
}
