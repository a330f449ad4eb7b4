import os
import time

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import smallpond


def test_from_items_and_take_all(sp):
    assert sp.from_items([1, 2, 3]).take_all() == [{"item": 1}, {"item": 2}, {"item": 3}]
    rows = [{"a": 1, "b": "x"}, {"a": 2, "b": "y"}]
    assert sp.from_items(rows).take_all() == rows


def test_from_items_rejects_bad_input(sp):
    with pytest.raises(ValueError, match="must not be empty"):
        sp.from_items([])
    with pytest.raises(TypeError, match="must be a list"):
        sp.from_items((1, 2))


def test_partial_sql_without_input(sp):
    assert sp.partial_sql("select * from range(3)").take_all() == [
        {"range": 0},
        {"range": 1},
        {"range": 2},
    ]


def test_from_pandas_and_to_pandas(sp):
    pdf = pd.DataFrame({"a": [3, 1, 2], "b": ["x", "y", "z"]})
    out = sp.from_pandas(pdf).partial_sort("a").to_pandas()
    assert list(out["a"]) == [1, 2, 3]
    assert list(out["b"]) == ["y", "z", "x"]


def test_from_arrow_and_to_arrow(sp):
    t = pa.table({"a": pa.array([1, 2, 3], pa.int32()), "s": ["p", "q", "r"]})
    out = sp.from_arrow(t).to_arrow()
    assert isinstance(out, pa.Table)
    # Strings come back as large_string, as the original smallpond returns them.
    assert out.equals(t.cast(pa.schema([("a", pa.int32()), ("s", pa.large_string())])))


def test_empty_arrow_table_keeps_its_columns(sp):
    t = pa.table({"a": pa.array([], pa.int64())})
    df = sp.from_arrow(t)
    assert df.count() == 0
    assert df.take_all() == []
    assert df.to_arrow().schema.names == ["a"]


def test_read_parquet_hash_groupby(sp, prices):
    df = sp.read_parquet(os.path.join(prices, "*.parquet"))
    df = df.repartition(3, hash_by="ticker")
    df = sp.partial_sql(
        "select ticker, min(price) as lo, max(price) as hi, count(*) as n from {0} group by ticker",
        df,
    )
    rows = sorted(df.take_all(), key=lambda r: r["ticker"])
    assert len(rows) == 10
    assert rows[0] == {"ticker": "T0", "lo": 0.0, "hi": 290.0, "n": 30}
    assert sum(r["n"] for r in rows) == 300


def test_read_parquet_options(sp, prices):
    df = sp.read_parquet(prices, recursive=True, columns=["price"])
    assert df.to_arrow().schema.names == ["price"]
    assert df.count() == 300


def test_read_csv_and_json(sp, tmp_path):
    csv = tmp_path / "a.csv"
    csv.write_text("1|x\n2|y\n")
    df = sp.read_csv(str(csv), schema={"k": "INTEGER", "v": "VARCHAR"}, delim="|")
    assert df.take_all() == [{"k": 1, "v": "x"}, {"k": 2, "v": "y"}]
    # Tab-separated, as the original's scripts write it: DuckDB's escape, or a real tab.
    tsv = tmp_path / "a.tsv"
    tsv.write_text("1\tx y\n2\ty,z\n")
    for delim in (r"\t", "\t"):
        df = sp.read_csv(str(tsv), schema={"k": "INTEGER", "v": "VARCHAR"}, delim=delim)
        assert df.take_all() == [{"k": 1, "v": "x y"}, {"k": 2, "v": "y,z"}], delim
    js = tmp_path / "a.json"
    js.write_text('{"k": 1, "v": "x"}\n{"k": 2, "v": "y"}\n')
    df = sp.read_json(str(js), schema={"k": "INTEGER", "v": "VARCHAR"})
    assert df.count() == 2


