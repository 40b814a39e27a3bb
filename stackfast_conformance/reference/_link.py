"""The "upstash link": a TCP proxy between an API's REDIS_URL and redis-server.

It runs inside the supervisor's event loop so the control API can flip its mode:

- ``pass``   pipe bytes both ways (default),
- ``refuse`` close every connection at once (Upstash unreachable),
- ``hang``   accept and read, never answer (client times out),
- ``error``  answer every command with ``-ERR upstash simulated failure``.

Changing the mode closes every open connection, so pooled client connections
cannot keep talking to Redis through an outage.
"""

from __future__ import annotations

import asyncio
import contextlib

MODES = ("pass", "refuse", "hang", "error")
_ERROR_REPLY = b"-ERR upstash simulated failure\r\n"


def count_commands(buf: bytearray) -> int:
    """Remove every complete RESP command (array or inline) from ``buf``; return how many."""
    count = 0
    while buf:
        if buf[0:1] == b"*":
            end = buf.find(b"\r\n")
            if end < 0:
                return count
            try:
                n = int(buf[1:end])
            except ValueError:
                n = 0
            pos = end + 2
            complete = True
            for _ in range(max(n, 0)):
                e = buf.find(b"\r\n", pos)
                if e < 0 or buf[pos:pos + 1] != b"$":
                    complete = False
                    break
                try:
                    size = int(buf[pos + 1:e])
                except ValueError:
                    size = 0
                if len(buf) < e + 2 + size + 2:
                    complete = False
                    break
                pos = e + 2 + size + 2
            if not complete:
                return count
            del buf[:pos]
        else:
            end = buf.find(b"\n")
            if end < 0:
                return count
            line = bytes(buf[:end]).strip()
            del buf[:end + 1]
            if not line:
                continue
        count += 1
    return count


class UpstashLink:
    def __init__(self, name: str, redis_port: int) -> None:
        self.name = name
        self.redis_port = redis_port
        self.mode = "pass"
        self.port = 0
        self._server: asyncio.AbstractServer | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self, port: int = 0) -> int:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", port)
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self.port

    def set_mode(self, mode: str) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown upstash link mode {mode!r}; one of {', '.join(MODES)}")
        self.mode = mode
        for w in list(self._writers):
            w.close()
        self._writers.clear()

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        self.set_mode(self.mode)
        for t in list(self._tasks):
            t.cancel()
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)  # type: ignore[arg-type]
        self._writers.add(writer)
        upstream_writer: asyncio.StreamWriter | None = None
        try:
            mode = self.mode
            if mode == "refuse":
                return
            if mode == "hang":
                while await reader.read(65536):
                    pass
                return
            if mode == "error":
                buf = bytearray()
                while chunk := await reader.read(65536):
                    buf += chunk
                    n = count_commands(buf)
                    if n:
                        writer.write(_ERROR_REPLY * n)
                        await writer.drain()
                return
            up_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", self.redis_port)
            self._writers.add(upstream_writer)

            async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
                with contextlib.suppress(Exception):
                    while chunk := await src.read(65536):
                        dst.write(chunk)
                        await dst.drain()
                dst.close()

            await asyncio.gather(pump(reader, upstream_writer), pump(up_reader, writer))
        except (OSError, asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            for w in (writer, upstream_writer):
                if w is not None:
                    self._writers.discard(w)
                    w.close()
            self._tasks.discard(task)  # type: ignore[arg-type]
