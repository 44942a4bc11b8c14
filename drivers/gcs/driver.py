"""GCSDriver: the StorageDriver contract on a Google Cloud Storage bucket, through google-cloud-storage.

A path ``/a/b`` is the object ``<rootdirectory>/a/b``; a directory is an object name prefix ending in ``/``, so
``/a`` never matches ``/ab``. Folder placeholders (objects whose names end in ``/``, as the console and other tools
make them) are directories, never files. ``list`` uses the service's delimiter listing, ``walk`` one flat listing,
``delete`` of a directory deletes every object below it a listing page at a time, concurrently; ``move`` is a
server-side rewrite (as many calls as the service asks for) then a delete; ``url_for`` signs a V4 URL when the
credentials hold a service-account private key. Streams: see :mod:`.reader` and :mod:`.writer`.

Writes refuse a path that is a directory or lies below a file (PathConflictError): one listing and one metadata
request per ancestor, made concurrently. Directories report size 0 and the epoch as their modification time.

The SDK (the ``[gcs]`` extra) is imported when a driver is built, not when this module is.
"""

from __future__ import annotations

import heapq
import io
import itertools
import threading
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar

from registry_storage.driver import PathList, StorageDriver
from registry_storage.errors import (
    InvalidParameterError,
    InvalidStorageDriverError,
    PathConflictError,
    PathNotFoundError,
    StorageDriverError,
    UnsupportedMethodError,
)
from registry_storage.fileinfo import EPOCH, FileInfo
from registry_storage.keytree import depth_first, is_tree_key
from registry_storage.parameters import Parameter
from registry_storage.paths import ROOT, ancestors, join
from registry_storage.urls import url_lifetime
from registry_storage.walkorder import is_after, listing_ranges

from .parameters import DRIVER_NAME, PARAMETERS, GCSSettings
from .reader import open_response
from .writer import ObjectWriter

if TYPE_CHECKING:
    from .bucket import Bucket, ObjectInfo

PROBE_PAGE_SIZE = 16
"""Objects asked for when checking whether a directory has anything below it."""

LONGEST_URL_LIFETIME = timedelta(days=7)
"""The longest validity of a V4 signed URL."""

_EXTRA = "pip install 'registry-storage[gcs]'"


def _connect(settings: GCSSettings, retry_timeout: float | None) -> Bucket:
    try:
        from .bucket import DEFAULT_RETRY_TIMEOUT, Bucket  # noqa: PLC0415 - the SDK loads with a driver
    except ImportError as error:
        raise InvalidStorageDriverError(
            DRIVER_NAME, f"google-cloud-storage is not installed ({error}); install the extra with {_EXTRA}"
        ) from error
    return Bucket.connect(settings, retry_timeout=DEFAULT_RETRY_TIMEOUT if retry_timeout is None else retry_timeout)


