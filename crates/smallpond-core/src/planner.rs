//! The planner: turns logical nodes into tasks, one per partition.
//!
//! ```text
//!  node                    tasks                         output partitions
//!  DataSource              none                          1: the files
//!  EvenlyDistributed/files none                          n: Split groups of files
//!  EvenlyDistributed/rows  1 over all input              n: slot j of that task
//!  HashPartition           1 per input partition         n: slot j of every producer
//!  RangePartition          1 per input partition         n: slot j of every producer
//!  Sql                     1 per partition               as many as the inputs
//!  Limit                   1 per partition + 1 merge     1
//!  MapBatches              1 per partition               as many as the input
//!  Projection/Consolidate/Union   none (file lists only)
//!  DataSink                1 over all partitions         1: the published files
//! ```
//!
//! Nodes whose output the session already computed are not planned again: their
//! partitions are passed in as `computed` and used as plain data.

use std::collections::HashMap;

use crate::plan::{LogicalPlan, Node, PartitionMethod, TaskOptions};
use crate::task::{
    ExecutionPlan, Part, Partition, ResolvedPartition, Resources, TaskKind, TaskSpec,
};
use crate::{Error, NodeId, Result, TaskId};

/// What the planner needs to know about the machine(s) the tasks will run on.
#[derive(Debug, Clone, Copy)]
pub struct PlannerConfig {
    /// CPUs of the worker pool.
    pub total_cpus: u32,
    /// Memory of the worker pool, in bytes.
    pub total_memory: u64,
    /// The largest task one machine (or Ray node) of the pool can run: no task asks for
    /// more CPUs, and a task's default memory is this node's memory per CPU.
    pub node_cpus: u32,
    pub node_memory: u64,
}

impl PlannerConfig {
    /// A pool of one machine.
    pub fn single_machine(cpus: u32, memory: u64) -> Self {
        Self::new(Resources::new(cpus, memory), Resources::new(cpus, memory))
    }

    /// A pool of `total` resources whose largest machine has `largest`.
    pub fn new(total: Resources, largest: Resources) -> Self {
        let node = largest.at_most(total);
        Self {
            total_cpus: total.cpus.max(1),
            total_memory: total.memory_bytes,
            node_cpus: node.cpus,
            node_memory: node.memory_bytes,
        }
    }
}

pub struct Planner<'a> {
    plan: &'a LogicalPlan,
    computed: &'a HashMap<NodeId, Vec<ResolvedPartition>>,
    config: PlannerConfig,
    next_task: u32,
    out: ExecutionPlan,
}

impl<'a> Planner<'a> {
    /// `first_task` numbers the first task; later runs of a session continue the numbering
    /// so that task ids (and their directories) are unique within the job.
    pub fn new(
        plan: &'a LogicalPlan,
        computed: &'a HashMap<NodeId, Vec<ResolvedPartition>>,
        config: PlannerConfig,
        first_task: u32,
    ) -> Self {
        Self {
            plan,
            computed,
            config,
            next_task: first_task,
            out: ExecutionPlan::default(),
        }
    }

    /// Plans `roots` and everything they need that is not computed yet.
    pub fn plan(mut self, roots: &[NodeId]) -> Result<ExecutionPlan> {
        for root in roots {
            self.node(*root)?;
        }
        Ok(self.out)
    }

    /// The next task id after the planned ones.
    pub fn next_task_id(plan: &ExecutionPlan, first_task: u32) -> u32 {
        plan.tasks
            .iter()
            .map(|t| t.id.0 + 1)
            .max()
            .unwrap_or(first_task)
            .max(first_task)
    }

    /// Whether a sink, or a script (which may be one: the Python package's sinks are),
    /// reads node `id`'s output, directly or through nodes that only regroup its files
    /// (consolidate, union).
    fn published(&self, id: NodeId) -> bool {
        self.plan.iter().any(|(reader, node)| {
            node.inputs().contains(&id)
                && match node {
                    Node::DataSink(_) | Node::Script(_) => true,
                    Node::Consolidate(_) | Node::Union(_) => self.published(reader),
                    _ => false,
                }
        })
    }

