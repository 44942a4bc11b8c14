"""Any sync StorageDriver behind the async interface, on a bounded pool of threads.

Each call runs the sync driver's public method on one of at most ``max_threads`` threads, so a slow backend never
blocks the event loop and never costs more threads than the bound. A write stream runs the driver's
``write_stream`` on a pool thread that pulls the async source's chunks from the loop one at a time; cancelling the
task stops it at the next chunk and waits for the driver to settle, so base + prefix is what remains.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from io import BufferedIOBase
from typing import Any, TypeVar

from registry_storage.driver import StorageDriver
from registry_storage.errors import OperationCancelledError
from registry_storage.fileinfo import FileInfo
from registry_storage.streams import CHUNK_SIZE

from .driver import AsyncReadStream, AsyncStorageDriver, PathList

T = TypeVar("T")
DEFAULT_MAX_THREADS = 16
"""Threads a driver in process may use at once behind the async interface."""
WALK_BATCH = 256
"""Walk entries fetched per hop to a pool thread."""


class _Pool:
    def __init__(self, max_threads: int, name: str) -> None:
        if max_threads < 1:
            raise ValueError(f"max_threads must be at least 1, got {max_threads!r}")
        self.executor = ThreadPoolExecutor(max_workers=max_threads, thread_name_prefix=f"registry-storage-{name}")

    async def run(self, function: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self.executor, functools.partial(function, *args))


class ThreadedReadStream(AsyncReadStream):
    """A sync driver stream read on the pool."""

    def __init__(self, stream: BufferedIOBase, pool: _Pool) -> None:
        self._stream = stream
        self._pool = pool

    @property
    def closed(self) -> bool:
        return self._stream.closed

    async def read(self, size: int = -1) -> bytes:
        return await self._pool.run(self._stream.read, size)

    async def read1(self) -> bytes:
        return await self._pool.run(self._stream.read1, CHUNK_SIZE)

    async def close(self) -> None:
        if not self._stream.closed:
            await self._pool.run(self._stream.close)


class ThreadedAsyncDriver(AsyncStorageDriver):
    """``driver`` (a sync StorageDriver) as an AsyncStorageDriver, on at most ``max_threads`` threads."""

    def __init__(self, driver: StorageDriver, *, max_threads: int = DEFAULT_MAX_THREADS) -> None:
        self.driver = driver
        self.name = driver.name
        self._pool = _Pool(max_threads, driver.name)

    async def _get_content(self, path: str) -> bytes:
        return await self._pool.run(self.driver.get_content, path)

    async def _put_content(self, path: str, content: bytes) -> None:
        await self._pool.run(self.driver.put_content, path, content)

    async def _read_stream(self, path: str, offset: int) -> AsyncReadStream:
        return ThreadedReadStream(await self._pool.run(self.driver.read_stream, path, offset), self._pool)

    async def _write_stream(self, path: str, offset: int, chunks: AsyncIterator[bytes]) -> int:
        loop = asyncio.get_running_loop()
        cancelled = False

        def pull() -> Iterator[bytes]:
            while True:
                if cancelled:
                    raise OperationCancelledError("write_stream")
                chunk = asyncio.run_coroutine_threadsafe(_next(chunks), loop).result()
                if not chunk:
                    return
                yield chunk

        written = loop.run_in_executor(
            self._pool.executor, functools.partial(self.driver.write_stream, path, offset, pull())
        )
        try:
            return await asyncio.shield(written)
        except asyncio.CancelledError:
            cancelled = True
            await asyncio.wait((written,))  # the driver keeps base + prefix before the task ends
            if not written.cancelled():
                written.exception()
            raise

    async def _stat(self, path: str) -> FileInfo:
        return await self._pool.run(self.driver.stat, path)

    async def _list(self, path: str) -> PathList:
        return await self._pool.run(self.driver.list, path)

    async def _walk(self, path: str, start_after: str | None = None) -> AsyncIterator[FileInfo]:
        entries = await self._pool.run(self.driver.walk, path, start_after)
        while batch := await self._pool.run(lambda: list(itertools.islice(entries, WALK_BATCH))):
            for entry in batch:
                yield entry

    async def _move(self, source: str, destination: str) -> None:
        await self._pool.run(self.driver.move, source, destination)

    async def _delete(self, path: str) -> None:
        await self._pool.run(self.driver.delete, path)

    async def _url_for(self, path: str, **options: Any) -> str:
        return await self._pool.run(functools.partial(self.driver.url_for, path, **options))

    async def close(self) -> None:
        """Close the sync driver and release the pool."""
        await self._pool.run(self.driver.close)
        self._pool.executor.shutdown(wait=False)

    def __repr__(self) -> str:
        return f"<ThreadedAsyncDriver {self.driver!r}>"


async def _next(chunks: AsyncIterator[bytes]) -> bytes:
    try:
        return await chunks.__anext__()
    except StopAsyncIteration:
        return b""
