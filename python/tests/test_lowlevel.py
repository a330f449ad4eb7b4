"""The original smallpond's low-level API (Context, nodes, LogicalPlan, Driver, datasets,
RuntimeContext and task objects) on our engine: every class does what the original's does."""

import functools
import glob
import os
import subprocess
import sys
from collections import OrderedDict
from typing import Iterable, List

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import smallpond
from smallpond.common import DATA_PARTITION_COLUMN_NAME, GB, MB, next_power_of_two, split_into_cols, split_into_rows
from smallpond.execution.driver import Driver, execute_plan
from smallpond.execution.task import (
    ArrowComputeTask,
    PythonScriptTask,
    RuntimeContext,
    StreamOutput,
)
from smallpond.logical.dataset import (
    ArrowTableDataSet,
    CsvDataSet,
    DataSet,
    JsonDataSet,
    PandasDataSet,
    ParquetDataSet,
    SqlQueryDataSet,
)
from smallpond.logical.node import (
    ArrowBatchNode,
    ArrowComputeNode,
    ArrowStreamNode,
    ConsolidateNode,
    Context,
    DataSetPartitionNode,
    DataSinkNode,
    DataSourceNode,
    EvenlyDistributedPartitionNode,
    HashPartitionNode,
    LimitNode,
    LoadPartitionedDataSetNode,
    LogicalPlan,
    PandasBatchNode,
    PandasComputeNode,
    ProjectionNode,
    PythonScriptNode,
    RepeatPartitionNode,
    RootNode,
    ShuffleNode,
    SqlEngineNode,
    UnionNode,
    UserDefinedPartitionNode,
    UserPartitionedDataSourceNode,
)
from smallpond.logical.udf import UDFType, udf


@pytest.fixture(scope="module")
def sp(tmp_path_factory):
    session = smallpond.init(data_root=str(tmp_path_factory.mktemp("root")), progress=False)
    yield session
    session.shutdown()


@pytest.fixture(scope="module")
def items(tmp_path_factory):
    """4 Parquet files, 1,000 rows: (id 0..999, key = id % 13, name)."""
    d = tmp_path_factory.mktemp("items")
    for f in range(4):
        ids = list(range(f * 250, (f + 1) * 250))
        pq.write_table(
            pa.table({"id": ids, "key": [i % 13 for i in ids], "name": [f"n{i}" for i in ids]}),
            d / f"part-{f}.parquet",
        )
    return str(d / "*.parquet")


def run(sp, root):
    return execute_plan(sp, LogicalPlan(root.ctx, root))


def rows(dataset):
    return dataset.to_arrow_table().to_pylist()


def source(ctx, items, n=None):
    node = DataSourceNode(ctx, ParquetDataSet([items]))
    return node if n is None else DataSetPartitionNode(ctx, (node,), npartitions=n)


def test_sql_engine_node_runs_per_partition_and_names_its_output(sp, items):
    ctx = Context()
    sums = SqlEngineNode(ctx, (source(ctx, items, 4),), "select key, sum(id) as s from {0} group by key", output_name="sums")
    plan = run(sp, sums)
    assert plan.successful
    got = duckdb.sql(f"select key, sum(s) from read_parquet({plan.get_output('sums').resolved_paths}) group by key order by key").fetchall()
    want = duckdb.sql(f"select key, sum(id) from '{items}' group by key order by key").fetchall()
    assert got == want
    # The named output is linked into the job's output directory (it outlives the job).
    assert all(p.startswith(os.path.join(sp._runtime_ctx.output_root, "sums")) for p in plan.get_output("sums").resolved_paths)
    assert plan.get_output("nope") is None
    assert sorted(r["key"] for r in rows(plan.final_output)) != []


def test_a_list_of_queries_runs_in_order_and_the_last_is_the_output(sp, items):
    ctx = Context()
    node = SqlEngineNode(
        ctx,
        (source(ctx, items, 2),),
        [
            "create table t as select id, {query_index} as qi from {0} where id < 10",
            "insert into t select id, {query_index} from {0} where id between 10 and 14",
            "select qi, count(*) as n, {__data_partition__} as part from t group by qi",
        ],
    )
    out = sorted((r["part"], r["qi"], r["n"]) for r in rows(run(sp, node).final_output))
    # Partition 0 holds ids 0..499: 10 rows from statement 0 and 5 from statement 1.
    # Partition 1 (ids 500..999) matches neither statement's filter: no groups.
    assert out == [(0, 0, 10), (0, 1, 5)]


