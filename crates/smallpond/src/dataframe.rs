//! DataFrames: lazy, partitioned results that grow the session's logical plan.
//!
//! Building a DataFrame runs nothing. An action (`count`, `take`, `to_arrow`,
//! `write_parquet`, `compute`) plans and runs whatever is not computed yet; outputs stay
//! cached for the rest of the session, so an action after another action never re-runs
//! the shared part of the pipeline.

use std::path::Path;
use std::sync::Arc;

use arrow::record_batch::RecordBatch;
use smallpond_core::plan::{
    ConsolidateNode, DataSinkNode, EvenlyDistributedNode, ExternalFunction, HashPartitionNode,
    LimitNode, MapBatchesNode, Node, PartitionMethod, ProjectionNode, RangePartitionNode, SortKey,
    TaskOptions, Udf, UnionNode,
};
use smallpond_core::task::ResolvedPartition;
use smallpond_core::{Error as PlanError, NodeId};

use crate::session::Inner;
use crate::Result;

/// How [`DataFrame::repartition`] distributes rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Partitioning {
    /// Whole files, evenly (no data is read or written).
    Files,
    /// Equal row counts.
    Rows,
    /// `hash(columns) % n`: equal keys land in the same partition.
    Hash(Vec<String>),
    /// The column holds the partition index.
    Column(String),
    /// A random partition per row.
    Random,
}

impl Partitioning {
    pub fn hash<S: AsRef<str>>(columns: &[S]) -> Self {
        Partitioning::Hash(columns.iter().map(|c| c.as_ref().to_string()).collect())
    }
}

/// Which rows [`DataFrame::join`] keeps, as DuckDB's joins of the same name do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinHow {
    /// Pairs of rows with equal keys.
    Inner,
    /// Also the left rows that match nothing (their right columns NULL).
    Left,
    /// Also the right rows that match nothing.
    Right,
    /// Also the rows of either side that match nothing.
    Outer,
    /// The left rows that match some right row (left columns only, each row once).
    Semi,
    /// The left rows that match no right row (left columns only).
    Anti,
}

impl JoinHow {
    fn sql(self) -> &'static str {
        match self {
            JoinHow::Inner => "INNER",
            JoinHow::Left => "LEFT",
            JoinHow::Right => "RIGHT",
            JoinHow::Outer => "FULL OUTER",
            JoinHow::Semi => "SEMI",
            JoinHow::Anti => "ANTI",
        }
    }
}

impl std::str::FromStr for JoinHow {
    type Err = crate::Error;
    fn from_str(how: &str) -> Result<Self> {
        Ok(match how.to_ascii_lowercase().as_str() {
            "inner" => JoinHow::Inner,
            "left" => JoinHow::Left,
            "right" => JoinHow::Right,
            "outer" | "full" => JoinHow::Outer,
            "semi" => JoinHow::Semi,
            "anti" => JoinHow::Anti,
            _ => {
                return Err(PlanError::invalid(
                    "how",
                    format!("{how:?} is not one of inner, left, right, outer, semi, anti"),
                )
                .into())
            }
        })
    }
}

/// How [`DataFrame::join_with`] plans a join.
#[derive(Debug, Clone)]
pub struct JoinOptions {
    /// Output partitions of a partitioned join; default: the larger input's count.
    pub npartitions: Option<u32>,
    /// A side whose files hold at most this many bytes, known before the join runs (a data
    /// source, or a computed result), is broadcast: every partition of the other side is
    /// joined with all of it, and neither side is repartitioned. Only where that gives the
    /// same rows: the right side for inner, left, semi and anti joins, the left side for
    /// inner and right joins. `0` turns broadcasting off. Default: 16 MiB.
    pub broadcast_bytes: u64,
    pub options: TaskOptions,
}

/// `options` for files a plan writes only to read them back once (a sort's ranges, a
/// join's hashed sides): uncompressed, strings written plainly. On the 2 GB GraySort data
/// the range partition took 7.0-7.6 s so against 10.3-10.9 s with LZ4 (DuckDB's own
/// partitioned writer, docs/benchmarks.md): random keys and payloads do not compress, and
/// trying costs more than the bytes saved.
fn read_once(options: &TaskOptions) -> TaskOptions {
    let mut options = options.clone();
    options.parquet.compression = "uncompressed".into();
    options.parquet.dictionary = false;
    options
}

