//! Hash, random, by-column and range partitioning in one pass over the input.
//!
//! The whole input is written by a single `COPY ... PARTITION_BY` statement: DuckDB
//! computes each row's partition, routes it to that partition's writer and writes all
//! partitions in parallel. There is never one query per output partition.

use std::path::{Path, PathBuf};

use duckdb::types::Value;
use duckdb::Connection;
use smallpond_core::plan::{ParquetOptions, PartitionMethod, SortKey};
use smallpond_core::task::ResolvedPartition;

use super::{
    footer_rows, parquet_clause, parquet_files, partitioned_output, write_parquet_file, Output,
};
use crate::connection::query_u64;
use crate::error::io;
use crate::source::{bind_query, create_input_views, ident, partition_sql, path_literal};
use crate::{Error, Result};

/// Name of the partition index column while writing; never in the output files.
pub const PARTITION_COLUMN: &str = "__smallpond_partition";

/// Whether `repartition(by=...)` names a column (`bucket`) rather than, as the original
/// smallpond also allows, giving an expression (`item % 10`).
pub fn is_column_name(by: &str) -> bool {
    let mut chars = by.chars();
    chars.next().is_some_and(|c| c.is_alphabetic() || c == '_')
        && chars.all(|c| c.is_alphanumeric() || c == '_')
}

/// The SQL of `repartition(by=...)`: a column name quoted, an expression parenthesised.
pub fn partition_key_sql(by: &str) -> String {
    if is_column_name(by) {
        ident(by)
    } else {
        format!("({by})")
    }
}

/// DuckDB's `create_sort_key` of `keys`: one value (BIGINT or BLOB) per row that orders
/// rows as `ORDER BY` [`order_by_sql`] does, NULLs last.
pub fn sort_key_sql(keys: &[SortKey]) -> String {
    let args: Vec<String> = keys
        .iter()
        .map(|k| {
            format!(
                "{}, '{} NULLS LAST'",
                partition_key_sql(&k.expr),
                direction(k)
            )
        })
        .collect();
    format!("create_sort_key({})", args.join(", "))
}

/// The `ORDER BY` list of `keys`.
pub fn order_by_sql(keys: &[SortKey]) -> String {
    let list: Vec<String> = keys
        .iter()
        .map(|k| format!("{} {} NULLS LAST", partition_key_sql(&k.expr), direction(k)))
        .collect();
    list.join(", ")
}

fn direction(k: &SortKey) -> &'static str {
    if k.descending {
        "DESC"
    } else {
        "ASC"
    }
}

/// Name of the boundary column of a range partition's second input.
pub const BOUND_COLUMN: &str = "bound";

/// Name of the column holding a boundary's key value as it is (a one-key sort; NULL for
/// several keys, or when the boundary is a NULL key).
pub const RAW_BOUND_COLUMN: &str = "raw";

/// Prefix of the columns that carry the boundaries' values while a range is chosen.
const BOUND_VALUE_PREFIX: &str = "__smallpond_bound_";

/// Statements over `{0}` (the whole input) whose last gives the `n - 1` boundaries of `n`
/// ranges of equal row counts, estimated from a sample of about `sample_rows` rows. One row
/// per boundary: the sort key [`BOUND_COLUMN`] (a key that fills more than a range repeats),
/// `lo` and `hi`, the sampled fractions of rows whose key is below it and at most it, and
/// for one key its value ([`RAW_BOUND_COLUMN`]).
///
/// The first statement takes the row count (free from Parquet metadata) to choose the
/// fraction of rows kept; each row is then kept with that probability. A reservoir of the
/// same size costs two to four times as much and runs on one thread.
pub fn bounds_query(keys: &[SortKey], n: u32, sample_rows: u64) -> (Vec<String>, String) {
    const FRACTION: &str = "__smallpond_sample_fraction";
    let quantiles: Vec<String> = (1..n)
        .map(|i| format!("{}", f64::from(i) / f64::from(n)))
        .collect();
    let setup = format!(
        "SET VARIABLE {FRACTION} = (SELECT least(1.0, {sample_rows} / greatest(count(*), 1)) \
         FROM {{0}})"
    );
    // One key: each boundary's value too, so that rows can be compared with it as they are.
    let raw = match keys {
        [one] => partition_key_sql(&one.expr),
        _ => "NULL".to_string(),
    };
    let query = format!(
        "WITH sample AS MATERIALIZED (SELECT {key} AS k, {raw} AS r FROM {{0}} \
             WHERE random() < getvariable('{FRACTION}')), \
         counts AS (SELECT k, count(*) AS c, any_value(r) AS r FROM sample GROUP BY k), \
         upto AS (SELECT k, c, r, sum(c) OVER (ORDER BY k) AS upto, sum(c) OVER () AS total \
             FROM counts), \
         bounds AS (SELECT unnest(quantile_disc(k, [{quantiles}])) AS b FROM sample) \
         SELECT b AS {BOUND_COLUMN}, (upto - c) / total AS lo, upto / total AS hi, \
             r AS {RAW_BOUND_COLUMN} \
         FROM bounds JOIN upto ON upto.k = bounds.b",
        key = sort_key_sql(keys),
        quantiles = quantiles.join(", "),
    );
    (vec![setup], query)
}

