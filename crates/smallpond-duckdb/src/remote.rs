//! Object stores and HTTP(S) through DuckDB's `httpfs` extension: loading it, giving it the
//! S3 settings, and listing what a remote path names.
//!
//! The extension is DuckDB's own build for this DuckDB version (1.5.5), found in order at
//! `$SP_HTTPFS_EXTENSION`, in the set-up's cache (`scripts/duckdb.sh` fetches it into
//! `~/.cache/smallpond-rs/duckdb/extensions/`), and in DuckDB's own extension directory
//! (`INSTALL httpfs`). The Python package depends on `duckdb-extension-httpfs` and sets
//! `$SP_HTTPFS_EXTENSION` to its file.

use std::path::{Path, PathBuf};

use duckdb::Connection;
use smallpond_core::dataset::RemoteStats;
use smallpond_core::storage::{FileStat, S3Options, Scheme};

use crate::source::{input_literal, literal};
use crate::{Error, Result};

/// The DuckDB version the extension must have been built for.
const DUCKDB_VERSION: &str = "v1.5.5";

/// The name of the secret that holds a session's S3 settings in a database.
const SECRET: &str = "__smallpond_s3";

/// Where the httpfs extension file is, if it is anywhere we look.
fn extension_file() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("SP_HTTPFS_EXTENSION").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(path));
    }
    let cache = std::env::var_os("SMALLPOND_CACHE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache/smallpond-rs")))?;
    let file = cache
        .join("duckdb/extensions")
        .join(DUCKDB_VERSION)
        .join("httpfs.duckdb_extension");
    file.is_file().then_some(file)
}

/// Makes `conn`'s database able to read (and write) remote paths: loads httpfs once, and
/// sets the S3 settings (`s3`, or none: DuckDB's defaults, anonymous requests).
pub fn enable(conn: &Connection, s3: Option<&S3Options>) -> Result<()> {
    let loaded: bool = conn
        .query_row(
            "SELECT count(*) > 0 FROM duckdb_extensions() WHERE extension_name = 'httpfs' AND loaded",
            [],
            |row| row.get(0),
        )
        .unwrap_or(false);
    if !loaded {
        let (load, shown) = match extension_file() {
            Some(file) => (
                format!("LOAD {}", literal(&file.to_string_lossy())),
                file.display().to_string(),
            ),
            None => (
                "LOAD httpfs".to_string(),
                "DuckDB's extension directory".into(),
            ),
        };
        conn.execute_batch(&load).map_err(|e| {
            Error::InvalidInput(format!(
                "s3:// and http(s):// paths need DuckDB's httpfs extension {DUCKDB_VERSION}, \
                 which could not be loaded from {shown} ({}); install it with \
                 `pip install duckdb-extension-httpfs==1.5.5` (the Python package does) or \
                 `scripts/duckdb.sh`, or set SP_HTTPFS_EXTENSION to its file",
                crate::error::duckdb_message(&e)
            ))
        })?;
    }
    let sql = match s3 {
        Some(options) if *options != S3Options::default() => secret_sql(options),
        _ => format!("DROP SECRET IF EXISTS {SECRET}"),
    };
    conn.execute_batch(&sql).map_err(|error| Error::Sql {
        sql: format!("CREATE SECRET {SECRET} (TYPE s3, ...)"),
        error,
    })
}

/// A connection to the driver's database (`connection::shared`) that reaches object
/// stores as the tasks do.
pub fn driver_connection(s3: Option<&S3Options>) -> Result<Connection> {
    let conn = crate::connection::shared()?;
    enable(&conn, s3)?;
    Ok(conn)
}