def test_udfs_by_context_name_and_by_decorator(sp, items):
    ctx = Context()
    ctx.create_function("times3", lambda x: x * 3, [UDFType.BIGINT], UDFType.BIGINT)

    @udf(params=[UDFType.BIGINT], return_type=UDFType.BIGINT)
    def plus1(x):
        return x + 1

    node = SqlEngineNode(ctx, (source(ctx, items),), "select times3(id) as a, plus1(id) as b from {0} where id < 3", udfs=["times3", plus1])
    assert sorted((r["a"], r["b"]) for r in rows(run(sp, node).final_output)) == [(0, 1), (3, 2), (6, 3)]


class Tagged(ArrowComputeNode):
    """The subclass form: process() sees the RuntimeContext and its task."""

    def process(self, runtime_ctx, input_tables):
        task = runtime_ctx.task
        assert isinstance(task, ArrowComputeTask)
        assert os.path.isdir(runtime_ctx.job_root) and runtime_ctx.usable_cpu_count >= 1
        t = input_tables[0]
        return t.append_column("part", pa.array([task.local_rank] * t.num_rows, pa.int64())).append_column(
            "seed", pa.array([task.random_seed_uint32] * t.num_rows, pa.int64())
        )


def test_arrow_compute_node_subclass_and_process_func(sp, items):
    ctx = Context()
    parts = source(ctx, items, 2)
    tagged = Tagged(ctx, (parts,))
    both = ArrowComputeNode(
        ctx, (tagged, parts), process_func=lambda rc, tables: pa.table({"n": [tables[0].num_rows], "m": [tables[1].num_rows]})
    )
    out = rows(run(sp, both).final_output)
    assert sorted((r["n"], r["m"]) for r in out) == [(500, 500), (500, 500)]
    t = run(sp, tagged).final_output.to_arrow_table()
    assert sorted(set(t.column("part").to_pylist())) == [0, 1]
    # Every attempt of a task draws the same seed; different tasks, different seeds.
    assert len(set(t.column("seed").to_pylist())) == 2


def generate(runtime_ctx, input_readers, factor):
    for index, batch in enumerate(input_readers[0]):
        ids = batch.column("id").to_pylist()
        yield pa.table({"id": ids, "scaled": [i * factor for i in ids]})
        yield StreamOutput(pa.table({"id": pa.array([], pa.int64()), "scaled": pa.array([], pa.int64())}), batch_indices=[index])


def test_arrow_stream_node_with_partial_and_stream_outputs(sp, items):
    ctx = Context()
    node = ArrowStreamNode(ctx, (source(ctx, items, 2),), process_func=functools.partial(generate, factor=10), streaming_batch_size=100)
    t = run(sp, node).final_output.to_arrow_table()
    assert t.num_rows == 1000
    assert all(s == i * 10 for i, s in zip(t.column("id").to_pylist(), t.column("scaled").to_pylist()))


def test_batch_and_pandas_nodes(sp, items):
    ctx = Context()
    parts = source(ctx, items, 2)
    batches = ArrowBatchNode(ctx, (parts,), process_func=lambda rc, ts: ts[0].select(["id"]), streaming_batch_size=64)
    pandas_all = PandasComputeNode(ctx, (parts,), process_func=lambda rc, dfs: dfs[0].groupby("key", as_index=False)["id"].count())
    pandas_batches = PandasBatchNode(ctx, (parts,), process_func=lambda rc, dfs: dfs[0][dfs[0].id % 2 == 0])
    assert run(sp, batches).final_output.num_rows == 1000
    counts = rows(run(sp, pandas_all).final_output)
    assert sum(r["id"] for r in counts) == 1000
    assert run(sp, pandas_batches).final_output.num_rows == 500


def write_summary(runtime_ctx, input_datasets, output_path, suffix):
    task = runtime_ctx.task
    assert isinstance(task, PythonScriptTask) and output_path == task.runtime_output_abspath
    with open(os.path.join(output_path, f"{task.output_filename}.{suffix}"), "w") as f:
        f.write(f"{input_datasets[0].num_rows} {len(input_datasets[0].resolved_paths)}")
    task.perf_metrics["num input rows"] += input_datasets[0].num_rows
    return True