    fn node(&mut self, id: NodeId) -> Result<Vec<Partition>> {
        if let Some(parts) = self.out.outputs.get(&id) {
            return Ok(parts.clone());
        }
        if let Some(done) = self.computed.get(&id) {
            let parts: Vec<Partition> = done.iter().map(ResolvedPartition::to_partition).collect();
            self.out.outputs.insert(id, parts.clone());
            return Ok(parts);
        }
        let node = self.plan.get(id)?.clone();
        let kind = node.kind();
        let outputs = match &node {
            Node::DataSource(n) => vec![Partition::from_part(Part::Data(n.dataset.clone()))],
            Node::EvenlyDistributed(n) => {
                let input = self.node(n.input)?;
                check_npartitions(n.npartitions)?;
                let all = consolidate(input);
                if n.by_rows {
                    // Rows in order are a result (a sorted DataFrame), not shuffle data.
                    let published = n.in_order || self.published(id);
                    let task = self.task(id, kind, 0, &n.options, 1, vec![all], |p| {
                        TaskKind::RowsPartition {
                            npartitions: n.npartitions,
                            in_order: n.in_order,
                            parquet: p,
                            published,
                        }
                    });
                    slots(&[task], n.npartitions)
                } else {
                    let columns = all.columns.clone();
                    (0..n.npartitions)
                        .map(|index| Partition {
                            parts: vec![Part::Split {
                                parts: all.parts.clone(),
                                index,
                                of: n.npartitions,
                            }],
                            columns: columns.clone(),
                        })
                        .collect()
                }
            }
            Node::HashPartition(n) => {
                let input = self.node(n.input)?;
                check_npartitions(n.npartitions)?;
                let published = n.result || self.published(id);
                self.partitioners(
                    id,
                    kind,
                    input,
                    None,
                    n.npartitions,
                    &n.options,
                    |parquet| TaskKind::HashPartition {
                        npartitions: n.npartitions,
                        method: n.method.clone(),
                        pre_query: n.pre_query.clone(),
                        partition_column: n.partition_column.clone(),
                        parquet,
                        published,
                    },
                )
            }
            Node::RangePartition(n) => {
                let input = self.node(n.input)?;
                let bounds = consolidate(self.node(n.bounds)?);
                check_npartitions(n.npartitions)?;
                if n.keys.is_empty() {
                    return Err(Error::invalid("by", "a sort needs at least one key"));
                }
                let method = PartitionMethod::Range(n.keys.clone());
                let options = &n.options;
                self.partitioners(
                    id,
                    kind,
                    input,
                    Some(bounds),
                    n.npartitions,
                    options,
                    |parquet| TaskKind::HashPartition {
                        npartitions: n.npartitions,
                        method: method.clone(),
                        pre_query: None,
                        partition_column: None,
                        parquet,
                        published: false,
                    },
                )
            }
            Node::Sql(n) => {
                let tasks = self.aligned(id, kind, &n.inputs, &n.options, &n.query, |parquet| {
                    TaskKind::Sql {
                        query: n.query.clone(),
                        parquet,
                        udfs: n.udfs.clone(),
                        setup: n.setup.clone(),
                    }
                })?;
                one_each(tasks)
            }
            Node::Script(n) => {
                let what = format!("script {}", n.function.name);
                let tasks = self.aligned(id, kind, &n.inputs, &n.options, &what, |_| {
                    TaskKind::Script {
                        function: n.function.clone(),
                    }
                })?;
                one_each(tasks)
            }
            Node::Limit(n) => {
                let input = self.node(n.input)?;
                let query = format!("SELECT * FROM {{0}} LIMIT {}", n.limit);
                let options = TaskOptions::default();
                let sql = |parquet| TaskKind::Sql {
                    query: query.clone(),
                    parquet,
                    udfs: Vec::new(),
                    setup: Vec::new(),
                };
                let merged = if input.len() <= 1 {
                    consolidate(input)
                } else {
                    let count = input.len() as u32;
                    let partial: Vec<TaskId> = input
                        .into_iter()
                        .enumerate()
                        .map(|(i, p)| self.task(id, kind, i as u32, &options, count, vec![p], sql))
                        .collect();
                    consolidate(slots(&partial, 1))
                };
                let last = self.task(id, kind, 0, &options, 1, vec![merged], sql);
                slots(&[last], 1)
            }
            Node::MapBatches(n) => {
                let input = self.node(n.input)?;
                if n.batch_size == 0 {
                    return Err(Error::invalid("batch_size", "must be at least 1"));
                }
                let count = input.len() as u32;
                let tasks: Vec<TaskId> = input
                    .into_iter()
                    .enumerate()
                    .map(|(i, p)| {
                        self.task(id, kind, i as u32, &n.options, count, vec![p], |parquet| {
                            TaskKind::MapBatches {
                                function: n.function.clone(),
                                batch_size: n.batch_size,
                                parquet,
                            }
                        })
                    })
                    .collect();
                tasks
                    .into_iter()
                    .map(|task| Partition::from_part(Part::Task { task, slot: 0 }))
                    .collect()
            }
            Node::Projection(n) => {
                if n.columns.is_empty() {
                    return Err(Error::invalid(
                        "columns",
                        "a projection needs at least one column",
                    ));
                }
                self.node(n.input)?
                    .into_iter()
                    .map(|p| Partition {
                        parts: p.parts,
                        columns: Some(n.columns.clone()),
                    })
                    .collect()
            }
            Node::Consolidate(n) => vec![consolidate(self.node(n.input)?)],
            Node::Union(n) => {
                let mut all = Vec::new();
                for input in &n.inputs {
                    all.extend(self.node(*input)?);
                }
                all
            }
            Node::DataSink(n) => {
                let input = self.node(n.input)?;
                let task = self.task(id, kind, 0, &n.options, 1, input, |parquet| {
                    TaskKind::Sink {
                        path: n.path.clone(),
                        parquet,
                        keep_encoding: n.keep_encoding,
                        append: n.append,
                    }
                });
                slots(&[task], 1)
            }
        };
        self.out.outputs.insert(id, outputs.clone());
        Ok(outputs)
    }

