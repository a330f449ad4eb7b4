//! One DuckDB connection per task, configured with the task's limits.

use std::path::Path;

use duckdb::Connection;
use smallpond_core::task::Resources;

use crate::source::{input_literal, path_literal};
use crate::{Error, Result};

/// Opens an in-memory database with `threads` = the task's cpus, `memory_limit` = its
/// memory, and spilling into `temp_dir`. `keep_order` = false lets DuckDB write rows in
/// any order (faster and leaner: right for partitioners, whose output has no order);
/// SQL tasks keep it so that an `ORDER BY` reaches the file.
pub fn open(resources: &Resources, temp_dir: &Path, keep_order: bool) -> Result<Connection> {
    open_with(resources, temp_dir, keep_order, false)
}

/// Like [`open`]; `unsigned_extensions` lets the task `LOAD` extension files that are not
/// signed by DuckDB (users' own builds), which DuckDB only allows when the database opens.
pub fn open_with(
    resources: &Resources,
    temp_dir: &Path,
    keep_order: bool,
    unsigned_extensions: bool,
) -> Result<Connection> {
    let conn = if unsigned_extensions {
        let sql_err = |source| Error::Sql {
            sql: "open in-memory database (allow_unsigned_extensions)".into(),
            error: source,
        };
        let config = duckdb::Config::default()
            .allow_unsigned_extensions()
            .map_err(sql_err)?;
        let conn = Connection::open_in_memory_with_flags(config).map_err(sql_err)?;
        let setup = "SET enable_progress_bar = false;";
        execute(&conn, setup, setup)?;
        conn
    } else {
        in_memory()?
    };
    let setup = settings(resources, temp_dir, keep_order);
    execute(&conn, &setup, &setup)?;
    Ok(conn)
}

/// The statements that give a database a task's settings (see [`open`]). They belong to
/// the database, not to a connection; DuckDB refuses a new `temp_directory` once the
/// database has spilled into the old one.
pub fn settings(resources: &Resources, temp_dir: &Path, keep_order: bool) -> String {
    let mb = (resources.memory_bytes / 1_000_000).max(64);
    format!(
        "SET threads = {}; SET memory_limit = '{mb}MB'; SET temp_directory = {}; \
         SET preserve_insertion_order = {keep_order};",
        resources.cpus.max(1),
        path_literal(temp_dir),
    )
}

/// A plain in-memory database (driver-side reads, plan-time analysis), with DuckDB's
/// progress bar off: it would write to our terminal.
pub fn in_memory() -> Result<Connection> {
    let conn = Connection::open_in_memory().map_err(|source| Error::Sql {
        sql: "open in-memory database".into(),
        error: source,
    })?;
    let setup = "SET enable_progress_bar = false;";
    execute(&conn, setup, setup)?;
    Ok(conn)
}

/// A connection of its own to this process's shared in-memory database, for the driver's
/// plan-time analysis, query binding and reads of results. Opening a database costs 10-20 ms
/// (DuckDB loads its built-in extensions each time), which every DataFrame operation paid;
/// a connection to an open one costs microseconds. Temporary views and settings are the
/// connection's own.
pub fn shared() -> Result<Connection> {
    use std::sync::{Mutex, OnceLock};
    static DATABASE: OnceLock<Option<Mutex<Connection>>> = OnceLock::new();
    let database = DATABASE.get_or_init(|| in_memory().ok().map(Mutex::new));
    let Some(database) = database else {
        return in_memory(); // could not be opened once: say why, each time
    };
    let conn = database
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .try_clone()
        .map_err(|error| Error::Sql {
            sql: "connect to the shared in-memory database".into(),
            error,
        })?;
    let setup = "SET enable_progress_bar = false;";
    execute(&conn, setup, setup)?;
    Ok(conn)
}

/// The columns (name, DuckDB type) `query` returns: `DESCRIBE` binds it and reads no data.
pub fn describe(conn: &Connection, query: &str) -> duckdb::Result<Vec<(String, String)>> {
    let mut stmt = conn.prepare(&format!("DESCRIBE {query}"))?;
    let rows = stmt.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?;
    rows.collect()
}

/// Rows in Parquet files, from their footers (no data is read).
pub fn parquet_rows(conn: &Connection, files: &[&std::path::PathBuf]) -> Result<u64> {
    if files.is_empty() {
        return Ok(0);
    }
    let list: Vec<String> = files.iter().map(|f| input_literal(f)).collect();
    let sql = format!(
        "SELECT sum(num_rows)::BIGINT FROM parquet_file_metadata([{}])",
        list.join(", ")
    );
    query_u64(conn, &sql, "count rows in Parquet footers")
}

/// Runs statements; errors carry `shown` (the user's query text, not the expanded one).
pub fn execute(conn: &Connection, sql: &str, shown: &str) -> Result<()> {
    conn.execute_batch(sql).map_err(|source| Error::Sql {
        sql: shown.to_string(),
        error: source,
    })
}

/// Runs a query returning one integer (e.g. `COPY ... TO`, whose result is its row count).
pub fn query_u64(conn: &Connection, sql: &str, shown: &str) -> Result<u64> {
    let value: Option<i64> = conn
        .query_row(sql, [], |row| row.get(0))
        .map_err(|source| Error::Sql {
            sql: shown.to_string(),
            error: source,
        })?;
    Ok(value.unwrap_or(0).max(0) as u64)
}
