"""S3Driver: the storage-driver interface on an S3 bucket, through boto3.

Paths map to keys below the ``rootdirectory`` prefix: ``/a/b`` is the key ``<root>/a/b`` (``a/b`` without a root).
Directories are common prefixes: ``/a`` is a directory when a key starts with ``<root>/a/``. A prefix without its
trailing slash is never trusted, so ``/a`` and ``/ab`` never touch each other. Any key below ``<root>/a/`` makes
``/a`` a directory: a folder placeholder (a key ending in ``/``, as other tools make them) is a directory, listed,
stat'ed and walked as one and deleted with it, never a file; a key whose name is not a valid path is never shown, but
the directories of its valid leading components exist. So every child :meth:`list` shows can be stat'ed.

Writes refuse a path that is a directory or lies below a file (PathConflictError): one listing and one HEAD per
ancestor, made concurrently. Directories report size 0 and the epoch as their modification time.
"""

from __future__ import annotations

import heapq
import io
import itertools
import logging
from collections.abc import Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import timezone
from typing import TYPE_CHECKING, Any

from registry_storage.driver import PathList, StorageDriver
from registry_storage.errors import PathConflictError, PathNotFoundError, StorageDriverError
from registry_storage.fileinfo import EPOCH, FileInfo
from registry_storage.keytree import depth_first
from registry_storage.paths import ROOT, ancestors, is_valid_path, join
from registry_storage.walkorder import is_after, listing_ranges

from .bucket import LIST_PAGE_SIZE, Bucket, write_arguments
from .client import connect
from .errors import is_invalid_range
from .multipart import UPLOAD_CONCURRENCY, ObjectTarget, ObjectWriter, copy_in_parts
from .parameters import DRIVER_NAME, S3Settings
from .presign import client_method, expires_in
from .reader import empty_stream, open_body

if TYPE_CHECKING:
    from datetime import datetime

    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import HeadObjectOutputTypeDef

logger = logging.getLogger(__name__)

PROBE_PAGE_SIZE = 16
"""Keys asked for when checking whether a directory has anything below it."""


