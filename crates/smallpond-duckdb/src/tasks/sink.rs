//! Publishing a result into the user's directory, all or nothing.
//!
//! Files are first assembled in a hidden sibling directory (hard links to the job's own
//! staged files where possible, rewritten by DuckDB otherwise), then swapped into place
//! (`crate::publish`: whole at any instant of a kill). A destination that already holds an
//! earlier smallpond result (only `part-*.parquet` files) is replaced; one holding anything
//! else is refused rather than mixed with or deleted. With `append` (the original
//! smallpond's `write_parquet`), the new files, named after the job so that jobs do not
//! collide, are added to everything the destination holds: the stage gets hard links to
//! the destination's files besides the new ones, and is swapped in the same way.

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
    /// Add to the destination's files instead of replacing them.
    pub append: bool,
    pub job: &'a JobDirs,
    /// Names the attempt (`task-000005.1`) in the staging directory's name.
    pub tag: String,
}

impl SinkTask<'_> {
    pub fn run(&self, conn: &Connection, inputs: &[ResolvedPartition]) -> Result<Output> {
        let dest = Destination::new(self.path);
        // Completes or rolls back an interrupted earlier publish before looking at it.
        let stage = dest.stage(&self.tag)?;
        let checked = match self.append {
            true => check_directory(dest.path()),
            false => check_destination(dest.path()),
        };
        let result = checked
            .and_then(|()| self.assemble(conn, inputs, &stage))
            .and_then(|rows| {
                let new = super::parquet_files(&stage)?;
                crate::unify::one_schema(conn, &new, self.parquet)?;
                if self.append && dest.path().exists() {
                    link_tree(dest.path(), &stage)?;
                }
                dest.publish(&stage)?;
                Ok((rows, new))
            });
        if result.is_err() {
            dest.discard(&stage);
        }
        let (rows, new) = result?;
        // The result is the files written now (appended: not those that were there).
        let files = new
            .iter()
            .map(|f| self.path.join(f.strip_prefix(&stage).unwrap_or(f)))
            .collect();
        Ok(Output {
            outputs: vec![files],
            rows,
            schema_file: None,
            detail: None,
        })
    }

    fn assemble(
        &self,
        conn: &Connection,
        inputs: &[ResolvedPartition],
        stage: &Path,
    ) -> Result<u64> {
        let staging = self.job.staging();
        // Appended files carry the job's name (`<time>.<id>`): later jobs sort after.
        let name = |p: usize, i: usize| match self.append {
            true => {
                let job = self
                    .job
                    .root
                    .file_name()
                    .unwrap_or_default()
                    .to_string_lossy();
                format!("part-{job}-{p:05}-{i:04}.parquet")
            }
            false => format!("part-{p:05}-{i:04}.parquet"),
        };
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
                    let target = stage.join(name(p, i));
                    if std::fs::hard_link(file, &target).is_err() {
                        std::fs::copy(file, &target).map_err(io(*file))?;
                    }
                }
                rows += parquet_rows(conn, &files)?;
            } else {
                let target = stage.join(name(p, 0));
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

/// Refuses a destination that exists and is not a directory.
fn check_directory(path: &Path) -> Result<()> {
    if path.exists() && !path.is_dir() {
        return Err(Error::InvalidInput(format!(
            "output path {} exists and is not a directory",
            path.display()
        )));
    }
    Ok(())
}

/// Hard links (copies across file systems) everything below `from` into `to`, keeping the
/// files `to` already has (the new ones replace same-named earlier ones).
fn link_tree(from: &Path, to: &Path) -> Result<()> {
    for entry in std::fs::read_dir(from).map_err(io(from))? {
        let entry = entry.map_err(io(from))?;
        let (src, dst) = (entry.path(), to.join(entry.file_name()));
        let kind = entry.file_type().map_err(io(&src))?;
        if kind.is_dir() {
            std::fs::create_dir_all(&dst).map_err(io(&dst))?;
            link_tree(&src, &dst)?;
        } else if std::fs::symlink_metadata(&dst).is_err() {
            if kind.is_symlink() {
                let target = std::fs::read_link(&src).map_err(io(&src))?;
                std::os::unix::fs::symlink(target, &dst).map_err(io(&dst))?;
            } else if std::fs::hard_link(&src, &dst).is_err() {
                std::fs::copy(&src, &dst).map_err(io(&src))?;
            }
        }
    }
    Ok(())
}

/// Refuses destinations that are files or hold something other than an earlier result.
fn check_destination(path: &Path) -> Result<()> {
    check_directory(path)?;
    if !path.exists() {
        return Ok(());
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
