"""User-defined functions for SQL: Python scalar functions and DuckDB extension files.

As in the original smallpond::

    from smallpond.logical.udf import UDFType, udf

    @udf(params=[UDFType.INTEGER, UDFType.INTEGER], return_type=UDFType.INTEGER)
    def gcd(a: int, b: int) -> int:
        while b:
            a, b = b, a % b
        return a

    df = df.map("gcd(a, b) AS c", udfs=[gcd])
    df = df.map("my_func(a)", udfs=["path/to/my.duckdb_extension"])
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any, Callable, List, Optional, Union


class UDFType(Enum):
    """DuckDB types for UDF parameters and results (the original's names)."""

    SQLNULL = 1
    BOOLEAN = 2
    TINYINT = 3
    UTINYINT = 4
    SMALLINT = 5
    USMALLINT = 6
    INTEGER = 7
    UINTEGER = 8
    BIGINT = 9
    UBIGINT = 10
    HUGEINT = 11
    UUID = 12
    FLOAT = 13
    DOUBLE = 14
    DATE = 15
    TIMESTAMP = 16
    TIMESTAMP_MS = 17
    TIMESTAMP_NS = 18
    TIMESTAMP_S = 19
    TIME = 20
    TIME_TZ = 21
    TIMESTAMP_TZ = 22
    VARCHAR = 23
    BLOB = 24
    BIT = 25
    INTERVAL = 26

    def type_name(self) -> str:
        return self.name


class UDFListType:
    """A list of ``child`` values, e.g. ``UDFListType(UDFType.INTEGER)``."""

    def __init__(self, child: Any) -> None:
        self.child = child

    def type_name(self) -> str:
        return f"LIST({_type_name(self.child)})"


class UDFStructType:
    def __init__(self, fields: Any) -> None:
        self.fields = fields

    def type_name(self) -> str:
        raise TypeError("UDFStructType parameters and results are not supported yet")


class UDFMapType:
    def __init__(self, key: Any, value: Any) -> None:
        self.key = key
        self.value = value

    def type_name(self) -> str:
        raise TypeError("UDFMapType parameters and results are not supported yet")


class UDFAnyParameters:
    """Parameters of any type (not supported: declare the types)."""


def _type_name(t: Any) -> str:
    if isinstance(t, str):
        return t.upper()
    if hasattr(t, "type_name"):
        return t.type_name()
    raise TypeError(f"not a UDF type: {t!r}")


@dataclass
class UserDefinedFunction:
    """A Python function usable in SQL, made with the ``udf`` decorator."""

    name: str
    func: Callable
    params: List[Any]
    return_type: Any
    use_arrow_type: bool = False

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.func(*args, **kwargs)


def udf(
    params: List[Any],
    return_type: Any,
    use_arrow_type: bool = False,
    name: Optional[str] = None,
) -> Callable[[Callable], UserDefinedFunction]:
    """Declares a Python function as a DuckDB scalar function with these types."""
    return lambda func: UserDefinedFunction(
        name or func.__name__, func, params, return_type, use_arrow_type
    )


UdfSpec = Union[str, UserDefinedFunction]


def to_core(udfs: Optional[List[UdfSpec]]) -> list:
    """``_core.Udf`` values: extension files and pickled scalar functions."""
    from smallpond import _core
    from smallpond._runtime import ScalarUdf, dumps

    out = []
    for u in udfs or []:
        if isinstance(u, str):
            if not u.endswith(".duckdb_extension"):
                raise ValueError(
                    f"udfs: {u!r} is not a DuckDB extension file (*.duckdb_extension)"
                )
            import os

            out.append(_core.Udf.Extension(path=os.path.abspath(u)))
        elif isinstance(u, UserDefinedFunction):
            if isinstance(u.params, UDFAnyParameters):
                raise TypeError(
                    f"UDF {u.name}: UDFAnyParameters is not supported; declare the parameter types"
                )
            scalar = ScalarUdf(
                u.name,
                u.func,
                [_type_name(p) for p in u.params],
                _type_name(u.return_type),
                u.use_arrow_type,
            )
            out.append(_core.Udf.Python(name=u.name, payload=dumps(scalar, f"UDF {u.name}")))
        else:
            raise TypeError(
                f"udfs: expected a @udf function or an extension path, got {type(u).__name__}"
            )
    return out