def test_python_script_node_writes_any_files_and_false_fails(sp, items):
    ctx = Context()
    parts = source(ctx, items, 2)
    script = PythonScriptNode(ctx, (parts,), process_func=functools.partial(write_summary, suffix="txt"), output_name="summaries")
    plan = run(sp, script)
    texts = sorted(open(p).read() for p in plan.get_output("summaries").resolved_paths)
    assert texts == ["500 2", "500 2"]
    ctx = Context()
    bad = PythonScriptNode(ctx, (source(ctx, items),), process_func=lambda rc, ds, out: False)
    with pytest.raises(smallpond.SmallpondError, match="returned False"):
        run(sp, bad)


def test_hash_partition_keeps_or_drops_the_partition_column(sp, items):
    ctx = Context()
    kept = HashPartitionNode(ctx, (source(ctx, items),), npartitions=4, hash_columns=["key"])
    named = HashPartitionNode(ctx, (source(ctx, items),), npartitions=4, hash_columns=["key"], data_partition_column="p")
    dropped = HashPartitionNode(ctx, (source(ctx, items),), npartitions=4, hash_columns=["key"], drop_partition_column=True)
    t = run(sp, kept).final_output.to_arrow_table()
    assert t.column_names == ["id", "key", "name", DATA_PARTITION_COLUMN_NAME]
    assert t.schema.field(DATA_PARTITION_COLUMN_NAME).type == pa.uint64()
    by_key = {}
    for k, p in zip(t.column("key").to_pylist(), t.column(DATA_PARTITION_COLUMN_NAME).to_pylist()):
        by_key.setdefault(k, set()).add(p)
    assert all(len(v) == 1 for v in by_key.values()) and all(0 <= p < 4 for v in by_key.values() for p in v)
    assert "p" in run(sp, named).final_output.to_arrow_table().column_names
    assert run(sp, dropped).final_output.to_arrow_table().column_names == ["id", "key", "name"]


def test_the_partition_column_is_each_rows_partition(sp, items):
    ctx = Context()
    parts = HashPartitionNode(ctx, (source(ctx, items),), npartitions=3, hash_columns=["id"], data_partition_column="p")
    check = SqlEngineNode(ctx, (parts,), "select min(p) as lo, max(p) as hi, {__data_partition__} as me, count(*) as n from {0}")
    out = rows(run(sp, check).final_output)
    assert all(r["lo"] == r["hi"] == r["me"] for r in out if r["n"])
    assert sum(r["n"] for r in out) == 1000


def test_shuffle_and_load_partitioned_route_by_the_column(sp, items):
    ctx = Context()
    src = source(ctx, items)
    bucketed = SqlEngineNode(ctx, (src,), "select *, (id % 4)::UTINYINT as bucket from {0}")
    shuffled = ShuffleNode(ctx, (bucketed,), npartitions=4, data_partition_column="bucket")
    check = SqlEngineNode(ctx, (shuffled,), "select distinct bucket, {__data_partition__} as me from {0}")
    assert sorted((r["bucket"], r["me"]) for r in rows(run(sp, check).final_output)) == [(i, i) for i in range(4)]
    loaded = DataSetPartitionNode(ctx, (bucketed,), npartitions=4, data_partition_column="bucket")
    assert isinstance(loaded, LoadPartitionedDataSetNode)
    check = SqlEngineNode(ctx, (loaded,), "select distinct bucket, {__data_partition__} as me from {0}")
    assert sorted((r["bucket"], r["me"]) for r in rows(run(sp, check).final_output)) == [(i, i) for i in range(4)]


def test_random_shuffle_and_evenly_distributed(sp, items):
    ctx = Context()
    src = source(ctx, items)
    by_rows = EvenlyDistributedPartitionNode(ctx, (src,), npartitions=3, partition_by_rows=True)
    count = SqlEngineNode(ctx, (by_rows,), "select count(*) as n from {0}")
    assert sorted(r["n"] for r in rows(run(sp, count).final_output)) == [333, 333, 334]
    shuffled = HashPartitionNode(ctx, (src,), npartitions=5, random_shuffle=True)
    t = run(sp, shuffled).final_output.to_arrow_table()
    assert sorted(t.column("id").to_pylist()) == list(range(1000))
    assert len(set(t.column(DATA_PARTITION_COLUMN_NAME).to_pylist())) == 5


class EvenOdd(UserDefinedPartitionNode):
    def partition(self, runtime_ctx, dataset):
        assert isinstance(runtime_ctx, RuntimeContext)
        paths = dataset.resolved_paths
        return [ParquetDataSet(paths[0::2], root_dir=None), ParquetDataSet(paths[1::2], root_dir=None)]


