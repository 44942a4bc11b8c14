"""The filesystem driver: files below a root directory of the local filesystem (POSIX systems).

The store path ``/a/b`` is the file ``<rootdirectory>/a/b``. Every access opens the path one component at a time,
relative to a descriptor of the root and never following a symbolic link, so nothing outside the root is read or
written, even when a link inside the root points out. The store never creates links; a symbolic link met on the way
to a path, or at the path itself, raises :class:`PathConflictError` saying so, for reads and writes alike. ``delete``
of a link removes the link itself, which is how an operator clears one. ``list`` and ``walk`` show only regular files
and directories whose names are valid path components.

``put_content`` writes the new content to a temporary file in the staging directory ``<rootdirectory>/.staging~``,
syncs it, renames it into place and syncs the directory: a concurrent reader sees the old or the new content. The
``~`` in the staging name can never appear in a path component, so the staging directory and its temporary files
never show through ``list``, ``walk`` or ``stat``, and a recursive ``delete`` never races with them. A temporary file
left by a crash stays there, invisible; it is safe to remove while no driver runs. The root must be one filesystem
(a mount point inside it makes the final rename fail).

``write_stream`` writes in place: the file is cut or zero-extended to the offset with ``ftruncate`` (a gap costs no
memory and, on most filesystems, no disk), then written chunk by chunk, so an interrupted write leaves the base plus
the bytes written so far. Creating parents and the final rename or open happen under one lock, as do ``delete`` and
``move`` with the pruning of the parents they leave empty, so a directory is never pruned under a concurrent write.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import secrets
import stat
import threading
from collections.abc import Generator, Iterator, Mapping
from datetime import datetime, timedelta
from io import BufferedIOBase
from types import TracebackType
from typing import Any, ClassVar

from registry_storage.driver import PathList, StorageDriver
from registry_storage.errors import (
    InvalidParameterError,
    PathConflictError,
    PathNotFoundError,
    StorageDriverError,
)
from registry_storage.fileinfo import EPOCH, FileInfo
from registry_storage.parameters import Parameter, parse_parameters
from registry_storage.paths import ROOT, is_valid_path, join
from registry_storage.walkorder import Step, step

DEFAULT_ROOT = "/var/lib/registry"
STAGING_DIRECTORY = ".staging~"
"""Where put_content prepares new content; ``~`` keeps it out of every valid path."""

_DIRECTORY_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_WRITE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_MODE = 0o666
_MICROSECOND_NS = 1000


def _refused(path: str, where: str, mode: int) -> PathConflictError:
    """The error for a symbolic link or special file at ``where`` on the way to ``path``."""
    if stat.S_ISLNK(mode):
        return PathConflictError(path, f"{where} is a symbolic link, which the store never follows")
    return PathConflictError(path, f"{where} is not a regular file or directory")


def _lstat_mode(name: str, directory_fd: int) -> int:
    """The file type bits of ``name`` without following links (0 when it is gone)."""
    try:
        return os.stat(name, dir_fd=directory_fd, follow_symlinks=False).st_mode
    except OSError:
        return 0


def _mod_time(status: os.stat_result) -> datetime:
    return EPOCH + timedelta(microseconds=status.st_mtime_ns // _MICROSECOND_NS)


def _info(path: str, status: os.stat_result) -> FileInfo | None:
    """FileInfo for a regular file or a directory; None for anything else."""
    mod_time = _mod_time(status)
    if stat.S_ISDIR(status.st_mode):
        return FileInfo(path, 0, mod_time, is_dir=True)
    if stat.S_ISREG(status.st_mode):
        return FileInfo(path, status.st_size, mod_time, is_dir=False)
    return None


def _write_all(fd: int, data: bytes, position: int) -> None:
    view = memoryview(data)
    while view:
        count = os.pwrite(fd, view, position)
        view = view[count:]
        position += count


def _advance_mod_time(fd: int, previous_ns: int) -> None:
    """Make the file's mtime at least a microsecond later than ``previous_ns``, so mod_time moves forward."""
    status = os.fstat(fd)
    if status.st_mtime_ns // _MICROSECOND_NS <= previous_ns // _MICROSECOND_NS:
        later = (previous_ns // _MICROSECOND_NS + 1) * _MICROSECOND_NS
        os.utime(fd, ns=(status.st_atime_ns, later))


def _entries(fd: int) -> list[tuple[str, bool]]:
    """The names in directory ``fd``, each with whether it is a directory (links are not followed)."""
    with os.scandir(fd) as entries:
        return [(entry.name, entry.is_dir(follow_symlinks=False)) for entry in entries]


def _remove_tree(fd: int) -> None:
    """Remove everything inside the directory ``fd`` (which stays open), never following links.

    Depth-first with an explicit stack of open directories, so a tree of any depth is removed without recursion.
    """
    # each level: its descriptor, its name in the level above, and the entries still to remove
    stack: list[tuple[int, str, list[tuple[str, bool]]]] = [(fd, "", _entries(fd))]
    try:
        while stack:
            directory, name, pending = stack[-1]
            if pending:
                child, is_directory = pending.pop()
                if is_directory:
                    child_fd = os.open(child, _DIRECTORY_FLAGS, dir_fd=directory)
                    stack.append((child_fd, child, []))
                    stack[-1][2].extend(_entries(child_fd))
                else:
                    os.unlink(child, dir_fd=directory)
                continue
            stack.pop()
            if stack:
                os.close(directory)
                os.rmdir(name, dir_fd=stack[-1][0])
    finally:
        for directory, _, _ in stack[1:]:
            os.close(directory)


class _Parents:
    """The open directories from the root down to the parent of ``path``, opened one component at a time.

    ``fds[0]`` is the root (borrowed); ``fds[i]`` the directory named ``names[i - 1]`` inside ``fds[i - 1]``.
    ``leaf`` is the last component of ``path``, to be used relative to ``fd`` once :meth:`open` returned True.
    Leaving the context closes every descriptor it opened.
    """

    def __init__(self, root_fd: int, path: str) -> None:
        *self.names, self.leaf = path[1:].split("/")
        self.path = path
        self.fds = [root_fd]
        self.created: set[int] = set()

    @property
    def fd(self) -> int:
        """The deepest directory opened so far."""
        return self.fds[-1]

    def open(self, *, create: bool, writing: bool) -> bool:
        """Open the parents not yet open; return False at the first missing one unless ``create`` makes it.

        A file on the way raises PathConflictError when ``writing`` (the path lies below a file) and
        PathNotFoundError otherwise; a symbolic link on the way raises PathConflictError.
        """
        while len(self.fds) <= len(self.names):
            name = self.names[len(self.fds) - 1]
            try:
                self.fds.append(os.open(name, _DIRECTORY_FLAGS, dir_fd=self.fd))
            except FileNotFoundError:
                if not create:
                    return False
                with contextlib.suppress(FileExistsError):
                    os.mkdir(name, dir_fd=self.fd)
                self.created.add(len(self.fds) - 1)
            except NotADirectoryError:
                where = "/" + "/".join(self.names[: len(self.fds)])
                mode = _lstat_mode(name, self.fd)
                if mode and not stat.S_ISREG(mode):
                    raise _refused(self.path, where, mode) from None
                if writing:
                    raise PathConflictError(self.path, f"{where} is a file") from None
                raise PathNotFoundError(self.path) from None
        return True

    def leaf_status(self) -> os.stat_result | None:
        """The status of the leaf, not following links; None when nothing is there."""
        try:
            return os.stat(self.leaf, dir_fd=self.fd, follow_symlinks=False)
        except FileNotFoundError:
            return None

    def leaf_mode(self) -> int:
        """The file type bits of the leaf, not following links; 0 when nothing is there."""
        status = self.leaf_status()
        return status.st_mode if status else 0

    def prune(self) -> None:
        """Remove the parents left empty, deepest first, up to the first that is not empty; never the root."""
        while len(self.fds) > 1:
            os.close(self.fds.pop())
            try:
                os.rmdir(self.names[len(self.fds) - 1], dir_fd=self.fd)
            except OSError:
                return

    def sync(self) -> None:
        """fsync the parent and every directory that gained a subdirectory, so new entries survive a crash."""
        for index in sorted(self.created | {len(self.fds) - 1}):
            os.fsync(self.fds[index])

    def __enter__(self) -> _Parents:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        while len(self.fds) > 1:
            os.close(self.fds.pop())


class FilesystemDriver(StorageDriver):
    """A thread-safe driver storing each file as a file below ``rootdirectory`` (created when missing).

    Raises InvalidParameterError when ``rootdirectory`` is empty or cannot be created or opened as a directory.
    ``url_for`` is not supported. See the module documentation for symbolic links and temporary files.
    """

    name = "filesystem"
    PARAMETERS: ClassVar[list[Parameter]] = [
        Parameter("rootdirectory", str, DEFAULT_ROOT, help="directory holding the store; created when missing"),
        Parameter(
            "maxthreads",
            int,
            ignored=True,
            help="the registry's bound on concurrent filesystem calls (25 at least, 100 by default); "
            "every call here runs in the caller's thread",
        ),
    ]

    def __init__(self, rootdirectory: str = DEFAULT_ROOT) -> None:
        accepted = [parameter.name for parameter in self.PARAMETERS]
        if not isinstance(rootdirectory, str) or not rootdirectory:
            raise InvalidParameterError("rootdirectory", "expected a directory path", accepted, driver=self.name)
        self.rootdirectory = os.path.abspath(rootdirectory)
        try:
            os.makedirs(self.rootdirectory, exist_ok=True)
            self._root_fd = os.open(self.rootdirectory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except (OSError, ValueError) as error:
            reason = f"cannot use {self.rootdirectory!r} as the root directory: {error}"
            raise InvalidParameterError("rootdirectory", reason, accepted, driver=self.name) from error
        self._lock = threading.Lock()

    @classmethod
    def from_parameters(cls, parameters: Mapping[str, Any]) -> FilesystemDriver:
        """Build the driver from ``{"rootdirectory": ...}``; raises InvalidParameterError for bad parameters."""
        return cls(**parse_parameters(cls.name, cls.PARAMETERS, parameters))

    def close(self) -> None:
        with self._lock:
            if self._root_fd >= 0:
                os.close(self._root_fd)
                self._root_fd = -1

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} rootdirectory={self.rootdirectory!r}>"

    # -- reading -----------------------------------------------------------------------------------------------

    def _get_content(self, path: str) -> bytes:
        with self._failures(path), open(self._open_file(path), "rb") as file:
            return file.read()

    def _read_stream(self, path: str, offset: int) -> BufferedIOBase:
        with self._failures(path):
            fd = self._open_file(path)
            try:
                os.lseek(fd, offset, os.SEEK_SET)
            except (OverflowError, OSError) as error:
                os.close(fd)
                if isinstance(error, OSError) and error.errno != errno.EINVAL:
                    raise
                return io.BytesIO()  # past the largest offset the system has: no file reaches it, so at EOF
            except BaseException:
                os.close(fd)
                raise
            return open(fd, "rb")

    def _stat(self, path: str) -> FileInfo:
        with self._failures(path):
            if path == ROOT:
                return FileInfo(ROOT, 0, _mod_time(os.fstat(self._root)), is_dir=True)
            with self._parents(path) as parents:
                if not parents.open(create=False, writing=False):
                    raise PathNotFoundError(path)
                try:
                    status = os.stat(parents.leaf, dir_fd=parents.fd, follow_symlinks=False)
                except FileNotFoundError:
                    raise PathNotFoundError(path) from None
            info = _info(path, status)
            if info is None:
                raise _refused(path, path, status.st_mode)
            return info

    def _list(self, path: str) -> PathList:
        with self._failures(path), self._open_directory(path) as fd:
            return [join(path, entry.name) for entry in _children(fd)]

    def _walk(self, path: str, start_after: str | None = None) -> Iterator[FileInfo]:
        if not self._stat(path).is_dir:
            raise PathNotFoundError(path)
        return self._descendants(path, start_after)

    def _descendants(self, path: str, start_after: str | None) -> Iterator[FileInfo]:
        with self._failures(path):
            try:
                with self._open_directory(path) as fd:
                    yield from self._walk_directory(fd, path, start_after)
            except PathNotFoundError:
                return

    def _walk_directory(self, fd: int, path: str, start_after: str | None) -> Iterator[FileInfo]:
        """Every entry below directory ``fd`` (named ``path``), parents first, siblings sorted; subtrees wholly
        before ``start_after`` are never opened.

        An explicit stack of open directories replaces recursion, so a tree of any depth is walked. Only the
        children's names are held (not their directory entries with cached stat results), so a directory of many
        files costs one string per file. Entries that vanish meanwhile are skipped.
        """
        stack: list[tuple[int, str, Iterator[str], str | None]] = [(fd, path, _child_names(fd), start_after)]
        try:
            while stack:
                directory, directory_path, pending, hint = stack[-1]
                name = next(pending, None)
                if name is None:
                    stack.pop()
                    if stack:
                        os.close(directory)
                    continue
                child = join(directory_path, name)
                where = step(child, hint)
                if where is Step.SKIP:
                    continue
                try:
                    status = os.stat(name, dir_fd=directory, follow_symlinks=False)
                except FileNotFoundError:
                    continue
                info = _info(child, status)
                if info is None:
                    continue
                if where is Step.YIELD:
                    yield info
                if not info.is_dir:
                    continue
                try:
                    child_fd = os.open(name, _DIRECTORY_FLAGS, dir_fd=directory)
                except (FileNotFoundError, NotADirectoryError):
                    continue
                try:
                    stack.append((child_fd, child, _child_names(child_fd), None if where is Step.YIELD else hint))
                except BaseException:
                    os.close(child_fd)
                    raise
        finally:
            for directory, _, _, _ in stack[1:]:
                os.close(directory)

    # -- writing -----------------------------------------------------------------------------------------------

    def _put_content(self, path: str, content: bytes) -> None:
        with self._failures(path), self._staging() as staging, self._parents(path) as parents:
            temporary = f"{secrets.token_hex(8)}.tmp"
            fd = os.open(temporary, _CREATE_FLAGS, _FILE_MODE, dir_fd=staging)
            try:
                _write_all(fd, content, 0)
                os.fsync(fd)
                with self._lock:
                    parents.open(create=True, writing=True)
                    self._check_replaceable(parents, fd)
                    os.rename(temporary, parents.leaf, src_dir_fd=staging, dst_dir_fd=parents.fd)
                    temporary = ""
            finally:
                os.close(fd)
                if temporary:
                    with contextlib.suppress(OSError):
                        os.unlink(temporary, dir_fd=staging)
            parents.sync()

    def _write_stream(self, path: str, offset: int, chunks: Iterator[bytes]) -> int:
        fd, previous_ns = self._open_for_writing(path, offset)
        written = 0
        try:
            for chunk in chunks:
                with self._failures(path):
                    _write_all(fd, chunk, offset + written)
                written += len(chunk)
            with self._failures(path):
                _advance_mod_time(fd, previous_ns)
                os.fsync(fd)
        except BaseException:
            with contextlib.suppress(OSError):
                _advance_mod_time(fd, previous_ns)
            raise
        finally:
            os.close(fd)
        return written

    def _move(self, source: str, destination: str) -> None:
        with self._failures(source), self._parents(source) as origin, self._parents(destination) as target:
            with self._lock:
                if not origin.open(create=False, writing=False):
                    raise PathNotFoundError(source)
                mode = origin.leaf_mode()
                if not mode:
                    raise PathNotFoundError(source)
                if stat.S_ISDIR(mode):
                    raise PathConflictError(source, "cannot move a directory")
                if not stat.S_ISREG(mode):
                    raise _refused(source, source, mode)
                if target.open(create=False, writing=True):
                    self._check_replaceable(target)
                else:
                    target.open(create=True, writing=True)
                os.rename(origin.leaf, target.leaf, src_dir_fd=origin.fd, dst_dir_fd=target.fd)
                origin.prune()
            target.sync()

    def _delete(self, path: str) -> None:
        with self._failures(path), self._parents(path) as parents, self._lock:
            if not parents.open(create=False, writing=False):
                raise PathNotFoundError(path)
            mode = parents.leaf_mode()
            if not mode:
                raise PathNotFoundError(path)
            if stat.S_ISDIR(mode):
                fd = os.open(parents.leaf, _DIRECTORY_FLAGS, dir_fd=parents.fd)
                try:
                    _remove_tree(fd)
                finally:
                    os.close(fd)
                os.rmdir(parents.leaf, dir_fd=parents.fd)
            else:
                os.unlink(parents.leaf, dir_fd=parents.fd)
            parents.prune()

    # -- helpers -----------------------------------------------------------------------------------------------

    @property
    def _root(self) -> int:
        if self._root_fd < 0:
            raise StorageDriverError("the driver is closed", driver=self.name)
        return self._root_fd

    def _parents(self, path: str) -> _Parents:
        return _Parents(self._root, path)

    @contextlib.contextmanager
    def _failures(self, path: str) -> Generator[None, None, None]:
        """Turn an unexpected OSError into a StorageDriverError about ``path`` that keeps it as the cause."""
        try:
            yield
        except StorageDriverError:
            raise
        except OSError as error:
            raise StorageDriverError(f"{path}: {error.strerror or error}", driver=self.name) from error

    @contextlib.contextmanager
    def _staging(self) -> Generator[int, None, None]:
        """The staging directory, created when missing."""
        try:
            fd = os.open(STAGING_DIRECTORY, _DIRECTORY_FLAGS, dir_fd=self._root)
        except FileNotFoundError:
            with contextlib.suppress(FileExistsError):
                os.mkdir(STAGING_DIRECTORY, dir_fd=self._root)
            fd = os.open(STAGING_DIRECTORY, _DIRECTORY_FLAGS, dir_fd=self._root)
        try:
            yield fd
        finally:
            os.close(fd)

    @contextlib.contextmanager
    def _open_directory(self, path: str) -> Generator[int, None, None]:
        """A fresh descriptor of directory ``path`` (never a shared one: listing moves its position)."""
        fd = os.open(".", _DIRECTORY_FLAGS, dir_fd=self._root) if path == ROOT else self._open_subdirectory(path)
        try:
            yield fd
        finally:
            os.close(fd)

    def _open_subdirectory(self, path: str) -> int:
        """A descriptor of directory ``path``; PathNotFoundError when it is missing or a file."""
        with self._parents(path) as parents:
            if not parents.open(create=False, writing=False):
                raise PathNotFoundError(path)
            try:
                return os.open(parents.leaf, _DIRECTORY_FLAGS, dir_fd=parents.fd)
            except FileNotFoundError:
                raise PathNotFoundError(path) from None
            except NotADirectoryError:
                mode = parents.leaf_mode()
                if stat.S_ISREG(mode) or not mode:
                    raise PathNotFoundError(path) from None
                raise _refused(path, path, mode) from None

    def _open_file(self, path: str) -> int:
        """A descriptor of the regular file ``path``; PathNotFoundError when it is missing or a directory."""
        with self._parents(path) as parents:
            if not parents.open(create=False, writing=False):
                raise PathNotFoundError(path)
            try:
                fd = os.open(parents.leaf, _READ_FLAGS, dir_fd=parents.fd)
            except FileNotFoundError:
                raise PathNotFoundError(path) from None
            except OSError as error:
                if error.errno == errno.ELOOP:
                    raise _refused(path, path, stat.S_IFLNK) from None
                raise
        try:
            mode = os.fstat(fd).st_mode
            if stat.S_ISDIR(mode):
                raise PathNotFoundError(path)
            if not stat.S_ISREG(mode):
                raise _refused(path, path, mode)
        except BaseException:
            os.close(fd)
            raise
        return fd

    def _open_for_writing(self, path: str, offset: int) -> tuple[int, int]:
        """Open ``path`` for writing, creating it and its parents, cut or zero-extended to ``offset``.

        Returns the descriptor and the mtime the file had, in nanoseconds.
        """
        with self._failures(path), self._parents(path) as parents:
            with self._lock:
                parents.open(create=True, writing=True)
                existed = parents.leaf_status() is not None
                try:
                    fd = os.open(parents.leaf, _WRITE_FLAGS, _FILE_MODE, dir_fd=parents.fd)
                except IsADirectoryError:
                    raise PathConflictError(path, "a directory is at this path") from None
                except OSError as error:
                    if error.errno in (errno.ELOOP, errno.ENXIO):
                        raise _refused(path, path, parents.leaf_mode()) from None
                    raise
            try:
                status = os.fstat(fd)
                if not stat.S_ISREG(status.st_mode):
                    raise _refused(path, path, status.st_mode)
                self._resize(fd, path, offset)
                parents.sync()
            except BaseException:
                os.close(fd)
                if not existed:  # what this open created goes again: the file, and parents left empty
                    with self._lock, contextlib.suppress(OSError):
                        os.unlink(parents.leaf, dir_fd=parents.fd)
                        parents.prune()
                raise
            return fd, status.st_mtime_ns

    def _resize(self, fd: int, path: str, offset: int) -> None:
        """Cut or zero-extend the file ``fd`` to ``offset``; an offset the system cannot represent raises
        StorageDriverError("File too large") like one the filesystem refuses (EFBIG)."""
        try:
            os.ftruncate(fd, offset)
        except OverflowError:
            error = OSError(errno.EFBIG, os.strerror(errno.EFBIG))
            raise StorageDriverError(f"{path}: {error.strerror}", driver=self.name) from error

    @staticmethod
    def _check_replaceable(parents: _Parents, replacement_fd: int | None = None) -> None:
        """Raise PathConflictError unless the leaf is missing or a regular file, which a rename may replace.

        With ``replacement_fd``, make the replacement's mtime later than the replaced file's.
        """
        status = parents.leaf_status()
        if status is None:
            return
        if stat.S_ISDIR(status.st_mode):
            raise PathConflictError(parents.path, "a directory is at this path")
        if not stat.S_ISREG(status.st_mode):
            raise _refused(parents.path, parents.path, status.st_mode)
        if replacement_fd is not None:
            _advance_mod_time(replacement_fd, status.st_mtime_ns)


def _child_names(fd: int) -> Iterator[str]:
    """The names of :func:`_children`, without their entries (a walk holds one string per child)."""
    return iter([entry.name for entry in _children(fd)])


def _children(fd: int) -> list[os.DirEntry[str]]:
    """The entries of directory ``fd`` the store shows: regular files and directories with valid names, sorted."""
    with os.scandir(fd) as entries:
        children = [
            entry
            for entry in entries
            if is_valid_path("/" + entry.name)
            and (entry.is_dir(follow_symlinks=False) or entry.is_file(follow_symlinks=False))
        ]
    return sorted(children, key=lambda entry: entry.name)


__all__ = ["DEFAULT_ROOT", "STAGING_DIRECTORY", "FilesystemDriver"]
