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
use smallpond_core::storage::{S3Options, Scheme};
use smallpond_core::task::ResolvedPartition;

use super::{copy_to_file, footer_rows, write_parquet_file, Output};
use crate::connection::query_u64;
use crate::error::io;
use crate::publish::Destination;
use crate::source::{input_literal, partition_sql};
use crate::{remote, s3};
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
    /// How to reach the store of an `s3://` destination.
    pub s3: Option<&'a S3Options>,
}

impl SinkTask<'_> {
    pub fn run(&self, conn: &Connection, inputs: &[ResolvedPartition]) -> Result<Output> {
        match Scheme::of(self.path)? {
            Scheme::Local => {}
            Scheme::S3 => return self.run_s3(conn, inputs),
            Scheme::Http => {
                return Err(Error::InvalidInput(format!(
                    "{}: http(s):// is read only; write to a path or to s3://",
                    self.path.display()
                )))
            }
        }
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

    /// The job's name for appended files: `<time>.<id>`, so that later jobs sort after.
    fn job_name(&self) -> String {
        self.job
            .root
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned()
    }

    /// Publishes into a bucket, where nothing can be renamed: every partition is written
    /// (by DuckDB) into a hidden sibling prefix first; only once all are there, they are
    /// copied into the destination (server-side, one request each), then the earlier
    /// result is deleted (unless appending) and the staged objects too. A failure before
    /// the copies leaves the destination untouched; one during them deletes the copies
    /// made. New files are named after the job (`part-<job>-PPPPP-0000.parquet`), so they
    /// never overwrite the earlier result's while it is still needed.
    fn run_s3(&self, conn: &Connection, inputs: &[ResolvedPartition]) -> Result<Output> {
        let url = self
            .path
            .to_string_lossy()
            .trim_end_matches('/')
            .to_string();
        let dest = s3::Object::parse(&url)?;
        let client = s3::Client::new(self.s3);
        // What the destination holds now; a missing bucket or a refusal ends it here.
        let earlier = remote::check_destination(conn, &url, self.append)?;
        // The stage is the destination's sibling (its child for a bucket's root).
        let parent = match dest.key.rsplit_once('/') {
            Some((parent, _)) => format!("s3://{}/{parent}", dest.bucket),
            None => format!("s3://{}", dest.bucket),
        };
        // `.smallpond-<h>.`, as for local destinations: <h> hashes the destination's name.
        let name = dest.key.rsplit('/').next().unwrap_or_default();
        let family = format!("{parent}/{}", Destination::new(Path::new(name)).prefix());
        let stage = format!("{family}{}.{}", self.job_name(), self.tag);
        let names: Vec<String> = (0..inputs.len())
            .map(|p| format!("part-{}-{p:05}-0000.parquet", self.job_name()))
            .collect();
        let staged: Vec<String> = names.iter().map(|n| format!("{stage}/{n}")).collect();
        let published: Vec<String> = names.iter().map(|n| format!("{url}/{n}")).collect();
        let mut copied = Vec::new();
        let result = self.write_staged(conn, inputs, &staged).and_then(|rows| {
            for (from, to) in staged.iter().zip(&published) {
                client.copy(&s3::Object::parse(from)?, &s3::Object::parse(to)?)?;
                copied.push(to.clone());
            }
            Ok(rows)
        });
        let remove = |urls: &[&String]| -> Vec<String> {
            urls.iter()
                .filter_map(|u| {
                    let object = s3::Object::parse(u).ok()?;
                    client.delete(&object).err().map(|e| e.to_string())
                })
                .collect()
        };
        // This attempt's stage goes, and those earlier attempts left when the store died
        // under them (the next publish into a destination removes them).
        let mut stages = staged.clone();
        if result.is_ok() {
            stages.extend(remote::glob(conn, &format!("{family}*/*")).unwrap_or_default());
        }
        let unstaged = remove(&stages.iter().collect::<Vec<_>>());
        if !unstaged.is_empty() {
            tracing::warn!(
                "{stage}: staged objects not removed: {}",
                unstaged.join("; ")
            );
        }
        let rows = match result {
            Ok(rows) => rows,
            Err(e) => {
                let left = remove(&copied.iter().collect::<Vec<_>>());
                if left.is_empty() {
                    return Err(e);
                }
                return Err(Error::Storage {
                    what: format!("publish into {url}"),
                    message: format!(
                        "{e}; and the files already copied could not be removed: {}",
                        left.join("; ")
                    ),
                });
            }
        };
        if !self.append {
            let old: Vec<&String> = earlier.iter().filter(|f| !published.contains(f)).collect();
            let left = remove(&old);
            if !left.is_empty() {
                return Err(Error::Storage {
                    what: format!("replace the earlier result in {url}"),
                    message: format!(
                        "the new files are in place, but some earlier ones could not be removed: {}",
                        left.join("; ")
                    ),
                });
            }
        }
        Ok(Output {
            outputs: vec![published.into_iter().map(PathBuf::from).collect()],
            rows,
            schema_file: None,
            detail: None,
        })
    }

    /// Writes partition `p` to `targets[p]`, every one with the same columns (those of a
    /// `UNION ALL BY NAME` of all) when the partitions' differ.
    fn write_staged(
        &self,
        conn: &Connection,
        inputs: &[ResolvedPartition],
        targets: &[String],
    ) -> Result<u64> {
        let queries: Vec<String> = inputs
            .iter()
            .map(|i| Ok(format!("SELECT * FROM {}", partition_sql(i)?)))
            .collect::<Result<_>>()?;
        let describe = |sql: &str| {
            crate::connection::describe(conn, sql).map_err(|error| Error::Sql {
                sql: sql.to_string(),
                error,
            })
        };
        let columns: Vec<Vec<(String, String)>> =
            queries.iter().map(|q| describe(q)).collect::<Result<_>>()?;
        let prefix = if columns.windows(2).all(|w| w[0] == w[1]) {
            String::new()
        } else {
            let unified = describe(&queries.join(" UNION ALL BY NAME "))?;
            format!("{} UNION ALL BY NAME ", crate::unify::no_rows(&unified))
        };
        let mut rows = 0;
        for (query, target) in queries.iter().zip(targets) {
            let sql = copy_to_file(&format!("{prefix}{query}"), Path::new(target), self.parquet);
            rows += query_u64(conn, &sql, &format!("write {target}"))?;
        }
        Ok(rows)
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
        let linkable = |input: &ResolvedPartition| {
            input.columns.is_none()
                && input.files().next().is_some()
                && input.datasets.iter().all(|d| match d {
                    DataSet::Parquet(d) => {
                        d.columns.is_none() && d.files.iter().all(|f| f.starts_with(&staging))
                    }
                    DataSet::Csv(_) | DataSet::Json(_) => false,
                })
        };
        // One look at the footers of all the files that could be linked, not one per
        // partition: a thousand partitions made a thousand queries.
        let candidates: Vec<&PathBuf> = inputs
            .iter()
            .filter(|i| linkable(i))
            .flat_map(|i| i.files())
            .collect();
        let encoded = match self.keep_encoding || candidates.is_empty() {
            true => None,
            false => Some(encoded_as(conn, &candidates, self.parquet)?),
        };
        let mut rows = 0;
        for (p, input) in inputs.iter().enumerate() {
            let files: Vec<&PathBuf> = input.files().collect();
            let as_asked = match &encoded {
                None => true,
                Some(ok) => files.iter().all(|f| ok.contains(f.as_path())),
            };
            if linkable(input) && as_asked {
                for (i, file) in files.iter().enumerate() {
                    let target = stage.join(name(p, i));
                    if std::fs::hard_link(file, &target).is_err() {
                        std::fs::copy(file, &target).map_err(io(*file))?;
                    }
                }
                rows += files
                    .iter()
                    .map(|f| footer_rows(f, "a task"))
                    .sum::<Result<u64>>()?;
            } else {
                let target = stage.join(name(p, 0));
                let query = format!("SELECT * FROM {}", partition_sql(input)?);
                rows += write_parquet_file(conn, &query, &target, self.parquet, "write output")?;
            }
        }
        Ok(rows)
    }
}