def test_user_defined_partitions_repeat_union_consolidate_root(sp, items, tmp_path):
    ctx = Context()
    files = sorted(glob.glob(items))
    user = UserPartitionedDataSourceNode(ctx, [ParquetDataSet([f]) for f in files])
    counted = SqlEngineNode(ctx, (user,), "select count(*) as n from {0}")
    assert [r["n"] for r in rows(run(sp, counted).final_output)] == [250] * 4
    even_odd = EvenOdd(ctx, (source(ctx, items, 4),), npartitions=2)
    assert even_odd.num_partitions == 2
    counted = SqlEngineNode(ctx, (even_odd,), "select count(*) as n from {0}")
    assert sum(r["n"] for r in rows(run(sp, counted).final_output)) == 1000
    repeated = RepeatPartitionNode(ctx, (user,), npartitions=2, dimension="copy")
    assert repeated.num_partitions == 8
    union = UnionNode(ctx, (user, repeated))
    one = ConsolidateNode(ctx, union, [])
    counted = SqlEngineNode(ctx, (one,), "select count(*) as n from {0}")
    assert rows(run(sp, counted).final_output) == [{"n": 3000}]
    a = SqlEngineNode(ctx, (user,), "select 1 as x from {0}", output_name="a")
    b = SqlEngineNode(ctx, (user,), "select 2 as x from {0}", output_name="b")
    plan = run(sp, RootNode(ctx, (a, b)))
    assert plan.get_output("a").num_rows == 1000 and plan.get_output("b").num_rows == 1000


def test_projection_limit_and_sinks(sp, items, tmp_path):
    ctx = Context()
    src = source(ctx, items, 2)
    proj = ProjectionNode(ctx, src, ["id", "name"])
    assert run(sp, proj).final_output.to_arrow_table().column_names == ["id", "name"]
    assert run(sp, LimitNode(ctx, proj, 7)).final_output.num_rows == 7
    for kind in ("link", "copy", "link_or_copy", "manifest"):
        out = tmp_path / kind
        plan = run(sp, DataSinkNode(ctx, (src,), output_path=str(out), type=kind))
        files = sorted(p for p in os.listdir(out) if p.endswith(".parquet"))
        manifest = out / ".MANIFEST.txt"
        if kind == "manifest":
            # Only the list of the files, where they are (the user's own, here).
            assert files == [] and sorted(manifest.read_text().split()) == sorted(glob.glob(items))
        else:
            assert sorted(os.path.basename(f) for f in glob.glob(items)) == files
            assert duckdb.sql(f"select count(*) from '{out}/*.parquet'").fetchone()[0] == 1000
            assert manifest.exists() == (kind == "link")
        assert plan.final_output_path == str(out)
    # Files of the job's own are kept where the job's end does not remove them.
    out = tmp_path / "manifest-of-tasks"
    run(sp, DataSinkNode(ctx, (SqlEngineNode(ctx, (src,), "select id from {0}"),), output_path=str(out), type="manifest"))
    listed = (out / ".MANIFEST.txt").read_text().split()
    assert len(listed) == 2 and all(os.path.exists(p) and "/staging/" not in p for p in listed)
    assert all(p.startswith(os.path.join(sp.job_dir, "output")) for p in listed)
    # A projection is written as the rows it has, not linked as the files it reads; so is
    # a source read with a column subset.
    for name, node in [("projected", proj), ("subset", DataSourceNode(ctx, ParquetDataSet([items], columns=["id", "name"])))]:
        out = tmp_path / name
        run(sp, DataSinkNode(ctx, (node,), output_path=str(out)))
        t = duckdb.sql(f"select * from '{out}/*.parquet'").to_arrow_table()
        assert t.column_names == ["id", "name"] and t.num_rows == 1000


def test_output_path_publishes_a_nodes_output(sp, items, tmp_path):
    ctx = Context()
    node = SqlEngineNode(ctx, (source(ctx, items, 2),), "select id from {0}", output_name="ids", output_path=str(tmp_path / "ext"))
    plan = run(sp, node)
    assert duckdb.sql(f"select count(*) from '{tmp_path}/ext/ids/*.parquet'").fetchone()[0] == 1000
    assert plan.get_output("ids").num_rows == 1000


def test_plan_text_and_graph(items):
    ctx = Context()
    src = source(ctx, items, 2)
    plan = LogicalPlan(ctx, SqlEngineNode(ctx, (src,), "select * from {0}"))
    text = plan.explain_str()
    assert "SqlEngineNode" in text and "EvenlyDistributedPartitionNode" in text and "DataSourceNode" in text
    assert __file__ in text  # where the user built each node
    assert len(plan.nodes) == 3
    graph = plan.graph()
    try:
        import graphviz

        assert isinstance(graph, graphviz.Digraph) and "SqlEngineNode" in graph.source
    except ImportError:
        assert "->" in graph


