"""The in-memory driver: a thread-safe store that lives and dies with the process.

A file's content is an append-only list of immutable ``bytes`` chunks and zero-filled gaps, a gap stored as its length
alone whatever its size. Readers take a snapshot (the lists and a chunk count) and never copy more than they return;
an overwrite installs new lists, so a reader opened before it keeps seeing the old content. The tree is a directory
of names per level, never of whole paths, so a path costs memory and work in proportion to its length.
"""

from __future__ import annotations

import bisect
import io
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar

from registry_storage.driver import PathList, StorageDriver
from registry_storage.errors import PathConflictError, PathNotFoundError
from registry_storage.fileinfo import EPOCH, FileInfo
from registry_storage.parameters import Parameter, parse_parameters
from registry_storage.paths import ROOT, join
from registry_storage.walkorder import Step, step

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

_MICROSECOND_NS = 1000


def _mod_time(ns: int) -> datetime:
    return EPOCH + timedelta(microseconds=ns // _MICROSECOND_NS)


class _Gap:
    """A run of ``length`` zero bytes in a file's content, stored as its length alone."""

    __slots__ = ("length",)

    def __init__(self, length: int) -> None:
        self.length = length


Chunk = bytes | _Gap
_ZERO_BLOCK = bytes(1 << 20)
"""Shared zeros a gap is read from, a block at a time."""


def _length(chunk: Chunk) -> int:
    return chunk.length if isinstance(chunk, _Gap) else len(chunk)


def _cut(chunk: Chunk, length: int) -> Chunk:
    """The first ``length`` bytes of ``chunk``."""
    return _Gap(length) if isinstance(chunk, _Gap) else chunk[:length]


@dataclass
class _File:
    """One file: its content as chunks, ``ends[i]`` the content length through chunk ``i``, and its mod time.

    A chunk is immutable bytes or a :class:`_Gap`, so a gap of any size costs a few bytes.
    """

    mod_ns: int
    chunks: list[Chunk] = field(default_factory=list)
    ends: list[int] = field(default_factory=list)

    @property
    def size(self) -> int:
        return self.ends[-1] if self.ends else 0

    def append(self, chunk: Chunk) -> None:
        """Add ``chunk`` at the end; readers holding a snapshot do not see it."""
        length = _length(chunk)
        if length:
            self.ends.append(self.size + length)
            self.chunks.append(chunk)

    def resized(self, length: int, mod_ns: int) -> _File:
        """A new file holding this content cut or zero-extended to ``length``."""
        result = _File(mod_ns)
        if length >= self.size:
            result.chunks, result.ends = self.chunks[:], self.ends[:]
            result.append(_Gap(length - self.size))
            return result
        index = bisect.bisect_right(self.ends, length)
        result.chunks, result.ends = self.chunks[:index], self.ends[:index]
        result.append(_cut(self.chunks[index], length - result.size))
        return result

    def reader(self, offset: int) -> _ContentReader:
        """A stream over the content as it is now, positioned at ``offset``."""
        return _ContentReader(self.chunks, self.ends, len(self.chunks), offset)


class _ContentReader(io.BufferedIOBase):
    """A seekable binary stream over the first ``count`` chunks of a file, which never change."""

    def __init__(self, chunks: list[Chunk], ends: list[int], count: int, offset: int) -> None:
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
            start = self._position - (self._ends[index] - _length(chunk))
            length = min(_length(chunk) - start, remaining)
            if isinstance(chunk, _Gap):
                length = min(length, len(_ZERO_BLOCK))
                yield memoryview(_ZERO_BLOCK)[:length]
            else:
                yield chunk if length == len(chunk) else memoryview(chunk)[start : start + length]
            self._position += length
            remaining -= length

    def _check_open(self) -> None:
        if self.closed:
            raise ValueError("I/O operation on closed stream")


@dataclass
class _Directory:
    """A directory: its direct children by name, and when that set last changed.

    The tree holds names, never whole paths, so a path costs memory in proportion to its length.
    """

    mod_ns: int
    children: dict[str, _File | _Directory] = field(default_factory=dict)


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
        self._root = _Directory(self._tick())

    @classmethod
    def from_parameters(cls, parameters: Mapping[str, Any]) -> InMemoryDriver:
        """Build the driver; raises InvalidParameterError for any parameter, since it takes none."""
        parse_parameters(cls.name, cls.PARAMETERS, parameters)
        return cls()

    # -- reading -----------------------------------------------------------------------------------------------

    def _get_content(self, path: str) -> bytes:
        with self._lock:
            chunks = self._file(path).chunks[:]
        return b"".join(bytes(chunk.length) if isinstance(chunk, _Gap) else chunk for chunk in chunks)

    def _read_stream(self, path: str, offset: int) -> io.BufferedIOBase:
        with self._lock:
            return self._file(path).reader(offset)

    def _stat(self, path: str) -> FileInfo:
        with self._lock:
            return self._info(path, self._node(path))

    def _list(self, path: str) -> PathList:
        with self._lock:
            return [join(path, name) for name in sorted(self._directory(path).children)]

    def _walk(self, path: str, start_after: str | None = None) -> Iterator[FileInfo]:
        with self._lock:
            infos: list[FileInfo] = []
            # depth-first with a stack of (directory path, directory, names still to visit (the smallest last), hint)
            top = self._directory(path)
            stack = [(path, top, sorted(top.children, reverse=True), start_after)]
            while stack:
                directory_path, directory, names, hint = stack[-1]
                if not names:
                    stack.pop()
                    continue
                name = names.pop()
                child_path = join(directory_path, name)
                where = step(child_path, hint)
                if where is Step.SKIP:
                    continue
                node = directory.children[name]
                if where is Step.YIELD:
                    infos.append(self._info(child_path, node))
                if isinstance(node, _Directory):
                    subtree_hint = None if where is Step.YIELD else hint
                    stack.append((child_path, node, sorted(node.children, reverse=True), subtree_hint))
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
            existing = self._node(path, missing_ok=True)
            file = (existing if isinstance(existing, _File) else _File(now)).resized(offset, now)
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
            node = self._node(source)
            if isinstance(node, _Directory):
                raise PathConflictError(source, "cannot move a directory")
            assert isinstance(node, _File)  # _node raised PathNotFoundError for nothing
            self._check_file_path(destination)
            if source == destination:
                return
            self._unlink(source)
            self._store(destination, node)

    def _delete(self, path: str) -> None:
        with self._lock:
            self._node(path)
            self._unlink(path)  # the subtree goes with its node

    # -- the tree; every method below runs with the lock held --------------------------------------------------------

    def _tick(self) -> int:
        """A modification time in nanoseconds, a whole microsecond later than the one before."""
        now = time.time_ns() // _MICROSECOND_NS * _MICROSECOND_NS
        self._last_ns = max(now, self._last_ns + _MICROSECOND_NS)
        return self._last_ns

    def _chain(self, path: str) -> list[_Directory]:
        """The directories from the root down to the parent of ``path`` that exist (fewer when one is missing).

        A file on the way ends the chain too; :meth:`_node` and :meth:`_check_file_path` tell the cases apart.
        """
        chain = [self._root]
        if path == ROOT:
            return chain
        names = path[1:].split("/")
        for name in names[:-1]:
            node = chain[-1].children.get(name)
            if not isinstance(node, _Directory):
                break
            chain.append(node)
        return chain

    def _node(self, path: str, *, missing_ok: bool = False) -> _File | _Directory | None:
        """The file or directory at ``path``; PathNotFoundError when nothing is there (None with ``missing_ok``)."""
        if path == ROOT:
            return self._root
        chain = self._chain(path)
        node = chain[-1].children.get(_leaf(path)) if len(chain) == path.count("/") else None
        if node is None and not missing_ok:
            raise PathNotFoundError(path)
        return node

    def _file(self, path: str) -> _File:
        node = self._node(path)
        if not isinstance(node, _File):
            raise PathNotFoundError(path)
        return node

    def _directory(self, path: str) -> _Directory:
        node = self._node(path)
        if not isinstance(node, _Directory):
            raise PathNotFoundError(path)
        return node

    @staticmethod
    def _info(path: str, node: _File | _Directory | None) -> FileInfo:
        if isinstance(node, _File):
            return FileInfo(path, node.size, _mod_time(node.mod_ns), is_dir=False)
        assert node is not None
        return FileInfo(path, 0, _mod_time(node.mod_ns), is_dir=True)

    def _check_file_path(self, path: str) -> None:
        """Raise PathConflictError unless a file may be stored at ``path``."""
        chain = self._chain(path)
        depth = path.count("/")
        if len(chain) < depth:  # stopped early: a file, or nothing, where a directory would be
            names = path[1:].split("/")
            if isinstance(chain[-1].children.get(names[len(chain) - 1]), _File):
                raise PathConflictError(path, f"/{'/'.join(names[: len(chain)])} is a file")
            return
        if isinstance(chain[-1].children.get(_leaf(path)), _Directory):
            raise PathConflictError(path, "a directory is at this path")

    def _store(self, path: str, file: _File) -> None:
        """Put ``file`` at ``path`` (checked with _check_file_path), creating its parent directories."""
        chain = self._chain(path)
        names = path[1:].split("/")
        parent = chain[-1]
        leaf = names[-1]
        if len(chain) < len(names) or leaf not in parent.children:
            parent.mod_ns = self._tick()
            for name in names[len(chain) - 1 : -1]:
                directory = _Directory(self._tick())
                parent.children[name] = directory
                parent = directory
        parent.children[leaf] = file

    def _unlink(self, path: str) -> None:
        """Remove ``path`` from its parent and remove every ancestor left empty, the root aside."""
        chain = self._chain(path)
        names = path[1:].split("/")
        del chain[-1].children[names[-1]]
        for depth in range(len(chain) - 1, -1, -1):
            directory = chain[depth]
            directory.mod_ns = self._tick()
            if directory.children or depth == 0:
                return
            del chain[depth - 1].children[names[depth - 1]]


def _leaf(path: str) -> str:
    """The last component of ``path``."""
    return path.rsplit("/", 1)[1]


__all__ = ["InMemoryDriver"]