/// The default broadcast threshold of a join, 16 MiB of files.
pub const BROADCAST_BYTES: u64 = 16 << 20;

impl Default for JoinOptions {
    fn default() -> Self {
        Self {
            npartitions: None,
            broadcast_bytes: BROADCAST_BYTES,
            options: TaskOptions::default(),
        }
    }
}

/// A lazily computed, partitioned table.
#[derive(Clone)]
pub struct DataFrame {
    session: Arc<Inner>,
    node: NodeId,
}

impl DataFrame {
    pub(crate) fn new(session: Arc<Inner>, node: NodeId) -> Self {
        Self { session, node }
    }

    /// The logical plan node behind this DataFrame.
    pub fn node(&self) -> NodeId {
        self.node
    }

    /// Cancels its session's running job (see `Session::cancel`).
    pub fn cancel_token(&self) -> smallpond_exec::CancelToken {
        self.session.scheduler.cancel.clone()
    }

    pub fn num_partitions(&self) -> Result<usize> {
        self.session.num_partitions(self.node)
    }

    /// Repartitions into `n` partitions.
    pub fn repartition(&self, n: u32, how: Partitioning) -> Result<DataFrame> {
        self.repartition_with(n, how, TaskOptions::default())
    }

    pub fn repartition_with(
        &self,
        n: u32,
        how: Partitioning,
        options: TaskOptions,
    ) -> Result<DataFrame> {
        self.repartition_keeping(n, how, options, None)
    }

    /// Like [`DataFrame::repartition_with`]; a hash, random or by-column repartition also
    /// writes each row's partition index into `partition_column` (the original smallpond's
    /// `data_partition_column`, `__data_partition__` by default).
    pub fn repartition_keeping(
        &self,
        n: u32,
        how: Partitioning,
        options: TaskOptions,
        partition_column: Option<String>,
    ) -> Result<DataFrame> {
        if n == 0 {
            return Err(PlanError::invalid("npartitions", "must be at least 1, got 0").into());
        }
        let input = self.node;
        let method = match how {
            Partitioning::Files | Partitioning::Rows => {
                return self
                    .session
                    .add(Node::EvenlyDistributed(EvenlyDistributedNode {
                        input,
                        npartitions: n,
                        by_rows: how == Partitioning::Rows,
                        in_order: false,
                        options,
                    }))
            }
            Partitioning::Hash(cols) if cols.is_empty() => {
                return Err(PlanError::invalid("hash_by", "needs at least one column").into())
            }
            Partitioning::Hash(cols) => PartitionMethod::Hash(cols),
            Partitioning::Column(c) => PartitionMethod::Column(c),
            Partitioning::Random => PartitionMethod::Random,
        };
        self.session.add(Node::HashPartition(HashPartitionNode {
            input,
            npartitions: n,
            method,
            pre_query: None,
            partition_column,
            result: false,
            options,
        }))
    }

    /// Moves every row to a random partition (keeping the partition count) and shuffles
    /// rows within each partition.
    pub fn random_shuffle(&self) -> Result<DataFrame> {
        self.random_shuffle_with(TaskOptions::default(), None)
    }

    /// Like [`DataFrame::random_shuffle`], keeping each row's partition index in
    /// `partition_column` (as the original smallpond's `random_shuffle` does).
    pub fn random_shuffle_with(
        &self,
        options: TaskOptions,
        partition_column: Option<String>,
    ) -> Result<DataFrame> {
        let n = self.num_partitions()? as u32;
        let spread =
            self.repartition_keeping(n, Partitioning::Random, options, partition_column)?;
        spread.sql_with(
            "SELECT * FROM {0} ORDER BY random()",
            TaskOptions::default(),
            Vec::new(),
        )
    }

    fn sql_with(&self, query: &str, options: TaskOptions, udfs: Vec<Udf>) -> Result<DataFrame> {
        self.session
            .add_sql(vec![self.node], &[], query, options, udfs)
    }

    /// Sorts each partition by `columns` (each may carry `ASC`/`DESC`).
    pub fn partial_sort<S: AsRef<str>>(&self, columns: &[S]) -> Result<DataFrame> {
        self.partial_sort_with(columns, TaskOptions::default(), Vec::new())
    }

