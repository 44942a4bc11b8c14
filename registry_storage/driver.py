"""StorageDriver: the one interface every backend implements.

The public methods are final: they validate paths and offsets once, for every driver, then call the protected
``_``-prefixed methods a driver implements. Errors a driver raises without a driver name get ``self.name`` filled in.
Every public call is observed there too (:mod:`registry_storage.observability`): a span, its metrics, its bytes.
The full contract of each method is in the public method's docstring (and DESIGN.md section 3).
"""

from __future__ import annotations

import abc
import builtins
from collections.abc import Generator, Iterator, Mapping
from contextlib import contextmanager
from io import BufferedIOBase
from types import TracebackType
from typing import Any

from registry_storage.errors import (
    InvalidOffsetError,
    InvalidParameterError,
    PathNotFoundError,
    StorageDriverError,
    UnsupportedMethodError,
)
from registry_storage.fileinfo import FileInfo
from registry_storage.observability.calls import READ, WRITTEN, observe
from registry_storage.paths import ROOT, check_path
from registry_storage.streams import ByteSource, iter_chunks
from registry_storage.walkorder import Step, step

_RESERVED_OPTIONS = frozenset({"path", "self"})
"""Names url_for options cannot have: the arguments of the method and its hook."""

INTERFACE_VERSION = "1.1"
"""Version of the StorageDriver interface, ``"major.minor"`` (the wire protocol has a version of its own,
:data:`registry_storage.wire.PROTOCOL_VERSION`)."""

PathList = builtins.list[str]


@contextmanager
def attributed(driver: str) -> Generator[None, None, None]:
    """Fill in ``driver`` on any StorageDriverError that leaves the block without one."""
    try:
        yield
    except StorageDriverError as error:
        if not error.driver:
            error.driver = driver
        raise


def check_url_options(options: Mapping[str, object]) -> None:
    """Raise InvalidParameterError for a ``url_for`` option named ``path`` or ``self``, which no driver takes."""
    for reserved in sorted(_RESERVED_OPTIONS.intersection(options)):
        raise InvalidParameterError(reserved, "is not a url_for option (the name is reserved)")


def check_offset(path: str, offset: object) -> int:
    """``offset`` when it is a non-negative integer; InvalidOffsetError(path, offset) otherwise."""
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise InvalidOffsetError(path, offset)
    return offset