    /// One partitioning task per (spread) input partition, each also reading `extra` when
    /// given; their outputs regrouped into `npartitions` slots.
    #[allow(clippy::too_many_arguments)]
    fn partitioners(
        &mut self,
        id: NodeId,
        kind: &str,
        input: Vec<Partition>,
        extra: Option<Partition>,
        npartitions: u32,
        options: &TaskOptions,
        task_kind: impl Fn(crate::plan::ParquetOptions) -> TaskKind,
    ) -> Vec<Partition> {
        let input = self.spread(input, options);
        let producers = input.len() as u32;
        let tasks: Vec<TaskId> = input
            .into_iter()
            .enumerate()
            .map(|(i, p)| {
                let inputs = std::iter::once(p).chain(extra.clone()).collect();
                self.task(id, kind, i as u32, options, producers, inputs, &task_kind)
            })
            .collect();
        slots(&tasks, npartitions)
    }

    /// More producers for a partitioner whose tasks are given fewer CPUs than the machines
    /// have (`cpu_limit`): an input partition of known files (a data source) is split into
    /// groups of whole files, so that the tasks together use every CPU, as the original
    /// smallpond's planner spreads a partitioner's input over several producers. Partitions
    /// of task outputs, or tasks that take all CPUs anyway, stay as they are.
    fn spread(&self, input: Vec<Partition>, options: &TaskOptions) -> Vec<Partition> {
        let Some(cpus) = options.cpu_limit else {
            return input;
        };
        let want = (self.config.total_cpus.max(1) / cpus.max(1)).max(1) as usize;
        if input.len() >= want {
            return input;
        }
        let per_input = want.div_ceil(input.len().max(1));
        input
            .into_iter()
            .flat_map(|p| {
                let files: Option<usize> = p
                    .parts
                    .iter()
                    .map(|part| match part {
                        Part::Data(d) => Some(d.files().len()),
                        _ => None,
                    })
                    .sum();
                let k = files.map_or(1, |f| f.min(per_input)).max(1);
                if k == 1 {
                    return vec![p];
                }
                (0..k as u32)
                    .map(|index| Partition {
                        parts: vec![Part::Split {
                            parts: p.parts.clone(),
                            index,
                            of: k as u32,
                        }],
                        columns: p.columns.clone(),
                    })
                    .collect()
            })
            .collect()
    }

