//! Datasets: which files hold a partition's data and how to read them.
//!
//! A dataset is plain data (a list of resolved files plus read options), so it can be
//! serialised into a task and read by any worker on any node. Turning a dataset into a
//! DuckDB reader call is the runtime's job (`smallpond-duckdb`), not this crate's.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::storage::{FileStat, Scheme};
use crate::{Error, Result};

/// What the listing of a remote store said of the remote files among a dataset's files
/// (by URL): their sizes, and their identities for fingerprints.
pub type RemoteStats = BTreeMap<String, FileStat>;

/// A column declared by the user for formats without a self-describing schema.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Column {
    pub name: String,
    /// A DuckDB type name, e.g. `BIGINT`, `VARCHAR`, `DECIMAL(18,3)`.
    pub data_type: String,
}

impl Column {
    pub fn new(name: impl Into<String>, data_type: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            data_type: data_type.into(),
        }
    }
}

/// Parquet files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParquetDataSet {
    pub files: Vec<PathBuf>,
    /// Read only these columns (in this order); `None` reads all.
    pub columns: Option<Vec<String>>,
    /// Match columns of files with different schemas by name.
    pub union_by_name: bool,
    /// When `files` is empty, a file whose schema the (empty) relation has.
    pub schema_file: Option<PathBuf>,
    /// Sizes and identities of the remote files among `files`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub remote: RemoteStats,
}

/// Delimited text files with an explicit schema.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CsvDataSet {
    pub files: Vec<PathBuf>,
    pub schema: Vec<Column>,
    pub delim: char,
    pub header: bool,
    /// Quote, escape and date formats; DuckDB's defaults where `None`.
    #[serde(default)]
    pub dialect: CsvDialect,
    /// Still to be detected: the columns (and, where not given, the header line and the
    /// delimiter), by DuckDB's sniffer over the first file, once, before the job is planned;
    /// every partition then reads with what it found. `None` once known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detect: Option<CsvDetect>,
    /// Sizes and identities of the remote files among `files`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub remote: RemoteStats,
}

/// What the user fixed of a CSV source whose columns are detected.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CsvDetect {
    pub header: Option<bool>,
    pub delim: Option<char>,
}

/// The parts of a CSV dialect besides the delimiter and the header line.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CsvDialect {
    pub quote: Option<char>,
    pub escape: Option<char>,
    pub date_format: Option<String>,
    pub timestamp_format: Option<String>,
}

impl CsvDataSet {
    /// The delimiter a user wrote: one character, or DuckDB's escape `\t` for a tab (the
    /// original smallpond passes its `delim` to DuckDB, so scripts write `delim=r"\t"`).
    pub fn delimiter(text: &str) -> crate::Result<char> {
        let mut chars = text.chars();
        match (text, chars.next(), chars.next()) {
            ("\\t", _, _) => Ok('\t'),
            (_, Some(c), None) => Ok(c),
            _ => Err(crate::Error::invalid(
                "delim",
                format!("{text:?} is not one character or \\t (a tab)"),
            )),
        }
    }
}

/// Newline-delimited JSON files with an explicit schema.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JsonDataSet {
    pub files: Vec<PathBuf>,
    pub schema: Vec<Column>,
    /// Sizes and identities of the remote files among `files`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub remote: RemoteStats,
}

/// The data of one partition, or of one input of a task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum DataSet {
    Parquet(ParquetDataSet),
    Csv(CsvDataSet),
    Json(JsonDataSet),
}

impl DataSet {
    /// Parquet files written by the engine itself (task outputs, materialised Arrow data).
    pub fn parquet(files: Vec<PathBuf>) -> Self {
        DataSet::Parquet(ParquetDataSet {
            files,
            columns: None,
            union_by_name: false,
            schema_file: None,
            remote: RemoteStats::new(),
        })
    }

    pub fn files(&self) -> &[PathBuf] {
        match self {
            DataSet::Parquet(d) => &d.files,
            DataSet::Csv(d) => &d.files,
            DataSet::Json(d) => &d.files,
        }
    }

    fn remote(&self) -> &RemoteStats {
        match self {
            DataSet::Parquet(d) => &d.remote,
            DataSet::Csv(d) => &d.remote,
            DataSet::Json(d) => &d.remote,
        }
    }

