"""The original smallpond's ``smallpond.common``: sizes, defaults and small helpers that
scripts import (``from smallpond.common import GB, MB, next_power_of_two``)."""

from __future__ import annotations

import math
import sys
from typing import Dict, List, Optional, TypeVar

from smallpond._udf import (  # noqa: F401  (the original re-exports its UDF types here)
    UDFAnyParameters,
    UDFListType,
    UDFMapType,
    UDFStructType,
    UDFType,
    UserDefinedFunction,
    udf,
)

KB = 1024
MB = 1024 * KB
GB = 1024 * MB
TB = 1024 * GB

DEFAULT_MAX_RETRY_COUNT = 5
DEFAULT_MAX_FAIL_COUNT = 3

MAX_ROW_GROUP_SIZE = 10 * 1024 * 1024
MAX_ROW_GROUP_BYTES = 2 * GB
MAX_NUM_ROW_GROUPS = 256
MAX_PARQUET_FILE_BYTES = 8 * GB
DEFAULT_ROW_GROUP_SIZE = 122880
DEFAULT_ROW_GROUP_BYTES = DEFAULT_ROW_GROUP_SIZE * 4 * KB
DEFAULT_BATCH_SIZE = 122880
RAND_SEED_BYTE_LEN = 128
DATA_PARTITION_COLUMN_NAME = "__data_partition__"
PARQUET_METADATA_KEY_PREFIX = "SMALLPOND:"
INPUT_VIEW_PREFIX = "__input"
GENERATED_COLUMNS = ("filename", "file_row_number")

K = TypeVar("K")
V = TypeVar("V")


def pytest_running() -> bool:
    return "pytest" in sys.modules


def clamp_value(val, minval, maxval):
    return max(minval, min(val, maxval))


def clamp_row_group_size(val, minval=DEFAULT_ROW_GROUP_SIZE, maxval=MAX_ROW_GROUP_SIZE):
    return clamp_value(val, minval, maxval)


def clamp_row_group_bytes(val, minval=DEFAULT_ROW_GROUP_BYTES, maxval=MAX_ROW_GROUP_BYTES):
    return clamp_value(val, minval, maxval)


def _smallpond_error():
    from smallpond._core import SmallpondError

    return SmallpondError


SmallpondError = _smallpond_error()


class InjectedFault(SmallpondError):
    pass


class OutOfMemory(SmallpondError):
    pass


class NonzeroExitCode(SmallpondError):
    pass


def first_value_in_dict(d: Dict[K, V]) -> Optional[V]:
    return next(iter(d.values())) if d else None


def split_into_cols(items: List[V], npartitions: int) -> List[List[V]]:
    """Deals items round-robin: item ``i`` goes to list ``i % npartitions``."""
    return [items[i::npartitions] for i in range(npartitions)]


def split_into_rows(items: List[V], npartitions: int) -> List[List[V]]:
    """Consecutive runs whose lengths differ by at most one, longer ones first:
    ``split_into_rows(list(range(10)), 3) == [[0, 1, 2, 3], [4, 5, 6], [7, 8, 9]]``."""
    return [get_nth_partition(items, n, npartitions) for n in range(npartitions)]


def get_nth_partition(items: List[V], n: int, npartitions: int) -> List[V]:
    base, extra = divmod(len(items), npartitions)
    start = n * base + min(n, extra)
    return items[start : start + base + (1 if n < extra else 0)]


def next_power_of_two(x) -> int:
    return 2 ** (x - 1).bit_length()


def round_up(x, align_size=MB) -> int:
    return math.ceil(x / align_size) * align_size