/// A range boundary: a sort key and the fractions of rows below it and at most it.
struct Bound {
    key: Value,
    lo: f64,
    hi: f64,
    /// The key's own value is NULL (or unknown: several keys).
    raw_null: bool,
}

/// Reads the boundaries of a range partition (see [`bounds_query`]), in ascending order.
fn read_bounds(conn: &Connection, bounds: &ResolvedPartition) -> Result<Vec<Bound>> {
    let sql = format!(
        "SELECT {BOUND_COLUMN}, lo, hi, {RAW_BOUND_COLUMN} IS NULL FROM {}",
        partition_sql(bounds)?
    );
    let shown = "read the range boundaries";
    let wrap = |source| Error::Sql {
        sql: shown.to_string(),
        error: source,
    };
    let mut stmt = conn.prepare(&sql).map_err(wrap)?;
    let rows = stmt
        .query_map([], |row| {
            Ok(Bound {
                key: row.get(0)?,
                lo: row.get(1)?,
                hi: row.get(2)?,
                raw_null: row.get(3)?,
            })
        })
        .map_err(wrap)?;
    let mut out = Vec::new();
    for bound in rows {
        out.push(bound.map_err(wrap)?);
    }
    out.sort_by(|a, b| compare_values(&a.key, &b.key));
    Ok(out)
}

fn compare_values(a: &Value, b: &Value) -> std::cmp::Ordering {
    match (a, b) {
        (Value::BigInt(a), Value::BigInt(b)) => a.cmp(b),
        (Value::Blob(a), Value::Blob(b)) => a.cmp(b),
        _ => std::cmp::Ordering::Equal,
    }
}

/// A sort key as SQL: `create_sort_key` gives a BIGINT or a BLOB.
fn sql_literal(v: &Value) -> Result<String> {
    use std::fmt::Write;
    match v {
        Value::BigInt(i) => Ok(format!("{i}::BIGINT")),
        Value::Blob(bytes) => {
            let mut s = String::with_capacity(bytes.len() * 4 + 10);
            s.push('\'');
            for b in bytes {
                let _ = write!(s, "\\x{b:02X}");
            }
            s.push_str("'::BLOB");
            Ok(s)
        }
        other => Err(Error::InvalidInput(format!(
            "a range boundary is {other:?}, not a sort key"
        ))),
    }
}