fn secret_sql(o: &S3Options) -> String {
    let mut fields = vec!["TYPE s3".to_string()];
    let mut text = |name: &str, value: &Option<String>| {
        if let Some(v) = value {
            fields.push(format!("{name} {}", literal(v)));
        }
    };
    text("KEY_ID", &o.access_key_id);
    text("SECRET", &o.secret_access_key);
    text("SESSION_TOKEN", &o.session_token);
    text("REGION", &o.region);
    text("ENDPOINT", &o.endpoint);
    text("URL_STYLE", &o.url_style);
    if let Some(ssl) = o.use_ssl {
        fields.push(format!("USE_SSL {ssl}"));
    }
    format!("CREATE OR REPLACE SECRET {SECRET} ({})", fields.join(", "))
}

/// The files a remote path names, in order, with what the store says of each: a glob
/// (`s3://b/events/*.parquet`, `**` for any depth), an object, or a "directory" (a key
/// prefix), whose files directly under it (with `recursive`, at any depth) ending with
/// `extension` are taken, except hidden ones (`.` or `_` first, as `_SUCCESS`). An
/// `http(s)://` URL is one file: HTTP cannot list.
pub fn list(
    conn: &Connection,
    path: &Path,
    recursive: bool,
    extension: &str,
) -> Result<Vec<(PathBuf, FileStat)>> {
    let url = path.to_string_lossy().into_owned();
    let globbed = url.contains(['*', '?', '[']);
    let not_found = || {
        Error::InvalidInput(format!(
            "input path does not exist: {url} (no object has this key, nor is there a file \
             `*{extension}` under it)"
        ))
    };
    match Scheme::of(path)? {
        Scheme::Local => Err(Error::InvalidInput(format!("{url} is not a URL"))),
        Scheme::Http if globbed => Err(Error::InvalidInput(format!(
            "{url}: http(s):// paths cannot be listed, so they cannot be globs; give the URLs of the files"
        ))),
        Scheme::Http => stat(conn, std::slice::from_ref(&url)),
        Scheme::S3 if globbed => match listed(conn, &url)? {
            found if found.is_empty() => {
                Err(Error::InvalidInput(format!("no file matches {url:?}")))
            }
            found => Ok(found),
        },
        Scheme::S3 => {
            // A key prefix ("directory") or one object: S3 tells them apart only by asking.
            let prefix = url.trim_end_matches('/');
            let pattern = match recursive {
                true => format!("{prefix}/**/*{extension}"),
                false => format!("{prefix}/*{extension}"),
            };
            let listed = listed(conn, &pattern).map(|found| {
                found
                    .into_iter()
                    .filter(|(f, _)| !hidden(&f.to_string_lossy()[prefix.len()..]))
                    .collect::<Vec<_>>()
            });
            match listed {
                Ok(found) if !found.is_empty() => Ok(found),
                _ if url.ends_with('/') => {
                    listed?;
                    Err(Error::InvalidInput(format!(
                        "no file matches {url:?} (no object `*{extension}` under this prefix)"
                    )))
                }
                listed => match stat(conn, std::slice::from_ref(&url)) {
                    Ok(object) => Ok(object),
                    // The listing's error says more (a missing bucket, a refusal).
                    Err(_) => {
                        listed?;
                        Err(not_found())
                    }
                },
            }
        }
    }
}

/// What an `s3://` destination of `write_parquet` holds (its objects, but what publishing
/// stages there), refusing one that holds something other than an earlier result
/// (`part-*.parquet` directly in it) unless the new files are added (`append`). A missing
/// bucket or a refused request is an error too: checked before the job runs, it comes
/// before the work, not after.
pub fn check_destination(conn: &Connection, url: &str, append: bool) -> Result<Vec<String>> {
    let url = url.trim_end_matches('/');
    let existing = glob(conn, &format!("{url}/**"))?;
    let earlier: Vec<String> = existing
        .into_iter()
        .filter(|f| !f[url.len()..].starts_with("/.smallpond-"))
        .collect();
    if !append {
        if let Some(other) = earlier.iter().find(|f| {
            let name = &f[url.len() + 1..];
            !(name.starts_with("part-") && name.ends_with(".parquet") && !name.contains('/'))
        }) {
            return Err(Error::InvalidInput(format!(
                "output directory {url} is not empty and holds {other:?}, which is not an \
                 earlier smallpond output; choose another directory or remove it"
            )));
        }
    }
    Ok(earlier)
}

