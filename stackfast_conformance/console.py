"""What a person watching ``stackfast-conformance run`` sees: one progress line while it runs, one summary at the end.

The CLI runs pytest in-process, once or in two phases. Unless ``-v``/``--pytest-output`` is given,
pytest's own terminal output (``bringing up nodes…``, ``70 passed, 40 skipped in …``) goes to
``pytest-output.log`` in the report directory, and this module draws instead:

- while it runs: the phase, checks done/total, and the current long wait with its countdown
  (a check announces a wait with ``recorder.progress(message, seconds=…)``; xdist workers announce
  through small files in a progress directory, so the controller sees their waits too);
- at the end: exactly one summary (``run.summary_lines`` of the final record), printed by the CLI.

Intermediate phases print no verdicts: the parallel phase's report is only a safety net for an
interrupted run, and the serial phase's report replaces it.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any

__all__ = ["PROGRESS_DIR_ENV", "Progress", "announce", "console_active", "run_pytest"]

PROGRESS_DIR_ENV = "STACKFAST_PROGRESS_DIR"
PYTEST_LOG = "pytest-output.log"
_SHOWN_MESSAGE_SECONDS = 15.0  # a message without a countdown stays on the line this long
_PLAIN_STATUS_EVERY = 20.0  # without a terminal (CI logs): a status line this often


def announce(check: str, message: str, seconds: float | None = None) -> None:
    """Tell the person watching what ``check`` is doing now; ``seconds``: a wait with a countdown.

    Safe in any process (xdist workers included) and a no-op outside a CLI run.
    """
    directory = os.environ.get(PROGRESS_DIR_ENV)
    if not directory:
        return
    now = time.time()
    entry = {"check": check, "message": message, "at": now, "until": now + seconds if seconds else None}
    path = Path(directory) / f"{os.getpid()}-{threading.get_ident()}.json"
    with contextlib.suppress(OSError):
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(entry))
        os.replace(tmp, path)


def console_active(config: Any) -> bool:
    """True when the CLI draws progress and prints the one summary (the plugin then prints none)."""
    return any(isinstance(p, _ProgressPlugin) for p in config.pluginmanager.get_plugins())


def _short(nodeid: str) -> str:
    return nodeid.rsplit("::", 1)[-1]


class Progress:
    """The run's progress as the controller sees it; drawn on stderr by a background thread."""

    def __init__(self, directory: Path, stream: IO[str] | None = None) -> None:
        self.directory = directory
        self.stream = stream or sys.stderr
        self.interactive = bool(getattr(self.stream, "isatty", lambda: False)())
        self.phase = ""
        self.done = 0
        self.total: int | None = None
        self.running: dict[str, float] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_plain = 0.0
        self._announced: set[tuple[str, float]] = set()
        self._drawn = False

    # --- fed by the pytest hooks (controller process) -------------------------------------------
    def start_phase(self, phase: str) -> None:
        with self._lock:
            self.phase, self.done, self.total, self.running = phase, 0, None, {}
        self._plain(f"stackfast-conformance: {phase} …")

    def check_started(self, nodeid: str) -> None:
        with self._lock:
            self.running[nodeid] = time.monotonic()

    def check_finished(self, nodeid: str) -> None:
        with self._lock:
            if self.running.pop(nodeid, None) is not None:
                self.done += 1

    # --- drawing ---------------------------------------------------------------------------------
    def _waits(self) -> list[dict[str, Any]]:
        entries = []
        for path in self.directory.glob("*.json"):
            with contextlib.suppress(OSError, ValueError):
                entries.append(json.loads(path.read_text()))
        return entries

    def _current(self) -> tuple[str, dict[str, Any] | None]:
        now = time.time()
        live = [e for e in self._waits()
                if (e.get("until") and e["until"] > now) or (not e.get("until") and now - e["at"] < _SHOWN_MESSAGE_SECONDS)]
        live = [e for e in live if not self.running or e["check"] in self.running or not self.interactive]
        if not live:
            return "", None
        entry = max(live, key=lambda e: (e.get("until") or 0, e["at"]))
        if entry.get("until"):
            return f"{entry['message']} ({entry['until'] - now:.0f} s left; {_short(entry['check'])})", entry
        return f"{entry['message']} ({_short(entry['check'])})", entry

    def line(self) -> str:
        with self._lock:
            done, total, running = self.done, self.total, dict(self.running)
        parts = [self.phase or "starting", f"{done}/{total if total is not None else '?'} checks"]
        wait, _ = self._current()
        if wait:
            parts.append(wait)
        elif running:
            nodeid, since = min(running.items(), key=lambda kv: kv[1])
            parts.append(f"running {_short(nodeid)} ({time.monotonic() - since:.0f} s)")
        return " · ".join(parts)

    def _plain(self, text: str) -> None:
        self._clear()
        print(text, file=self.stream, flush=True)

    def _clear(self) -> None:
        if self.interactive and self._drawn:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self._drawn = False

    def tick(self) -> None:
        if self.interactive:
            width = shutil.get_terminal_size((100, 20)).columns - 1
            self.stream.write("\r\x1b[K" + self.line()[:width])
            self.stream.flush()
            self._drawn = True
            return
        # a log, not a terminal: announce each new wait once, and a status line now and then
        _, entry = self._current()
        if entry and entry.get("until"):
            key = (entry["check"], round(entry["until"], 1))
            if key not in self._announced:
                self._announced.add(key)
                print(f"  … {_short(entry['check'])}: {entry['message']} "
                      f"({entry['until'] - time.time():.0f} s)", file=self.stream, flush=True)
        if time.monotonic() - self._last_plain >= _PLAIN_STATUS_EVERY:
            self._last_plain = time.monotonic()
            print(f"  … {self.line()}", file=self.stream, flush=True)

    def _loop(self) -> None:
        while not self._stop.wait(0.5 if self.interactive else 1.0):
            with contextlib.suppress(Exception):  # drawing must never break a run
                self.tick()

    def __enter__(self) -> Progress:
        self.directory.mkdir(parents=True, exist_ok=True)
        self._last_plain = time.monotonic()
        self._thread = threading.Thread(target=self._loop, name="stackfast-progress", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        self._clear()
        shutil.rmtree(self.directory, ignore_errors=True)


class _ProgressPlugin:
    """pytest hooks (controller only) that feed :class:`Progress`."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress

    def pytest_collection_finish(self, session: Any) -> None:
        if not session.config.pluginmanager.has_plugin("dsession"):
            self.progress.total = len(session.items)

    def pytest_xdist_node_collection_finished(self, node: Any, ids: Sequence[str]) -> None:
        self.progress.total = len(ids)

    def pytest_runtest_logstart(self, nodeid: str, location: Any) -> None:
        self.progress.check_started(nodeid)

    def pytest_runtest_logfinish(self, nodeid: str, location: Any) -> None:
        self.progress.check_finished(nodeid)


@contextlib.contextmanager
def _pytest_output(report_dir: Path, show: bool) -> Iterator[Path | None]:
    """pytest's own terminal output: shown with --pytest-output, else kept in the report directory."""
    if show:
        yield None
        return
    report_dir.mkdir(parents=True, exist_ok=True)
    log = report_dir / PYTEST_LOG
    with log.open("a") as fh, contextlib.redirect_stdout(fh):
        fh.write(f"===== stackfast-conformance: {time.strftime('%Y-%m-%dT%H:%M:%S')} =====\n")
        fh.flush()
        yield log


def run_pytest(args: list[str], phase: str, report_dir: Path, show_pytest_output: bool,
               stream: IO[str] | None = None) -> int:
    """``pytest.main(args)`` with the progress line drawn on ``stream`` (stderr) and pytest's output kept.

    On an exit other than 0/1 (a usage or internal error) the tail of pytest's log is shown, so a
    broken check module is never silent.
    """
    import pytest

    own_stream = None
    if stream is None:
        # a duplicate of fd 2: pytest's capture redirects fd 2 while an in-process check runs, not this one
        with contextlib.suppress(OSError, ValueError, AttributeError):
            sys.stderr.flush()
            own_stream = stream = os.fdopen(os.dup(sys.stderr.fileno()), "w", buffering=1)
    stream = stream or sys.stderr
    progress = Progress(report_dir / ".progress", stream)
    previous = os.environ.get(PROGRESS_DIR_ENV)
    os.environ[PROGRESS_DIR_ENV] = str(progress.directory)
    try:
        with progress, _pytest_output(report_dir, show_pytest_output) as log:
            progress.start_phase(phase)
            code = int(pytest.main(args, plugins=[_ProgressPlugin(progress)]))
    finally:
        if previous is None:
            os.environ.pop(PROGRESS_DIR_ENV, None)
        else:
            os.environ[PROGRESS_DIR_ENV] = previous
        if own_stream is not None:
            stream = sys.stderr
            own_stream.close()
    this_phase = log.read_text(errors="replace").rsplit("===== stackfast-conformance: ", 1)[-1] if log else ""
    if log is not None and code not in (0, 1, 5, int(pytest.ExitCode.INTERRUPTED)):
        tail = this_phase.splitlines()[1:][-40:]
        print(f"stackfast-conformance: pytest ended with status {code}; the end of {log}:", file=stream)
        for text in tail:
            print(f"  {text}", file=stream)
    elif log is not None and code == int(pytest.ExitCode.INTERRUPTED):
        errors = [t for t in this_phase.splitlines() if t.startswith(("ERROR ", "E   "))]
        if errors:  # a collection error also ends pytest as "interrupted": show it
            print(f"stackfast-conformance: pytest stopped; from {log}:", file=stream)
            for text in errors[-20:]:
                print(f"  {text}", file=stream)
    return code




def print_final_summary(report_dir: Path, exit_code: int, stream: IO[str] | None = None) -> dict[str, Any] | None:
    """The one summary of a CLI run, from the final ``traceability.json``; returns the record."""
    from stackfast_conformance.run import EXIT_MEANINGS, summary_lines

    stream = stream or sys.stdout
    path = report_dir / "traceability.json"
    if not path.is_file():
        print(f"stackfast-conformance: no report was written ({EXIT_MEANINGS.get(exit_code, f'exit {exit_code}')})",
              file=stream, flush=True)
        return None
    record = json.loads(path.read_text())
    for text in summary_lines(record, report_dir, exit_code):
        print(text, file=stream)
    stream.flush()
    return record
