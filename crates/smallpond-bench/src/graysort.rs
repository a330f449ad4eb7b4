//! The GraySort pipeline on the engine:
//!
//! ```text
//!  ranges (start, count) ─► generate (gensort plugin, G tasks) ─► range-partition by key prefix
//!     ─► ORDER BY key per partition ─► write Parquet ─► validate (per partition, then in order)
//! ```

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use arrow::array::{ArrayRef, UInt64Array};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::record_batch::RecordBatch;
use smallpond::{DataFrame, ParquetOptions, Partitioning, Session, TaskOptions};

use crate::gensort::RECORD_LEN;
use crate::plugin::{generate_fn, validate_fn, Summary};

#[derive(Debug, Clone)]
pub struct Config {
    pub records: u64,
    /// Output partitions (sort tasks).
    pub partitions: u32,
    /// Generator tasks.
    pub generators: u32,
    pub ascii: bool,
    pub output: PathBuf,
    /// Parquet compression of the input and output (`snappy`, `zstd`, `uncompressed`, ...).
    pub compression: String,
    /// Parquet compression of the range-partitioned intermediate files.
    pub shuffle_compression: String,
    /// Keep the generated records here and reuse them when they are already there (same
    /// records, partitions and format), so that runs and other systems sort the same input.
    pub input_dir: Option<PathBuf>,
    /// Sort with [`DataFrame::sort_with`] (sampled boundaries) instead of partitioning by the
    /// generator's key-prefix column.
    pub global_sort: bool,
}

#[derive(Debug, Clone)]
pub struct Report {
    pub records: u64,
    pub bytes: u64,
    pub generate_secs: f64,
    pub sort_secs: f64,
    pub validate_secs: f64,
    pub input: Summary,
    pub output: Summary,
    /// The generated data's files, for other systems to sort the same input.
    pub input_files: Vec<PathBuf>,
}

impl Report {
    /// Whether the output is a sorted permutation of the input.
    pub fn valid(&self) -> Result<(), String> {
        let (i, o) = (&self.input, &self.output);
        if o.records != i.records {
            return Err(format!("{} records in, {} out", i.records, o.records));
        }
        if o.unordered != 0 {
            return Err(format!("{} keys out of order", o.unordered));
        }
        if o.checksum != i.checksum {
            return Err(format!(
                "checksum {:x} differs from the input's {:x}",
                o.checksum, i.checksum
            ));
        }
        Ok(())
    }

    pub fn records_per_sec(&self) -> f64 {
        self.records as f64 / self.sort_secs
    }

    pub fn mib_per_sec(&self) -> f64 {
        self.bytes as f64 / (1 << 20) as f64 / self.sort_secs
    }
}

/// Summaries of each partition (in partition order) folded into one.
fn summarise(df: &DataFrame, options: &TaskOptions) -> smallpond::Result<Summary> {
    let rows = df.map_batches(validate_fn(), 1 << 20, options.clone())?;
    let mut total = Summary::default();
    for batch in rows.to_arrow()? {
        for s in Summary::from_batch(&batch).map_err(plugin_error)? {
            total = total.then(&s);
        }
    }
    Ok(total)
}

fn plugin_error(message: String) -> smallpond::Error {
    smallpond_core::Error::invalid("gensort", message).into()
}

/// `(start, count)` rows splitting `records` among `n` generators.
fn ranges(records: u64, n: u32) -> RecordBatch {
    let n = u64::from(n.max(1));
    let per = records.div_ceil(n);
    let (mut starts, mut counts) = (Vec::new(), Vec::new());
    let mut start = 0;
    while start < records {
        let count = per.min(records - start);
        starts.push(start);
        counts.push(count);
        start += count;
    }
    let schema = Arc::new(Schema::new(vec![
        Field::new("start", DataType::UInt64, false),
        Field::new("count", DataType::UInt64, false),
    ]));
    let columns: Vec<ArrayRef> = vec![
        Arc::new(UInt64Array::from(starts)),
        Arc::new(UInt64Array::from(counts)),
    ];
    RecordBatch::try_new(schema, columns).expect("valid ranges")
}