/// Rows by which DuckDB's row groups may exceed the `ROW_GROUP_SIZE` it was given: it closes
/// a row group once it holds that many rows, a chunk (at most a vector, 2,048 rows) at a time.
const ROW_GROUP_SLACK: u64 = 2048;

/// Those of `files` already written as `options` asks (their compression, and row groups no
/// larger than DuckDB writes when asked for that size), which can be published as they are
/// instead of being re-encoded.
fn encoded_as(
    conn: &Connection,
    files: &[&PathBuf],
    options: &ParquetOptions,
) -> Result<std::collections::HashSet<PathBuf>> {
    let codec = match options.compression.as_str() {
        "lz4" => "lz4_raw",
        other => other,
    };
    let list: Vec<String> = files.iter().map(|f| input_literal(f)).collect();
    let sql = format!(
        "SELECT file_name FROM parquet_metadata([{}]) GROUP BY file_name \
         HAVING count(DISTINCT lower(compression)) = 1 AND min(lower(compression)) = {} \
            AND max(row_group_num_rows) < {}",
        list.join(", "),
        crate::source::literal(codec),
        options.row_group_size + ROW_GROUP_SLACK,
    );
    let failed = |error| Error::Sql {
        sql: sql.clone(),
        error,
    };
    let mut stmt = conn.prepare(&sql).map_err(failed)?;
    let names = stmt
        .query_map([], |row| row.get::<_, String>(0))
        .map_err(failed)?;
    names
        .map(|n| n.map(PathBuf::from).map_err(failed))
        .collect()
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
