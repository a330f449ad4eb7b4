import os

import pytest

import smallpond


def test_sql_error_contains_the_query(sp):
    with pytest.raises(smallpond.SmallpondError) as e:
        sp.partial_sql("select nope from {0}", sp.from_items([1])).compute()
    assert "select nope from {0}" in str(e.value)
    assert "nope" in str(e.value)


def test_a_bad_query_is_an_error_before_any_task_runs(sp, tmp_path):
    df = sp.from_items([{"k": i % 3, "v": i} for i in range(30)]).repartition(3, hash_by="k")
    query = "select k, sum(vv) from {0} group by k"
    bad = sp.partial_sql(query, df)  # built as in the original: the action raises
    with pytest.raises(smallpond.SmallpondError) as e:
        bad.write_parquet(str(tmp_path / "out"))
    msg = str(e.value)
    assert msg.startswith("Binder Error") and '"vv"' in msg and '"v"' in msg, msg
    assert msg.count(query) == 1, msg
    assert "COPY" not in msg and "__smallpond" not in msg, msg
    assert not os.listdir(os.path.join(sp.job_dir, "config")), "no job ran"
    with pytest.raises(smallpond.SmallpondError, match="syntax error"):
        df.filter("v >").compute()
    with pytest.raises(smallpond.SmallpondError, match='"kk"'):
        df.repartition(2, hash_by="kk").count()
    assert not os.listdir(os.path.join(sp.job_dir, "config")), "no job ran"
    # What reads a function's output is checked when the function has run.
    mapped = df.map(lambda row: {"w": row["v"]})
    assert sorted(r["w"] for r in mapped.filter("w >= 0").take_all()) == list(range(30))


def test_partition_key_out_of_range(sp):
    df = sp.from_items([{"p": 5}]).repartition(3, by="p")
    with pytest.raises(smallpond.SmallpondError, match=r"partition key 5 is out of range 0-2"):
        df.compute()


def test_missing_path(sp, tmp_path):
    with pytest.raises(smallpond.SmallpondError, match="nothing"):
        sp.read_parquet(str(tmp_path / "nothing" / "*.parquet"))


def test_placeholder_without_input(sp):
    with pytest.raises(smallpond.SmallpondError, match=r"\{1\}"):
        sp.partial_sql("select * from {1}", sp.from_items([1]))


def test_partition_count_mismatch(sp):
    a = sp.from_items([1]).repartition(2, by_rows=True)
    b = sp.from_items([1]).repartition(3, by_rows=True)
    with pytest.raises(smallpond.SmallpondError):
        sp.partial_sql("select * from {0} join {1} using (item)", a, b)


def test_bad_npartitions(sp):
    with pytest.raises(ValueError, match="npartitions"):
        sp.from_items([1]).repartition(0)
    with pytest.raises(ValueError, match="npartitions"):
        sp.from_items([1]).repartition(-2, hash_by="item")


def test_failed_write_leaves_no_output(sp, tmp_path):
    out = tmp_path / "out"
    with pytest.raises(smallpond.SmallpondError):
        sp.partial_sql("select error('boom')").write_parquet(str(out))
    assert not out.exists()


def test_bad_arguments_get_clear_errors(sp, tmp_path):
    import pyarrow as pa

    df = sp.from_items([1, 2])
    cases = [
        (lambda: df.map_batches(lambda t: t, batch_size=0), ValueError, "batch_size"),
        (lambda: df.map_batches("not a function"), TypeError, "needs a function"),
        (lambda: df.map(42), ValueError, "SQL expression or a function"),
        (lambda: df.flat_map(None), ValueError, "SQL expression or a function"),
        (lambda: df.filter(3.5), ValueError, "SQL expression or a predicate"),
        (lambda: df.map(lambda r: r, schema={"a": "int"}), TypeError, "pyarrow.Schema"),
        (lambda: df.limit(-1), ValueError, "limit"),
        (lambda: df.take(-1), ValueError, "limit"),
        (lambda: df.partial_sort([]), ValueError, "at least one column"),
        (lambda: df.map("item", parquet_compression="bogus"), ValueError, "compression"),
        (lambda: df.map("item", udfs=[42]), TypeError, "udfs"),
        (lambda: sp.read_csv("x.csv", {"a": "INT"}, delim="ab"), ValueError, "delim"),
        (lambda: sp.read_csv("x.csv", pa.schema([("a", pa.int64())])), TypeError, "schema"),
        (lambda: sp.read_parquet(42), TypeError, "paths"),
        (lambda: sp.from_arrow([1, 2]), TypeError, "pyarrow.Table"),
        (lambda: sp.partial_sql("select * from {0}", "df"), TypeError, "DataFrames"),
        (lambda: smallpond.init(data_root=str(tmp_path), pool="nope"), ValueError, "pool"),
        (lambda: smallpond.init(data_root=str(tmp_path), num_executors=-1), ValueError,
         "num_executors"),
        (lambda: smallpond.init(data_root=str(tmp_path), num_executors="two"), ValueError,
         "num_executors must be a whole number"),
        (lambda: smallpond.init(data_root=str(tmp_path), num_executors=1.5), ValueError,
         "num_executors must be a whole number"),
        # Checked before connecting: no cluster listens there.
        (lambda: smallpond.init(data_root=str(tmp_path), ray_address="127.0.0.1:1",
                                num_executors=-2), ValueError, "num_executors"),
        (lambda: df.map("item", gpu_limit=-1), ValueError, "gpu_limit"),
        (lambda: smallpond.init(data_root=str(tmp_path), platform="mpi"), ValueError, "platform"),
        (lambda: smallpond.init(data_root=str(tmp_path), job_time=[1]), TypeError, "job_time"),
        (lambda: smallpond.init(data_root=str(tmp_path), speculative_exec="sometimes"),
         ValueError, "speculation"),
    ]
    for call, error, text in cases:
        with pytest.raises(error, match=text):
            call()


def test_a_bad_sp_num_executors_is_named(tmp_path, monkeypatch):
    monkeypatch.setenv("SP_NUM_EXECUTORS", "lots")
    with pytest.raises(ValueError, match="num_executors must be a whole number.*'lots'"):
        smallpond.init(data_root=str(tmp_path / "root"))
    assert not (tmp_path / "root").exists()
