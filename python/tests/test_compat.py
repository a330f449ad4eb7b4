"""DataFrame behaviour of the original that its scripts rely on: the hash partition column,
output_name/output_path, graph() as a graphviz graph, dump_graph()."""

import os
import shutil

import duckdb
import pytest


def test_hash_and_random_repartitions_keep_the_partition_column(sp):
    df = sp.from_items([{"k": i % 7, "v": i} for i in range(200)])
    kept = df.repartition(4, hash_by="k").to_arrow()
    assert kept.column_names == ["k", "v", "__data_partition__"]
    pairs = {(k, p) for k, p in zip(kept.column("k").to_pylist(), kept.column("__data_partition__").to_pylist())}
    assert len(pairs) == 7 and all(0 <= p < 4 for _, p in pairs)
    named = df.repartition(4, hash_by="k", data_partition_column="part").to_arrow()
    assert named.column_names == ["k", "v", "part"]
    dropped = df.repartition(4, hash_by="k", drop_partition_column=True).to_arrow()
    assert dropped.column_names == ["k", "v"]
    shuffled = df.random_shuffle().to_arrow()
    assert sorted(shuffled.column("v").to_pylist()) == list(range(200))
    assert "__data_partition__" in shuffled.column_names
    # Partitioning by a column keeps the rows as they are.
    by = df.map("*, v % 3 AS b").repartition(3, by="b").to_arrow()
    assert by.column_names == ["k", "v", "b"]


def test_output_name_and_output_path_publish_a_nodes_output(sp, tmp_path):
    df = sp.from_items([{"v": i} for i in range(10)])
    mapped = df.map("v * 2 AS w", output_name="doubled")
    ext = tmp_path / "ext"
    filtered = mapped.filter("w > 4", output_name="big", output_path=str(ext))
    assert filtered.count() == 7
    job_output = os.path.join(sp.job_dir, "output", "doubled")
    assert duckdb.sql(f"select sum(w) from '{job_output}/*.parquet'").fetchone()[0] == 90
    assert duckdb.sql(f"select count(*) from '{ext}/big/*.parquet'").fetchone()[0] == 7
    with pytest.raises(ValueError, match="output_name"):
        df.map("v", output_name="no spaces allowed")


def test_graph_is_a_graphviz_graph_and_dump_graph_writes_it(sp):
    graphviz = pytest.importorskip("graphviz")
    df = sp.from_items([{"v": 1}]).repartition(2, hash_by="v")
    sp.partial_sql("select v from {0}", df)
    graph = sp.graph()
    assert isinstance(graph, graphviz.Digraph)
    assert "HashPartition" in graph.source and "->" in graph.source
    path = sp.dump_graph()
    # A PNG as the original when graphviz's `dot` is installed; an SVG of our own always.
    assert os.path.exists(path + ".png") == bool(shutil.which("dot"))
    svg = open(path + ".svg").read()
    assert svg.startswith("<svg") and "HashPartition" in svg
    assert path == os.path.join(sp.job_dir, "log", "graph") and "HashPartition" in open(path).read()


def test_partial_sql_takes_a_list_of_queries(sp):
    df = sp.from_items([{"v": i} for i in range(5)])
    out = sp.partial_sql(
        ["create table t as select v * {query_index} as w from {0}", "select sum(w) as s, {query_index} as qi from t"],
        df,
    )
    assert out.take_all() == [{"s": 0, "qi": 1}]


def test_write_parquet_adds_files_as_the_original_unless_overwrite(sp, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    df = sp.from_items([{"v": i} for i in range(5)])
    df.write_parquet(str(out))
    df.write_parquet(str(out))  # the same job's files again: same names, replaced
    assert (out / "keep.txt").read_text() == "mine"
    assert duckdb.sql(f"select count(*) from '{out}/*.parquet'").fetchone()[0] == 5
    other = tmp_path / "replaced"
    df.write_parquet(str(other))
    df.map("v * 10 AS v").write_parquet(str(other), overwrite=True)
    assert duckdb.sql(f"select sum(v) from '{other}/*.parquet'").fetchone()[0] == 100
