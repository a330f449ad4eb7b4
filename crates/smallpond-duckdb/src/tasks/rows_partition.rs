//! Even partitioning by row count: partition `i` gets rows `[i*total/n, (i+1)*total/n)`.

use std::path::Path;

use duckdb::Connection;
use smallpond_core::plan::ParquetOptions;
use smallpond_core::task::ResolvedPartition;

use super::hash_partition::{write_partitioned, PARTITION_COLUMN};
use super::Output;
use crate::connection::query_u64;
use crate::source::partition_sql;
use crate::Result;

pub fn run(
    conn: &Connection,
    input: &ResolvedPartition,
    n: u32,
    parquet: &ParquetOptions,
    dir: &Path,
) -> Result<Output> {
    let source = partition_sql(input)?;
    let total = query_u64(
        conn,
        &format!("SELECT count(*) FROM {source}"),
        "count input rows",
    )?;
    let select = format!(
        "SELECT *, ((row_number() OVER () - 1) * {n} // {})::BIGINT AS {PARTITION_COLUMN} FROM {source}",
        total.max(1)
    );
    write_partitioned(conn, &select, &source, n, parquet, dir, "rows")
}

/// Row groups per partition from which an input is cut between row groups: below that, one
/// row group more or less would unbalance the partitions by more than an eighth.
const ROW_GROUPS_PER_PARTITION: u64 = 8;

/// Like [`run`], keeping the rows' order: partition `i` holds the rows after those of
/// partition `i - 1`, in the order the input's files list them. The input must be local
/// Parquet files read whole (as a query's output is). With at least
/// [`ROW_GROUPS_PER_PARTITION`] row groups per partition (by the largest), it is cut
/// between row groups, which are copied byte for byte, with their encoding and
/// statistics: no row is decoded, and a partition holds the ideal row count to within a
/// row group. A smaller input is split exactly, one query per partition reading its rows
/// by their place in the files.
pub fn run_in_order(
    conn: &Connection,
    input: &ResolvedPartition,
    n: u32,
    parquet: &ParquetOptions,
    dir: &Path,
) -> Result<Output> {
    let Some(sources) = row_group_sources(input)? else {
        return Err(crate::Error::InvalidInput(
            "rows are cut in order only from local Parquet files of one schema, read whole".into(),
        ));
    };
    let groups: Vec<(usize, usize, u64)> = sources
        .iter()
        .enumerate()
        .flat_map(|(s, src)| {
            src.meta
                .row_groups()
                .iter()
                .enumerate()
                .map(move |(g, rg)| (s, g, rg.num_rows().max(0) as u64))
        })
        .collect();
    let total: u64 = groups.iter().map(|g| g.2).sum();
    let largest = groups.iter().map(|g| g.2).max().unwrap_or(0);
    if total > 0 && total / u64::from(n) >= ROW_GROUPS_PER_PARTITION * largest {
        // As many files at a time as the task has threads.
        let threads = query_u64(
            conn,
            "SELECT current_setting('threads')::UBIGINT",
            "read the task's threads",
        )?;
        return cut_row_groups(&sources, &groups, total, n, threads, dir);
    }
    cut_rows(conn, &sources, total, n, parquet, dir)
}

