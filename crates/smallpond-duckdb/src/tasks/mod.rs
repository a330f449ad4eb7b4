//! One module per task kind; each writes its files into the attempt's private directory.

pub mod hash_partition;
pub mod map_batches;
pub mod rows_partition;
pub mod script;
pub mod sink;
pub mod sql;

use std::path::{Path, PathBuf};

use smallpond_core::plan::ParquetOptions;

use crate::error::io;
use crate::source::path_literal;
use crate::Result;

/// What a task produced (paths inside the private directory, or final for sinks).
#[derive(Debug, Default)]
pub struct Output {
    pub outputs: Vec<Vec<PathBuf>>,
    pub rows: u64,
    pub schema_file: Option<PathBuf>,
    /// A line for the task's log about where its time went.
    pub detail: Option<String>,
}

/// `COPY (query) TO file` options for Parquet.
pub fn parquet_clause(options: &ParquetOptions) -> String {
    format!(
        "FORMAT parquet, COMPRESSION {}, ROW_GROUP_SIZE {}{}",
        options.compression,
        options.row_group_size,
        // A dictionary page may hold one byte: every string column is written plainly.
        match options.string_dictionary {
            true => "",
            false => ", STRING_DICTIONARY_PAGE_SIZE_LIMIT 1",
        }
    )
}

pub fn copy_to_file(query: &str, file: &Path, options: &ParquetOptions) -> String {
    format!(
        "COPY ({query}) TO {} ({})",
        path_literal(file),
        parquet_clause(options)
    )
}

/// A user's query without trailing semicolons, so it can be nested in `COPY (...)`.
pub fn strip_query(query: &str) -> &str {
    query
        .trim()
        .trim_end_matches(|c: char| c == ';' || c.is_whitespace())
}

/// Parquet files below `dir`, sorted.
pub fn parquet_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    if !dir.exists() {
        return Ok(out);
    }
    for entry in std::fs::read_dir(dir).map_err(io(dir))? {
        let path = entry.map_err(io(dir))?.path();
        if path.is_dir() {
            out.extend(parquet_files(&path)?);
        } else if path.extension().is_some_and(|e| e == "parquet") {
            out.push(path);
        }
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_dictionaries_are_turned_off_only_when_asked_and_old_options_read_back() {
        let mut options = ParquetOptions::default();
        assert!(!parquet_clause(&options).contains("DICTIONARY"));
        options.string_dictionary = false;
        assert!(parquet_clause(&options).ends_with(", STRING_DICTIONARY_PAGE_SIZE_LIMIT 1"));
        // Options serialised before the field existed (task records, resumed jobs) keep
        // dictionaries on; the default is not written out.
        let old: ParquetOptions =
            serde_json::from_str(r#"{"compression":"zstd","row_group_size":10}"#).unwrap();
        assert!(old.string_dictionary);
        let json = serde_json::to_string(&ParquetOptions::default()).unwrap();
        assert!(!json.contains("string_dictionary"), "{json}");
    }
}
