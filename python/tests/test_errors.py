import os

import pytest

import smallpond


def test_sql_error_contains_the_query(sp):
    with pytest.raises(smallpond.SmallpondError) as e:
        sp.partial_sql("select nope from {0}", sp.from_items([1])).compute()
    assert "select nope from {0}" in str(e.value)
    assert "nope" in str(e.value)


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
