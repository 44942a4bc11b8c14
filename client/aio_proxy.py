"""AsyncProxyDriver: an AsyncStorageDriver whose every method runs in a driver child, over asyncio pipes.

The same child, handshake, limits, windows, deadlines, ``$/cancel`` and ``stream.cancel``, restart option, stop
sequence and stderr-to-logging as :class:`~registry_storage.client.ProxyDriver`: the protocol logic is the shared
programs of :mod:`.calls` on the shared :class:`~registry_storage.client.core.ClientCore`; only the I/O edge
(:mod:`.aio_connection`) differs. Start one with :func:`launch_async` or ``await registry_storage.aio.create(name,
out_of_process=True)``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import weakref
from collections.abc import AsyncIterator, Mapping
from typing import Any, TypeVar

from registry_storage.aio.driver import AsyncReadStream, AsyncStorageDriver, PathList
from registry_storage.errors import DriverExitedError, IncompatibleVersionError, StorageDriverError
from registry_storage.fileinfo import FileInfo

from . import calls
from .aio_connection import AsyncConnection
from .calls import DriverInfo, ReadPuller
from .chunks import ChunkCursor, joined
from .options import ProxyOptions
from .process import DriverProcess

T = TypeVar("T")


class AsyncSession:
    """One run of a driver executable with its asyncio channel and what its handshake announced."""

    def __init__(self, process: DriverProcess, connection: AsyncConnection, info: DriverInfo, options: ProxyOptions):
        self.process = process
        self.connection = connection
        self.info = info
        self.options = options

    @classmethod
    async def start(
        cls, executable: str, name: str, parameters: Mapping[str, Any], options: ProxyOptions
    ) -> AsyncSession:
        """Spawn and shake hands; raises what :meth:`registry_storage.client.session.Session.start` raises."""
        loop = asyncio.get_running_loop()
        process = await loop.run_in_executor(None, DriverProcess.spawn, executable, name, parameters, options)
        connection = AsyncConnection(
            process.stdout,
            process.stdin,
            name,
            on_exit=process.exited_error,
            timeout=options.timeout,
            limits=options.limits,
        )
        try:
            info = await connection.run(
                calls.handshake(connection.core, options.protocol_versions, name, options.start_timeout)
            )
        except DriverExitedError as exited:
            await cls._stop(process, connection, options, shutdown=False)
            failure = calls.startup_failure(exited, name)
            if failure is exited:
                raise
            raise failure from exited
        except BaseException as error:
            await cls._stop(process, connection, options, shutdown=isinstance(error, IncompatibleVersionError))
            raise
        finally:
            process.release_parameters()
        process.driver = info.name
        if not info.can("concurrent"):
            connection.limit_in_flight(1)
        return cls(process, connection, info, options)

    @property
    def alive(self) -> bool:
        """True while the driver's channel is open."""
        return self.connection.failure is None

    async def stop(self) -> int:
        """The stop sequence (``shutdown``, close stdin, SIGTERM, SIGKILL, each step bounded); the exit status."""
        return await self._stop(self.process, self.connection, self.options, shutdown=True)

    @staticmethod
    async def _stop(
        process: DriverProcess, connection: AsyncConnection, options: ProxyOptions, *, shutdown: bool
    ) -> int:
        step = options.stop_timeout
        if shutdown:
            await connection.run(calls.shutdown(connection.core, step))
        connection.close_writer()
        status = await asyncio.get_running_loop().run_in_executor(None, process.stop, step)
        if not await connection.join(step):
            connection.detach()
        return status


async def _once(content: bytes) -> AsyncIterator[bytes]:
    """``content`` as an async source of one chunk."""
    yield content


def _abandon(box: list[AsyncSession]) -> None:
    """Garbage collection of an unclosed proxy: close the child's stdin, so it exits at the end of its input."""
    with contextlib.suppress(Exception):
        box[0].process.stdin.close()


