"""A loopback TCP proxy that can silently stop forwarding (a half-dead connection)."""

from __future__ import annotations

import asyncio
import contextlib


class FreezableProxy:
    """Forwards to ``target``; ``freeze()`` stalls the connections open so far (no FIN, no
    RST: the peer just stops answering), while new connections still pass."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = 0
        self._server: asyncio.Server | None = None
        self._open: list[asyncio.Event] = []  # one "frozen" flag per connection
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = int(self._server.sockets[0].getsockname()[1])

    def freeze(self) -> None:
        for frozen in self._open:
            frozen.set()

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        frozen = asyncio.Event()
        self._open.append(frozen)
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        self._tasks += [
            asyncio.create_task(_pipe(reader, up_writer, frozen)),
            asyncio.create_task(_pipe(up_reader, writer, frozen)),
        ]


async def _pipe(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, frozen: asyncio.Event
) -> None:
    with contextlib.suppress(OSError, asyncio.CancelledError):
        while not reader.at_eof():
            data = await reader.read(65536)
            if frozen.is_set():
                await asyncio.Event().wait()  # swallow everything from now on, forever
            writer.write(data)
            await writer.drain()
    with contextlib.suppress(OSError):
        writer.close()
