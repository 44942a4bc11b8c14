"""AsyncStorageDriver: the StorageDriver contract as coroutines, and AsyncReadStream, its async binary stream.

The public methods are final, as on :class:`~registry_storage.driver.StorageDriver`: they validate paths and offsets
once, with the same rules and errors, then await the protected ``_``-prefixed methods an implementation provides.
Errors without a driver name get ``self.name`` filled in. Each method's contract is its sync twin's (DESIGN.md
section 3).
"""

from __future__ import annotations

import abc
import builtins
from collections.abc import AsyncIterator
from types import TracebackType
from typing import Any, TypeVar

from registry_storage.driver import attributed, check_offset, check_url_options
from registry_storage.fileinfo import FileInfo
from registry_storage.paths import ROOT, check_path

from .sources import AsyncByteSource, aiter_chunks

PathList = builtins.list[str]
_Stream = TypeVar("_Stream", bound="AsyncReadStream")
_Driver = TypeVar("_Driver", bound="AsyncStorageDriver")


class AsyncReadStream(abc.ABC):
    """An async binary stream: ``await read(n)``, ``async for chunk in stream``, ``async with stream``.

    ``read(n)`` returns at most ``n`` bytes (all the rest when ``n`` is negative), ``b""`` only at the end;
    iterating yields chunks as they arrive. Closing before the end releases the stream on the driver.
    """

    @abc.abstractmethod
    async def read(self, size: int = -1) -> bytes:
        """Up to ``size`` bytes (all the rest when negative); ``b""`` only at the end."""

    @abc.abstractmethod
    async def read1(self) -> bytes:
        """The next chunk, as it arrived; ``b""`` only at the end."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Close the stream (twice is harmless)."""

    @property
    @abc.abstractmethod
    def closed(self) -> bool:
        """True once closed."""

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self

    async def __anext__(self) -> bytes:
        chunk = await self.read1()
        if not chunk:
            raise StopAsyncIteration
        return chunk

    async def __aenter__(self: _Stream) -> _Stream:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        await self.close()


class _Walk:
    """The async iterator ``walk`` returns; path errors surface at the first ``__anext__``."""

    def __init__(self, driver: AsyncStorageDriver, path: str, start_after: str | None) -> None:
        self._driver = driver
        self._path = path
        self._start_after = start_after
        self._entries: AsyncIterator[FileInfo] | None = None

    def __aiter__(self) -> _Walk:
        return self

    async def __anext__(self) -> FileInfo:
        with attributed(self._driver.name):
            if self._entries is None:
                check_path(self._path, allow_root=True)
                if self._start_after is not None:
                    check_path(self._start_after, allow_root=True)
                self._entries = self._driver._walk(self._path, self._start_after)
            return await self._entries.__anext__()


class AsyncStorageDriver(abc.ABC):
    """Filesystem-like key/value storage as coroutines: the contract, errors and path rules of StorageDriver.

    Safe for any number of concurrent tasks on one event loop. ``async with driver:`` closes it.
    """

    name: str = "driver"

    async def get_content(self, path: str) -> bytes:
        """The whole content of the file at ``path``; PathNotFoundError for nothing or a directory there."""
        with attributed(self.name):
            check_path(path)
            return await self._get_content(path)

    async def put_content(self, path: str, content: bytes) -> None:
        """Store ``content`` as the whole content of ``path``, creating parents; atomic for concurrent readers."""
        with attributed(self.name):
            check_path(path)
            if not isinstance(content, (bytes, bytearray, memoryview)):
                raise TypeError(f"content must be bytes, not {type(content).__name__}")
            await self._put_content(path, bytes(content))

    async def read_stream(self, path: str, offset: int = 0) -> AsyncReadStream:
        """An async stream of the file at ``path`` from ``offset`` (at or past the end: at EOF at once).

        Raises InvalidOffsetError for a negative offset and PathNotFoundError when no file is at ``path``.
        """
        with attributed(self.name):
            check_path(path)
            return await self._read_stream(path, check_offset(path, offset))

    async def write_stream(self, path: str, offset: int, source: AsyncByteSource) -> int:
        """Write everything ``source`` gives to ``path`` at ``offset``; return the bytes read from it.

        ``source``: bytes, a sync or async iterable of bytes, or a reader with a sync or async ``read(n)``. The
        result is the old content cut or zero-extended to ``offset``, then every byte read; interrupted (the source
        raises, the task is cancelled), it is that base plus a prefix, ``stat`` tells its size, and the error
        propagates. Raises InvalidOffsetError for a negative offset.
        """
        with attributed(self.name):
            check_path(path)
            return await self._write_stream(path, check_offset(path, offset), aiter_chunks(source))

    async def stat(self, path: str) -> FileInfo:
        """Describe ``path`` (``/`` is always a directory); PathNotFoundError when nothing is at or below it."""
        with attributed(self.name):
            check_path(path, allow_root=True)
            return await self._stat(path)

    async def list(self, path: str) -> PathList:
        """The sorted absolute paths of the children of directory ``path``; PathNotFoundError for a missing path or
        a file (``list("/")`` always works)."""
        with attributed(self.name):
            check_path(path, allow_root=True)
            return await self._list(path)

    def walk(self, path: str = ROOT, start_after: str | None = None) -> AsyncIterator[FileInfo]:
        """Every descendant of directory ``path``, depth-first, parent before children, siblings sorted; with
        ``start_after``, only the entries after that path in walk order (see StorageDriver.walk).

        PathNotFoundError (and InvalidPathError, also for ``start_after``) surface at the first ``__anext__``.
        """
        return _Walk(self, path, start_after)

    async def move(self, source: str, destination: str) -> None:
        """Move the file ``source`` to ``destination`` (see StorageDriver.move)."""
        with attributed(self.name):
            check_path(source)
            check_path(destination)
            await self._move(source, destination)

    async def delete(self, path: str) -> None:
        """Delete ``path`` and everything below it; PathNotFoundError when nothing is there."""
        with attributed(self.name):
            check_path(path)
            await self._delete(path)

    async def url_for(self, path: str, /, **options: Any) -> str:
        """A URL to GET the content of ``path`` from; UnsupportedMethodError when the driver cannot make one,
        InvalidParameterError for an option named ``path`` or ``self``."""
        with attributed(self.name):
            check_path(path)
            check_url_options(options)
            return await self._url_for(path, **options)

    async def close(self) -> None:
        """Release the driver's resources (twice is harmless)."""
        return

    async def __aenter__(self: _Driver) -> _Driver:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"

    # -- what an implementation provides; arguments are already validated ----------------------------------------

    @abc.abstractmethod
    async def _get_content(self, path: str) -> bytes: ...

    @abc.abstractmethod
    async def _put_content(self, path: str, content: bytes) -> None: ...

    @abc.abstractmethod
    async def _read_stream(self, path: str, offset: int) -> AsyncReadStream: ...

    @abc.abstractmethod
    async def _write_stream(self, path: str, offset: int, chunks: AsyncIterator[bytes]) -> int: ...

    @abc.abstractmethod
    async def _stat(self, path: str) -> FileInfo: ...

    @abc.abstractmethod
    async def _list(self, path: str) -> PathList: ...

    @abc.abstractmethod
    def _walk(self, path: str, start_after: str | None = None) -> AsyncIterator[FileInfo]: ...

    @abc.abstractmethod
    async def _move(self, source: str, destination: str) -> None: ...

    @abc.abstractmethod
    async def _delete(self, path: str) -> None: ...

    @abc.abstractmethod
    async def _url_for(self, path: str, **options: Any) -> str: ...