/// The partition (`0..n`) of a row whose sort key is `key`: how many boundaries are below
/// it, found by a binary search written out as nested `CASE`s. A key equal to a boundary
/// that repeats `r` times may go to any of the `r + 1` ranges around it: its rows are
/// spread over them at random, in proportion to the share of its rows each range should
/// hold (from the sampled fractions), so that a key filling several ranges still gives
/// balanced partitions and every range stays in order.
///
/// With `raw_descending` (one key, no NULL boundary: whether it descends), `key` is the key itself and boundary `i` the column
/// `{BOUND_VALUE_PREFIX}{i}` (its value, typed as the key): no sort key is made per row,
/// which cost most of the routing's time (10M GraySort keys read and routed on one thread:
/// 0.68 s with sort keys, 0.43 s with the values). A descending key compares the other way;
/// a NULL key, which
/// sorts last either way, fails every comparison and goes to the last range, as it should.
fn range_expr(key: &str, bounds: &[Bound], n: u32, raw_descending: Option<bool>) -> Result<String> {
    // Distinct boundaries: literal, how many boundaries are below, repeats, lo, hi.
    struct Distinct<'a> {
        literal: String,
        below: usize,
        repeats: usize,
        bound: &'a Bound,
    }
    let mut distinct: Vec<Distinct<'_>> = Vec::new();
    for (i, b) in bounds.iter().enumerate() {
        match distinct.last_mut() {
            Some(last) if compare_values(&last.bound.key, &b.key).is_eq() => last.repeats += 1,
            _ => distinct.push(Distinct {
                literal: match raw_descending {
                    Some(_) => format!("{BOUND_VALUE_PREFIX}{i}"),
                    None => sql_literal(&b.key)?,
                },
                below: i,
                repeats: 1,
                bound: b,
            }),
        }
    }
    // `j` distinct boundaries are below the key: so are `below(j)` boundaries.
    let below = |j: usize| distinct.get(j).map_or(bounds.len(), |d| d.below);
    let at_most = if raw_descending == Some(true) {
        ">="
    } else {
        "<="
    };
    fn search(
        key: &str,
        at_most: &str,
        distinct: &[Distinct<'_>],
        below: &dyn Fn(usize) -> usize,
        lo: usize,
        hi: usize,
    ) -> String {
        if lo == hi {
            return below(lo).to_string();
        }
        let mid = (lo + hi) / 2;
        format!(
            "CASE WHEN {key} {at_most} {} THEN {} ELSE {} END",
            distinct[mid].literal,
            search(key, at_most, distinct, below, lo, mid),
            search(key, at_most, distinct, below, mid + 1, hi)
        )
    }
    let tree = search(key, at_most, &distinct, &below, 0, distinct.len());
    let heavy: Vec<String> = distinct
        .iter()
        .filter(|d| d.repeats > 1)
        .map(|d| {
            let (first, last) = (d.below, d.below + d.repeats);
            let (lo, span) = (d.bound.lo, (d.bound.hi - d.bound.lo).max(0.0));
            format!(
                "WHEN {key} = {} THEN least(greatest(floor(({lo} + random() * {span}) * {n})::BIGINT, \
                 {first}), {last})",
                d.literal
            )
        })
        .collect();
    Ok(if heavy.is_empty() {
        format!("({tree})::BIGINT")
    } else {
        format!("(CASE {} ELSE {tree} END)::BIGINT", heavy.join(" "))
    })
}

/// The SQL expression giving a row's partition in `0..n`.
pub fn partition_expr(method: &PartitionMethod, n: u32) -> String {
    match method {
        PartitionMethod::Hash(keys) => {
            let keys: Vec<String> = keys.iter().map(|k| ident(k)).collect();
            format!("(hash({}) % {n})::BIGINT", keys.join(", "))
        }
        PartitionMethod::Random => format!("floor(random() * {n})::BIGINT"),
        PartitionMethod::Column(col) => {
            let c = partition_key_sql(col);
            format!(
                "CASE WHEN {c} >= 0 AND {c} < {n} THEN {c}::BIGINT \
                 ELSE error('partition key ' || coalesce({c}::VARCHAR, 'NULL') || ' is out of range 0-{}') END",
                n - 1
            )
        }
        PartitionMethod::Range(_) => unreachable!("a range partition reads its boundaries"),
    }
}

/// Where rows go: `n` partitions chosen by `method`; with `keep`, each row's partition index
/// is also written into that column.
pub struct Routing<'a> {
    pub method: &'a PartitionMethod,
    pub n: u32,
    pub keep: Option<&'a str>,
}

/// A range partition: rows of `input` go to the ranges between the boundaries in `bounds`.
pub fn run_range(
    conn: &Connection,
    input: &ResolvedPartition,
    bounds: &ResolvedPartition,
    keys: &[SortKey],
    n: u32,
    parquet: &ParquetOptions,
    dir: &Path,
) -> Result<Output> {
    let bounds_input = bounds;
    let bounds = read_bounds(conn, bounds_input)?;
    if bounds.len() >= n as usize {
        return Err(Error::InvalidInput(format!(
            "{} range boundaries for {n} partitions",
            bounds.len()
        )));
    }
    const KEY: &str = "__smallpond_sort_key";
    let source = partition_sql(input)?;
    let select = match keys {
        // One key and no NULL boundary: rows are compared with the boundaries' values,
        // joined to every row as one row of columns (so that DuckDB types them).
        [key] if bounds.iter().all(|b| !b.raw_null) => {
            let columns: Vec<String> = (0..bounds.len())
                .map(|i| format!("{BOUND_VALUE_PREFIX}{i}"))
                .collect();
            let pivot: Vec<String> = columns
                .iter()
                .enumerate()
                .map(|(i, c)| format!("max({RAW_BOUND_COLUMN}) FILTER (WHERE i = {i}) AS {c}"))
                .collect();
            format!(
                "SELECT * EXCLUDE ({}), {} AS {PARTITION_COLUMN} FROM {source}, \
                 (SELECT {} FROM (SELECT {RAW_BOUND_COLUMN}, row_number() OVER (ORDER BY {BOUND_COLUMN}) - 1 AS i \
                 FROM {}))",
                columns.join(", "),
                range_expr(&partition_key_sql(&key.expr), &bounds, n, Some(key.descending))?,
                pivot.join(", "),
                partition_sql(bounds_input)?,
            )
        }
        _ => format!(
            "SELECT * EXCLUDE ({KEY}), {} AS {PARTITION_COLUMN} FROM (SELECT *, {} AS {KEY} FROM {source})",
            range_expr(KEY, &bounds, n, None)?,
            sort_key_sql(keys)
        ),
    };
    let shown = PartitionMethod::Range(keys.to_vec()).to_string();
    write_partitioned(conn, &select, &source, n, parquet, dir, &shown)
}