    /// Like [`DataFrame::partial_sort`], with task options and functions the sort keys may
    /// call.
    pub fn partial_sort_with<S: AsRef<str>>(
        &self,
        columns: &[S],
        options: TaskOptions,
        udfs: Vec<Udf>,
    ) -> Result<DataFrame> {
        let by: Vec<&str> = columns.iter().map(AsRef::as_ref).collect();
        if by.iter().all(|c| c.trim().is_empty()) {
            return Err(PlanError::invalid("by", "needs at least one column").into());
        }
        let query = format!("SELECT * FROM {{0}} ORDER BY {}", by.join(", "));
        self.sql_with(&query, options, udfs)
    }

    /// Sorts all rows by `keys`, keeping the number of partitions: read in partition
    /// order, the partitions' files are globally sorted (NULLs last, as DuckDB orders
    /// them). See [`DataFrame::sort_with`].
    pub fn sort(&self, keys: &[SortKey]) -> Result<DataFrame> {
        self.sort_with(keys, None, TaskOptions::default())
    }

    /// Sorts all rows by `keys` into `npartitions` (default: as many as now).
    ///
    /// On a pool of several machines, a sample of the keys (one task over the whole input)
    /// gives the boundaries of `npartitions` ranges holding equal numbers of rows; one pass
    /// over each input partition writes every row into its range, and each range is sorted
    /// on its own. A key that alone fills several ranges is spread over them, so skewed
    /// keys still give balanced partitions.
    ///
    /// On one machine the ranges would only move every row through Parquet once more on
    /// the same CPUs: one `ORDER BY` over everything, with every CPU, is cut into
    /// `npartitions` of equal row counts instead (between row groups, copied as they are;
    /// see [`EvenlyDistributedNode::in_order`]). With one partition either is one
    /// `ORDER BY`.
    pub fn sort_with(
        &self,
        keys: &[SortKey],
        npartitions: Option<u32>,
        options: TaskOptions,
    ) -> Result<DataFrame> {
        use smallpond_duckdb::tasks::hash_partition::{bounds_query, order_by_sql};
        if keys.is_empty() {
            return Err(PlanError::invalid("by", "a sort needs at least one key").into());
        }
        for key in keys {
            non_empty("by", &key.expr)?;
        }
        let n = match npartitions {
            Some(n) => n,
            None => self.num_partitions()? as u32,
        };
        if n == 0 {
            return Err(PlanError::invalid("npartitions", "must be at least 1, got 0").into());
        }
        let order = format!("SELECT * FROM {{0}} ORDER BY {}", order_by_sql(keys));
        if n == 1 {
            return self.consolidate()?.sql_with(&order, options, Vec::new());
        }
        if self.session.one_machine()? {
            let sorted = self
                .consolidate()?
                .sql_with(&order, options.clone(), Vec::new())?;
            return self
                .session
                .add(Node::EvenlyDistributed(EvenlyDistributedNode {
                    input: sorted.node,
                    npartitions: n,
                    by_rows: true,
                    in_order: true,
                    // Rows cut exactly (a small input) are written as the sort's were.
                    options,
                }));
        }
        let sample_rows = (u64::from(n) * 20_000).clamp(100_000, 1_000_000);
        let (setup, query) = bounds_query(keys, n, sample_rows);
        let whole = self.consolidate()?;
        let bounds = self.session.add_sql(
            vec![whole.node],
            &setup,
            &query,
            TaskOptions::default(),
            Vec::new(),
        )?;
        // The ranges are read once, by the sorts; the sorted output is as `options` say.
        let intermediate = read_once(&options);
        let ranges = self.session.add(Node::RangePartition(RangePartitionNode {
            input: self.node,
            bounds: bounds.node,
            npartitions: n,
            keys: keys.to_vec(),
            options: intermediate,
        }))?;
        ranges.sql_with(&order, options, Vec::new())
    }

    /// Joins with `other` on the columns `on`, giving the rows and columns of DuckDB's
    /// `SELECT * FROM self <how> JOIN other USING (on)` (the keys once; a column name on
    /// both sides gets `_1` on the right, as DuckDB writes it to Parquet). See
    /// [`DataFrame::join_with`].
    pub fn join<S: AsRef<str>>(
        &self,
        other: &DataFrame,
        on: &[S],
        how: JoinHow,
    ) -> Result<DataFrame> {
        self.join_with(other, on, how, JoinOptions::default())
    }

