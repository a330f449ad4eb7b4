"""Nodes that copy their input: ``CopyArrowTable`` (as one table) and ``StreamCopy``
(batch by batch)."""

from __future__ import annotations

from typing import Iterable, List

import pyarrow as arrow

from smallpond.execution.task import RuntimeContext
from smallpond.logical.node import ArrowComputeNode, ArrowStreamNode


class CopyArrowTable(ArrowComputeNode):
    def process(self, runtime_ctx: RuntimeContext, input_tables: List[arrow.Table]) -> arrow.Table:
        return input_tables[0]


class StreamCopy(ArrowStreamNode):
    def process(self, runtime_ctx: RuntimeContext, input_readers: List[arrow.RecordBatchReader]) -> Iterable[arrow.Table]:
        for batch in input_readers[0]:
            yield arrow.Table.from_batches([batch])