def test_bad_plans_fail_when_built():
    ctx = Context()
    src = DataSourceNode(ctx, ParquetDataSet(["x.parquet"]))
    with pytest.raises(ValueError, match="npartitions"):
        HashPartitionNode(ctx, (src,), npartitions=0, hash_columns=["a"])
    with pytest.raises(ValueError, match="hash_columns"):
        HashPartitionNode(ctx, (src,), npartitions=2)
    with pytest.raises(ValueError, match="output_path"):
        SqlEngineNode(ctx, (src,), "select 1", output_path="relative/dir")
    with pytest.raises(TypeError, match="nodes"):
        SqlEngineNode(ctx, ("not a node",), "select 1")
    with pytest.raises(ValueError, match="sink type"):
        DataSinkNode(ctx, (src,), output_path="/tmp/x", type="hardlink")


def test_datasets_read_like_the_originals(items, tmp_path):
    ds = ParquetDataSet([items])
    assert ds.num_files == 4 and ds.num_rows == 1000
    assert ds.resolved_paths == sorted(glob.glob(items))
    assert ds.to_arrow_table().num_rows == 1000
    assert sum(b.num_rows for b in ds.to_batch_reader(batch_size=100)) == 1000
    assert len(ds.to_pandas()) == 1000
    projected = ParquetDataSet([items], columns=["id"])
    assert projected.to_arrow_table().column_names == ["id"]
    assert duckdb.sql(f"select count(*) from {ds.sql_query_fragment()}").fetchone()[0] == 1000
    merged = DataSet.merge([ParquetDataSet([p]) for p in ds.resolved_paths])
    assert isinstance(merged, ParquetDataSet) and merged.num_rows == 1000
    assert [d.num_files for d in ds.partition_by_files(3)] == [2, 1, 1]
    csv = tmp_path / "a.tsv"
    csv.write_text("x\t1\ny\t2\n")
    c = CsvDataSet([str(csv)], OrderedDict([("s", "varchar"), ("n", "bigint")]), delim=r"\t")
    assert c.to_arrow_table().to_pylist() == [{"s": "x", "n": 1}, {"s": "y", "n": 2}]
    j = tmp_path / "a.jsonl"
    j.write_text('{"a": 1}\n{"a": 2}\n')
    assert JsonDataSet([str(j)], {"a": "bigint"}).num_rows == 2
    table = pa.table({"a": [1, 2, 3]})
    assert ArrowTableDataSet(table).to_arrow_table() is table
    assert PandasDataSet(table.to_pandas()).num_rows == 3
    conn = duckdb.connect()
    assert conn.sql(f"select sum(a) from {ArrowTableDataSet(table).sql_query_fragment(conn=conn)}").fetchone()[0] == 6
    assert SqlQueryDataSet("select 42 as x").num_rows == 1


def test_arrow_and_csv_sources_and_connections_in_user_code(sp, tmp_path):
    ctx = Context()
    table = pa.table({"begin_at": [0, 10, 20], "num_records": [10, 10, 5]})
    src = DataSourceNode(ctx, ArrowTableDataSet(table))
    parts = DataSetPartitionNode(ctx, (src,), npartitions=3, partition_by_rows=True)

    def with_duckdb(runtime_ctx, input_datasets, output_path):
        task = runtime_ctx.task
        with duckdb.connect() as conn:
            task.prepare_connection(conn)
            (view,) = task.create_input_views(conn, input_datasets)
            conn.sql(f"copy (select sum(num_records) as n from {view}) to '{output_path}/n.parquet'")
        return True

    script = PythonScriptNode(ctx, (parts,), process_func=with_duckdb)
    assert sum(r["n"] for r in rows(run(sp, script).final_output)) == 25
    f = tmp_path / "urls.tsv"
    f.write_text("a.com/x\tdmFs\nb.com/y\tdmFs\n")
    csv = DataSourceNode(ctx, CsvDataSet([str(f)], OrderedDict([("urlstr", "varchar"), ("valstr", "varchar")]), delim=r"\t"))
    q = SqlEngineNode(ctx, (csv,), "select split_part(urlstr, '/', 1) as host, from_base64(valstr) as payload from {0}")
    assert sorted(r["host"] for r in rows(run(sp, q).final_output)) == ["a.com", "b.com"]