    /// One task per partition index over `inputs`, which must have equal partition counts
    /// (no inputs: one task); task `i` reads partition `i` of every input.
    fn aligned(
        &mut self,
        id: NodeId,
        kind: &str,
        inputs: &[NodeId],
        options: &TaskOptions,
        what: &str,
        task_kind: impl Fn(crate::plan::ParquetOptions) -> TaskKind,
    ) -> Result<Vec<TaskId>> {
        let inputs: Vec<Vec<Partition>> = inputs
            .iter()
            .map(|i| self.node(*i))
            .collect::<Result<_>>()?;
        let counts: Vec<usize> = inputs.iter().map(Vec::len).collect();
        let count = match counts.first() {
            None => 1,
            Some(first) if counts.iter().all(|c| c == first) => *first,
            Some(_) => {
                return Err(Error::PartitionMismatch {
                    counts,
                    query: what.to_string(),
                })
            }
        };
        Ok((0..count)
            .map(|i| {
                let task_inputs = inputs.iter().map(|parts| parts[i].clone()).collect();
                self.task(
                    id,
                    kind,
                    i as u32,
                    options,
                    count as u32,
                    task_inputs,
                    &task_kind,
                )
            })
            .collect())
    }

    /// Adds one task. `siblings` is how many tasks the node has in this stage: unless the
    /// user set a cpu limit, a lone task gets the whole pool and many share it.
    #[allow(clippy::too_many_arguments)]
    fn task(
        &mut self,
        node: NodeId,
        node_kind: &str,
        partition: u32,
        options: &TaskOptions,
        siblings: u32,
        inputs: Vec<Partition>,
        kind: impl FnOnce(crate::plan::ParquetOptions) -> TaskKind,
    ) -> TaskId {
        let total = self.config.total_cpus.max(1);
        let node_cpus = self.config.node_cpus.clamp(1, total);
        // As the original: a GPU task gets 8 CPUs per GPU, so its feeders keep up.
        let gpu_cpus = (options.gpu_limit.get() * 8.0).ceil() as u32;
        let cpus = options
            .cpu_limit
            .unwrap_or_else(|| (total / siblings.max(1)).max(1))
            .max(gpu_cpus)
            .clamp(1, node_cpus);
        let memory_bytes = options
            .memory_limit
            .unwrap_or(self.config.node_memory / u64::from(node_cpus) * u64::from(cpus));
        let id = TaskId(self.next_task);
        self.next_task += 1;
        self.out.tasks.push(TaskSpec {
            id,
            node,
            node_kind: node_kind.to_string(),
            partition,
            kind: kind(options.parquet.clone()),
            inputs,
            resources: Resources {
                cpus,
                memory_bytes,
                gpus: options.gpu_limit,
            },
        });
        id
    }
}

