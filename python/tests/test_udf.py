import pytest

import smallpond
from smallpond.logical.udf import UDFListType, UDFType, udf


@udf(params=[UDFType.INTEGER, UDFType.INTEGER], return_type=UDFType.INTEGER)
def gcd(a: int, b: int) -> int:
    while b:
        a, b = b, a % b
    return a


def test_python_udf_in_map(sp):
    df = sp.from_items([{"a": 12, "b": 18}, {"a": 7, "b": 21}, {"a": None, "b": 3}])
    out = df.map("a, gcd(a::INTEGER, b::INTEGER) as g", udfs=[gcd]).take_all()
    assert out == [{"a": 12, "g": 6}, {"a": 7, "g": 7}, {"a": None, "g": None}]
    assert gcd(12, 18) == 6  # still callable from Python


def test_python_udf_in_partial_sql_and_filter(sp):
    @udf(params=[UDFType.VARCHAR], return_type=UDFListType(UDFType.VARCHAR), name="split_words")
    def words(s):
        return s.split()

    df = sp.from_items([{"t": "a b c"}, {"t": "d"}]).repartition(2, by_rows=True)
    out = sp.partial_sql("select len(split_words(t)) as n from {0}", df, udfs=[words])
    assert sorted(r["n"] for r in out.take_all()) == [1, 3]
    kept = df.filter("len(split_words(t)) > 1", udfs=[words]).take_all()
    assert kept == [{"t": "a b c"}]


def test_arrow_udf(sp):
    import pyarrow.compute as pc

    @udf(params=[UDFType.DOUBLE], return_type=UDFType.DOUBLE, use_arrow_type=True)
    def twice(x):
        return pc.multiply(x, 2.0)

    out = sp.from_items([1.5, 2.0]).map("twice(item) as y", udfs=[twice]).take_all()
    assert out == [{"y": 3.0}, {"y": 4.0}]


def test_udf_error_names_the_function(sp):
    @udf(params=[UDFType.INTEGER], return_type=UDFType.INTEGER)
    def bad(x):
        raise RuntimeError("udf exploded")

    with pytest.raises(smallpond.SmallpondError, match="udf exploded"):
        sp.from_items([1]).map("bad(item::INTEGER) as y", udfs=[bad]).compute()


def test_unsupported_udf_type_is_rejected(sp):
    @udf(params=[UDFType.INTERVAL], return_type=UDFType.INTEGER)
    def f(x):
        return 1

    with pytest.raises(smallpond.SmallpondError, match="INTERVAL is not supported"):
        sp.from_items([1]).map("f(item) as y", udfs=[f]).compute()


def test_extension_paths(sp, tmp_path):
    with pytest.raises(ValueError, match="not a DuckDB extension file"):
        sp.from_items([1]).map("item", udfs=["libfoo.so"])
    missing = tmp_path / "nope.duckdb_extension"
    with pytest.raises(smallpond.SmallpondError, match="does not exist"):
        sp.from_items([1]).map("item", udfs=[str(missing)]).compute()
    bogus = tmp_path / "bogus.duckdb_extension"
    bogus.write_bytes(b"not an extension")
    with pytest.raises(smallpond.SmallpondError, match="bogus.duckdb_extension"):
        sp.from_items([1]).map("item", udfs=[str(bogus)]).compute()