def test_common_helpers():
    assert (GB, MB) == (1 << 30, 1 << 20)
    assert next_power_of_two(5) == 8 and next_power_of_two(8) == 8
    assert split_into_rows(list(range(10)), 3) == [[0, 1, 2, 3], [4, 5, 6], [7, 8, 9]]
    assert split_into_cols(list(range(7)), 3) == [[0, 3, 6], [1, 4], [2, 5]]


def test_session_runtime_ctx_and_config(sp):
    rc = sp._runtime_ctx
    assert rc.job_root == sp.job_dir and rc.output_root == os.path.join(sp.job_dir, "output")
    assert rc.log_root == os.path.join(sp.job_dir, "log") and os.path.exists(rc.job_status_path)
    # The status of the session's last action (an earlier test's job failed on purpose).
    assert open(rc.job_status_path).read().strip() in ("running", "success", "failure")
    assert sp.config.job_id == sp.job_id and sp.config.data_root == os.path.dirname(sp.job_dir)
    assert sp.runtime_ctx is not None


SCRIPT = """
import os
import sys
from smallpond.execution.driver import Driver
from smallpond.logical.dataset import ParquetDataSet
from smallpond.logical.node import Context, DataSourceNode, LogicalPlan, SqlEngineNode
driver = Driver()
driver.add_argument("-i", "--input_paths", nargs="+")
driver.add_argument("-q", "--query", default="select count(*) as n from {0}")
user, args = driver.parse_arguments()
ctx = Context()
plan = LogicalPlan(ctx, SqlEngineNode(ctx, (DataSourceNode(ctx, ParquetDataSet(user.input_paths)),), user.query))
result = driver.run(plan, stop_process_on_done="NO_EXIT" not in os.environ)
print("RESULT", result and result.final_output.to_arrow_table().to_pylist())
"""


def driver_script(tmp_path, *args, exit=True):
    path = tmp_path / "job.py"
    path.write_text(SCRIPT)
    env = dict(os.environ)
    env.pop("NO_EXIT", None)
    if not exit:
        env["NO_EXIT"] = "1"
    return subprocess.run([sys.executable, str(path), *args], capture_output=True, text=True, timeout=300, env=env)


def test_driver_runs_a_script_with_the_originals_flags(items, tmp_path):
    flags = [
        "--job_id", "0123456789abcdef", "--data_root", str(tmp_path / "root"), "--num_executors", "0",
        "--max_fail_count", "2", "--speculative_exec", "disable", "--fault_inject_prob", "0.0",
        "--memory_allocator", "system", "--console_log_level", "WARNING", "--enable_profiling",
        "--max_retry_count", "3", "--random_seed", "7", "--job_name", "t", "--env_variables", "A=1",
    ]
    done = driver_script(tmp_path, "-i", items, *flags)
    assert done.returncode == 0, done.stderr
    assert not done.stdout  # exited before printing: stop_process_on_done
    jobs = os.listdir(tmp_path / "root")
    assert len(jobs) == 1 and jobs[0].endswith(".0123456789abcdef")
    final = tmp_path / "root" / jobs[0] / "output"
    assert duckdb.sql(f"select n from '{final}/*.parquet'").fetchall() == [(1000,)]
    # The scheduler mode, given as the original's scripts are run, is the default one.
    done = driver_script(tmp_path, "scheduler", "-i", items, "--data_root", str(tmp_path / "r2"), exit=False)
    assert done.returncode == 0, done.stderr
    assert "RESULT [{'n': 1000}]" in done.stdout


def test_driver_failure_exits_with_ex_software(items, tmp_path):
    done = driver_script(tmp_path, "-i", items, "-q", "select nope from {0}", "--data_root", str(tmp_path / "root"))
    assert done.returncode == os.EX_SOFTWARE
    assert "nope" in done.stderr
    done = driver_script(tmp_path, "-i", items, "-q", "select nope from {0}", "--data_root", str(tmp_path / "root"), exit=False)
    assert done.returncode == 0 and "RESULT None" in done.stdout


def test_driver_executor_mode_says_it_is_not_needed(items, tmp_path):
    done = driver_script(tmp_path, "executor", "-i", items)
    assert done.returncode == os.EX_USAGE and "not needed" in done.stderr


def test_driver_help_lists_the_flags_without_effect(tmp_path):
    done = driver_script(tmp_path, "--help")
    assert done.returncode == 0
    assert "accepted, no effect" in done.stdout and "--memory_allocator" in done.stdout