fn check_npartitions(n: u32) -> Result<()> {
    if n == 0 {
        return Err(Error::invalid("npartitions", "must be at least 1, got 0"));
    }
    Ok(())
}

/// Partition `j` = slot `j` of every task.
/// One partition per task: its only output slot.
fn one_each(tasks: Vec<TaskId>) -> Vec<Partition> {
    tasks
        .into_iter()
        .map(|task| Partition::from_part(Part::Task { task, slot: 0 }))
        .collect()
}

fn slots(tasks: &[TaskId], n: u32) -> Vec<Partition> {
    (0..n)
        .map(|slot| Partition {
            parts: tasks
                .iter()
                .map(|&task| Part::Task { task, slot })
                .collect(),
            columns: None,
        })
        .collect()
}

/// All partitions as one. Partitions of one node share their projection.
fn consolidate(parts: Vec<Partition>) -> Partition {
    let columns = parts.first().and_then(|p| p.columns.clone());
    Partition {
        parts: parts.into_iter().flat_map(|p| p.parts).collect(),
        columns,
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::plan::*;
    use crate::DataSet;

    const CONFIG: PlannerConfig = PlannerConfig {
        total_cpus: 2,
        total_memory: 8 << 30,
        node_cpus: 2,
        node_memory: 8 << 30,
    };

    fn source(plan: &mut LogicalPlan, files: usize) -> NodeId {
        let files = (0..files)
            .map(|i| PathBuf::from(format!("in-{i}.parquet")))
            .collect();
        plan.add(Node::DataSource(DataSourceNode {
            dataset: DataSet::parquet(files),
        }))
        .unwrap()
    }

    /// `input`'s files in `n` groups.
    fn split_files(plan: &mut LogicalPlan, input: NodeId, n: u32) -> NodeId {
        plan.add(Node::EvenlyDistributed(EvenlyDistributedNode {
            input,
            npartitions: n,
            by_rows: false,
            in_order: false,
            options: TaskOptions::default(),
        }))
        .unwrap()
    }

    fn hash(plan: &mut LogicalPlan, input: NodeId, n: u32) -> NodeId {
        hash_with(plan, input, n, TaskOptions::default())
    }

    fn hash_with(plan: &mut LogicalPlan, input: NodeId, n: u32, options: TaskOptions) -> NodeId {
        plan.add(Node::HashPartition(HashPartitionNode {
            input,
            npartitions: n,
            method: PartitionMethod::Hash(vec!["k".into()]),
            pre_query: None,
            partition_column: None,
            result: false,
            options,
        }))
        .unwrap()
    }

    fn sql(plan: &mut LogicalPlan, inputs: Vec<NodeId>, q: &str) -> NodeId {
        plan.add(Node::Sql(
            SqlNode::try_new(inputs, q, TaskOptions::default()).unwrap(),
        ))
        .unwrap()
    }

    #[test]
    fn hash_then_sql_makes_one_task_per_partition() {
        let mut plan = LogicalPlan::new();
        let src = source(&mut plan, 4);
        let split = split_files(&mut plan, src, 2);
        let h = hash(&mut plan, split, 3);
        let q = sql(&mut plan, vec![h], "select * from {0}");
        let computed = HashMap::new();
        let exec = Planner::new(&plan, &computed, CONFIG, 0)
            .plan(&[q])
            .unwrap();
        // 2 hash producers (one per split partition) + 3 SQL tasks.
        assert_eq!(exec.tasks.len(), 5);
        assert_eq!(exec.outputs[&h].len(), 3);
        assert_eq!(exec.outputs[&q].len(), 3);
        let sql_task = &exec.tasks[2];
        assert_eq!(sql_task.deps(), vec![TaskId(0), TaskId(1)]);
        // Two producers share the 2 cpus; three SQL tasks get one each.
        assert_eq!(exec.tasks[0].resources.cpus, 1);
        assert_eq!(sql_task.resources.cpus, 1);
    }

    #[test]
    fn single_cpu_producers_of_a_source_spread_over_its_files() {
        let mut plan = LogicalPlan::new();
        let src = source(&mut plan, 5);
        let one_cpu = TaskOptions {
            cpu_limit: Some(1),
            ..TaskOptions::default()
        };
        let h = hash_with(&mut plan, src, 4, one_cpu);
        let exec = Planner::new(&plan, &HashMap::new(), CONFIG, 0)
            .plan(&[h])
            .unwrap();
        // 2 CPUs / 1 per task: two producers over groups of the 5 files (3 + 2).
        assert_eq!(exec.tasks.len(), 2);
        let outputs = |_: TaskId, _: u32| -> DataSet { unreachable!("no task inputs") };
        let files: Vec<usize> = exec
            .tasks
            .iter()
            .map(|t| t.inputs[0].resolve(&outputs).files().count())
            .collect();
        assert_eq!(files, [3, 2]);
        assert_eq!(exec.outputs[&h].len(), 4);
        // Without a cpu_limit one task takes both CPUs: no split.
        let h2 = hash(&mut plan, src, 4);
        let exec = Planner::new(&plan, &HashMap::new(), CONFIG, 0)
            .plan(&[h2])
            .unwrap();
        assert_eq!(exec.tasks.len(), 1);
    }

    #[test]
    fn lone_task_gets_the_whole_pool() {
        let mut plan = LogicalPlan::new();
        let src = source(&mut plan, 1);
        let h = hash(&mut plan, src, 8);
        let exec = Planner::new(&plan, &HashMap::new(), CONFIG, 0)
            .plan(&[h])
            .unwrap();
        assert_eq!(exec.tasks.len(), 1);
        assert_eq!(exec.tasks[0].resources.cpus, 2);
        assert_eq!(exec.tasks[0].kind.slots(), 8);
    }

    #[test]
    fn tasks_fit_on_the_largest_node_of_a_cluster() {
        // Three nodes: 4 CPUs/16 GiB, 2 CPUs/4 GiB, 2 CPUs/4 GiB.
        let config = PlannerConfig::new(Resources::new(8, 24 << 30), Resources::new(4, 16 << 30));
        let mut plan = LogicalPlan::new();
        let src = source(&mut plan, 1);
        let h = hash(&mut plan, src, 8);
        let q = sql(&mut plan, vec![h], "select * from {0}");
        let exec = Planner::new(&plan, &HashMap::new(), config, 0)
            .plan(&[q])
            .unwrap();
        // The lone partitioner would get all 8 CPUs of the cluster; no node has them.
        assert_eq!(exec.tasks[0].resources.cpus, 4);
        assert_eq!(exec.tasks[0].resources.memory_bytes, 16 << 30);
        // Eight SQL tasks share 8 CPUs: one each, with that node's memory per CPU.
        assert_eq!(exec.tasks[1].resources.cpus, 1);
        assert_eq!(exec.tasks[1].resources.memory_bytes, 4 << 30);
    }

    #[test]
    fn gpu_tasks_ask_for_gpus_and_eight_cpus_per_gpu() {
        let config = PlannerConfig::single_machine(16, 64 << 30);
        let mut plan = LogicalPlan::new();
        let src = source(&mut plan, 4);
        let split = split_files(&mut plan, src, 4);
        let options = TaskOptions {
            gpu_limit: crate::task::Gpus::try_new(0.5).unwrap(),
            ..TaskOptions::default()
        };
        let q = plan
            .add(Node::Sql(
                SqlNode::try_new(vec![split], "select * from {0}", options).unwrap(),
            ))
            .unwrap();
        let exec = Planner::new(&plan, &HashMap::new(), config, 0)
            .plan(&[q])
            .unwrap();
        assert_eq!(exec.tasks.len(), 4);
        for t in &exec.tasks {
            assert_eq!(t.resources.gpus.get(), 0.5);
            assert_eq!(
                t.resources.cpus, 4,
                "16 CPUs / 4 tasks, and 8 x 0.5 GPU = 4"
            );
        }
        let json = serde_json::to_string(&exec.tasks[0].resources).unwrap();
        assert!(json.contains("\"gpus\":0.5"), "{json}");
        assert!(crate::task::Gpus::try_new(-1.0).is_err());
        assert!(crate::task::Gpus::try_new(f64::NAN).is_err());
    }

    #[test]
    fn co_partitioned_inputs_must_have_equal_counts() {
        let mut plan = LogicalPlan::new();
        let a = source(&mut plan, 1);
        let b = source(&mut plan, 1);
        let ha = hash(&mut plan, a, 3);
        let hb = hash(&mut plan, b, 4);
        let q = sql(
            &mut plan,
            vec![ha, hb],
            "select * from {0} join {1} using (k)",
        );
        let err = Planner::new(&plan, &HashMap::new(), CONFIG, 0)
            .plan(&[q])
            .unwrap_err();
        assert!(matches!(err, Error::PartitionMismatch { .. }), "{err}");
        assert!(err.to_string().contains("[3, 4]"), "{err}");
    }

    #[test]
    fn zero_partitions_is_rejected() {
        let mut plan = LogicalPlan::new();
        let src = source(&mut plan, 1);
        let h = hash(&mut plan, src, 0);
        let err = Planner::new(&plan, &HashMap::new(), CONFIG, 0)
            .plan(&[h])
            .unwrap_err();
        assert!(err.to_string().contains("npartitions"), "{err}");
    }

    #[test]
    fn computed_nodes_are_not_planned_again() {
        let mut plan = LogicalPlan::new();
        let src = source(&mut plan, 1);
        let h = hash(&mut plan, src, 2);
        let q = sql(&mut plan, vec![h], "select * from {0}");
        let mut computed = HashMap::new();
        let done = ResolvedPartition {
            datasets: vec![DataSet::parquet(vec![PathBuf::from("x.parquet")])],
            columns: None,
        };
        computed.insert(h, vec![done.clone(), done]);
        let exec = Planner::new(&plan, &computed, CONFIG, 10)
            .plan(&[q])
            .unwrap();
        assert_eq!(exec.tasks.len(), 2);
        assert!(exec
            .tasks
            .iter()
            .all(|t| t.node == q && t.deps().is_empty()));
        assert_eq!(exec.tasks[0].id, TaskId(10));
    }

    #[test]
    fn limit_merges_partial_limits() {
        let mut plan = LogicalPlan::new();
        let src = source(&mut plan, 1);
        let h = hash(&mut plan, src, 3);
        let l = plan
            .add(Node::Limit(LimitNode { input: h, limit: 5 }))
            .unwrap();
        let exec = Planner::new(&plan, &HashMap::new(), CONFIG, 0)
            .plan(&[l])
            .unwrap();
        // 1 hash + 3 partial limits + 1 merge
        assert_eq!(exec.tasks.len(), 5);
        assert_eq!(exec.outputs[&l].len(), 1);
        assert_eq!(exec.tasks[4].deps().len(), 3);
    }

    #[test]
    fn split_parts_resolve_to_balanced_file_groups() {
        let mut plan = LogicalPlan::new();
        let src = source(&mut plan, 5);
        let split = split_files(&mut plan, src, 3);
        let exec = Planner::new(&plan, &HashMap::new(), CONFIG, 0)
            .plan(&[split])
            .unwrap();
        assert!(exec.tasks.is_empty());
        let no_tasks = |_: TaskId, _: u32| -> DataSet { unreachable!() };
        let sizes: Vec<usize> = exec.outputs[&split]
            .iter()
            .map(|p| p.resolve(&no_tasks).files().count())
            .collect();
        assert_eq!(sizes, vec![2, 2, 1]);
    }
}
