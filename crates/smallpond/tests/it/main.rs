//! End-to-end tests of the Rust API: every operation is checked against one plain DuckDB
//! query over the same input (same multiset of rows).

mod batches;
mod errors;
mod faults;
mod inputs;
mod join;
mod ops;
mod partitioning;
mod report;
mod scripts;
mod shuffle;
mod sort;
mod util;
