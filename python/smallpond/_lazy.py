"""A module imported on first use: `pa = lazy("pyarrow")` costs nothing until `pa.Table` is
looked up. pyarrow (and numpy under it) take ~60 ms to import, which every script paid in
``init()`` although a job that only reads and writes files never touches Arrow in Python."""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any, Optional


class _Lazy:
    def __init__(self, name: str) -> None:
        self._name = name
        self._module: Optional[ModuleType] = None

    def __getattr__(self, attr: str) -> Any:
        if self._module is None:
            self._module = importlib.import_module(self._name)
        return getattr(self._module, attr)

    def __repr__(self) -> str:
        return f"<module {self._name!r}, imported on first use>"


def lazy(name: str) -> Any:
    return _Lazy(name)