def test_read_csv_detects_a_header_and_types_without_a_schema(sp, tmp_path):
    import duckdb

    for i in range(2):
        (tmp_path / f"e{i}.csv").write_text(
            "user_id,name,score\n" + "".join(f"{i * 10 + j},u{j},{j}.5\n" for j in range(5))
        )
    df = sp.read_csv(str(tmp_path / "e*.csv")).repartition(2)
    got = sorted(df.take_all(), key=lambda r: r["user_id"])
    want = duckdb.sql(f"select * from read_csv('{tmp_path}/e*.csv') order by user_id").fetchall()
    assert [tuple(r.values()) for r in got] == want
    # With a schema, header=True skips the header line instead of failing on it.
    typed = sp.read_csv(str(tmp_path / "e0.csv"), schema={"id": "INTEGER", "n": "VARCHAR", "s": "DOUBLE"}, header=True)
    assert typed.count() == 5


def test_sort_is_global_and_matches_one_duckdb_order_by(sp, tmp_path):
    import duckdb

    duckdb.sql(
        "copy (select i as id, case when i % 7 = 0 then null else (i * 37) % 50 end as v, "
        f"'s' || (i % 13) as s from range(3000) t(i)) to '{tmp_path}/t.parquet'"
    )
    df = sp.read_parquet(str(tmp_path / "t.parquet")).repartition(3, by_rows=True)
    # NULLs last in both directions; one flag per key; into 4 ranges.
    out = df.sort(["v", "s", "id"], descending=[True, False, False], npartitions=4)
    assert out.num_partitions == 4
    want = duckdb.sql(f"select id from '{tmp_path}/t.parquet' order by v desc, s, id").fetchall()
    assert [r["id"] for r in out.take_all()] == [w[0] for w in want]
    # Published in partition order, the files hold the same sequence.
    out.write_parquet(str(tmp_path / "sorted"))
    con = duckdb.connect()
    con.execute("set threads = 1")
    got = con.sql(f"select id from read_parquet('{tmp_path}/sorted/*.parquet')").fetchall()
    assert got == want
    # One flag for every key; the partition count kept by default.
    asc = df.sort("id")
    assert asc.num_partitions == 3
    assert [r["id"] for r in asc.take_all()] == list(range(3000))
    # No rows: as many partitions, all empty, the columns kept.
    empty = df.filter("id < 0").sort("id", npartitions=4)
    assert empty.num_partitions == 4
    assert empty.take_all() == []
    assert list(empty.to_pandas().columns) == ["id", "v", "s"]
    with pytest.raises(ValueError, match="2 flags for 1 sort keys"):
        df.sort("id", descending=[True, False])
    with pytest.raises(TypeError, match="descending"):
        df.sort("id", descending="yes")
    with pytest.raises(Exception, match="nope"):
        df.sort("nope").count()


def test_join_matches_one_duckdb_join_for_every_kind(sp, tmp_path):
    import duckdb

    # Duplicate keys on both sides, NULL keys on both sides, keys on one side only.
    duckdb.sql(
        "copy (select i as id, case when i % 11 = 0 then null else i % 40 end as k, i * 2 as a "
        f"from range(600) t(i)) to '{tmp_path}/l.parquet'"
    )
    duckdb.sql(
        "copy (select case when i % 9 = 0 then null else (i % 50) + 20 end as k, "
        f"'r' || i as b, i as a from range(120) t(i)) to '{tmp_path}/r.parquet'"
    )
    left = sp.read_parquet(str(tmp_path / "l.parquet")).repartition(3, by_rows=True)
    right = sp.read_parquet(str(tmp_path / "r.parquet")).repartition(2, by_rows=True)

    def rows(table):
        return sorted(zip(*(c.to_pylist() for c in table.columns)), key=repr)

    for how, sql in [("inner", "inner"), ("left", "left"), ("right", "right"),
                     ("outer", "full outer"), ("semi", "semi"), ("anti", "anti")]:
        want = duckdb.sql(
            f"select * from '{tmp_path}/l.parquet' {sql} join '{tmp_path}/r.parquet' using (k)"
        ).to_arrow_table()
        for broadcast in (0, None):
            out = left.join(right, on="k", how=how, npartitions=4, broadcast_bytes=broadcast)
            got = out.to_arrow()
            assert rows(got) == rows(want), (how, broadcast)
            # Both sides had a column `a`: the right one is `a_1`, as DuckDB writes it.
            assert got.column_names[:3] == ["id", "k", "a"], (how, got.column_names)
        # Broadcast by default (both sides are small): the other side's partitions are kept;
        # an outer join cannot broadcast, so it is hashed into npartitions.
        want_n = {"inner": 3, "left": 3, "semi": 3, "anti": 3, "right": 2, "outer": 4}[how]
        assert out.num_partitions == want_n, how
    with pytest.raises(Exception, match="not one of inner, left"):
        left.join(right, on="k", how="cross")
    with pytest.raises(TypeError, match="on must be"):
        left.join(right, on=3)
    with pytest.raises(ValueError, match="broadcast_bytes must be at least 0"):
        left.join(right, on="k", broadcast_bytes=-1)
    with pytest.raises(TypeError, match="join needs a DataFrame"):
        left.join("r.parquet", on="k")
    with pytest.raises(Exception, match="nope"):
        left.join(right, on="nope").count()


