"""The in-memory driver: a thread-safe store that lives and dies with the process.

A file's content is an append-only list of immutable ``bytes`` chunks. Readers take a snapshot (the lists and a chunk
count) and never copy more than they return; an overwrite installs new lists, so a reader opened before it keeps
seeing the old content. Zero-filled gaps share one block of zeros instead of allocating the whole gap.
"""

from __future__ import annotations

import bisect
import io
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar

from registry_storage.driver import PathList, StorageDriver
from registry_storage.errors import PathConflictError, PathNotFoundError
from registry_storage.fileinfo import EPOCH, FileInfo
from registry_storage.parameters import Parameter, parse_parameters
from registry_storage.paths import ROOT, ancestors
from registry_storage.streams import zeros
from registry_storage.walkorder import Step, step

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

_MICROSECOND_NS = 1000


def _mod_time(ns: int) -> datetime:
    return EPOCH + timedelta(microseconds=ns // _MICROSECOND_NS)


@dataclass
class _File:
    """One file: its content as chunks, ``ends[i]`` the content length through chunk ``i``, and its mod time."""

    mod_ns: int
    chunks: list[bytes] = field(default_factory=list)
    ends: list[int] = field(default_factory=list)

    @property
    def size(self) -> int:
        return self.ends[-1] if self.ends else 0

    def append(self, chunk: bytes) -> None:
        """Add ``chunk`` at the end; readers holding a snapshot do not see it."""
        if chunk:
            self.ends.append(self.size + len(chunk))
            self.chunks.append(chunk)

    def extend(self, chunks: Iterable[bytes]) -> None:
        for chunk in chunks:
            self.append(chunk)

    def resized(self, length: int, mod_ns: int) -> _File:
        """A new file holding this content cut or zero-extended to ``length``."""
        result = _File(mod_ns)
        if length >= self.size:
            result.chunks, result.ends = self.chunks[:], self.ends[:]
            result.extend(zeros(length - self.size))
            return result
        index = bisect.bisect_right(self.ends, length)
        result.chunks, result.ends = self.chunks[:index], self.ends[:index]
        result.append(self.chunks[index][: length - result.size])
        return result

    def reader(self, offset: int) -> _ContentReader:
        """A stream over the content as it is now, positioned at ``offset``."""
        return _ContentReader(self.chunks, self.ends, len(self.chunks), offset)


class _ContentReader(io.BufferedIOBase):
    """A seekable binary stream over the first ``count`` chunks of a file, which never change."""

    def __init__(self, chunks: list[bytes], ends: list[int], count: int, offset: int) -> None:
        super().__init__()
        self._chunks = chunks
        self._ends = ends
        self._count = count
        self._size = ends[count - 1] if count else 0
        self._position = offset

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        self._check_open()
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET, /) -> int:
        self._check_open()
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._size}.get(whence)
        if base is None:
            raise ValueError(f"invalid whence {whence!r}")
        if base + offset < 0:
            raise ValueError(f"negative seek position {base + offset}")
        self._position = base + offset
        return self._position

    def read(self, size: int | None = -1, /) -> bytes:
        self._check_open()
        pieces = list(self._pieces(size))
        if len(pieces) == 1 and isinstance(pieces[0], bytes):
            return pieces[0]
        return b"".join(pieces)

    def read1(self, size: int = -1, /) -> bytes:
        return self.read(size)

    def readinto(self, buffer: WriteableBuffer, /) -> int:
        self._check_open()
        target = memoryview(buffer).cast("B")
        filled = 0
        for piece in self._pieces(len(target)):
            target[filled : filled + len(piece)] = piece
            filled += len(piece)
        return filled

    def readinto1(self, buffer: WriteableBuffer, /) -> int:
        return self.readinto(buffer)

    def close(self) -> None:
        self._chunks, self._ends, self._count = [], [], 0
        super().close()

    def _pieces(self, size: int | None) -> Iterator[bytes | memoryview]:
        """Yield the next ``size`` bytes (all that is left when ``size`` is None or negative) and advance."""
        remaining = self._size - self._position
        if size is not None and 0 <= size < remaining:
            remaining = size
        while remaining > 0:
            index = bisect.bisect_right(self._ends, self._position, 0, self._count)
            chunk = self._chunks[index]
            start = self._position - (self._ends[index] - len(chunk))
            length = min(len(chunk) - start, remaining)
            yield chunk if length == len(chunk) else memoryview(chunk)[start : start + length]
            self._position += length
            remaining -= length

    def _check_open(self) -> None:
        if self.closed:
            raise ValueError("I/O operation on closed stream")


@dataclass
class _Directory:
    """A directory: the absolute paths of its direct children, and when that set last changed."""

    mod_ns: int
    children: set[str] = field(default_factory=set)


