//! Micro benchmarks of the kernels the big benchmarks spend their time in:
//! record generation and checksums (gensort/valsort), the partition writer (one
//! `COPY ... PARTITION_BY` task) and the sort kernel (one `ORDER BY key` task).
//!
//!     cargo bench --workspace --bench kernels

use std::path::Path;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use smallpond_bench::gensort::{crc32, Generator, RECORD_LEN};
use smallpond_core::dataset::DataSet;
use smallpond_core::plan::{ParquetOptions, PartitionMethod};
use smallpond_core::task::{ResolvedPartition, Resources};
use smallpond_duckdb::tasks;

const RECORDS: u64 = 1_000_000;

fn generation(c: &mut Criterion) {
    let mut g = c.benchmark_group("gensort");
    g.throughput(Throughput::Bytes(100_000 * RECORD_LEN as u64));
    g.bench_function("generate 100k binary records", |b| {
        b.iter(|| {
            let mut gen = Generator::new(1 << 30, false);
            let mut buf = [0u8; RECORD_LEN];
            for _ in 0..100_000 {
                gen.next_into(&mut buf);
            }
            buf[0]
        })
    });
    let record = [7u8; RECORD_LEN];
    g.throughput(Throughput::Bytes(RECORD_LEN as u64));
    g.bench_function("crc32 of one record", |b| b.iter(|| crc32(&record)));
    g.finish();
}

/// 1M gensort records as one Parquet file of (key, value, part), written once per run.
fn records(dir: &Path) -> ResolvedPartition {
    let file = dir.join("records.parquet");
    let conn = duckdb::Connection::open_in_memory().unwrap();
    conn.execute_batch(&format!(
        "COPY (SELECT md5(i::VARCHAR)[1:10]::BLOB AS key, repeat('x', 90)::BLOB AS value, \
                      (hash(i) % 8)::UINTEGER AS part FROM range({RECORDS}) t(i)) \
         TO '{}' (FORMAT parquet, COMPRESSION snappy)",
        file.display()
    ))
    .unwrap();
    ResolvedPartition {
        datasets: vec![DataSet::parquet(vec![file])],
        columns: None,
    }
}

fn resources() -> Resources {
    Resources::new(2, 4 << 30)
}

fn tasks_kernels(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let input = records(dir.path());
    let parquet = ParquetOptions::try_new("snappy", 122_880).unwrap();
    let mut g = c.benchmark_group("tasks");
    g.sample_size(10);
    g.throughput(Throughput::Bytes(RECORDS * RECORD_LEN as u64));
    g.bench_function("partition writer: 1M records into 8 partitions", |b| {
        b.iter_batched(
            || tempfile::tempdir_in(dir.path()).unwrap(),
            |out| {
                let conn =
                    smallpond_duckdb::connection::open(&resources(), out.path(), false).unwrap();
                tasks::hash_partition::run(
                    &conn,
                    &input,
                    &tasks::hash_partition::Routing {
                        method: &PartitionMethod::Column("part".into()),
                        n: 8,
                        keep: None,
                    },
                    None,
                    &parquet,
                    out.path(),
                )
                .unwrap()
            },
            BatchSize::PerIteration,
        )
    });
    g.bench_function("sort kernel: ORDER BY key over 1M records", |b| {
        b.iter_batched(
            || tempfile::tempdir_in(dir.path()).unwrap(),
            |out| {
                let conn =
                    smallpond_duckdb::connection::open(&resources(), out.path(), true).unwrap();
                tasks::sql::run(
                    &conn,
                    &[],
                    "SELECT key, value FROM {0} ORDER BY key",
                    std::slice::from_ref(&input),
                    &Default::default(),
                    &parquet,
                    &out.path().join("sorted.parquet"),
                )
                .unwrap()
            },
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

criterion_group!(benches, generation, tasks_kernels);
criterion_main!(benches);
