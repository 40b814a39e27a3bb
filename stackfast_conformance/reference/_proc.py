"""Child-process plumbing shared by the supervisor: free ports, spawning with a
parent-death signal, stopping a whole process group, readiness polling.

Children are spawned from the supervisor's main (event-loop) thread: Linux
delivers PR_SET_PDEATHSIG when the *thread* that forked dies, so spawning from a
short-lived worker thread would kill the child early.
"""

from __future__ import annotations

import asyncio
import ctypes
import os
import random
import signal
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import httpx

_PR_SET_PDEATHSIG = 1


# Ports come from below the kernel's ephemeral range (so an outgoing connection never holds one) and are
# reserved machine-wide with an O_EXCL file, so references started side by side (the kill matrix, xdist
# self-tests) never get the same port between "found free" and "child bound it".
_PORT_RANGE = (20000, 32000)
_RESERVATIONS = Path(os.environ.get("TMPDIR", "/tmp")) / "stackfast-conformance-ports"
_RESERVATION_TTL_SECONDS = 3600
_rng = random.SystemRandom()


def free_port() -> int:
    _RESERVATIONS.mkdir(parents=True, exist_ok=True)
    for _ in range(500):
        port = _rng.randrange(*_PORT_RANGE)
        marker = _RESERVATIONS / str(port)
        try:
            if time.time() - marker.stat().st_mtime > _RESERVATION_TTL_SECONDS:
                marker.unlink(missing_ok=True)  # a reservation from a run long gone
        except FileNotFoundError:
            pass
        try:
            os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
        except FileExistsError:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue  # someone else's listener: keep the marker so nobody here tries it again soon
        return port
    raise RuntimeError("no free port on 127.0.0.1 in 20000-32000 after 500 tries")


def _die_with_parent() -> None:  # runs in the child between fork and exec
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except OSError:
        pass


def spawn(argv: Sequence[str], env: Mapping[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    """Start ``argv`` in its own process group; it is SIGKILLed if the supervisor dies."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        return subprocess.Popen(
            list(argv), env=dict(env), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True, preexec_fn=_die_with_parent, close_fds=True,
        )


def stop_sync(proc: subprocess.Popen[bytes] | None, grace: float = 5.0) -> None:
    """SIGTERM the process group, SIGKILL it after ``grace`` seconds; always reaps."""
    if proc is None:
        return
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            pass
    try:  # stragglers in the group (and the leader if it ignored SIGTERM)
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()


async def stop(proc: subprocess.Popen[bytes] | None, grace: float = 5.0) -> None:
    if proc is None:
        return
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + grace
        while proc.poll() is None and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
    stop_sync(proc, grace=0)


class NotReady(RuntimeError):
    pass


async def wait_tcp(port: int, proc: subprocess.Popen[bytes] | None, deadline: float, what: str) -> None:
    """Until something accepts on 127.0.0.1:port (the 'container reports ready' moment)."""
    while True:
        if proc is not None and proc.poll() is not None:
            raise NotReady(f"{what} exited with status {proc.returncode} before listening")
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 1.0)
            writer.close()
            await writer.wait_closed()
            return
        except (TimeoutError, OSError):
            pass
        if time.monotonic() > deadline:
            raise NotReady(f"{what} did not listen on 127.0.0.1:{port} in time")
        await asyncio.sleep(0.03)


async def wait_http(url: str, proc: subprocess.Popen[bytes] | None, deadline: float, what: str,
                    *, verify: object = True, headers: Mapping[str, str] | None = None) -> int:
    """Until ``url`` answers with any HTTP status; returns the status."""
    async with httpx.AsyncClient(verify=verify, timeout=2.0) as client:  # type: ignore[arg-type]
        while True:
            if proc is not None and proc.poll() is not None:
                raise NotReady(f"{what} exited with status {proc.returncode} before answering")
            try:
                r = await client.get(url, headers=headers)
                return r.status_code
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise NotReady(f"{what} did not answer {url} in time")
            await asyncio.sleep(0.03)


async def wait_redis(port: int, proc: subprocess.Popen[bytes] | None, deadline: float) -> None:
    while True:
        if proc is not None and proc.poll() is not None:
            raise NotReady(f"redis-server exited with status {proc.returncode}")
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 1.0)
            writer.write(b"PING\r\n")
            await writer.drain()
            line = await asyncio.wait_for(reader.readline(), 1.0)
            writer.close()
            await writer.wait_closed()
            if line.startswith(b"+PONG"):
                return
        except (TimeoutError, OSError):
            pass
        if time.monotonic() > deadline:
            raise NotReady(f"redis-server did not answer PING on port {port} in time")
        await asyncio.sleep(0.03)


def tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
