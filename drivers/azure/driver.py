"""AzureDriver: the StorageDriver contract on Azure Blob Storage block blobs.

A path ``/a/b`` is the blob ``<rootdirectory>/a/b``; a directory is a blob name prefix ending in ``/``, so ``/a``
never matches ``/ab``. Any blob below ``<root>/a/`` makes ``/a`` a directory, and folder placeholders (a blob named
``a/``, or a blob ``a`` marked ``hdi_isfolder=true``) are directories, never files, so every child ``list`` shows
can be stat'ed; names that break the path rules are never shown. ``list`` uses the service's delimiter listing,
``walk`` one flat listing, ``delete`` of a directory deletes every blob below it in batches, ``move`` is a
server-side copy then a delete, and ``url_for`` signs a read-only SAS URL with the account key. ``read_stream``
reads the body of one GET as the caller reads (see ``BlobStore.open_stream``); ``write_stream``: see :mod:`.blocks`.

The SDK (the ``[azure]`` extra) is imported when a driver is built, not when this module is.
"""

from __future__ import annotations

import contextvars
import heapq
import io
import threading
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from registry_storage.driver import PathList, StorageDriver
from registry_storage.errors import (
    InvalidStorageDriverError,
    PathConflictError,
    PathNotFoundError,
    StorageDriverError,
    UnsupportedMethodError,
)
from registry_storage.fileinfo import EPOCH, FileInfo
from registry_storage.parameters import Parameter
from registry_storage.paths import ROOT, ancestors, is_valid_path
from registry_storage.urls import url_lifetime
from registry_storage.walkorder import is_after, listing_ranges

from .blocks import BlockWriter
from .parameters import DRIVER_NAME, PAGE_SIZE, PARAMETERS, AzureSettings
from .walking import walk_infos

if TYPE_CHECKING:
    from .store import BlobStore

_Item = TypeVar("_Item")
_EXTRA = "pip install 'registry-storage[azure]'"


def _load_store() -> type[BlobStore]:
    try:
        from .store import BlobStore  # noqa: PLC0415 - the SDK loads with a driver
    except ImportError as error:
        raise InvalidStorageDriverError(
            DRIVER_NAME, f"the Azure SDK is not installed ({error}); install the extra with {_EXTRA}"
        ) from error
    return BlobStore


