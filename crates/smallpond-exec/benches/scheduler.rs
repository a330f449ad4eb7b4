//! How planning and scheduling time grow with the number of tasks (they must grow
//! linearly): a shuffle's shape, one producer with N output slots and N tasks reading one
//! slot each, planned by the planner and run by the scheduler on a pool that finishes every
//! attempt at once. What remains is the engine's own cost per task, without DuckDB or
//! processes.
//!
//!     cargo bench -p smallpond-exec --bench scheduler

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use smallpond_core::job::JobDirs;
use smallpond_core::plan::{
    DataSourceNode, HashPartitionNode, LogicalPlan, Node, PartitionMethod, SqlNode, TaskOptions,
};
use smallpond_core::planner::{Planner, PlannerConfig};
use smallpond_core::task::{ExecutionPlan, Resources, TaskAttempt, TaskRecord};
use smallpond_core::{DataSet, NodeId};
use smallpond_exec::pool::{Completion, WorkerPool};
use smallpond_exec::scheduler::{self, SchedulerConfig, Speculation};

const SIZES: [u32; 3] = [1_000, 10_000, 100_000];

/// source -> hash(n) -> sql per partition -> one sql over all partitions.
fn logical_plan(n: u32) -> (LogicalPlan, NodeId) {
    let mut plan = LogicalPlan::new();
    let src = plan
        .add(Node::DataSource(DataSourceNode {
            dataset: DataSet::parquet(vec!["in.parquet".into()]),
        }))
        .unwrap();
    let hash = plan
        .add(Node::HashPartition(HashPartitionNode {
            input: src,
            npartitions: n,
            method: PartitionMethod::Hash(vec!["k".into()]),
            pre_query: None,
            partition_column: None,
            result: false,
            options: TaskOptions::default(),
        }))
        .unwrap();
    let map = plan
        .add(Node::Sql(
            SqlNode::try_new(vec![hash], "select k from {0}", TaskOptions::default()).unwrap(),
        ))
        .unwrap();
    (plan, map)
}

fn plan(n: u32) -> ExecutionPlan {
    let (plan, root) = logical_plan(n);
    Planner::new(
        &plan,
        &HashMap::new(),
        PlannerConfig::single_machine(64, 1 << 36),
        0,
    )
    .plan(&[root])
    .unwrap()
}

/// Finishes every attempt the moment it is submitted.
struct InstantPool {
    done: VecDeque<Completion>,
}

impl WorkerPool for InstantPool {
    fn capacity(&self) -> Resources {
        Resources::new(64, 1 << 36)
    }
    fn submit(&mut self, a: TaskAttempt) -> smallpond_exec::Result<()> {
        let record = TaskRecord {
            task: a.task,
            node: a.node,
            node_kind: a.node_kind.clone(),
            partition: a.partition,
            attempt: a.attempt,
            fingerprint: a.fingerprint,
            host: String::new(),
            worker: String::new(),
            start_us: 0,
            end_us: 1,
            rows: 0,
            bytes: 0,
            outputs: vec![vec![]; a.kind.slots() as usize],
            schema_file: None,
        };
        self.done.push_back(Completion {
            task: a.task,
            attempt: a.attempt,
            result: Ok(record),
        });
        Ok(())
    }
    fn wait(&mut self) -> smallpond_exec::Result<Completion> {
        Ok(self.done.pop_front().expect("an attempt was submitted"))
    }
    fn wait_timeout(&mut self, _: Duration) -> smallpond_exec::Result<Option<Completion>> {
        Ok(self.done.pop_front())
    }
}

fn planning(c: &mut Criterion) {
    let mut g = c.benchmark_group("plan shuffle");
    g.sample_size(10);
    for n in SIZES {
        g.throughput(Throughput::Elements(u64::from(n)));
        g.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, &n| {
            let (logical, root) = logical_plan(n);
            b.iter(|| {
                Planner::new(
                    &logical,
                    &HashMap::new(),
                    PlannerConfig::single_machine(64, 1 << 36),
                    0,
                )
                .plan(&[root])
                .unwrap()
                .tasks
                .len()
            })
        });
    }
    g.finish();
}

fn scheduling(c: &mut Criterion) {
    let mut g = c.benchmark_group("schedule shuffle");
    g.sample_size(10);
    let job = JobDirs::new(std::env::temp_dir().join("smallpond-scheduler-bench"));
    let config = SchedulerConfig {
        resume: false,
        speculation: Speculation::Enabled,
        ..SchedulerConfig::default()
    };
    for n in SIZES {
        let plan = plan(n);
        g.throughput(Throughput::Elements(plan.tasks.len() as u64));
        g.bench_with_input(BenchmarkId::from_parameter(n), &plan, |b, plan| {
            b.iter(|| {
                let mut pool = InstantPool {
                    done: VecDeque::new(),
                };
                scheduler::run(plan, &job, &mut pool, &config, &mut |_| {})
                    .unwrap()
                    .len()
            })
        });
    }
    g.finish();
}

/// The fingerprint of a task reading 10,000 files (each file's size and modification time
/// are part of it): issue 12 asks for under 0.1 s.
fn fingerprint(c: &mut Criterion) {
    let dir = std::env::temp_dir().join("smallpond-fingerprint-bench");
    std::fs::create_dir_all(&dir).unwrap();
    let files: Vec<std::path::PathBuf> = (0..10_000)
        .map(|i| {
            let f = dir.join(format!("part-{i:05}.parquet"));
            if !f.exists() {
                std::fs::write(&f, b"x").unwrap();
            }
            f
        })
        .collect();
    let mut logical = LogicalPlan::new();
    let src = logical
        .add(Node::DataSource(DataSourceNode {
            dataset: DataSet::parquet(files),
        }))
        .unwrap();
    let sql = logical
        .add(Node::Sql(
            SqlNode::try_new(vec![src], "select * from {0}", TaskOptions::default()).unwrap(),
        ))
        .unwrap();
    let config = PlannerConfig::single_machine(1, 1 << 30);
    let plan = Planner::new(&logical, &HashMap::new(), config, 0)
        .plan(&[sql])
        .unwrap();
    let task = &plan.tasks[0];
    assert_eq!(task.inputs[0].parts.len(), 1);
    c.bench_function("fingerprint of a 10,000-file input", |b| {
        b.iter(|| task.fingerprint(&|_| 0))
    });
}

criterion_group!(benches, planning, scheduling, fingerprint);
criterion_main!(benches);