/// Whether a key below a prefix (`/a/_b/c.parquet`) has a hidden part.
fn hidden(rest: &str) -> bool {
    rest.split('/').any(|part| part.starts_with(['.', '_']))
}

/// The sorted files matching `pattern` (which may also be one object's URL).
pub fn glob(conn: &Connection, pattern: &str) -> Result<Vec<String>> {
    let sql = format!("SELECT file FROM glob({}) ORDER BY file", literal(pattern));
    let mut stmt = conn
        .prepare(&sql)
        .map_err(|error| listing(pattern, error))?;
    let rows = stmt
        .query_map([], |row| row.get::<_, String>(0))
        .map_err(|error| listing(pattern, error))?;
    rows.collect::<duckdb::Result<Vec<_>>>()
        .map_err(|error| listing(pattern, error))
}

/// The files matching `pattern`, sorted, with their sizes and modification times as the
/// store's listing gives them (one request per thousand objects, no request per object).
fn listed(conn: &Connection, pattern: &str) -> Result<Vec<(PathBuf, FileStat)>> {
    match blobs(conn, &literal(pattern), pattern) {
        Err(Error::Storage { message, .. }) if message.contains("No files found") => Ok(vec![]),
        other => other,
    }
}

/// Size and modification time of each file (a request each: HEAD), in the order given.
fn stat(conn: &Connection, files: &[String]) -> Result<Vec<(PathBuf, FileStat)>> {
    let list: Vec<String> = files.iter().map(|f| input_literal(Path::new(f))).collect();
    let shown = files.first().cloned().unwrap_or_default();
    let found = blobs(conn, &format!("[{}]", list.join(", ")), &shown)?;
    let found: std::collections::HashMap<PathBuf, FileStat> = found.into_iter().collect();
    files
        .iter()
        .map(|f| match found.get(Path::new(f)) {
            Some(stat) => Ok((PathBuf::from(f), *stat)),
            None => Err(Error::InvalidInput(format!(
                "input path does not exist: {f}"
            ))),
        })
        .collect()
}

/// `read_blob(files)` without its content: what the store says of each file, by name.
fn blobs(conn: &Connection, files: &str, shown: &str) -> Result<Vec<(PathBuf, FileStat)>> {
    let sql = format!(
        "SELECT filename, size, coalesce(epoch_us(last_modified), 0) FROM read_blob({files}) \
         ORDER BY filename"
    );
    let mut stmt = conn.prepare(&sql).map_err(|error| listing(shown, error))?;
    let rows = stmt
        .query_map([], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, i64>(1)?,
                row.get::<_, i64>(2)?,
            ))
        })
        .map_err(|error| listing(shown, error))?;
    rows.map(|row| {
        let (name, size, modified_us) = row.map_err(|error| listing(shown, error))?;
        let stat = FileStat {
            size: size.max(0) as u64,
            modified_us,
        };
        Ok((PathBuf::from(name), stat))
    })
    .collect()
}

fn listing(url: &str, error: duckdb::Error) -> Error {
    Error::Storage {
        what: format!("list {url}"),
        message: crate::error::duckdb_message(&error),
    }
}

/// Collects the stats of listed files into a dataset's map.
pub fn stats(files: &[(PathBuf, FileStat)]) -> RemoteStats {
    files
        .iter()
        .map(|(f, s)| (f.to_string_lossy().into_owned(), *s))
        .collect()
}

/// Whether an attempt's inputs include remote files.
pub fn reads_remote(inputs: &[smallpond_core::task::ResolvedPartition]) -> bool {
    inputs
        .iter()
        .any(|p| p.datasets.iter().any(|d| d.has_remote()))
}