/// Writes rows `[i*total/n, (i+1)*total/n)` of `sources` (in order) into partition `i`:
/// each file's rows by `file_row_number` (row groups outside the range are skipped),
/// written in that order. Files with a column of that name (DuckDB then refuses the
/// option) are read whole for each partition on one thread, the rows numbered as read.
fn cut_rows(
    conn: &Connection,
    sources: &[RowGroupSource],
    total: u64,
    n: u32,
    parquet: &ParquetOptions,
    dir: &Path,
) -> Result<Output> {
    use crate::source::path_literal;
    // An `ORDER BY` reaches the file only when insertion order is kept.
    let ordered = "SET preserve_insertion_order = true";
    crate::connection::execute(conn, ordered, ordered)?;
    let numbered = sources[0]
        .meta
        .file_metadata()
        .schema_descr()
        .root_schema()
        .get_fields()
        .iter()
        .any(|f| f.name().eq_ignore_ascii_case("file_row_number"));
    if numbered {
        let one_thread = "SET threads = 1";
        crate::connection::execute(conn, one_thread, one_thread)?;
    }
    let all: Vec<String> = sources.iter().map(|s| path_literal(&s.path)).collect();
    std::fs::create_dir_all(dir).map_err(crate::error::io(dir))?;
    let mut outputs: Vec<Vec<std::path::PathBuf>> = vec![Vec::new(); n as usize];
    let mut rows_out = 0;
    for slot in 0..u64::from(n) {
        let (from, to) = (
            total * slot / u64::from(n),
            total * (slot + 1) / u64::from(n),
        );
        if from == to {
            continue;
        }
        let query = match numbered {
            true => format!(
                "SELECT * EXCLUDE (__smallpond_row) FROM (SELECT *, row_number() OVER () AS \
                 __smallpond_row FROM read_parquet([{}])) WHERE __smallpond_row > {from} \
                 AND __smallpond_row <= {to}",
                all.join(", ")
            ),
            false => by_file_row_number(sources, from, to),
        };
        let file = dir.join(format!("part-{slot:05}.parquet"));
        rows_out += super::write_parquet_file(conn, &query, &file, parquet, "cut rows in order")?;
        outputs[slot as usize].push(file);
    }
    super::partitioned_output(outputs, total, rows_out, dir, |file| {
        let empty = format!("SELECT * FROM read_parquet({}) LIMIT 0", all[0]);
        super::write_parquet_file(conn, &empty, file, parquet, "write schema file")
    })
}

/// Rows `[from, to)` of `sources` read in order, by each file's `file_row_number`.
fn by_file_row_number(sources: &[RowGroupSource], from: u64, to: u64) -> String {
    let mut pieces = Vec::new();
    let mut offset = 0;
    for (i, source) in sources.iter().enumerate() {
        let rows = source.meta.file_metadata().num_rows().max(0) as u64;
        let (lo, hi) = (from.max(offset), to.min(offset + rows));
        if lo < hi {
            pieces.push(format!(
                "SELECT *, {i} AS __smallpond_file FROM read_parquet({}, file_row_number = true) \
                 WHERE file_row_number >= {} AND file_row_number < {}",
                crate::source::path_literal(&source.path),
                lo - offset,
                hi - offset
            ));
        }
        offset += rows;
    }
    format!(
        "SELECT * EXCLUDE (__smallpond_file, file_row_number) FROM ({}) \
         ORDER BY __smallpond_file, file_row_number",
        pieces.join(" UNION ALL ")
    )
}

/// An input file and its footer.
struct RowGroupSource {
    path: std::path::PathBuf,
    meta: parquet::file::metadata::ParquetMetaData,
}

/// The footers of `input`'s files when all are local Parquet files read whole (no column
/// selection) with one schema; `None` otherwise.
fn row_group_sources(input: &ResolvedPartition) -> Result<Option<Vec<RowGroupSource>>> {
    use smallpond_core::dataset::DataSet;
    let plain = input.columns.is_none()
        && input
            .datasets
            .iter()
            .all(|d| matches!(d, DataSet::Parquet(p) if p.columns.is_none() && !p.union_by_name));
    let files: Vec<&std::path::PathBuf> = input.files().collect();
    if !plain
        || files.is_empty()
        || files
            .iter()
            .any(|f| smallpond_core::storage::is_remote(f.as_path()))
    {
        return Ok(None);
    }
    let mut sources: Vec<RowGroupSource> = Vec::with_capacity(files.len());
    for path in files {
        let file = std::fs::File::open(path).map_err(crate::error::io(path))?;
        let meta = parquet::file::metadata::ParquetMetaDataReader::new()
            .parse_and_finish(&file)
            .map_err(|e| not_parquet(path, e))?;
        if let Some(first) = sources.first() {
            if first.meta.file_metadata().schema_descr().root_schema()
                != meta.file_metadata().schema_descr().root_schema()
            {
                return Ok(None);
            }
        }
        sources.push(RowGroupSource {
            path: path.clone(),
            meta,
        });
    }
    Ok(Some(sources))
}