    /// What is known of `file`, one of this dataset's files: a remote file's listing, a
    /// local file's metadata; `None` for a file that cannot be read.
    pub fn stat(&self, file: &Path) -> Option<FileStat> {
        if let Some(stat) = self.remote().get(file.to_string_lossy().as_ref()) {
            return Some(*stat);
        }
        if crate::storage::is_remote(file) {
            return None;
        }
        let meta = std::fs::metadata(file).ok()?;
        let modified_us = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_micros() as i64);
        Some(FileStat {
            size: meta.len(),
            modified_us,
        })
    }

    /// Whether any of the files is in a remote store.
    pub fn has_remote(&self) -> bool {
        self.files().iter().any(|f| crate::storage::is_remote(f))
    }

    /// The bytes of all the files, when every one's size is known ([`DataSet::stat`]).
    pub fn known_size(&self) -> Option<u64> {
        self.files()
            .iter()
            .map(|f| self.stat(f).map(|s| s.size))
            .sum()
    }

    /// The same format and options over another list of files (a partition of this dataset).
    pub fn with_files(&self, files: Vec<PathBuf>) -> Self {
        let remote: RemoteStats = files
            .iter()
            .filter_map(|f| {
                let key = f.to_string_lossy();
                self.remote()
                    .get(key.as_ref())
                    .map(|s| (key.into_owned(), *s))
            })
            .collect();
        match self {
            DataSet::Parquet(d) => DataSet::Parquet(ParquetDataSet {
                schema_file: if files.is_empty() {
                    d.schema_file.clone().or_else(|| d.files.first().cloned())
                } else {
                    None
                },
                files,
                columns: d.columns.clone(),
                union_by_name: d.union_by_name,
                remote,
            }),
            DataSet::Csv(d) => DataSet::Csv(CsvDataSet {
                files,
                remote,
                ..d.clone()
            }),
            DataSet::Json(d) => DataSet::Json(JsonDataSet {
                files,
                remote,
                ..d.clone()
            }),
        }
    }

    /// Splits the files into `n` groups of consecutive files whose sizes differ by at most one.
    pub fn split_files(&self, n: usize) -> Vec<DataSet> {
        let files = self.files();
        let (base, extra) = (files.len() / n, files.len() % n);
        let mut start = 0;
        (0..n)
            .map(|i| {
                let len = base + usize::from(i < extra);
                let part = files[start..start + len].to_vec();
                start += len;
                self.with_files(part)
            })
            .collect()
    }
}

/// Expands user-supplied paths into a sorted list of files.
///
/// Each entry may be a file, a glob (`data/*.parquet`, `data/**/*.parquet`), or a directory.
/// A directory contributes the files directly in it whose name ends with `extension`
/// (and, with `recursive`, those of its subdirectories too). A path that does not exist or
/// a glob that matches nothing is an error naming it.
pub fn resolve_paths<P: AsRef<Path>>(
    paths: &[P],
    recursive: bool,
    extension: &str,
) -> Result<Vec<PathBuf>> {
    if paths.is_empty() {
        return Err(Error::invalid("paths", "no input path was given"));
    }
    let mut out = Vec::new();
    for path in paths {
        let path = path.as_ref();
        check_local(path)?;
        let text = path.to_string_lossy();
        if text.contains(['*', '?', '[']) {
            let options = glob::MatchOptions {
                require_literal_leading_dot: true,
                ..Default::default()
            };
            let entries = glob::glob_with(&text, options).map_err(|e| Error::BadGlob {
                pattern: text.to_string(),
                reason: e.to_string(),
            })?;
            let mut matched: Vec<PathBuf> = Vec::new();
            for entry in entries {
                let entry = entry.map_err(|e| Error::Io {
                    path: e.path().to_path_buf(),
                    source: e.into(),
                })?;
                if entry.is_file() {
                    matched.push(entry);
                } else if !entry.is_dir() {
                    return Err(not_regular(&entry));
                }
            }
            if matched.is_empty() {
                return Err(Error::EmptyGlob {
                    pattern: text.to_string(),
                });
            }
            matched.sort();
            out.extend(matched);
        } else if path.is_dir() {
            let mut found = Vec::new();
            let mut seen = std::collections::HashSet::new();
            collect_dir(path, recursive, extension, &mut seen, &mut found)?;
            if found.is_empty() {
                return Err(Error::EmptyGlob {
                    pattern: format!(
                        "{}/{}*{extension}",
                        text,
                        if recursive { "**/" } else { "" }
                    ),
                });
            }
            found.sort();
            out.extend(found);
        } else if path.is_file() {
            out.push(path.to_path_buf());
        } else if path.exists() {
            return Err(not_regular(path));
        } else {
            return Err(Error::PathNotFound {
                path: path.to_path_buf(),
            });
        }
    }
    Ok(out)
}