def test_repartition_kinds(sp, prices):
    df = sp.read_parquet(os.path.join(prices, "*.parquet"))
    assert df.repartition(3).num_partitions == 3
    by_rows = df.repartition(4, by_rows=True)
    assert by_rows.count() == 300
    hashed = df.repartition(5, hash_by=["ticker"])
    # every ticker lands in exactly one partition
    per_part = sp.partial_sql("select count(distinct ticker) as t from {0}", hashed).take_all()
    assert sum(r["t"] for r in per_part) == 10
    bucket = sp.from_items([{"p": i % 3, "v": i} for i in range(30)]).repartition(3, by="p")
    parts = sp.partial_sql("select min(p) as lo, max(p) as hi from {0}", bucket).take_all()
    assert all(r["lo"] == r["hi"] for r in parts)
    with pytest.raises(ValueError, match="both"):
        df.repartition(3, hash_by="a", by="b")


def test_random_shuffle_and_partial_sort(sp):
    df = sp.from_items(list(range(100))).repartition(4, by_rows=True)
    shuffled = df.random_shuffle()
    assert sorted(r["item"] for r in shuffled.take_all()) == list(range(100))
    sorted_parts = df.partial_sort(by=["item desc"])
    rows = [r["item"] for r in sorted_parts.take_all()]
    assert sorted(rows) == list(range(100))
    assert rows[:25] == sorted(rows[:25], reverse=True)


def test_sql_map_filter_flat_map_limit(sp):
    df = sp.from_items([{"a": i, "b": 10 * i} for i in range(10)])
    assert df.map("a + b as c").take(2) == [{"c": 0}, {"c": 11}]
    assert df.filter("a >= 8").count() == 2
    assert df.flat_map("unnest([a, b]) as x").count() == 20
    assert df.limit(3).count() == 3