    /// Like [`DataFrame::join`]. Both sides are hash-partitioned by the keys into the same
    /// `npartitions` (a side that already is, by these keys in this order, is read as it is)
    /// and each pair of partitions is joined by one task; NULL keys match nothing, as in
    /// DuckDB. A small side is broadcast instead (see [`JoinOptions::broadcast_bytes`]);
    /// with one partition, both sides are joined whole by one task.
    pub fn join_with<S: AsRef<str>>(
        &self,
        other: &DataFrame,
        on: &[S],
        how: JoinHow,
        options: JoinOptions,
    ) -> Result<DataFrame> {
        if !Arc::ptr_eq(&self.session, &other.session) {
            return Err(PlanError::invalid("other", "joins DataFrames of another session").into());
        }
        let keys: Vec<String> = on.iter().map(|k| k.as_ref().trim().to_string()).collect();
        if keys.is_empty() || keys.iter().any(String::is_empty) {
            return Err(PlanError::invalid("on", "a join needs at least one key column").into());
        }
        let using: Vec<String> = keys
            .iter()
            .map(|k| smallpond_duckdb::source::ident(k))
            .collect();
        let query = format!(
            "SELECT * FROM {{0}} {} JOIN {{1}} USING ({})",
            how.sql(),
            using.join(", ")
        );
        let join = |left: &DataFrame, right: &DataFrame| {
            self.session.add_sql(
                vec![left.node, right.node],
                &[],
                &query,
                options.options.clone(),
                Vec::new(),
            )
        };
        let (nl, nr) = (self.num_partitions()?, other.num_partitions()?);
        let n = match options.npartitions {
            Some(0) => {
                return Err(PlanError::invalid("npartitions", "must be at least 1, got 0").into())
            }
            Some(n) => n,
            None => nl.max(nr) as u32,
        };
        // (Without `npartitions`, one means both sides have one partition.)
        if n == 1 {
            return join(&self.consolidate()?, &other.consolidate()?);
        }
        let small = |df: &DataFrame| {
            options.broadcast_bytes > 0
                && self
                    .session
                    .known_bytes(df.node)
                    .is_some_and(|b| b <= options.broadcast_bytes)
        };
        // The whole of `df` as each of `n` partitions (file lists only).
        let everywhere = |df: &DataFrame, n: usize| -> Result<DataFrame> {
            let whole = df.consolidate()?;
            let copies: Vec<&DataFrame> = std::iter::repeat_n(&whole, n - 1).collect();
            whole.union(&copies)
        };
        let right_may = matches!(
            how,
            JoinHow::Inner | JoinHow::Left | JoinHow::Semi | JoinHow::Anti
        );
        let left_may = matches!(how, JoinHow::Inner | JoinHow::Right);
        if right_may && small(other) {
            return join(self, &everywhere(other, nl)?);
        }
        if left_may && small(self) {
            return join(&everywhere(self, nr)?, other);
        }
        // The hashed sides are read once, by the joins.
        let left = self.hashed_by(&keys, n, &read_once(&options.options))?;
        let right = other.hashed_by(&keys, n, &read_once(&options.options))?;
        join(&left, &right)
    }

    /// This DataFrame hash-partitioned by `keys` into `n`: itself when it already is.
    fn hashed_by(&self, keys: &[String], n: u32, options: &TaskOptions) -> Result<DataFrame> {
        let same = |a: &[String]| {
            a.len() == keys.len() && a.iter().zip(keys).all(|(x, y)| x.eq_ignore_ascii_case(y))
        };
        if self
            .session
            .hash_partitioning(self.node)
            .is_some_and(|(k, m)| m == n && same(&k))
        {
            return Ok(self.clone());
        }
        self.repartition_with(n, Partitioning::Hash(keys.to_vec()), options.clone())
    }

    /// `SELECT <select_list> FROM partition`, e.g. `"a * 2 AS b, c"`.
    ///
    /// The expressions of `map`, `flat_map` and `filter` are query templates as in
    /// [`Session::partial_sql`](crate::Session::partial_sql): `{rand_seed}`,
    /// `{__data_partition__}`, ... are filled in per task, and `{{`/`}}` are literal braces
    /// (other braces, as in `{'a': 1}`, are kept as written).
    pub fn map(&self, select_list: &str) -> Result<DataFrame> {
        self.map_with(select_list, TaskOptions::default(), Vec::new())
    }