class S3Driver(StorageDriver):
    """Storage on an S3 bucket (Amazon S3 or an S3-compatible service).

    Thread-safe: one boto3 client and one thread pool serve every call. ``upload_concurrency`` parts of each
    ``write_stream`` are held at once, so one write holds at most ``upload_concurrency x chunksize`` bytes.
    """

    name = DRIVER_NAME

    def __init__(self, settings: S3Settings, *, upload_concurrency: int = UPLOAD_CONCURRENCY) -> None:
        """Connect to the bucket of ``settings`` (no request is made yet).

        Raises InvalidStorageDriverError when boto3 is not installed.
        """
        self.settings = settings
        self._upload_concurrency = upload_concurrency
        workers = max(settings.multipartcopymaxconcurrency, 8 * upload_concurrency)
        self._client: S3Client = connect(settings, max_connections=workers + 16)
        self._bucket = Bucket(self._client, settings.bucket, write_arguments(settings))
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="registry-storage-s3")
        self._prefix = settings.key_prefix
        logger.debug("S3 driver on %r", settings)

    @classmethod
    def from_parameters(cls, parameters: Mapping[str, Any] | None = None) -> S3Driver:
        """Create a driver from its parameters (see :mod:`registry_storage.drivers.s3.parameters`).

        Raises InvalidParameterError for a bad parameter and InvalidStorageDriverError when boto3 is missing.
        """
        return cls(S3Settings.from_parameters(parameters))

    def __repr__(self) -> str:
        return f"<S3Driver bucket={self.settings.bucket!r} rootdirectory={self.settings.rootdirectory!r}>"

    def close(self) -> None:
        """Wait for background uploads to end and close the connections. Closing twice is harmless."""
        self._executor.shutdown(wait=True)
        self._client.close()

    # -- keys --------------------------------------------------------------------------------------------------

    def _key(self, path: str) -> str:
        return f"{self._prefix}{path}" if self._prefix else path[1:]

    def _directory_prefix(self, path: str) -> str:
        if path == ROOT:
            return f"{self._prefix}/" if self._prefix else ""
        return self._key(path) + "/"

    def _entries_below(
        self, path: str, page_size: int = LIST_PAGE_SIZE, start_after: str | None = None
    ) -> Iterator[tuple[str, int, datetime]]:
        """``(relative key, size, mod_time)`` of every key below directory ``path`` (placeholders and invalid names
        too), in key order; with
        ``start_after``, only what a walk after that path needs (see :func:`listing_ranges`), each range listed
        lazily, as it is consumed."""
        ranges = listing_ranges(path, start_after)
        if len(ranges) == 1:
            name_prefix, after = ranges[0]
            return self._range_below(path, name_prefix, after, page_size)
        listings = [self._range_below(path, name_prefix, after, page_size) for name_prefix, after in ranges]
        return heapq.merge(*listings, key=lambda entry: entry[0])

    def _range_below(
        self, path: str, name_prefix: str, after: str | None, page_size: int
    ) -> Iterator[tuple[str, int, datetime]]:
        prefix = self._directory_prefix(path)
        first = None if after is None else prefix + after
        pages = self._bucket.pages(prefix + name_prefix, path, delimiter=False, page_size=page_size, start_after=first)
        for page in pages:
            for entry in page.objects:
                relative = entry["Key"][len(prefix) :]
                yield relative, entry.get("Size", 0), entry["LastModified"].astimezone(timezone.utc)

    def _is_directory(self, path: str) -> bool:
        return next(self._entries_below(path, PROBE_PAGE_SIZE), None) is not None

    # -- reading -----------------------------------------------------------------------------------------------

    def _get_content(self, path: str) -> bytes:
        with self._read_stream(path, 0) as stream:
            return stream.read()

    def _read_stream(self, path: str, offset: int) -> io.BufferedIOBase:
        try:
            response = self._bucket.get(self._key(path), path, start=offset)
        except StorageDriverError as error:
            if offset > 0 and error.__cause__ is not None and is_invalid_range(error.__cause__):
                return empty_stream()
            raise
        return open_body(response["Body"], path)

    def _stat(self, path: str) -> FileInfo:
        if path == ROOT:
            return FileInfo(ROOT, 0, EPOCH, True)
        head = self._bucket.head(self._key(path), path)
        if head is not None:
            return FileInfo(path, head["ContentLength"], head["LastModified"].astimezone(timezone.utc), False)
        if self._is_directory(path):
            return FileInfo(path, 0, EPOCH, True)
        raise PathNotFoundError(path, driver=self.name)

    def _list(self, path: str) -> PathList:
        prefix = self._directory_prefix(path)
        names: set[str] = set()
        exists = path == ROOT
        for page in self._bucket.pages(prefix, path, delimiter=True):
            exists = exists or bool(page.objects or page.prefixes)
            names.update(entry["Key"][len(prefix) :] for entry in page.objects)
            names.update(common[len(prefix) : -1] for common in page.prefixes)
        children = sorted(join(path, name) for name in names if is_valid_path("/" + name))
        if not exists:
            raise PathNotFoundError(path, driver=self.name)
        return children

    def _walk(self, path: str, start_after: str | None = None) -> Iterator[FileInfo]:
        entries = self._entries_below(path, start_after=start_after)
        first = next(entries, None)
        if first is None:
            if path == ROOT or (start_after is not None and self._is_directory(path)):
                return iter(())
            raise PathNotFoundError(path, driver=self.name)
        infos = depth_first(path, itertools.chain([first], entries))
        if start_after is None:
            return infos
        return (info for info in infos if is_after(info.path, start_after))

    # -- writing -----------------------------------------------------------------------------------------------

    def _probe_for_write(self, path: str, *, head: bool) -> HeadObjectOutputTypeDef | None:
        """Refuse to write a file at ``path`` when it is a directory or lies below a file; with ``head``, return the
        existing object's metadata (None when there is none). The checks run concurrently."""
        parents = [parent for parent in ancestors(path) if parent != ROOT]
        files = {parent: self._executor.submit(self._bucket.head, self._key(parent), parent) for parent in parents}
        existing: Future[HeadObjectOutputTypeDef | None] | None = None
        if head:
            existing = self._executor.submit(self._bucket.head, self._key(path), path)
        is_directory = self._is_directory(path)
        for parent in reversed(parents):
            if files[parent].result() is not None:
                raise PathConflictError(path, f"{parent} is a file", driver=self.name)
        if is_directory:
            raise PathConflictError(path, "a directory exists at this path", driver=self.name)
        return existing.result() if existing is not None else None

    def _writer(self, path: str) -> ObjectWriter:
        return ObjectWriter(
            ObjectTarget(self._bucket, self._key(path), path),
            part_size=self.settings.chunksize,
            executor=self._executor,
            concurrency=self._upload_concurrency,
        )

    def _put_content(self, path: str, content: bytes) -> None:
        self._probe_for_write(path, head=False)
        if len(content) <= self.settings.chunksize:
            self._bucket.put(self._key(path), path, content)
            return
        view = memoryview(content)
        pieces = (
            view[start : start + self.settings.chunksize] for start in range(0, len(view), self.settings.chunksize)
        )
        self._writer(path).write(0, 0, (bytes(piece) for piece in pieces))

    def _write_stream(self, path: str, offset: int, chunks: Iterator[bytes]) -> int:
        existing = self._probe_for_write(path, head=offset > 0)
        size = existing["ContentLength"] if existing is not None else 0
        kept = min(offset, size)
        etag = existing["ETag"] if existing is not None else None
        return self._writer(path).write(kept, offset - kept, chunks, etag=etag)

    def _move(self, source: str, destination: str) -> None:
        source_key = self._key(source)
        head = self._bucket.head(source_key, source)
        if head is None:
            if self._is_directory(source):
                raise PathConflictError(source, "cannot move a directory", driver=self.name)
            raise PathNotFoundError(source, driver=self.name)
        self._probe_for_write(destination, head=False)
        if source == destination:
            return
        target = ObjectTarget(self._bucket, self._key(destination), destination)
        size = head["ContentLength"]
        if size <= self.settings.multipartcopythresholdsize:
            self._bucket.copy(source_key, target.key, destination)
        else:
            copy_in_parts(
                self._bucket,
                source_key,
                target,
                size,
                part_size=self.settings.multipartcopychunksize,
                concurrency=self.settings.multipartcopymaxconcurrency,
                executor=self._executor,
            )
        self._bucket.delete(source_key, source)

    def _delete(self, path: str) -> None:
        key = self._key(path)
        prefix = key + "/"
        batch: list[str] = []
        found = self._bucket.head(key, path) is not None
        if found:
            batch.append(key)
        for page in self._bucket.pages(prefix, path, delimiter=False):
            for entry in page.objects:
                batch.append(entry["Key"])
                found = True
            while found and len(batch) >= LIST_PAGE_SIZE:
                self._bucket.delete_batch(batch[:LIST_PAGE_SIZE], path)
                del batch[:LIST_PAGE_SIZE]
        if not found:
            raise PathNotFoundError(path, driver=self.name)
        if batch:
            self._bucket.delete_batch(batch, path)

    def _url_for(self, path: str, **options: Any) -> str:
        """A presigned URL for ``path``; options ``expiry`` (seconds, timedelta, or an aware datetime or RFC 3339
        time; default 20 minutes, at most 7 days) and ``method`` (GET or HEAD). Other options are ignored."""
        method = client_method(options.get("method"))
        seconds = expires_in(options.get("expiry"))
        try:
            return self._client.generate_presigned_url(
                method, Params={"Bucket": self.settings.bucket, "Key": self._key(path)}, ExpiresIn=seconds
            )
        except Exception as error:
            raise StorageDriverError(f"presigning a URL for {path} failed: {error}", driver=self.name) from error