class GCSDriver(StorageDriver):
    """A thread-safe driver storing each file as an object in one GCS bucket.

    Build it with :meth:`from_parameters`. The bucket must exist: building the driver lists it once, so a missing
    bucket or refused credentials fail here. ``mod_time`` is the object's ``updated`` time.
    """

    name = DRIVER_NAME
    PARAMETERS: ClassVar[list[Parameter]] = PARAMETERS

    def __init__(self, settings: GCSSettings, *, retry_timeout: float | None = None) -> None:
        """Connect with ``settings``; ``retry_timeout`` bounds the seconds a failing request is retried (30).

        Raises InvalidStorageDriverError when the SDK is not installed, InvalidParameterError for an unusable key,
        and StorageDriverError when the bucket is missing or the service cannot be reached.
        """
        self.settings = settings
        self._bucket = _connect(settings, retry_timeout)
        self._executor = ThreadPoolExecutor(max_workers=settings.maxconcurrency, thread_name_prefix="registry-gcs")
        self._prefix = settings.object_prefix
        self._closed = threading.Event()
        self.listing_page_size = 1000
        """Objects asked for per listing request (the service's maximum; lowered in tests to see pagination)."""

    @classmethod
    def from_parameters(cls, parameters: Mapping[str, Any] | None = None) -> GCSDriver:
        """Build the driver from a registry-style parameter mapping (see :mod:`.parameters`).

        Raises InvalidParameterError naming the parameter for a bad or missing one, and what the constructor raises.
        """
        return cls(GCSSettings.from_parameters(parameters))

    def close(self) -> None:
        """Wait for background requests to end and close the connections. Closing twice is harmless."""
        if not self._closed.is_set():
            self._closed.set()
            self._executor.shutdown(wait=True)
            self._bucket.close()

    def __repr__(self) -> str:
        root = self.settings.rootdirectory or "/"
        return f"<GCSDriver bucket={self.settings.bucket!r} rootdirectory={root!r} at {self._bucket.endpoint}>"

    # -- names -------------------------------------------------------------------------------------------------

    def _name(self, path: str) -> str:
        return self._prefix + path[1:]

    def _directory_prefix(self, path: str) -> str:
        return self._prefix if path == ROOT else self._name(path) + "/"

    def _entries_below(
        self, path: str, *, page_size: int | None = None, start_after: str | None = None
    ) -> Iterator[tuple[str, int, datetime]]:
        """``(relative name, size, mod_time)`` of every file and folder placeholder below directory ``path`` in name
        order; ``""`` stands for the directory's own placeholder. One flat listing; with ``start_after``, only the
        listings a walk after that path needs (see :func:`listing_ranges`), merged, each listed as it is consumed."""
        listings = [
            self._range_below(path, name_prefix, after, page_size or self.listing_page_size)
            for name_prefix, after in listing_ranges(path, start_after)
        ]
        return listings[0] if len(listings) == 1 else heapq.merge(*listings, key=lambda entry: entry[0])

    def _range_below(
        self, path: str, name_prefix: str, after: str | None, page_size: int
    ) -> Iterator[tuple[str, int, datetime]]:
        """The entries below ``path`` whose relative names start with ``name_prefix`` and, with ``after``, follow
        it (the listing starts there: GCS ``startOffset``)."""
        prefix = self._directory_prefix(path)
        start = "" if after is None else prefix + after
        for page in self._bucket.pages(
            prefix + name_prefix, path, delimiter=False, page_size=page_size, start_offset=start
        ):
            for entry in page.objects:
                relative = entry.name[len(prefix) :]
                if after is not None and relative <= after:
                    continue  # startOffset is inclusive
                if relative == "" or is_tree_key(relative):
                    yield relative, entry.size, entry.updated

    def _is_directory(self, path: str) -> bool:
        return next(self._entries_below(path, page_size=PROBE_PAGE_SIZE), None) is not None

    # -- reading -----------------------------------------------------------------------------------------------

    def _get_content(self, path: str) -> bytes:
        with self._read_stream(path, 0) as stream:
            return stream.read()

    def _read_stream(self, path: str, offset: int) -> io.BufferedIOBase:
        response = self._bucket.open_range(self._name(path), path, offset)
        if response is None:
            return io.BytesIO(b"")
        return open_response(response, path)

    def _stat(self, path: str) -> FileInfo:
        if path == ROOT:
            return FileInfo(ROOT, 0, EPOCH, is_dir=True)
        info = self._bucket.info(self._name(path), path)
        if info is not None:
            return FileInfo(path, info.size, info.updated, is_dir=False)
        if self._is_directory(path):
            return FileInfo(path, 0, EPOCH, is_dir=True)
        raise PathNotFoundError(path, driver=self.name)

    def _list(self, path: str) -> PathList:
        prefix = self._directory_prefix(path)
        names: set[str] = set()
        exists = False
        for page in self._bucket.pages(prefix, path, delimiter=True, page_size=self.listing_page_size):
            for entry in page.objects:
                relative = entry.name[len(prefix) :]
                exists = exists or relative == ""
                if is_tree_key(relative):
                    names.add(relative)
            for common in page.prefixes:
                relative = common[len(prefix) :]
                if is_tree_key(relative):
                    names.add(relative[:-1])
        if not names and not exists and path != ROOT:
            raise PathNotFoundError(path, driver=self.name)
        return sorted(join(path, name) for name in names)

    def _walk(self, path: str, start_after: str | None = None) -> Iterator[FileInfo]:
        entries = self._entries_below(path, start_after=start_after)
        first = next(entries, None)
        if first is None:
            if path == ROOT or (start_after is not None and self._is_directory(path)):
                return iter(())
            raise PathNotFoundError(path, driver=self.name)
        infos = depth_first(path, (entry for entry in itertools.chain([first], entries) if entry[0]))
        if start_after is None:
            return infos
        return (info for info in infos if is_after(info.path, start_after))

    # -- writing -----------------------------------------------------------------------------------------------

    def _probe_for_write(self, path: str, *, existing: bool) -> ObjectInfo | None:
        """Refuse to write a file at ``path`` when it is a directory or lies below a file; with ``existing``, return
        the object now at ``path`` (None when there is none). The checks run concurrently."""
        parents = [parent for parent in ancestors(path) if parent != ROOT]
        files = [self._executor.submit(self._bucket.info, self._name(parent), parent) for parent in parents]
        current = self._executor.submit(self._bucket.info, self._name(path), path) if existing else None
        is_directory = self._is_directory(path)
        for parent, file in zip(parents, files, strict=True):
            if file.result() is not None:
                raise PathConflictError(path, f"{parent} is a file, so nothing can lie below it", driver=self.name)
        if is_directory:
            raise PathConflictError(path, "a directory exists at this path", driver=self.name)
        return current.result() if current is not None else None

    def _put_content(self, path: str, content: bytes) -> None:
        self._probe_for_write(path, existing=False)
        self._bucket.upload(self._name(path), path, content)

    def _write_stream(self, path: str, offset: int, chunks: Iterator[bytes]) -> int:
        existing = self._probe_for_write(path, existing=offset > 0)
        writer = ObjectWriter(self._bucket, self._name(path), path, self.settings.chunksize)
        return writer.write(existing, offset, chunks)

    def _move(self, source: str, destination: str) -> None:
        if self._bucket.info(self._name(source), source) is None:
            if self._is_directory(source):
                raise PathConflictError(source, "cannot move a directory", driver=self.name)
            raise PathNotFoundError(source, driver=self.name)
        self._probe_for_write(destination, existing=False)
        if source == destination:
            return
        self._bucket.rewrite(self._name(source), self._name(destination), source)
        self._bucket.delete(self._name(source), source)

    def _delete(self, path: str) -> None:
        if self._bucket.delete(self._name(path), path):
            return  # a file has nothing below it
        prefix = self._directory_prefix(path)
        found = False
        waiting: list[str] = []
        for page in self._bucket.pages(prefix, path, delimiter=False, page_size=self.listing_page_size):
            for entry in page.objects:
                relative = entry.name[len(prefix) :]
                found = found or relative == "" or is_tree_key(relative)
                waiting.append(entry.name)
            if found:
                self._bucket.delete_many(waiting, path, self._executor)
                waiting = []
        if not found:
            raise PathNotFoundError(path, driver=self.name)

    def _url_for(self, path: str, **options: Any) -> str:
        """A V4 signed URL for ``path``, valid for 20 minutes unless ``expiry`` says otherwise.

        Options: ``expiry`` (seconds, a timedelta, or an aware datetime or RFC 3339 time; at most 7 days) and
        ``method`` (GET or HEAD); others are ignored. The object need not exist yet. Raises UnsupportedMethodError
        when the credentials hold no private key (application-default or emulator credentials), and
        InvalidParameterError for a bad option.
        """
        method = "GET" if options.get("method") is None else str(options["method"]).upper()
        if method not in ("GET", "HEAD"):
            raise _bad_option("method", f"expected GET or HEAD, got {options.get('method')!r}")
        expiry = url_expiry(options.get("expiry"))
        try:
            url = self._bucket.signed_url(self._name(path), expiry, method)
        except Exception as error:
            raise StorageDriverError(f"signing a URL for {path} failed: {error}", driver=self.name) from error
        if url is None:
            raise UnsupportedMethodError("url_for", driver=self.name)
        return url


def _bad_option(option: str, reason: str) -> InvalidParameterError:
    return InvalidParameterError(option, reason, ["expiry", "method"], driver=DRIVER_NAME)


def url_expiry(value: object, now: datetime | None = None) -> timedelta:
    """How long a URL stays valid for the ``expiry`` option (see :func:`registry_storage.urls.url_lifetime`; at most
    7 days). Raises InvalidParameterError for a bad one."""
    return url_lifetime(value, driver=DRIVER_NAME, accepted=["expiry", "method"], longest=LONGEST_URL_LIFETIME, now=now)
