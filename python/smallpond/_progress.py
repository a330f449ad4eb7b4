"""What a running job shows: the engine's counts of each stage (``_core.Session.progress``)
and the few events a display needs at once.

- On a terminal: one line per active stage (tasks done/total, rows and bytes of that stage,
  elapsed, ETA once it has finished tasks), redrawn in place twice a second from the first
  second on; a finished stage becomes a permanent line.
- In a notebook: a table that updates in place (IPython's display; nothing to install).
- Elsewhere (a pipe, a log file): plain lines, one per finished stage.
- Always, unless ``progress=False``: a one-line summary at the end, with the report's path.

Python's ``logging`` gets the same events on the ``smallpond`` logger (silent unless the
application configures logging): failed attempts as warnings, jobs as info, tasks as debug.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from typing import Any, Callable, Dict, List, Optional

_log = logging.getLogger("smallpond")

# How often the display is redrawn while nothing happens (the clock moves on).
_TICK = 0.5


# The events of every task (two per task): kept cheap, since a job may have 100,000 tasks.
_ROUTINE = frozenset(("task_started", "task_finished"))


def log_event(event: Dict[str, Any]) -> None:
    """Passes a scheduler event to the ``smallpond`` logger."""
    kind = event["event"]
    if kind in _ROUTINE:
        if _log.isEnabledFor(logging.DEBUG):
            _log.debug("%s", event)
    elif kind == "task_failed":
        _log.warning(
            "task %s (node-%s) attempt %s failed%s: %s",
            event["task"],
            event["node"],
            event["attempt"],
            ", will retry" if event["will_retry"] else "",
            event["error"].splitlines()[0] if event["error"] else "",
        )
    elif kind == "job_started":
        _log.info("running %d tasks in %d stages", event["tasks"], len(event["stages"]))
    elif kind == "job_finished":
        _log.info("job %s", "succeeded" if event["ok"] else "failed")
    elif kind == "task_speculated":
        _log.info("task %s is a straggler: speculative attempt %s", event["task"], event["attempt"])


def _in_notebook() -> bool:
    # A notebook's kernel has imported IPython already; importing it here to find out
    # cost every script ~40 ms of init().
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return False
    try:
        shell = ipython.get_ipython()
        return shell is not None and shell.__class__.__name__ == "ZMQInteractiveShell"
    except Exception:
        return False


def _bytes(n: int) -> str:
    value = float(n)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            return f"{n} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{n} B"


def _secs(s: float) -> str:
    if s < 10:
        return f"{s:.2f}s"
    if s < 120:
        return f"{s:.1f}s"
    return f"{int(s) // 60}m{int(s) % 60:02d}s"


class _Stage:
    """A stage as the engine counted it."""

    __slots__ = ("node", "kind", "tasks", "done", "reused", "running", "failed", "rows", "bytes", "elapsed", "eta")

    def __init__(self, node: int, kind: str, tasks: int) -> None:
        self.node, self.kind, self.tasks = node, kind, tasks
        self.done = self.reused = self.running = self.failed = self.rows = self.bytes = 0
        self.elapsed = 0.0
        self.eta: Optional[float] = None

    def update(self, row: tuple) -> None:
        """From a row of ``_core.Session.progress()`` (the engine's counts and ETA)."""
        (_, _, self.tasks, self.done, self.reused, self.running, self.failed, self.rows, self.bytes,
         elapsed, self.eta) = row
        self.elapsed = elapsed or 0.0

    @property
    def name(self) -> str:
        return f"node-{self.node} {self.kind}"

    def finished(self) -> bool:
        return self.done >= self.tasks

    def line(self, width: int = 20) -> str:
        filled = int(width * self.done / max(self.tasks, 1))
        bar = "#" * filled + "-" * (width - filled)
        text = f"{self.name:<26} [{bar}] {self.done}/{self.tasks} tasks  {self.rows:,} rows  {_bytes(self.bytes)}  {_secs(self.elapsed)}"
        if self.reused:
            text += f"  {self.reused} reused"
        if self.failed:
            text += f"  {self.failed} failed attempts"
        if self.eta is not None:
            text += f"  ETA {_secs(self.eta)}"
        return text


class Progress:
    """The display of one session's jobs (see the module's docstring).

    The engine counts tasks itself and calls this with the events a display needs at once:
    ``job_started`` (answered ``True`` to get every task's events too, which only the
    debug log wants), ``stage_finished``, ``task_failed``, ``task_speculated``,
    ``job_finished``. Redraws read the counts through ``snapshot`` (the session sets it to
    ``_core.Session.progress``)."""

    def __init__(self, enabled: Optional[bool] = None, label: str = "smallpond") -> None:
        self.label = label
        self.enabled = enabled is not False
        self.notebook = self.enabled and _in_notebook()
        self.terminal = self.enabled and not self.notebook and sys.stderr.isatty()
        # Set by the session once it exists.
        self.report_path: Optional[str] = None
        self.snapshot: Optional[Callable[[], List[tuple]]] = None
        self._lock = threading.Lock()
        self._stages: List[_Stage] = []
        self._by_node: Dict[int, _Stage] = {}
        self._start = 0.0
        self._drawn = 0  # lines of the active block on the terminal
        self._handle: Any = None  # the notebook's display
        self._ticker: Optional[threading.Thread] = None
        self._stop = threading.Event()

    def __call__(self, event: Dict[str, Any]) -> bool:
        log_event(event)
        if self.enabled:
            with self._lock:
                self._handle_event(event)
        return event["event"] == "job_started" and _log.isEnabledFor(logging.DEBUG)

    def _refresh(self) -> None:
        """Takes the engine's counts."""
        if self.snapshot is None:
            return
        for row in self.snapshot():
            stage = self._by_node.get(row[0])
            if stage is not None:
                stage.update(row)

    def _handle_event(self, event: Dict[str, Any]) -> None:
        kind = event["event"]
        now = time.monotonic()
        if kind == "job_started":
            self._start = now
            self._stages = [_Stage(node, k, n) for node, k, n in event["stages"]]
            self._by_node = {s.node: s for s in self._stages}
            self._drawn = 0
            self._handle = None
            self._draw(now)
            if self.terminal or self.notebook:
                self._stop.clear()
                self._ticker = threading.Thread(target=self._tick, name="smallpond-progress", daemon=True)
                self._ticker.start()
        elif kind == "job_finished":
            self._stop.set()
            self._ticker = None
            self._refresh()
            self._draw(now, final=True)
            self._summary(now, event["ok"])
        elif kind == "stage_finished":
            stage = self._by_node.get(event["stage"][0])
            if stage is not None:
                stage.update(event["stage"])
                self._stage_done(stage)
                self._draw(now)

    def _tick(self) -> None:
        while not self._stop.wait(_TICK):
            with self._lock:
                if self._stop.is_set():
                    return
                self._draw(time.monotonic())

    def _stage_done(self, stage: _Stage) -> None:
        """A finished stage: a permanent line (above the active block on a terminal)."""
        if self.notebook:
            return
        if self.terminal:
            self._clear()
        sys.stderr.write(f"[{time.monotonic() - self._start:7.2f}s] {stage.line()}\n")
        sys.stderr.flush()

    def _clear(self) -> None:
        if self._drawn:
            sys.stderr.write(f"\x1b[{self._drawn}F\x1b[J")
            self._drawn = 0

    def _draw(self, now: float, final: bool = False) -> None:
        if not (self.terminal or self.notebook):
            return
        self._refresh()
        if self.notebook:
            self._draw_notebook(now)
            return
        self._clear()
        if final:
            sys.stderr.flush()
            return
        active = [s for s in self._stages if not s.finished()]
        lines = [f"{self.label}: {_secs(now - self._start)}  {sum(s.done for s in self._stages)}/{sum(s.tasks for s in self._stages)} tasks"]
        lines += ["  " + s.line() for s in active[:6]]
        if len(active) > 6:
            lines.append(f"  ... {len(active) - 6} more stages")
        sys.stderr.write("\n".join(lines) + "\n")
        sys.stderr.flush()
        self._drawn = len(lines)

    def _draw_notebook(self, now: float) -> None:
        try:
            from IPython.display import HTML, display  # type: ignore
        except Exception:
            return
        rows = []
        for s in self._stages:
            pct = 100.0 * s.done / max(s.tasks, 1)
            eta = s.eta
            rows.append(
                f"<tr><td>{s.name}</td><td style='min-width:12em'><div style='background:#e5e5e5'>"
                f"<div style='width:{pct:.1f}%;background:#4e79a7;height:.8em'></div></div></td>"
                f"<td>{s.done}/{s.tasks}</td><td>{s.rows:,}</td><td>{_bytes(s.bytes)}</td>"
                f"<td>{_secs(s.elapsed)}</td><td>{'' if eta is None else _secs(eta)}</td>"
                f"<td>{s.failed or ''}</td></tr>"
            )
        html = HTML(
            f"<b>{self.label}</b> {_secs(now - self._start)}<table><tr><th>stage</th><th></th><th>tasks</th>"
            f"<th>rows</th><th>bytes</th><th>elapsed</th><th>ETA</th><th>failed</th></tr>{''.join(rows)}</table>"
        )
        if self._handle is None:
            self._handle = display(html, display_id=True)
        else:
            self._handle.update(html)

    def _summary(self, now: float, ok: bool) -> None:
        tasks = sum(s.tasks for s in self._stages)
        done = sum(s.done for s in self._stages)
        failed = sum(s.failed for s in self._stages)
        reused = sum(s.reused for s in self._stages)
        line = (
            f"{self.label}: {'done' if ok else 'FAILED'}: {len(self._stages)} stages, {done}/{tasks} tasks"
            + (f" ({reused} reused)" if reused else "")
            + (f", {failed} failed attempts" if failed else "")
            + f" in {_secs(now - self._start)}"
            + (f" · report: {self.report_path}" if self.report_path else "")
        )
        sys.stderr.write(line + "\n")
        sys.stderr.flush()
