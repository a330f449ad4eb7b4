//! Publishing a result into the user's directory, all or nothing.
//!
//! Files are first assembled in a hidden sibling directory (hard links to the job's own
//! staged files where possible, rewritten by DuckDB otherwise), then swapped into place
//! (`crate::publish`: whole at any instant of a kill). A destination that already holds an
//! earlier smallpond result (only `part-*.parquet` files) is replaced; one holding anything
//! else is refused rather than mixed with or deleted.

use std::path::{Path, PathBuf};

use duckdb::Connection;
use smallpond_core::dataset::DataSet;
use smallpond_core::job::JobDirs;
use smallpond_core::plan::ParquetOptions;
use smallpond_core::task::ResolvedPartition;

use super::{copy_to_file, Output};
use crate::connection::{parquet_rows, query_u64};
use crate::error::io;
use crate::publish::Destination;
use crate::source::{input_literal, partition_sql};
use crate::{Error, Result};

pub struct SinkTask<'a> {
    pub path: &'a Path,
    pub parquet: &'a ParquetOptions,
    /// Link task outputs whatever their encoding.
    pub keep_encoding: bool,
    pub job: &'a JobDirs,
    /// Names the attempt (`task-000005.1`) in the staging directory's name.
    pub tag: String,
}

impl SinkTask<'_> {
    pub fn run(&self, conn: &Connection, inputs: &[ResolvedPartition]) -> Result<Output> {
        let dest = Destination::new(self.path);
        // Completes or rolls back an interrupted earlier publish before looking at it.
        let stage = dest.stage(&self.tag)?;
        let result = check_destination(dest.path())
            .and_then(|()| self.assemble(conn, inputs, &stage))
            .and_then(|rows| {
                crate::unify::one_schema(conn, &super::parquet_files(&stage)?, self.parquet)?;
                dest.publish(&stage)?;
                Ok(rows)
            });
        if result.is_err() {
            dest.discard(&stage);
        }
        let rows = result?;
        let files = super::parquet_files(self.path)?;
        Ok(Output {
            outputs: vec![files],
            rows,
            schema_file: None,
        })
    }

    fn assemble(
        &self,
        conn: &Connection,
        inputs: &[ResolvedPartition],
        stage: &Path,
    ) -> Result<u64> {
        let staging = self.job.staging();
        let mut rows = 0;
        for (p, input) in inputs.iter().enumerate() {
            let linkable = input.columns.is_none()
                && input.datasets.iter().all(|d| match d {
                    DataSet::Parquet(d) => {
                        d.columns.is_none() && d.files.iter().all(|f| f.starts_with(&staging))
                    }
                    DataSet::Csv(_) | DataSet::Json(_) => false,
                });
            let files: Vec<&PathBuf> = input.files().collect();
            if linkable
                && !files.is_empty()
                && (self.keep_encoding || encoded_as(conn, &files, self.parquet)?)
            {
                for (i, file) in files.iter().enumerate() {
                    let target = stage.join(format!("part-{p:05}-{i:04}.parquet"));
                    if std::fs::hard_link(file, &target).is_err() {
                        std::fs::copy(file, &target).map_err(io(*file))?;
                    }
                }
                rows += parquet_rows(conn, &files)?;
            } else {
                let target = stage.join(format!("part-{p:05}-0000.parquet"));
                let query = format!("SELECT * FROM {}", partition_sql(input)?);
                rows += query_u64(
                    conn,
                    &copy_to_file(&query, &target, self.parquet),
                    "write output",
                )?;
            }
        }
        Ok(rows)
    }
}

/// Whether `files` are already written as `options` asks (their compression, and row groups
/// no larger), so that they can be published as they are instead of being re-encoded.
fn encoded_as(conn: &Connection, files: &[&PathBuf], options: &ParquetOptions) -> Result<bool> {
    let codec = match options.compression.as_str() {
        "lz4" => "lz4_raw",
        other => other,
    };
    let list: Vec<String> = files.iter().map(|f| input_literal(f)).collect();
    let sql = format!(
        "SELECT (count(DISTINCT lower(compression)) = 1 AND min(lower(compression)) = {} \
                 AND max(row_group_num_rows) <= {})::INTEGER \
         FROM parquet_metadata([{}])",
        crate::source::literal(codec),
        options.row_group_size,
        list.join(", ")
    );
    Ok(query_u64(conn, &sql, "read Parquet metadata")? == 1)
}

/// Refuses destinations that are files or hold something other than an earlier result.
fn check_destination(path: &Path) -> Result<()> {
    if !path.exists() {
        return Ok(());
    }
    if !path.is_dir() {
        return Err(Error::InvalidInput(format!(
            "output path {} exists and is not a directory",
            path.display()
        )));
    }
    for entry in std::fs::read_dir(path).map_err(io(path))? {
        let entry = entry.map_err(io(path))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let ours =
            name.starts_with("part-") && name.ends_with(".parquet") && entry.path().is_file();
        if !ours {
            return Err(Error::InvalidInput(format!(
                "output directory {} is not empty and holds {name:?}, which is not an earlier smallpond output; \
                 choose another directory or remove it",
                path.display()
            )));
        }
    }
    Ok(())
}