    /// Like [`DataFrame::map`], with task options and functions the expressions may call.
    pub fn map_with(
        &self,
        select_list: &str,
        options: TaskOptions,
        udfs: Vec<Udf>,
    ) -> Result<DataFrame> {
        non_empty("map", select_list)?;
        self.sql_with(&format!("SELECT {select_list}\nFROM {{0}}"), options, udfs)
    }

    /// Like `map`; a set-returning expression (e.g. `unnest(...)`) yields many rows per row.
    pub fn flat_map(&self, select_list: &str) -> Result<DataFrame> {
        self.map(select_list)
    }

    /// Keeps rows for which `predicate` holds.
    pub fn filter(&self, predicate: &str) -> Result<DataFrame> {
        self.filter_with(predicate, TaskOptions::default(), Vec::new())
    }

    /// Like [`DataFrame::filter`], with task options and functions the predicate may call.
    pub fn filter_with(
        &self,
        predicate: &str,
        options: TaskOptions,
        udfs: Vec<Udf>,
    ) -> Result<DataFrame> {
        non_empty("filter", predicate)?;
        // On lines of its own, so that a trailing `-- comment` cannot swallow the paren.
        let query = format!("SELECT * FROM {{0}} WHERE (\n{predicate}\n)");
        self.sql_with(&query, options, udfs)
    }

    /// Streams each partition through an external function (e.g. a Python function) in
    /// record batches of at most `batch_size` rows; what it returns is the partition.
    pub fn map_batches(
        &self,
        function: ExternalFunction,
        batch_size: u64,
        options: TaskOptions,
    ) -> Result<DataFrame> {
        if batch_size == 0 {
            return Err(PlanError::invalid("batch_size", "must be at least 1").into());
        }
        self.session.add(Node::MapBatches(MapBatchesNode {
            input: self.node,
            function,
            batch_size,
            options,
        }))
    }

    /// Keeps only these columns (no data is copied).
    pub fn select<S: AsRef<str>>(&self, columns: &[S]) -> Result<DataFrame> {
        self.session.add(Node::Projection(ProjectionNode {
            input: self.node,
            columns: columns.iter().map(|c| c.as_ref().to_string()).collect(),
        }))
    }

    /// At most `n` rows, in one partition.
    pub fn limit(&self, n: u64) -> Result<DataFrame> {
        self.session.add(Node::Limit(LimitNode {
            input: self.node,
            limit: n,
        }))
    }

    /// The partitions of this DataFrame followed by those of `others` (no data is copied).
    pub fn union(&self, others: &[&DataFrame]) -> Result<DataFrame> {
        let mut inputs = vec![self.node];
        inputs.extend(others.iter().map(|d| d.node));
        self.session.add(Node::Union(UnionNode { inputs }))
    }

    /// All partitions as one (no data is copied).
    pub fn consolidate(&self) -> Result<DataFrame> {
        self.session
            .add(Node::Consolidate(ConsolidateNode { input: self.node }))
    }

    /// Writes Parquet files into directory `path` now.
    pub fn write_parquet(&self, path: impl AsRef<Path>) -> Result<()> {
        self.write_parquet_lazy(path)?.compute()
    }

    /// A DataFrame that writes `path` when computed (see `Session::wait`). Task outputs are
    /// published as they are (hard links), whatever their encoding, as in the original.
    pub fn write_parquet_lazy(&self, path: impl AsRef<Path>) -> Result<DataFrame> {
        self.sink(path, TaskOptions::default(), true, false)
    }

    /// Like [`DataFrame::write_parquet_lazy`], adding the files (named after the job) to
    /// what the directory holds instead of replacing it, as the original smallpond's
    /// `write_parquet` does; still all or nothing.
    pub fn append_parquet_lazy(&self, path: impl AsRef<Path>) -> Result<DataFrame> {
        self.sink(path, TaskOptions::default(), true, true)
    }

