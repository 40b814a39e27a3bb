"""Run one or more uvicorn servers in one event loop, bound to 127.0.0.1 only.

uvicorn's own signal capture is per server; with several servers in one process
we install one SIGTERM/SIGINT handler that stops them all.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Awaitable, Callable, Generator, Sequence
from typing import Any

import uvicorn


class _QuietServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


def make_server(app: Any, port: int, **config: Any) -> uvicorn.Server:
    cfg = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False,
                         lifespan="off", **config)
    return _QuietServer(cfg)


async def serve(servers: Sequence[uvicorn.Server],
                also: Sequence[Callable[[], Awaitable[None]]] = ()) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    async def stopper() -> None:
        await stop.wait()
        for s in servers:
            s.should_exit = True

    stop_task = asyncio.create_task(stopper())
    extra = [asyncio.create_task(fn()) for fn in also]
    try:
        await asyncio.gather(*(s.serve() for s in servers))
    finally:
        stop_task.cancel()
        for t in extra:
            t.cancel()


def run(servers: Sequence[uvicorn.Server]) -> None:
    """Serve until SIGTERM/SIGINT, on uvloop when it is installed (the reference's servers spend most of
    their CPU in the event loop and TLS; uvloop cuts it by about a fifth), else on asyncio's own loop."""
    try:
        import uvloop
    except ImportError:
        asyncio.run(serve(servers))
        return
    uvloop.run(serve(servers))
