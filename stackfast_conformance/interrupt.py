"""Stopping a run when asked: Ctrl-C (SIGINT) and SIGTERM (how CI cancels a job) mean the same.

What a caller may rely on:

- ``install()`` (the CLI and the plugin call it in the main thread) turns the first SIGINT or
  SIGTERM into: the process-wide stop event is set, the ``on_stop`` callbacks run (the xdist
  controller forwards the request to its workers) and ``RunInterrupted`` — a ``KeyboardInterrupt``,
  so pytest treats it as Ctrl-C — is raised in the main thread, wherever it waits. Later signals
  are ignored while the run winds down: the report for what finished is being written.
- ``sleep(seconds)`` is the wait for checks and helpers (window waits, pollers, delayed actions):
  it ends at once with ``RunInterrupted`` when a stop is requested, in any thread.
- ``shielded(label)`` protects a recovery step (``upstash-recover``, ``db-outage-end``): a stop
  requested inside it lets the step finish, says so on stderr, and is raised when it ends.
- ``requested()`` tells anyone (the plugin's outcome recording) that the run is stopping; a check
  that ends after that is recorded as not run, whatever it reported.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

__all__ = ["RunInterrupted", "install", "request", "requested", "reset", "say", "shielded", "signal_name", "sleep"]

STOP = threading.Event()
REPORTED = threading.Event()  # the interrupted run's report is written (the plugin sets it)
SIGNALS = (signal.SIGINT, signal.SIGTERM)
_lock = threading.Lock()
_shield_depth = 0
_pending = False  # a stop arrived inside a shielded step: raise it when the step ends
_signal: int | None = None
_requested_at: float | None = None
_on_stop: list[Callable[[], None]] = []
_announce = True
_terminal_fd: int | None = None  # a copy of stderr taken before pytest captured it (the first install)


class RunInterrupted(KeyboardInterrupt):
    """The run was asked to stop (Ctrl-C or SIGTERM); what was running is recorded as not run."""


def requested() -> bool:
    return STOP.is_set()


def signal_name() -> str | None:
    """``SIGINT``/``SIGTERM`` when a signal asked the run to stop, else None."""
    return signal.Signals(_signal).name if _signal is not None else None


def requested_at() -> float | None:
    """``time.monotonic()`` when the stop was requested."""
    return _requested_at


def request(signum: int | None = None) -> bool:
    """Ask the run to stop; True for the first request (the callbacks run once)."""
    global _signal, _requested_at
    with _lock:
        if STOP.is_set():
            return False
        _signal = signum
        _requested_at = time.monotonic()
        STOP.set()
        callbacks = list(_on_stop)
    for callback in callbacks:
        with contextlib.suppress(Exception):
            callback()
    return True


def reset() -> None:
    """Forget a stop request (a new pytest session in the same process starts clean)."""
    global _signal, _requested_at, _pending
    with _lock:
        STOP.clear()
        REPORTED.clear()
        _signal = None
        _requested_at = None
        _pending = False


def mark_reported() -> None:
    """The report of the interrupted run is on disk: nothing else has to finish before the process exits."""
    trace("report written")
    REPORTED.set()


def exit_when_reported(grace_seconds: float, report_limit_seconds: float, on_exit: Callable[[], None],
                       status: int = 130) -> threading.Thread:
    """A watchdog for the CLI: once a stop was requested, exit ``status`` no later than ``grace_seconds``
    after the request — as soon as the report is written and no recovery step is in progress.

    The orderly path (pytest's teardown, xdist's wait for its workers, stopping the reference) usually
    wins; the watchdog bounds it on a loaded machine. It waits up to ``report_limit_seconds`` for the
    report, and for as long as a shielded recovery step runs (it may not be cut short).
    """
    def watch() -> None:
        began = _requested_at if _requested_at is not None else time.monotonic()
        while True:
            elapsed = time.monotonic() - began
            busy = _shield_depth > 0
            if not busy and elapsed >= grace_seconds and (REPORTED.is_set() or elapsed >= report_limit_seconds):
                break
            REPORTED.wait(0.05)
            if REPORTED.is_set() and not busy:
                time.sleep(min(0.05, max(0.0, grace_seconds - elapsed)))
        trace("watchdog: exiting now")
        with contextlib.suppress(BaseException):
            on_exit()
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(status)

    thread = threading.Thread(target=watch, name="stop-watchdog", daemon=True)
    thread.start()
    return thread


def sleep(seconds: float) -> None:
    """``time.sleep`` that raises ``RunInterrupted`` at once when the run is asked to stop."""
    if STOP.wait(max(0.0, seconds)):
        raise RunInterrupted(f"interrupted ({signal_name() or 'stop requested'})")


def wait(seconds: float) -> bool:
    """Wait up to ``seconds``; True when the run was asked to stop (no exception: for threads that wind down)."""
    return STOP.wait(max(0.0, seconds))


@contextlib.contextmanager
def shielded(label: str) -> Iterator[None]:
    """Let ``label`` (a recovery step) finish even when a stop arrives meanwhile; then raise it."""
    global _shield_depth, _pending
    if STOP.is_set():
        _say(f"interrupted: finishing the recovery step {label} before stopping")
    with _lock:
        _shield_depth += 1
    try:
        yield
    finally:
        with _lock:
            _shield_depth -= 1
            raise_now = _pending and _shield_depth == 0
            if raise_now:
                _pending = False
        if raise_now:
            raise RunInterrupted(f"interrupted ({signal_name() or 'stop requested'}) after the recovery step {label}")


def _handler(signum: int, frame: Any) -> None:
    global _pending
    first = request(signum)
    if not first:
        return  # already stopping: the report for what finished is being written
    name = signal.Signals(signum).name
    with _lock:
        shielded_now = _shield_depth > 0
        if shielded_now:
            _pending = True
    if shielded_now:
        _say(f"{name}: stopping after the recovery step in progress (an operator action) finishes")
        return
    _say(f"{name}: stopping; the report covers what finished")
    trace("raising in the main thread")
    raise RunInterrupted(f"interrupted ({name})")


def trace(label: str) -> None:
    """With STACKFAST_TRACE_STOP=1: how long after the stop request each stage of winding down began."""
    if _requested_at is not None and os.environ.get("STACKFAST_TRACE_STOP"):
        with contextlib.suppress(Exception):
            sys.stderr.write(f"[stop +{time.monotonic() - _requested_at:.2f} s pid {os.getpid()}: {label}]\n")
            sys.stderr.flush()


def say(message: str) -> None:
    """Tell the person who asked the run to stop what it still does (stderr)."""
    _say(message)


def _say(message: str) -> None:
    if _announce:
        with contextlib.suppress(Exception):
            text = f"\nstackfast-conformance: {message}\n"
            if _terminal_fd is not None:  # pytest captures fd 2 while a check runs: write past it
                os.write(_terminal_fd, text.encode())
            else:
                sys.stderr.write(text)
                sys.stderr.flush()


def install(on_stop: Callable[[], None] | None = None, announce: bool = True) -> Callable[[], None]:
    """Handle SIGINT and SIGTERM as a stop request (main thread only); returns the undo callable."""
    global _announce, _terminal_fd
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    if _terminal_fd is None:
        with contextlib.suppress(OSError):
            _terminal_fd = os.dup(2)
    previous = {sig: signal.getsignal(sig) for sig in SIGNALS}
    for sig in SIGNALS:
        signal.signal(sig, _handler)
    _announce = announce
    if on_stop is not None:
        _on_stop.append(on_stop)

    def undo() -> None:
        for sig, handler in previous.items():
            with contextlib.suppress(ValueError, TypeError):
                signal.signal(sig, handler if handler is not None else signal.SIG_DFL)
        if on_stop is not None and on_stop in _on_stop:
            _on_stop.remove(on_stop)

    return undo