/// A special file (a FIFO would block the reader forever, waiting for a writer).
fn not_regular(path: &Path) -> Error {
    use std::os::unix::fs::FileTypeExt;
    let kind = match std::fs::metadata(path).map(|m| m.file_type()) {
        Ok(t) if t.is_fifo() => "a FIFO",
        Ok(t) if t.is_socket() => "a socket",
        Ok(t) if t.is_block_device() || t.is_char_device() => "a device",
        _ => "a special file",
    };
    Error::NotARegularFile {
        path: path.to_path_buf(),
        kind,
    }
}

/// Refuses a path with a URL scheme (`s3://`, `https://`, ...) where only a local one will
/// do: it would otherwise be taken as a local path (a directory `s3:` here).
fn check_local(path: &Path) -> Result<()> {
    match Scheme::of(path)? {
        Scheme::Local => Ok(()),
        _ => Err(Error::invalid(
            "path",
            format!(
                "{} is a URL; a local or shared file system path is needed here",
                path.display()
            ),
        )),
    }
}

/// Lists `dir`'s files; `seen` holds the directories already listed (by device and inode),
/// so that a symlink back up the tree is not followed around.
fn collect_dir(
    dir: &Path,
    recursive: bool,
    extension: &str,
    seen: &mut std::collections::HashSet<(u64, u64)>,
    out: &mut Vec<PathBuf>,
) -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    let io = |source| Error::Io {
        path: dir.to_path_buf(),
        source,
    };
    let meta = std::fs::metadata(dir).map_err(io)?;
    if !seen.insert((meta.dev(), meta.ino())) {
        tracing::debug!(
            "{}: already listed (a symlink loop), skipped",
            dir.display()
        );
        return Ok(());
    }
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        let hidden = path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with(['.', '_']));
        if hidden {
            continue;
        }
        if path.is_dir() {
            if recursive {
                collect_dir(&path, recursive, extension, seen, out)?;
            }
        } else if path.to_string_lossy().ends_with(extension) {
            if !path.is_file() {
                return Err(not_regular(&path));
            }
            out.push(path);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(p: &Path) {
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, b"x").unwrap();
    }

    #[test]
    fn resolves_files_globs_and_directories() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for f in [
            "a/1.parquet",
            "a/2.parquet",
            "a/b/3.parquet",
            "a/notes.txt",
            "a/.hidden.parquet",
        ] {
            touch(&root.join(f));
        }
        let flat = resolve_paths(&[root.join("a")], false, ".parquet").unwrap();
        assert_eq!(
            flat,
            vec![root.join("a/1.parquet"), root.join("a/2.parquet")]
        );
        let deep = resolve_paths(&[root.join("a")], true, ".parquet").unwrap();
        assert_eq!(deep.len(), 3);
        let globbed = resolve_paths(&[root.join("a/*.parquet")], false, ".parquet").unwrap();
        assert_eq!(globbed, flat);
        let file = resolve_paths(&[root.join("a/notes.txt")], false, ".parquet").unwrap();
        assert_eq!(file, vec![root.join("a/notes.txt")]);
    }

    #[test]
    fn missing_path_and_empty_glob_name_the_culprit() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.parquet");
        let err = resolve_paths(&[&missing], false, ".parquet").unwrap_err();
        assert!(err.to_string().contains("nope.parquet"), "{err}");
        let pattern = dir.path().join("*.parquet");
        let err = resolve_paths(&[&pattern], false, ".parquet").unwrap_err();
        assert!(matches!(err, Error::EmptyGlob { .. }), "{err}");
        assert!(err.to_string().contains("*.parquet"), "{err}");
    }

    #[test]
    fn split_files_is_balanced_and_keeps_schema_for_empty_parts() {
        let files: Vec<PathBuf> = (0..5)
            .map(|i| PathBuf::from(format!("{i}.parquet")))
            .collect();
        let ds = DataSet::parquet(files.clone());
        let parts = ds.split_files(3);
        let sizes: Vec<usize> = parts.iter().map(|p| p.files().len()).collect();
        assert_eq!(sizes, vec![2, 2, 1]);
        let all: Vec<PathBuf> = parts.iter().flat_map(|p| p.files().to_vec()).collect();
        assert_eq!(all, files);
        let parts = ds.split_files(7);
        match &parts[6] {
            DataSet::Parquet(p) => {
                assert!(p.files.is_empty());
                assert_eq!(p.schema_file.as_deref(), Some(Path::new("0.parquet")));
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}
