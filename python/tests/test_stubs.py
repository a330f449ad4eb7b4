"""`smallpond/_core.pyi` describes the compiled module as it is: the same classes, methods
and functions, and each method's parameters under the names the module takes."""

import ast
import inspect
import os

from smallpond import _core

STUB = os.path.join(os.path.dirname(_core.__file__), "_core.pyi")


def stubbed():
    tree = ast.parse(open(STUB).read())
    out = {}
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            out[node.name] = {
                f.name: [a.arg for a in f.args.args[1:] + f.args.kwonlyargs]
                for f in node.body
                if isinstance(f, ast.FunctionDef)
            }
        elif isinstance(node, ast.FunctionDef):
            out[node.name] = [a.arg for a in node.args.args + node.args.kwonlyargs]
    return out


def public(cls):
    return {n for n in vars(cls) if not n.startswith("_")}


def test_every_class_and_function_is_stubbed_and_exists():
    stubs = stubbed()
    module = {n for n in dir(_core) if not n.startswith("_") and n != "SmallpondError"}
    assert module == set(stubs) - {"SmallpondError"}


def test_methods_match():
    stubs = stubbed()
    for cls in ("Session", "DataFrame"):
        methods = {m for m in stubs[cls] if not m.startswith("_")}
        assert methods == public(getattr(_core, cls)), cls


def test_parameters_match_where_the_module_tells_them():
    stubs = stubbed()
    for cls in ("Session", "DataFrame"):
        for name, params in stubs[cls].items():
            if name.startswith("_"):
                continue
            sig = getattr(getattr(getattr(_core, cls), name), "__text_signature__", None)
            if sig is None:  # a property
                continue
            names = [p for p in inspect.signature(getattr(getattr(_core, cls), name)).parameters if p not in ("self", "$self")]
            assert params == names, f"{cls}.{name}: stub {params}, module {names}"


def test_task_options_are_checked_when_made(sp):
    import pytest

    assert "cpu_limit: Some(2)" in repr(_core.TaskOptions(cpu_limit=2))
    with pytest.raises(ValueError, match="cpu_limit"):
        _core.TaskOptions(cpu_limit=0)
    with pytest.raises(ValueError, match="compression"):
        _core.TaskOptions(compression="rar")
    # The original's node options on a DataFrame become one, so a bad one fails at the call.
    df = sp.from_items([{"a": 1}])
    with pytest.raises(ValueError, match="compression"):
        df.map("a", parquet_compression="rar")
    with pytest.raises(TypeError):
        _core.TaskOptions(cpu_limit="two")


def test_enum_variants_match():
    """`Partitioning` and `Udf`: the same variants, each built from the fields it stubs."""
    tree = ast.parse(open(STUB).read())
    for node in tree.body:
        if not (isinstance(node, ast.ClassDef) and node.name in ("Partitioning", "Udf")):
            continue
        variants = {
            c.name: [a.arg for f in c.body if isinstance(f, ast.FunctionDef) and f.name == "__init__"
                     for a in f.args.args[1:]]
            for c in node.body
            if isinstance(c, ast.ClassDef)
        }
        cls = getattr(_core, node.name)
        module = {n for n in public(cls) if isinstance(getattr(cls, n), type)}
        assert set(variants) == module, node.name
        for name, fields in variants.items():
            value = getattr(cls, name)(**{f: ["x"] if f == "columns" else "x" for f in fields})
            assert isinstance(value, cls)
            for f in fields:
                assert getattr(value, f) == (["x"] if f == "columns" else "x")


def test_partitioning_and_udfs_are_typed(sp):
    import pytest

    df = sp.from_items([{"a": 1}])
    with pytest.raises(TypeError):
        df._df.repartition(2, "hash")
    with pytest.raises(TypeError):
        sp._core.partial_sql("select 1", [], udfs=[("python", "f", "payload")])
    assert _core.Partitioning.Hash(columns=["a"]) == _core.Partitioning.Hash(columns=["a"])
    assert _core.Partitioning.Hash(columns=["a"]) != _core.Partitioning.Column(column="a")