class InMemoryDriver(StorageDriver):
    """A thread-safe driver keeping every file in memory; the content is gone when the driver is.

    It accepts no parameters. Every method follows the StorageDriver contract: directories exist only through the
    files below them, ``mod_time`` moves strictly forward (at microsecond precision) on every change, and
    ``put_content`` replaces a file in one step, so a concurrent reader sees the old or the new content. A stream
    returned by ``read_stream`` keeps reading the content as it was when it was opened.
    """

    name = "inmemory"
    PARAMETERS: ClassVar[list[Parameter]] = []

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last_ns = 0
        self._files: dict[str, _File] = {}
        self._directories: dict[str, _Directory] = {ROOT: _Directory(self._tick())}

    @classmethod
    def from_parameters(cls, parameters: Mapping[str, Any]) -> InMemoryDriver:
        """Build the driver; raises InvalidParameterError for any parameter, since it takes none."""
        parse_parameters(cls.name, cls.PARAMETERS, parameters)
        return cls()

    # -- reading -----------------------------------------------------------------------------------------------

    def _get_content(self, path: str) -> bytes:
        with self._lock:
            file = self._file(path)
            chunks = file.chunks[:]
        return b"".join(chunks)

    def _read_stream(self, path: str, offset: int) -> io.BufferedIOBase:
        with self._lock:
            return self._file(path).reader(offset)

    def _stat(self, path: str) -> FileInfo:
        with self._lock:
            return self._info(path)

    def _list(self, path: str) -> PathList:
        with self._lock:
            return sorted(self._directory(path).children)

    def _walk(self, path: str, start_after: str | None = None) -> Iterator[FileInfo]:
        with self._lock:
            pending = sorted(self._directory(path).children, reverse=True)
            infos: list[FileInfo] = []
            while pending:
                child = pending.pop()
                where = step(child, start_after)
                if where is Step.SKIP:
                    continue
                if where is Step.YIELD:
                    infos.append(self._info(child))
                directory = self._directories.get(child)
                if directory is not None:
                    pending.extend(sorted(directory.children, reverse=True))
        return iter(infos)

    # -- writing -----------------------------------------------------------------------------------------------

    def _put_content(self, path: str, content: bytes) -> None:
        with self._lock:
            self._check_file_path(path)
            file = _File(self._tick())
            file.append(content)
            self._store(path, file)

    def _write_stream(self, path: str, offset: int, chunks: Iterator[bytes]) -> int:
        with self._lock:
            self._check_file_path(path)
            now = self._tick()
            file = self._files.get(path, _File(now)).resized(offset, now)
            self._store(path, file)
        written = 0
        for chunk in chunks:
            with self._lock:
                file.append(chunk)
                file.mod_ns = self._tick()
            written += len(chunk)
        return written

    def _move(self, source: str, destination: str) -> None:
        with self._lock:
            file = self._files.get(source)
            if file is None:
                if source in self._directories:
                    raise PathConflictError(source, "cannot move a directory")
                raise PathNotFoundError(source)
            self._check_file_path(destination)
            if source == destination:
                return
            del self._files[source]
            self._unlink(source)
            self._store(destination, file)

    def _delete(self, path: str) -> None:
        with self._lock:
            if path in self._files:
                del self._files[path]
            elif path in self._directories:
                self._delete_tree(path)
            else:
                raise PathNotFoundError(path)
            self._unlink(path)

    # -- the tree; every method below runs with the lock held --------------------------------------------------------

    def _tick(self) -> int:
        """A modification time in nanoseconds, a whole microsecond later than the one before."""
        now = time.time_ns() // _MICROSECOND_NS * _MICROSECOND_NS
        self._last_ns = max(now, self._last_ns + _MICROSECOND_NS)
        return self._last_ns

    def _file(self, path: str) -> _File:
        file = self._files.get(path)
        if file is None:
            raise PathNotFoundError(path)
        return file

    def _directory(self, path: str) -> _Directory:
        directory = self._directories.get(path)
        if directory is None:
            raise PathNotFoundError(path)
        return directory

    def _info(self, path: str) -> FileInfo:
        file = self._files.get(path)
        if file is not None:
            return FileInfo(path, file.size, _mod_time(file.mod_ns), is_dir=False)
        return FileInfo(path, 0, _mod_time(self._directory(path).mod_ns), is_dir=True)

    def _check_file_path(self, path: str) -> None:
        """Raise PathConflictError unless a file may be stored at ``path``."""
        if path in self._directories:
            raise PathConflictError(path, "a directory is at this path")
        for ancestor in ancestors(path):
            if ancestor in self._files:
                raise PathConflictError(path, f"{ancestor} is a file")

    def _store(self, path: str, file: _File) -> None:
        """Put ``file`` at ``path`` (checked with _check_file_path), creating its parent directories."""
        if path not in self._files:
            child = path
            for ancestor in ancestors(path):
                directory = self._directories.get(ancestor)
                if directory is None:
                    self._directories[ancestor] = _Directory(self._tick(), {child})
                    child = ancestor
                    continue
                directory.children.add(child)
                directory.mod_ns = self._tick()
                break
        self._files[path] = file

    def _unlink(self, path: str) -> None:
        """Remove ``path`` from its parent and remove every ancestor left empty, the root aside."""
        child = path
        for ancestor in ancestors(path):
            directory = self._directories[ancestor]
            directory.children.discard(child)
            directory.mod_ns = self._tick()
            if directory.children or ancestor == ROOT:
                return
            del self._directories[ancestor]
            child = ancestor

    def _delete_tree(self, path: str) -> None:
        """Forget the directory ``path`` and everything below it (its parent still lists it)."""
        pending = [path]
        while pending:
            directory = self._directories.pop(pending.pop())
            for child in directory.children:
                if child in self._directories:
                    pending.append(child)
                else:
                    del self._files[child]


__all__ = ["InMemoryDriver"]