def test_map_filter_and_partial_sort_take_the_originals_templates_and_options(sp):
    # As in the original (which str.formats them), the expressions fill in placeholders.
    df = sp.from_items(list(range(30))).repartition(3, by_rows=True)
    rows = df.map("item, {__data_partition__} as p, '{{x}}' as lit").take_all()
    assert sorted((r["item"] // 10, r["p"], r["lit"]) for r in rows) == sorted(
        (i // 10, i // 10, "{x}") for i in range(30)
    )
    assert df.filter("{__data_partition__} = 2 -- the last one").count() == 10
    with pytest.raises(smallpond.SmallpondError, match=r"\{seed\} is not a placeholder"):
        df.filter("item > {seed}")
    # Node options and UDFs reach the engine the same way for the three.
    @smallpond.udf(params=[smallpond.UDFType.BIGINT], return_type=smallpond.UDFType.BIGINT)
    def neg(x):
        return -x

    assert df.filter("neg(item) > -3", udfs=[neg], cpu_limit=1).count() == 3
    assert df.map("neg(item) as n", udfs=[neg]).take_all()[0]["n"] in (0, -10, -20)
    top = df.partial_sort("neg(item)", udfs=[neg], parquet_row_group_size=5).take_all()
    assert [r["item"] for r in top[:10]] == list(range(9, -1, -1))
    with pytest.raises(TypeError, match="unexpected keyword"):
        df.partial_sort("item", nosuch=1)


def test_write_parquet_and_lazy_and_wait(sp, tmp_path):
    df = sp.from_items(list(range(10)))
    out = tmp_path / "out"
    df.write_parquet(str(out))
    files = sorted(os.listdir(out))
    assert files and all(f.endswith(".parquet") for f in files)
    assert pq.read_table(out).num_rows == 10
    a = df.write_parquet_lazy(str(tmp_path / "o1"))
    b = df.map("item * 2 as i2").write_parquet_lazy(str(tmp_path / "o2"))
    assert not a.is_computed()
    sp.wait(a, b)
    assert a.is_computed() and b.is_computed()
    assert pq.read_table(tmp_path / "o2").column("i2").to_pylist() == [2 * i for i in range(10)]


def test_compute_is_computed_recompute(sp):
    df = sp.from_items(list(range(5))).map("item + 1 as x")
    assert not df.is_computed()
    df.compute()
    assert df.is_computed()
    assert df.recompute() is df
    assert not df.is_computed()
    assert df.count() == 5


def test_join_of_co_partitioned_dataframes(sp):
    a = sp.from_items([{"id": i, "x": i * i} for i in range(50)]).repartition(4, hash_by="id")
    b = sp.from_items([{"id": i, "y": -i} for i in range(0, 50, 2)]).repartition(4, hash_by="id")
    j = sp.partial_sql("select {0}.id, x, y from {0} join {1} on {0}.id = {1}.id", a, b)
    rows = sorted(j.take_all(), key=lambda r: r["id"])
    assert len(rows) == 25
    assert rows[3] == {"id": 6, "x": 36, "y": -6}


def test_empty_input_partitions(sp):
    df = sp.from_items([{"k": 1, "v": 1}]).repartition(4, hash_by="k")
    agg = sp.partial_sql("select k, sum(v) as s from {0} group by k", df)
    assert agg.take_all() == [{"k": 1, "s": 1}]
    assert df.filter("v > 5").count() == 0
    assert df.filter("v > 5").take_all() == []


def test_graph_lists_nodes(sp):
    df = sp.from_items([1]).repartition(2, hash_by="item")
    # A graphviz.Digraph (its str() is the DOT text) with graphviz installed, text without.
    g = str(sp.graph())
    assert "HashPartition" in g and "DataSource" in g


def test_node_options_are_accepted(sp):
    df = sp.from_items([{"a": i} for i in range(10)])
    out = sp.partial_sql(
        "select a from {0}",
        df,
        cpu_limit=1,
        memory_limit=256 << 20,
        parquet_row_group_size=4,
        parquet_compression="snappy",
        parquet_dictionary_encoding=True,
    )
    assert out.count() == 10
    with pytest.raises(TypeError, match="unexpected keyword argument 'nonsense'"):
        sp.partial_sql("select 1", nonsense=True)


def test_init_reads_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("SP_JOBID", "envjob")
    monkeypatch.setenv("SP_DATA_ROOT", str(tmp_path / "envroot"))
    s = smallpond.init(progress=False)
    try:
        assert s.job_id == "envjob"
        assert s.job_dir.startswith(str(tmp_path / "envroot"))
        assert s.job_dir.endswith(".envjob")
    finally:
        s.shutdown()


def test_init_ignores_unknown_options_as_the_original_with_a_warning(tmp_path):
    # The original's init(**kwargs) accepts any keyword; a script passing one runs.
    with pytest.warns(UserWarning, match="no_such_option"):
        s = smallpond.init(data_root=str(tmp_path), no_such_option=1, progress=False)
    s.shutdown()


def test_init_and_shutdown_are_fast(tmp_path):
    # Not a benchmark (see benchmarks/): only guards against starting services eagerly.
    t = time.monotonic()
    s = smallpond.init(data_root=str(tmp_path), progress=False)
    s.shutdown()
    assert time.monotonic() - t < 5


def test_progress_bar_follows_scheduler_events(tmp_path, capfd):
    s = smallpond.init(data_root=str(tmp_path), progress=True)
    try:
        s.from_items(list(range(10))).repartition(3, by_rows=True).map("item + 1 as x").compute()
    finally:
        s.shutdown()
    err = capfd.readouterr().err
    assert "tasks" in err
    last = err.strip().splitlines()[-1]
    assert ": done: 2 stages, 4/4 tasks" in last and "report: " in last, last


def test_progress_false_prints_nothing(tmp_path, capfd):
    # Not a terminal prints plain lines (test_report.py); progress=False prints nothing.
    s = smallpond.init(data_root=str(tmp_path), progress=False)
    try:
        s.from_items([1, 2]).map("item").compute()
    finally:
        s.shutdown()
    captured = capfd.readouterr()
    assert captured.err == "" and captured.out == ""


def test_importing_the_package_stays_light():
    # Worker processes import `smallpond` for `_core` only; pyarrow and pandas load on use.
    import subprocess
    import sys

    code = "import smallpond, sys; print('pyarrow' in sys.modules, 'pandas' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
    assert smallpond.Session is smallpond.dataframe.Session


def test_repartition_by_an_expression_as_the_original(sp):
    df = sp.from_items(list(range(1000))).repartition(10, by="item % 10")
    df = df.map("min(item % 10) as min, max(item % 10) as max")
    assert df.take_all() == [{"min": i, "max": i} for i in range(10)]
    # Columns the key expression reads are kept even when the query after it needs others.
    rows = sp.from_items([{"a": i, "b": -i} for i in range(100)]).repartition(4, by="a % 4")
    parts = sp.partial_sql("select count(*) as n, sum(b) as s from {0}", rows).take_all()
    assert [p["n"] for p in parts] == [25] * 4
    assert sum(p["s"] for p in parts) == -sum(range(100))
    with pytest.raises(smallpond.SmallpondError, match="partition key 10 is out of range 0-9"):
        sp.from_items(list(range(1000))).repartition(10, by="item % 11").to_arrow()
    with pytest.raises(smallpond.SmallpondError, match="nosuch"):
        sp.from_items(list(range(10))).repartition(2, by="nosuch % 2").count()


def test_strings_and_blobs_come_back_large_as_in_the_original(sp):
    import pyarrow as pa

    df = sp.from_items([{"s": "a", "b": b"x", "l": ["p", "q"]}])
    schema = df.to_arrow().schema
    assert schema.field("s").type == pa.large_string()
    assert schema.field("b").type == pa.large_binary()
    # What a function is handed, in its worker process.
    got = df.map_batches(lambda t: pa.table({"t": [str(t.schema.field("s").type)]})).take_all()
    assert got == [{"t": "large_string"}]


def test_partial_sql_fills_the_originals_named_placeholders(sp):
    query = (
        "select {__data_partition__} as p, {cpu_limit} as cpus, {memory_limit} as mem, "
        "{rand_seed} as seed, {batch_index} as b, {query_index} as q, "
        "'{output_filename}' as f, count(*) as n from {0}"
    )

    def job(session):
        df = session.from_items(list(range(30))).repartition(3, by_rows=True)
        return sorted(session.partial_sql(query, df).take_all(), key=lambda r: r["p"]), df

    rows, df = job(sp)
    assert [r["p"] for r in rows] == [0, 1, 2]
    assert [r["n"] for r in rows] == [10, 10, 10]
    assert all(r["cpus"] >= 1 and r["mem"] > 0 and r["b"] == 0 and r["q"] == 0 for r in rows)
    assert len({r["seed"] for r in rows}) == 3, "a seed per task"
    assert rows[1]["f"] == "part-00001-0.0"
    # Braces as in str.format: doubled for a literal one; an unknown name is an error.
    assert sp.partial_sql("select '{{x}}' as t").take_all() == [{"t": "{x}"}]
    with pytest.raises(smallpond.SmallpondError, match=r"\{nosuch\} is not a placeholder"):
        sp.partial_sql("select {nosuch} from {0}", df)