class StorageDriver(abc.ABC):
    """Filesystem-like key/value storage.

    Every driver is thread-safe. Paths follow :mod:`registry_storage.paths`; an invalid path raises
    :class:`~registry_storage.errors.InvalidPathError` before storage is touched. Directories exist only through
    what lies below them.
    """

    name: str = "driver"
    """The driver's registered name, used in errors and logs."""

    # -- reading -----------------------------------------------------------------------------------------------

    def get_content(self, path: str) -> bytes:
        """Return the whole content of the file at ``path``.

        Raises PathNotFoundError when nothing, or a directory, is at ``path``.
        """
        with observe(self.name, "get_content", path=path) as call:
            check_path(path)
            content = self._get_content(path)
            call.moved(READ, len(content))
            return content

    def read_stream(self, path: str, offset: int = 0) -> BufferedIOBase:
        """Open the file at ``path`` for reading from byte ``offset``; the caller closes the stream.

        An ``offset`` at or past the end gives a stream at EOF at once. Raises InvalidOffsetError for a negative
        offset and PathNotFoundError when no file is at ``path`` (at any offset).
        """
        with observe(self.name, "read_stream", path=path, offset=offset) as call:
            check_path(path)
            return call.stream(self._read_stream(path, check_offset(path, offset)))

    def stat(self, path: str) -> FileInfo:
        """Describe ``path``: a file (its size and mod_time) or a directory (size 0); ``/`` is always a directory.

        Raises PathNotFoundError when nothing is at or below ``path``.
        """
        with observe(self.name, "stat", path=path):
            check_path(path, allow_root=True)
            return self._stat(path)

    def list(self, path: str) -> PathList:
        """Return the absolute paths of the direct children of directory ``path``, sorted, without trailing slash.

        ``list("/")`` always works (``[]`` on an empty store). Raises PathNotFoundError for a missing path or a file.
        """
        with observe(self.name, "list", path=path):
            check_path(path, allow_root=True)
            return self._list(path)

    def walk(self, path: str = ROOT, start_after: str | None = None) -> Iterator[FileInfo]:
        """Yield every descendant of directory ``path``, depth-first, parent before children, siblings sorted.

        Siblings sort by the bytes of their names, so over full paths ``/`` sorts below every other character
        (:func:`registry_storage.walkorder.walk_key`): ``/a/b/x`` comes before ``/a/b-c``. With ``start_after``, only
        the entries after that path in this order are yielded; it need not exist, nor lie below ``path`` (``/`` means
        no entry is left out). Raises PathNotFoundError (at the call, not at the first item) when ``path`` is missing
        or a file, whatever ``start_after`` is, and InvalidPathError for an invalid ``path`` or ``start_after``.
        """
        with observe(self.name, "walk", path=path) as call:
            check_path(path, allow_root=True)
            if start_after is not None:
                check_path(start_after, allow_root=True)
            return call.entries(self._attributed_entries(self._walk(path, start_after)))

    def _attributed_entries(self, entries: Iterator[FileInfo]) -> Iterator[FileInfo]:
        with attributed(self.name):
            yield from entries

    # -- writing -----------------------------------------------------------------------------------------------

    def put_content(self, path: str, content: bytes) -> None:
        """Store ``content`` as the whole content of ``path``, creating parents; atomic for concurrent readers.

        Raises PathConflictError when ``path`` is a directory or lies below a file.
        """
        with observe(self.name, "put_content", path=path) as call:
            check_path(path)
            if not isinstance(content, (bytes, bytearray, memoryview)):
                raise TypeError(f"content must be bytes, not {type(content).__name__}")
            self._put_content(path, bytes(content))
            call.moved(WRITTEN, len(content))

    def write_stream(self, path: str, offset: int, reader: ByteSource) -> int:
        """Write everything ``reader`` yields to ``path`` at ``offset``; return the number of bytes read.

        The result is the old content cut or zero-extended to ``offset``, then every byte read. If the write is
        interrupted after it began (the reader raises, the call is cancelled), the content is that base plus the
        first k bytes read for some k, ``stat(path).size`` tells ``offset + k``, and the error propagates, so the
        caller can resume from there. Raises InvalidOffsetError for a negative offset.
        """
        with observe(self.name, "write_stream", path=path, offset=offset) as call:
            check_path(path)
            written = self._write_stream(path, check_offset(path, offset), iter_chunks(reader))
            call.moved(WRITTEN, written)
            return written

    def move(self, source: str, destination: str) -> None:
        """Move the file ``source`` to ``destination``, replacing it and creating its parents.

        Raises PathNotFoundError(source) when source is missing, leaving destination untouched; PathConflictError,
        before anything changes, when source is a directory or destination is a directory or lies below a file.
        """
        with observe(self.name, "move", path=source, destination=destination):
            check_path(source)
            check_path(destination)
            self._move(source, destination)

    def delete(self, path: str) -> None:
        """Delete the file or directory at ``path`` and everything below it (``/a`` never touches ``/ab``).

        Raises PathNotFoundError when nothing is at ``path``.
        """
        with observe(self.name, "delete", path=path):
            check_path(path)
            self._delete(path)

    def url_for(self, path: str, /, **options: Any) -> str:
        """Return a URL a client can GET the content of ``path`` from.

        Raises UnsupportedMethodError when the driver cannot make one, and InvalidParameterError for an option named
        ``path`` or ``self``, which no driver takes (they would collide with the arguments of the method).
        """
        with observe(self.name, "url_for", path=path):
            check_path(path)
            check_url_options(options)
            return self._url_for(path, **options)

    # -- lifecycle ---------------------------------------------------------------------------------------------

    def close(self) -> None:
        """Release the driver's resources; the driver must not be used afterwards. Closing twice is harmless."""
        return

    def __enter__(self) -> StorageDriver:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"

    # -- what a driver implements; arguments are already validated -----------------------------------------------

    @abc.abstractmethod
    def _get_content(self, path: str) -> bytes: ...

    @abc.abstractmethod
    def _put_content(self, path: str, content: bytes) -> None: ...

    @abc.abstractmethod
    def _read_stream(self, path: str, offset: int) -> BufferedIOBase: ...

    @abc.abstractmethod
    def _write_stream(self, path: str, offset: int, chunks: Iterator[bytes]) -> int: ...

    @abc.abstractmethod
    def _stat(self, path: str) -> FileInfo: ...

    @abc.abstractmethod
    def _list(self, path: str) -> PathList: ...

    @abc.abstractmethod
    def _move(self, source: str, destination: str) -> None: ...

    @abc.abstractmethod
    def _delete(self, path: str) -> None: ...

    def _walk(self, path: str, start_after: str | None = None) -> Iterator[FileInfo]:
        """Derive walk from list and stat, skipping the subtrees that lie wholly before ``start_after``; drivers
        with a flat listing should do better."""
        children = self._list(path)
        return self._walk_children(children, start_after)

    def _walk_children(self, children: PathList, start_after: str | None) -> Iterator[FileInfo]:
        for child in children:
            where = step(child, start_after)
            if where is Step.SKIP:
                continue
            if where is Step.DESCEND:
                try:
                    grandchildren = self._list(child)
                except PathNotFoundError:
                    continue  # a file, or removed while walking
                yield from self._walk_children(grandchildren, start_after)
                continue
            try:
                info = self._stat(child)
            except PathNotFoundError:
                continue  # removed while walking
            yield info
            if info.is_dir:
                try:
                    grandchildren = self._list(child)
                except PathNotFoundError:
                    continue
                yield from self._walk_children(grandchildren, None)

    def _url_for(self, path: str, **options: Any) -> str:
        raise UnsupportedMethodError("url_for")