    /// Like `write_parquet_lazy`, with every file in `options`' encoding (files written
    /// otherwise are re-encoded).
    pub fn write_parquet_with(
        &self,
        path: impl AsRef<Path>,
        options: TaskOptions,
    ) -> Result<DataFrame> {
        self.sink(path, options, false, false)
    }

    fn sink(
        &self,
        path: impl AsRef<Path>,
        options: TaskOptions,
        keep_encoding: bool,
        append: bool,
    ) -> Result<DataFrame> {
        let path = match smallpond_core::storage::Scheme::of(path.as_ref())? {
            smallpond_core::storage::Scheme::Local => absolute(path.as_ref())?,
            smallpond_core::storage::Scheme::S3 => {
                // A missing bucket, refused credentials or a foreign destination: said now,
                // not after the work (the sink task checks again when it publishes).
                let conn = smallpond_duckdb::remote::driver_connection(self.session.s3())?;
                let url = path.as_ref().to_string_lossy();
                smallpond_duckdb::remote::check_destination(&conn, &url, append)?;
                path.as_ref().to_path_buf()
            }
            smallpond_core::storage::Scheme::Http => {
                return Err(PlanError::invalid(
                    "path",
                    format!(
                        "{}: http(s):// is read only; write to a path or to s3://",
                        path.as_ref().display()
                    ),
                )
                .into())
            }
        };
        self.session.add(Node::DataSink(DataSinkNode {
            input: self.node,
            path,
            options,
            keep_encoding,
            append,
        }))
    }

    /// Runs everything this DataFrame needs that is not computed yet.
    pub fn compute(&self) -> Result<()> {
        self.partitions().map(|_| ())
    }

    pub fn is_computed(&self) -> bool {
        self.session.is_computed(self.node)
    }

    /// Forgets cached outputs of this DataFrame and its inputs; the next action recomputes.
    pub fn recompute(&self) -> Result<DataFrame> {
        self.session.invalidate(self.node)?;
        Ok(self.clone())
    }

    fn partitions(&self) -> Result<Vec<ResolvedPartition>> {
        let mut all = self.session.compute(&[self.node])?;
        Ok(all.pop().unwrap_or_default())
    }

    /// Number of rows.
    pub fn count(&self) -> Result<u64> {
        Ok(smallpond_duckdb::read::count(&self.partitions()?)?)
    }

    /// Up to `n` rows, partition after partition.
    pub fn take(&self, n: u64) -> Result<Vec<RecordBatch>> {
        Ok(smallpond_duckdb::read::to_arrow(
            &self.partitions()?,
            Some(n),
        )?)
    }

    /// Every row, partition after partition.
    pub fn take_all(&self) -> Result<Vec<RecordBatch>> {
        self.to_arrow()
    }

    pub fn to_arrow(&self) -> Result<Vec<RecordBatch>> {
        Ok(smallpond_duckdb::read::to_arrow(&self.partitions()?, None)?)
    }

    /// Every row (or the first `limit`) with the schema, known even when there are no rows
    /// (`None` only when no partition has known columns). `large_strings`: strings and
    /// blobs as `LargeUtf8` / `LargeBinary` (what the original smallpond returns to Python).
    pub fn to_arrow_table(
        &self,
        limit: Option<u64>,
        large_strings: bool,
    ) -> Result<(Option<arrow::datatypes::SchemaRef>, Vec<RecordBatch>)> {
        Ok(smallpond_duckdb::read::to_arrow_table(
            &self.partitions()?,
            limit,
            large_strings,
        )?)
    }

    /// The computed partitions' files (for tools that read them directly).
    pub fn files(&self) -> Result<Vec<Vec<std::path::PathBuf>>> {
        Ok(self
            .partitions()?
            .iter()
            .map(|p| p.files().cloned().collect())
            .collect())
    }
}

fn non_empty(what: &str, text: &str) -> Result<()> {
    if text.trim().is_empty() {
        return Err(PlanError::invalid(what, "the SQL expression is empty").into());
    }
    Ok(())
}

fn absolute(path: &Path) -> Result<std::path::PathBuf> {
    if path.as_os_str().is_empty() {
        return Err(PlanError::invalid("path", "the output path is empty").into());
    }
    if path.is_absolute() {
        return Ok(path.to_path_buf());
    }
    let cwd = std::env::current_dir().map_err(crate::error::io("."))?;
    Ok(cwd.join(path))
}