pub fn run(sp: &Session, cfg: &Config) -> smallpond::Result<Report> {
    if cfg.records == 0 || cfg.partitions == 0 || cfg.generators == 0 {
        return Err(plugin_error(
            "records, partitions and generators must be at least 1".into(),
        ));
    }
    let options = TaskOptions {
        parquet: ParquetOptions::try_new(
            &cfg.compression,
            ParquetOptions::default().row_group_size,
        )?,
        ..TaskOptions::default()
    };
    let batch = ranges(cfg.records, cfg.generators);
    let generators = batch.num_rows() as u32;
    let ranges = sp
        .from_arrow(&[batch])?
        .repartition(generators, Partitioning::Rows)?;

    let t = Instant::now();
    let marker = cfg.input_dir.as_ref().map(|d| {
        d.join(format!(
            ".gensort-{}-{}-{}",
            cfg.records,
            cfg.partitions,
            if cfg.ascii { "ascii" } else { "binary" }
        ))
    });
    let input = match (&cfg.input_dir, &marker) {
        (Some(dir), Some(m)) if m.exists() => sp.read_parquet(&[dir.join("*.parquet")])?,
        _ => {
            let generated =
                ranges.map_batches(generate_fn(cfg.partitions, cfg.ascii), 1, options.clone())?;
            if let (Some(dir), Some(m)) = (&cfg.input_dir, &marker) {
                generated
                    .write_parquet_with(dir, options.clone())?
                    .compute()?;
                std::fs::write(m, b"")
                    .map_err(|e| plugin_error(format!("{}: {e}", m.display())))?;
            }
            generated
        }
    };
    input.compute()?;
    let generate_secs = t.elapsed().as_secs_f64();
    let input_files: Vec<PathBuf> = input.files()?.into_iter().flatten().collect();
    let input_summary = summarise(&input, &options)?;

    let t = Instant::now();
    let shuffle = TaskOptions {
        parquet: ParquetOptions::try_new(&cfg.shuffle_compression, options.parquet.row_group_size)?,
        ..options.clone()
    };
    let sorted = if cfg.global_sort {
        input.select(&["key", "value"])?.sort_with(
            &[smallpond::SortKey::asc("key")],
            Some(cfg.partitions),
            options.clone(),
        )?
    } else {
        let parts =
            input.repartition_with(cfg.partitions, Partitioning::Column("part".into()), shuffle)?;
        sp.partial_sql_with(
            "SELECT key, value FROM {0} ORDER BY key",
            &[&parts],
            options.clone(),
        )?
    };
    sorted
        .write_parquet_with(&cfg.output, options.clone())?
        .compute()?;
    let sort_secs = t.elapsed().as_secs_f64();

    let t = Instant::now();
    let output = summarise(&sorted, &options)?;
    let validate_secs = t.elapsed().as_secs_f64();
    Ok(Report {
        records: cfg.records,
        bytes: cfg.records * RECORD_LEN as u64,
        generate_secs,
        sort_secs,
        validate_secs,
        input: input_summary,
        output,
        input_files,
    })
}

/// Parses sizes like `2GiB`, `500MB`, `1000000` (bytes) into a record count.
pub fn records_for_size(size: &str) -> Result<u64, String> {
    let s = size.trim();
    let split = s
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let num: f64 = num
        .parse()
        .map_err(|_| format!("size {size:?} does not start with a number"))?;
    let mult: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" => 1e3,
        "kib" => 1024.0,
        "m" | "mb" => 1e6,
        "mib" => (1u64 << 20) as f64,
        "g" | "gb" => 1e9,
        "gib" => (1u64 << 30) as f64,
        "t" | "tb" => 1e12,
        "tib" => (1u64 << 40) as f64,
        other => return Err(format!("unknown size unit {other:?} in {size:?}")),
    };
    let records = (num * mult / RECORD_LEN as f64).floor() as u64;
    if records == 0 {
        return Err(format!("size {size:?} is smaller than one 100-byte record"));
    }
    Ok(records)
}