pub fn run(
    conn: &Connection,
    input: &ResolvedPartition,
    routing: &Routing<'_>,
    // The query each row goes through first, and its placeholders' values.
    pre_query: Option<(&str, &crate::source::QueryValues)>,
    parquet: &ParquetOptions,
    dir: &Path,
) -> Result<Output> {
    let Routing { method, n, keep } = *routing;
    let source = match pre_query {
        None => partition_sql(input)?,
        Some((template, values)) => {
            create_input_views(conn, std::slice::from_ref(input))?;
            format!("({})", bind_query(super::strip_query(template), 1, values)?)
        }
    };
    let expr = partition_expr(method, n);
    let select = match keep {
        // Partitioning by that very column already keeps it as it is.
        Some(col) if *method != PartitionMethod::Column(col.to_string()) => {
            let name = col.replace('\'', "''");
            // Nested: DuckDB cannot reuse the alias of a random() expression.
            format!(
                "SELECT *, {PARTITION_COLUMN}::UBIGINT AS {} FROM \
                 (SELECT *, {expr} AS {PARTITION_COLUMN} FROM \
                 (SELECT COLUMNS(c -> c != '{name}') FROM {source}))",
                ident(col)
            )
        }
        _ => format!("SELECT *, {expr} AS {PARTITION_COLUMN} FROM {source}"),
    };
    write_partitioned(conn, &select, &source, n, parquet, dir, &method.to_string())
}

/// Writes `select` (which has a [`PARTITION_COLUMN`]) into `n` slots under `dir`, and checks
/// that the files hold exactly the rows that were read. DuckDB's `col=value/` directories
/// are renamed to `part-PPPPP/` (a name no reader takes for a hive partition) rather than
/// emptied and removed: on ext4 without a journal every inode freed in the last minute is
/// stepped over by each allocation after it, so the 1,000 directories a 1,000-way partition
/// removed slowed down the files of every task that followed.
pub(crate) fn write_partitioned(
    conn: &Connection,
    select: &str,
    source: &str,
    n: u32,
    parquet: &ParquetOptions,
    dir: &Path,
    shown: &str,
) -> Result<Output> {
    let hive = dir.join("hive");
    let copy = format!(
        "COPY ({select}) TO {} ({}, PARTITION_BY ({PARTITION_COLUMN}), WRITE_PARTITION_COLUMNS false)",
        path_literal(&hive),
        parquet_clause(parquet)
    );
    let rows_in = query_u64(conn, &copy, &format!("partition by {shown}"))?;

    let mut outputs: Vec<Vec<PathBuf>> = vec![Vec::new(); n as usize];
    for slot in 0..n {
        let written = hive.join(format!("{PARTITION_COLUMN}={slot}"));
        let slot_dir = dir.join(format!("part-{slot:05}"));
        match std::fs::rename(&written, &slot_dir) {
            Ok(()) => outputs[slot as usize] = parquet_files(&slot_dir)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {} // no rows here
            Err(e) => return Err(io(&written)(e)),
        }
    }
    if let Some(stray) = parquet_files(&hive)?.first() {
        // A partition index outside 0..n would be a bug in the partition expression.
        return Err(Error::InvalidInput(format!(
            "partition writer produced an unexpected file {}",
            stray.display()
        )));
    }
    std::fs::remove_dir(&hive)
        .or_else(ignore_missing)
        .map_err(io(&hive))?;

    let all: Vec<&PathBuf> = outputs.iter().flatten().collect();
    let rows_out = all
        .iter()
        .map(|f| footer_rows(f, "DuckDB"))
        .sum::<Result<u64>>()?;
    partitioned_output(outputs, rows_in, rows_out, dir, |file| {
        let empty = format!("SELECT * FROM {source} LIMIT 0");
        write_parquet_file(conn, &empty, file, parquet, "write schema file")
    })
}

fn ignore_missing(e: std::io::Error) -> std::io::Result<()> {
    if e.kind() == std::io::ErrorKind::NotFound {
        Ok(())
    } else {
        Err(e)
    }
}
