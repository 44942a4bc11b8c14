"""The conformance checks, unchanged, through the async interface.

The checks call a sync StorageDriver, from one thread or many. :class:`ThroughAsync` is that driver: every method
hands the same call to an :class:`~registry_storage.aio.AsyncStorageDriver`'s public coroutine on an event loop
running in its own thread (:class:`EventLoopThread`), and blocks for the answer. So each check exercises the async
method, its validation, its streams and its errors; concurrent checks become concurrent tasks on the one loop.

>>> report = run_async_conformance(lambda: aio.create("inmemory"), quick=True)  # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from io import BufferedIOBase
from typing import Any, TypeVar

from registry_storage.aio.driver import AsyncReadStream, AsyncStorageDriver
from registry_storage.driver import PathList, StorageDriver
from registry_storage.fileinfo import FileInfo
from registry_storage.paths import ROOT
from registry_storage.streams import ByteSource, iter_chunks

from .runner import CheckResult, ConformanceReport, run_conformance

T = TypeVar("T")
CALL_TIMEOUT = 900.0
"""Seconds one call may take on the loop before the check gets a TimeoutError instead of hanging."""


class EventLoopThread:
    """An asyncio event loop running on a daemon thread until :meth:`stop`."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="registry-storage-aio-loop", daemon=True)
        self._thread.start()

    def call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run ``coroutine`` on the loop and return its result (or raise its error) in the calling thread."""
        future: Future[T] = asyncio.run_coroutine_threadsafe(coroutine, self.loop)
        return future.result(CALL_TIMEOUT)

    def stop(self) -> None:
        """Stop the loop and wait for its thread; tasks still running are cancelled first."""

        async def cancel_all() -> None:
            tasks = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self.loop.shutdown_default_executor()

        if self.loop.is_running():
            self.call(cancel_all())
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(CALL_TIMEOUT)
        self.loop.close()


class _StreamThroughAsync(BufferedIOBase):
    """A sync binary file over an AsyncReadStream."""

    def __init__(self, stream: AsyncReadStream, loop: EventLoopThread) -> None:
        super().__init__()
        self._stream = stream
        self._loop = loop

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1, /) -> bytes:
        self._check()
        return self._loop.call(self._stream.read(-1 if size is None else size))

    def read1(self, size: int = -1, /) -> bytes:
        self._check()
        return self._loop.call(self._stream.read(size) if size >= 0 else self._stream.read1())

    def readinto(self, buffer: Any, /) -> int:
        view = memoryview(buffer).cast("B")
        data = self.read(len(view))
        view[: len(data)] = data
        return len(data)

    def _check(self) -> None:
        if self.closed:
            raise ValueError("I/O operation on closed stream")

    def close(self) -> None:
        if not self.closed:
            try:
                self._loop.call(self._stream.close())
            finally:
                super().close()


async def _chunks_of(source: Iterator[bytes]) -> AsyncIterator[bytes]:
    for chunk in source:  # a sync source is read on the loop, as an async caller's would be
        yield chunk


class ThroughAsync(StorageDriver):
    """A sync StorageDriver that runs every call as the async driver's coroutine on ``loop``.

    The public methods are overridden so the async driver's own validation and errors are what the checks see.
    """

    def __init__(self, driver: AsyncStorageDriver, loop: EventLoopThread) -> None:
        self.driver = driver
        self.name = driver.name
        self._loop = loop

    def _call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return self._loop.call(coroutine)

    def get_content(self, path: str) -> bytes:
        return self._call(self.driver.get_content(path))

    def put_content(self, path: str, content: bytes) -> None:
        self._call(self.driver.put_content(path, content))

    def read_stream(self, path: str, offset: int = 0) -> BufferedIOBase:
        return _StreamThroughAsync(self._call(self.driver.read_stream(path, offset)), self._loop)

    def write_stream(self, path: str, offset: int, reader: ByteSource) -> int:
        source = reader if isinstance(reader, (bytes, bytearray, memoryview)) else _chunks_of(iter_chunks(reader))
        return self._call(self.driver.write_stream(path, offset, source))

    def stat(self, path: str) -> FileInfo:
        return self._call(self.driver.stat(path))

    def list(self, path: str) -> PathList:
        return self._call(self.driver.list(path))

    def walk(self, path: str = ROOT, start_after: str | None = None) -> Iterator[FileInfo]:
        entries = self.driver.walk(path, start_after)
        first = self._call(_first(entries))  # path errors at the call, as the sync contract says
        return self._rest(first, entries)

    def _rest(self, first: FileInfo | None, entries: AsyncIterator[FileInfo]) -> Iterator[FileInfo]:
        if first is None:
            return
        yield first
        while (entry := self._call(_first(entries))) is not None:
            yield entry

    def move(self, source: str, destination: str) -> None:
        self._call(self.driver.move(source, destination))

    def delete(self, path: str) -> None:
        self._call(self.driver.delete(path))

    def url_for(self, path: str, /, **options: Any) -> str:
        return self._call(self.driver.url_for(path, **options))

    def close(self) -> None:
        self._call(self.driver.close())

    def __getattr__(self, name: str) -> Any:  # session, pid...: what the runner asks a proxy about
        if name == "driver":
            raise AttributeError(name)
        return getattr(self.driver, name)

    # the abstract methods are never reached: every public method above goes to the async driver
    def _get_content(self, path: str) -> bytes:
        raise NotImplementedError

    def _put_content(self, path: str, content: bytes) -> None:
        raise NotImplementedError

    def _read_stream(self, path: str, offset: int) -> BufferedIOBase:
        raise NotImplementedError

    def _write_stream(self, path: str, offset: int, chunks: Iterator[bytes]) -> int:
        raise NotImplementedError

    def _stat(self, path: str) -> FileInfo:
        raise NotImplementedError

    def _list(self, path: str) -> PathList:
        raise NotImplementedError

    def _move(self, source: str, destination: str) -> None:
        raise NotImplementedError

    def _delete(self, path: str) -> None:
        raise NotImplementedError


async def _first(entries: AsyncIterator[FileInfo]) -> FileInfo | None:
    try:
        return await entries.__anext__()
    except StopAsyncIteration:
        return None


@contextmanager
def through_async(make: Callable[[], Awaitable[AsyncStorageDriver]]) -> Iterator[ThroughAsync]:
    """The async driver ``make`` builds, as a sync driver for the checks (a pytest fixture's body); the driver is
    closed and its loop stopped on leaving."""
    loop = EventLoopThread()
    try:
        driver = ThroughAsync(loop.call(_made(make)), loop)
        try:
            yield driver
        finally:
            driver.close()
    finally:
        loop.stop()


def run_async_conformance(
    make: Callable[[], Awaitable[AsyncStorageDriver]],
    *,
    select: str | None = None,
    quick: bool = False,
    on_result: Callable[[CheckResult], None] | None = None,
) -> ConformanceReport:
    """Run the conformance checks through the async interface and return the report.

    ``make`` is an async factory (``lambda: aio.create("inmemory")``), awaited on a loop of its own; the driver is
    closed and the loop stopped at the end. ``select``, ``quick`` and ``on_result`` are
    :func:`~registry_storage.testing.run_conformance`'s.
    """
    loop = EventLoopThread()
    try:
        return run_conformance(
            lambda: ThroughAsync(loop.call(_made(make)), loop), select=select, quick=quick, on_result=on_result
        )
    finally:
        loop.stop()


async def _made(make: Callable[[], Awaitable[AsyncStorageDriver]]) -> AsyncStorageDriver:
    return await make()