class AsyncProxyDriver(AsyncStorageDriver):
    """The driver ``name`` running as the child ``executable``; create it with :meth:`start`. Any number of tasks
    share the one child; ``await close()`` (or leaving ``async with``) stops it."""

    def __init__(self, executable: str, name: str, parameters: Mapping[str, Any], options: ProxyOptions) -> None:
        self.executable = executable
        self._launch_name = name
        self._parameters = dict(parameters)
        self.options = options
        self._box: list[AsyncSession] = []
        self._closed = False
        self._restarting = asyncio.Lock()
        self._finalizer: weakref.finalize[Any, Any] | None = None

    @classmethod
    async def start(
        cls, executable: str, name: str, parameters: Mapping[str, Any] | None, options: ProxyOptions
    ) -> AsyncProxyDriver:
        """Start the child and shake hands; raises as the threaded proxy's constructor does."""
        proxy = cls(executable, name, parameters or {}, options)
        session = await AsyncSession.start(executable, name, proxy._parameters, options)
        proxy._box.append(session)
        proxy._finalizer = weakref.finalize(proxy, _abandon, proxy._box)
        proxy.name = session.info.name
        return proxy

    @property
    def session(self) -> AsyncSession:
        """The current child and its channel (a new one after a restart)."""
        return self._box[0]

    @property
    def pid(self) -> int:
        return self.session.process.pid

    async def _connection(self) -> AsyncConnection:
        session = self._box[0]
        if self._closed:
            raise StorageDriverError("the driver proxy is closed", driver=self.name)
        if session.alive or not self.options.restart:
            return session.connection
        async with self._restarting:
            if self._closed:
                raise StorageDriverError("the driver proxy is closed", driver=self.name)
            if self._box[0] is session:
                await session.stop()
                self._box[0] = await AsyncSession.start(
                    self.executable, self._launch_name, self._parameters, self.options
                )
            return self._box[0].connection

    async def _run(self, build: Any, *args: Any) -> Any:
        connection = await self._connection()
        return await connection.run(build(connection.core, *args))

    async def ping(self) -> None:
        """Check that the driver answers; DriverExitedError or DeadlineExceededError when it does not."""
        await self._run(calls.ping)

    async def close(self) -> None:
        """Stop the child: ``shutdown``, close stdin, SIGTERM, SIGKILL, each step with ``options.stop_timeout``."""
        if self._closed:
            return
        self._closed = True
        if self._finalizer is not None:
            self._finalizer.detach()
        if self._box:
            await self._box[0].stop()

    # -- AsyncStorageDriver --------------------------------------------------------------------------------------

    async def _get_content(self, path: str) -> bytes:
        content: bytes = await self._run(calls.get_content, path, self.options.chunk_bytes, self.options.stop_timeout)
        return content

    async def _put_content(self, path: str, content: bytes) -> None:
        connection = await self._connection()
        options = self.options
        program = calls.put_content(
            connection.core,
            path,
            content,
            paged=self.session.info.paged,
            chunk_bytes=options.chunk_bytes,
            cancel_timeout=options.stop_timeout,
        )
        await connection.run(program, source=_once(content))

    async def _read_stream(self, path: str, offset: int) -> AsyncReadStream:
        connection = await self._connection()
        options = self.options
        opening = ReadPuller.open(
            connection.core, path, offset, chunk_bytes=options.chunk_bytes, cancel_timeout=options.stop_timeout
        )
        return AsyncProxyReadStream(connection, await connection.run(opening), owner=self)

    async def _write_stream(self, path: str, offset: int, chunks: AsyncIterator[bytes]) -> int:
        connection = await self._connection()
        options = self.options
        program = calls.write_stream(
            connection.core, path, offset, chunk_bytes=options.chunk_bytes, cancel_timeout=options.stop_timeout
        )
        return await connection.run(program, source=chunks)

    async def _stat(self, path: str) -> FileInfo:
        info: FileInfo = await self._run(calls.stat, path)
        return info

    async def _list(self, path: str) -> PathList:
        connection = await self._connection()
        paths: PathList = await connection.run(calls.list_paths(connection.core, path, paged=self.session.info.paged))
        return paths

    async def _walk(self, path: str, start_after: str | None = None) -> AsyncIterator[FileInfo]:
        connection = await self._connection()
        info = self.session.info
        program = calls.walk(connection.core, path, start_after, driver_walks=info.can("walk"), paged=info.paged)
        async for entry in connection.iterate(program):
            yield entry

    async def _move(self, source: str, destination: str) -> None:
        await self._run(calls.move, source, destination)

    async def _delete(self, path: str) -> None:
        await self._run(calls.delete, path)

    async def _url_for(self, path: str, **options: Any) -> str:
        url: str = await self._run(calls.url_for, path, options)
        return url

    def __repr__(self) -> str:
        pid = self.session.process.pid if self._box else None
        return f"<AsyncProxyDriver {self.name!r} pid={pid} executable={self.executable!r}>"


class AsyncProxyReadStream(AsyncReadStream):
    """One driver read stream on the asyncio channel: pulls with the shared window logic, reads serialised."""

    def __init__(self, connection: AsyncConnection, puller: ReadPuller, *, owner: object = None) -> None:
        self._connection = connection
        self._puller = puller
        self._owner = owner  # keeps the proxy (and its child) alive while the stream is in use
        self._chunk = ChunkCursor()
        self._closed = False
        self._lock = asyncio.Lock()

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def stream_id(self) -> int:
        return self._puller.stream

    async def _next_chunk(self) -> bool:
        chunk = await self._connection.run(self._puller.next_chunk())
        if chunk is None:
            return False
        self._chunk.load(chunk)
        return True

    def _check_open(self) -> None:
        if self._closed:
            raise ValueError("I/O operation on closed stream")

    async def read(self, size: int = -1) -> bytes:
        async with self._lock:
            self._check_open()
            wanted = size if size >= 0 else -1
            chunk = self._chunk
            parts: list[memoryview] = []
            while wanted:
                if not chunk.available and not await self._next_chunk():
                    break
                piece = chunk.take(chunk.available if wanted < 0 else wanted)
                parts.append(piece)
                if wanted > 0:
                    wanted -= len(piece)
            return joined(parts)

    async def read1(self) -> bytes:
        async with self._lock:
            self._check_open()
            chunk = self._chunk
            if not chunk.available and not await self._next_chunk():
                return b""
            return joined([chunk.take(chunk.available)])

    async def close(self) -> None:
        if self._closed:
            return
        async with self._lock:
            self._closed = True
            self._chunk.clear()
            await self._connection.run(self._puller.close())


async def launch_async(
    executable: str,
    name: str,
    parameters: Mapping[str, Any] | None = None,
    *,
    options: ProxyOptions | None = None,
    **overrides: Any,
) -> AsyncProxyDriver:
    """Start ``executable`` as driver ``name`` behind the asyncio proxy (the async twin of :func:`launch`)."""
    chosen = options or ProxyOptions()
    if overrides:
        chosen = dataclasses.replace(chosen, **overrides)
    return await AsyncProxyDriver.start(executable, name, parameters, chosen)