class AzureDriver(StorageDriver):
    """A thread-safe driver storing each file as a block blob in one Azure container.

    Build it with :meth:`from_parameters`. The container is created when missing. ``mod_time`` is the blob's
    ``Last-Modified``, which the service keeps to the second; directories report size 0 and the epoch.
    """

    name = DRIVER_NAME
    PARAMETERS: ClassVar[list[Parameter]] = PARAMETERS

    def __init__(self, settings: AzureSettings) -> None:
        """Connect with ``settings`` and create the container when missing.

        Raises InvalidStorageDriverError when the SDK is not installed, InvalidParameterError when the service
        rejects the credentials, and StorageDriverError when it cannot be reached.
        """
        self._settings = settings
        self._store = _load_store().connect(settings)
        self._executor = ThreadPoolExecutor(
            max_workers=max(4, 2 * settings.maxconcurrency), thread_name_prefix="registry-storage-azure"
        )
        self._closed = threading.Event()

    @classmethod
    def from_parameters(cls, parameters: Mapping[str, Any]) -> AzureDriver:
        """Build the driver from a registry-style parameter mapping (see :mod:`.parameters`).

        Raises InvalidParameterError naming the parameter for a bad or missing one, and what the constructor raises.
        """
        return cls(AzureSettings.from_parameters(parameters))

    @property
    def settings(self) -> AzureSettings:
        """The checked parameters; their repr hides the secrets."""
        return self._settings

    @property
    def listing_page_size(self) -> int:
        """Blobs asked for per listing request: the service's maximum, 5,000, unless lowered (to see pagination)."""
        return self._store.page_size

    @listing_page_size.setter
    def listing_page_size(self, size: int) -> None:
        if not 1 <= size <= PAGE_SIZE:
            raise ValueError(f"a listing page holds 1 to {PAGE_SIZE} blobs, not {size}")
        self._store.page_size = size

    def close(self) -> None:
        """Stop the staging threads and close the HTTP connections."""
        if not self._closed.is_set():
            self._closed.set()
            self._executor.shutdown(wait=True)
            self._store.close()

    def __repr__(self) -> str:
        root = self._settings.rootdirectory or "/"
        return f"<{type(self).__name__} {self.name!r} {self._store.endpoint} root={root!r}>"

    # -- reading -----------------------------------------------------------------------------------------------

    def _get_content(self, path: str) -> bytes:
        with self._store.call():
            return self._store.download(path, self._settings.maxconcurrency)

    def _read_stream(self, path: str, offset: int) -> io.BufferedIOBase:
        with self._store.call():
            return self._store.open_stream(path, offset)

    def _stat(self, path: str) -> FileInfo:
        with self._store.call():
            return self._stat_once(path)

    def _stat_once(self, path: str) -> FileInfo:
        if path == ROOT:
            return FileInfo(ROOT, 0, EPOCH, is_dir=True)
        info = self._store.file_info(path)
        if info is not None:
            return info
        if self._store.has_children(path):
            return FileInfo(path, 0, EPOCH, is_dir=True)
        raise PathNotFoundError(path)

    def _list(self, path: str) -> PathList:
        head = "" if path == ROOT else path
        with self._store.call():
            listed = set(self._store.child_names(path))
            if not listed and path != ROOT:
                info = self._store.file_info(path)
                if info is None or not info.is_dir:
                    raise PathNotFoundError(path)
        return sorted(f"{head}/{name}" for name in listed if is_valid_path(f"/{name}"))

    def _walk(self, path: str, start_after: str | None = None) -> Iterator[FileInfo]:
        listings = [
            self._store.entries(path, name_prefix, after) for name_prefix, after in listing_ranges(path, start_after)
        ]
        entries = listings[0] if len(listings) == 1 else heapq.merge(*listings, key=lambda entry: entry.name)
        with self._store.call():
            first = next(entries, None)
        if first is None:
            if path == ROOT or (start_after is not None and self._store.has_children(path)):
                return iter(())
            raise PathNotFoundError(path)
        infos = walk_infos(path, _prepend(first, entries))
        if start_after is None:
            return infos
        return (info for info in infos if is_after(info.path, start_after))

    # -- writing -----------------------------------------------------------------------------------------------

    def _put_content(self, path: str, content: bytes) -> None:
        with self._store.call():
            self._check_file_destination(path)
            if len(content) <= self._settings.blocksize:
                self._store.upload(path, content)
            else:
                self._writer(path).write(0, iter((content,)))

    def _write_stream(self, path: str, offset: int, chunks: Iterator[bytes]) -> int:
        with self._store.call():
            self._check_file_destination(path)
            return self._writer(path).write(offset, chunks)

    def _move(self, source: str, destination: str) -> None:
        with self._store.call():
            self._move_once(source, destination)

    def _move_once(self, source: str, destination: str) -> None:
        info = self._store.file_info(source)
        if info is None or info.is_dir:
            if info is not None or self._store.has_children(source):
                raise PathConflictError(source, "cannot move a directory")
            raise PathNotFoundError(source)
        self._check_file_destination(destination)
        if source == destination:
            return
        self._store.copy(source, destination)
        self._store.delete_file(source)

    def _delete(self, path: str) -> None:
        with self._store.call():
            self._delete_once(path)

    def _delete_once(self, path: str) -> None:
        deleted_blob = self._store.delete_file(path)  # a file, or a folder marked hdi_isfolder
        if not self._store.delete_below(path) and not deleted_blob:
            raise PathNotFoundError(path)

    def _url_for(self, path: str, **options: Any) -> str:
        """A read-only SAS URL for ``path``, valid for 20 minutes unless ``expiry`` says otherwise.

        Options: ``expiry``, an aware datetime, an RFC 3339 string, a timedelta or seconds from now; ``method``, GET
        or HEAD. The blob need not exist yet. Raises UnsupportedMethodError without an account key (a connection string
        holding only a SAS), StorageDriverError for a bad option.
        """
        method = str(options.get("method", "GET")).upper()
        if method not in ("GET", "HEAD"):
            raise StorageDriverError(f"url_for {path}: method {method!r} is not GET or HEAD")
        url = self._store.signed_url(path, _expiry(options.get("expiry")))
        if url is None:
            raise UnsupportedMethodError("url_for")
        return url

    # -- helpers -----------------------------------------------------------------------------------------------

    def _writer(self, path: str) -> BlockWriter:
        return BlockWriter(self._store, path, self._settings.blocksize, self._settings.maxconcurrency, self._executor)

    def _check_file_destination(self, path: str) -> None:
        """Raise PathConflictError when ``path`` is a directory or lies below a file; the checks run concurrently."""
        parents = [parent for parent in ancestors(path) if parent != ROOT]
        below = self._executor.submit(contextvars.copy_context().run, self._store.has_children, path)
        marked = self._executor.submit(contextvars.copy_context().run, self._store.file_info, path)
        files = list(self._executor.map(lambda parent: _is_file(self._store.file_info(parent)), parents))
        existing = marked.result()
        if below.result() or (existing is not None and existing.is_dir):
            raise PathConflictError(path, "a directory is in the way")
        for parent, is_file in zip(parents, files, strict=True):
            if is_file:
                raise PathConflictError(path, f"{parent} is a file, so nothing can lie below it")


def _is_file(info: FileInfo | None) -> bool:
    return info is not None and not info.is_dir


def _prepend(first: _Item, rest: Iterator[_Item]) -> Iterator[_Item]:
    yield first
    yield from rest


def _expiry(value: object) -> datetime:
    """The moment a URL stops being valid for the ``expiry`` option (see :func:`registry_storage.urls.url_lifetime`).
    Raises InvalidParameterError for a bad one."""
    now = datetime.now(timezone.utc)
    return now + url_lifetime(value, driver=DRIVER_NAME, accepted=["expiry", "method"], now=now)
