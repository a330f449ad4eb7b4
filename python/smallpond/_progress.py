"""A progress display driven by the scheduler's events.

On a terminal: one line redrawn in place (tasks done/total, failures, elapsed). In a
notebook, with tqdm installed: a tqdm bar. Otherwise nothing, so logs stay quiet.
"""

from __future__ import annotations

import sys
import time
from typing import Any, Dict, Optional


def _in_notebook() -> bool:
    try:
        from IPython import get_ipython  # type: ignore

        shell = get_ipython()
        return shell is not None and shell.__class__.__name__ == "ZMQInteractiveShell"
    except Exception:
        return False


class Progress:
    def __init__(self, enabled: Optional[bool] = None, label: str = "smallpond") -> None:
        self.label = label
        self.notebook = _in_notebook()
        if enabled is None:
            enabled = self.notebook or sys.stderr.isatty()
        self.enabled = enabled
        self._bar: Any = None
        self._start = 0.0
        self._total = 0
        self._done = 0
        self._failed = 0
        self._last_draw = 0.0

    def __call__(self, event: Dict[str, Any]) -> None:
        if not self.enabled:
            return
        kind = event["event"]
        if kind == "job_started":
            self._start = time.monotonic()
            self._total = event["tasks"]
            self._done = self._failed = 0
            if self.notebook:
                try:
                    from tqdm.auto import tqdm  # type: ignore

                    self._bar = tqdm(total=self._total, desc=self.label, unit="task")
                except ImportError:
                    self._bar = None
        elif kind == "task_finished":
            self._done += 1
            if self._bar is not None:
                self._bar.update(1)
        elif kind == "task_failed":
            self._failed += 1
        elif kind == "job_finished":
            if self._bar is not None:
                self._bar.close()
                self._bar = None
            else:
                self._draw(final=True, ok=event["ok"])
            return
        if self._bar is None:
            self._draw()

    def _draw(self, final: bool = False, ok: bool = True) -> None:
        now = time.monotonic()
        if not final and now - self._last_draw < 0.1:
            return
        self._last_draw = now
        total = max(self._total, 1)
        width = 30
        filled = int(width * self._done / total)
        bar = "#" * filled + "-" * (width - filled)
        failed = f", {self._failed} failed attempts" if self._failed else ""
        status = "" if not final else (" done" if ok else " FAILED")
        line = (
            f"\r{self.label} [{bar}] {self._done}/{self._total} tasks{failed} "
            f"{now - self._start:.1f}s{status}"
        )
        sys.stderr.write(line + ("\n" if final else ""))
        sys.stderr.flush()