fn not_parquet(path: &Path, e: parquet::errors::ParquetError) -> crate::Error {
    crate::Error::InvalidInput(format!(
        "{} is not a Parquet file that can be cut between row groups: {e}",
        path.display()
    ))
}

/// Writes the row groups `groups` (source, index, rows; `total` rows in all) into `n`
/// files of contiguous runs, `threads` files at a time: a row group goes to the partition
/// its middle row falls in.
fn cut_row_groups(
    sources: &[RowGroupSource],
    groups: &[(usize, usize, u64)],
    total: u64,
    n: u32,
    threads: u64,
    dir: &Path,
) -> Result<Output> {
    use parquet::column::writer::ColumnCloseResult;
    use parquet::file::properties::WriterProperties;
    use parquet::file::writer::SerializedFileWriter;
    use std::sync::Arc;

    let first = &sources[0].meta;
    let schema = first.file_metadata().schema_descr().root_schema_ptr();
    let mut props = WriterProperties::builder();
    if let Some(by) = first.file_metadata().created_by() {
        props = props.set_created_by(by.to_string());
    }
    props = props.set_key_value_metadata(first.file_metadata().key_value_metadata().cloned());
    let props = Arc::new(props.build());

    let mut slots: Vec<Vec<(usize, usize, u64)>> = vec![Vec::new(); n as usize];
    let mut before = 0u64;
    for &(s, g, rows) in groups {
        let middle = u128::from(before) * 2 + u128::from(rows);
        let slot = (middle * u128::from(n) / (u128::from(total) * 2)).min(u128::from(n - 1));
        slots[slot as usize].push((s, g, rows));
        before += rows;
    }

    std::fs::create_dir_all(dir).map_err(crate::error::io(dir))?;
    let write = |path: &Path, groups: &[(usize, usize, u64)]| -> Result<u64> {
        let fail = |e: parquet::errors::ParquetError| {
            crate::Error::InvalidInput(format!("could not write {}: {e}", path.display()))
        };
        // Handles of this writer's own: a handle's clones share its offset.
        let mut files: Vec<Option<std::fs::File>> = (0..sources.len()).map(|_| None).collect();
        let out = std::fs::File::create(path).map_err(crate::error::io(path))?;
        let mut writer = SerializedFileWriter::new(
            std::io::BufWriter::with_capacity(1 << 20, out),
            schema.clone(),
            props.clone(),
        )
        .map_err(fail)?;
        for &(s, g, rows) in groups {
            let source = &sources[s];
            let file = match &mut files[s] {
                Some(file) => file,
                empty => empty.insert(
                    std::fs::File::open(&source.path).map_err(crate::error::io(&source.path))?,
                ),
            };
            let mut row_group = writer.next_row_group().map_err(fail)?;
            for column in source.meta.row_group(g).columns() {
                let close = ColumnCloseResult {
                    bytes_written: column.compressed_size().max(0) as u64,
                    rows_written: rows,
                    metadata: column.clone(),
                    bloom_filter: None,
                    column_index: None,
                    offset_index: None,
                };
                row_group
                    .append_column(&*file, close)
                    .map_err(|e| not_parquet(&source.path, e))?;
            }
            row_group.close().map_err(fail)?;
        }
        let written = writer.close().map_err(fail)?;
        Ok(written.file_metadata().num_rows().max(0) as u64)
    };

    let mut outputs: Vec<Vec<std::path::PathBuf>> = vec![Vec::new(); n as usize];
    for (slot, groups) in slots.iter().enumerate() {
        if !groups.is_empty() {
            outputs[slot].push(dir.join(format!("part-{slot:05}.parquet")));
        }
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let work = || -> Result<u64> {
        let mut rows = 0;
        loop {
            let slot = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let Some(groups) = slots.get(slot) else {
                return Ok(rows);
            };
            if let Some(path) = outputs[slot].first() {
                rows += write(path, groups)?;
            }
        }
    };
    let rows_out = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads.clamp(1, u64::from(n)))
            .map(|_| scope.spawn(work))
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().expect("a row-group writer panicked"))
            .sum::<Result<u64>>()
    })?;
    super::partitioned_output(outputs, total, rows_out, dir, |file| write(file, &[]))
}
