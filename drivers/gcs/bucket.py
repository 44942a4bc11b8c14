"""Bucket: the one module that talks to google-cloud-storage, object by object, with every failure translated.

Each method names the driver ``path`` it works for, so errors carry it. A missing object (HTTP 404 on an object) is
"not found"; everything else (a refused credential, a 5xx, a timeout, a reset connection) is StorageDriverError
with the SDK error as its cause. A missing bucket also answers 404 on an object, so :meth:`Bucket.connect` lists the
bucket once and fails there: afterwards a 404 means the object.

This module imports the SDK when it is imported; the driver imports it only when a driver is built.
"""

from __future__ import annotations

import contextlib
from collections.abc import Generator, Iterator
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, BinaryIO, cast
from urllib.parse import quote

import google.auth
import google.auth.exceptions
import requests
from google.api_core import exceptions as api_exceptions
from google.api_core.client_info import ClientInfo
from google.api_core.retry import Retry
from google.auth.credentials import AnonymousCredentials, Credentials
from google.auth.transport.requests import AuthorizedSession
from google.cloud import storage
from google.cloud.storage.fileio import BlobWriter
from google.cloud.storage.retry import DEFAULT_RETRY
from google.oauth2 import service_account
from requests.adapters import HTTPAdapter

from registry_storage.errors import InvalidParameterError, PathNotFoundError, StorageDriverError

from .parameters import DRIVER_NAME, GCSSettings

SCOPE = "https://www.googleapis.com/auth/devstorage.read_write"
"""The OAuth scope the driver asks for: read and write objects."""

LIST_PAGE_SIZE = 1000
"""Objects asked for per listing request: the most the service returns."""

DEFAULT_RETRY_TIMEOUT = 30.0
"""Seconds the SDK keeps retrying a failed idempotent request before the error surfaces."""

_PROJECT = "<unknown>"
"""The project the client names when the credentials carry none: object calls never use it."""


@dataclass(frozen=True)
class ObjectInfo:
    """What the driver needs of one object: its name, size, modification time, generation and component count
    (1 unless it was composed)."""

    name: str
    size: int
    updated: datetime
    generation: int
    component_count: int = 1


@dataclass(frozen=True)
class Page:
    """One page of a listing: the objects and, with a delimiter, the prefixes (each ending in ``/``)."""

    objects: list[ObjectInfo]
    prefixes: list[str]


def _describe(error: BaseException) -> str:
    if isinstance(error, api_exceptions.GoogleAPICallError):
        return f"service answered {error.code} ({error.message})"
    first = str(error).strip().splitlines()
    return f"{type(error).__name__}: {first[0] if first else 'no detail'}"


def _info(blob: storage.Blob) -> ObjectInfo:
    updated = blob.updated or datetime.fromtimestamp(0, timezone.utc)
    return ObjectInfo(
        str(blob.name),
        int(blob.size or 0),
        updated.astimezone(timezone.utc),
        int(blob.generation or 0),
        int(blob.component_count or 1),
    )


def _signer(settings: GCSSettings) -> service_account.Credentials | None:
    """The service-account credentials of the key given (``keyfile`` or ``credentials``), None without one."""
    if settings.credentials is None:
        return None
    try:
        key: service_account.Credentials = service_account.Credentials.from_service_account_info(  # type: ignore[no-untyped-call]
            settings.credentials, scopes=[SCOPE]
        )
    except (ValueError, TypeError) as error:
        name = "keyfile" if settings.keyfile else "credentials"
        raise InvalidParameterError(
            name, f"not a usable service-account key ({type(error).__name__})", driver=DRIVER_NAME
        ) from None
    return key


def _credentials(settings: GCSSettings, signer: Credentials | None) -> tuple[Credentials, str]:
    """The credentials requests carry and the project: none with an emulator, else the key given, else Google's
    application-default credentials."""
    project = str((settings.credentials or {}).get("project_id") or _PROJECT)
    if settings.endpoint:
        return AnonymousCredentials(), project  # type: ignore[no-untyped-call]
    if signer is not None:
        return signer, project
    try:
        found, default_project = google.auth.default(scopes=[SCOPE])
    except google.auth.exceptions.DefaultCredentialsError as error:
        raise StorageDriverError(
            f"no credentials: give keyfile or credentials, or set up application-default credentials ({error})",
            driver=DRIVER_NAME,
        ) from error
    return found, str(default_project or project)


class Bucket:
    """The objects of one bucket, through one thread-safe SDK client. Build it with :meth:`connect`."""

    def __init__(
        self,
        settings: GCSSettings,
        client: storage.Client,
        retry_timeout: float,
        signer: service_account.Credentials | None = None,
    ) -> None:
        self._settings = settings
        self._client = client
        self._bucket = client.bucket(settings.bucket)
        self._retry: Retry = DEFAULT_RETRY.with_timeout(retry_timeout)
        self._signer = signer

    @classmethod
    def connect(cls, settings: GCSSettings, *, retry_timeout: float = DEFAULT_RETRY_TIMEOUT) -> Bucket:
        """Build the client and list the bucket once, so that a missing bucket fails here, not as "not found".

        Raises InvalidParameterError for an unusable key, StorageDriverError when the bucket is missing, the
        credentials are refused or the service cannot be reached.
        """
        signer = _signer(settings)
        credentials, project = _credentials(settings, signer)
        if signer is None and isinstance(credentials, service_account.Credentials):
            signer = credentials  # application-default credentials from a key file sign as well
        session = AuthorizedSession(credentials)  # type: ignore[no-untyped-call]
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=settings.maxconcurrency + 8)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        options = {"api_endpoint": settings.endpoint} if settings.endpoint else None
        client = storage.Client(
            project=project,
            credentials=credentials,
            _http=session,
            client_info=ClientInfo(user_agent=settings.useragent),  # type: ignore[no-untyped-call]
            client_options=options,
        )
        bucket = cls(settings, client, retry_timeout, signer)
        try:
            with bucket._translated("open bucket", "/"):
                list(client.list_blobs(settings.bucket, max_results=1, retry=bucket._retry))
        except PathNotFoundError as error:
            bucket.close()
            raise StorageDriverError(
                f"bucket {settings.bucket!r} does not exist at {bucket.endpoint}", driver=DRIVER_NAME
            ) from error.__cause__
        except BaseException:
            bucket.close()
            raise
        return bucket

    def close(self) -> None:
        """Close the HTTP connections."""
        self._client._http.close()

    @property
    def endpoint(self) -> str:
        """The service's URL, for messages."""
        return str(self._client.api_endpoint)

    @contextlib.contextmanager
    def _translated(self, action: str, path: str) -> Generator[None, None, None]:
        try:
            yield
        except StorageDriverError:
            raise
        except api_exceptions.NotFound as error:
            raise PathNotFoundError(path, driver=DRIVER_NAME) from error
        except (api_exceptions.GoogleAPIError, google.auth.exceptions.GoogleAuthError, requests.RequestException) as e:
            raise StorageDriverError(f"{action} {path}: {_describe(e)}", driver=DRIVER_NAME) from e
        except (OSError, ValueError) as error:
            raise StorageDriverError(f"{action} {path}: {_describe(error)}", driver=DRIVER_NAME) from error

    # -- reading -------------------------------------------------------------------------------------------------

    def info(self, name: str, path: str) -> ObjectInfo | None:
        """The object ``name``, or None when there is none."""
        with self._translated("stat", path):
            blob = self._bucket.get_blob(name, retry=self._retry)
        return _info(blob) if blob is not None else None

    def open_range(
        self, name: str, path: str, start: int, *, end: int | None = None, generation: int | None = None
    ) -> requests.Response | None:
        """One streamed GET of the object ``name`` from byte ``start`` to ``end`` (exclusive; default: its end), of
        ``generation`` when given; None when ``start`` is at or past the end (HTTP 416). The caller closes the
        response. Raises PathNotFoundError for a missing object (or generation)."""
        url = f"{self.endpoint}/download/storage/v1/b/{quote(self._settings.bucket, safe='')}/o/"
        url += f"{quote(name, safe='')}?alt=media"
        if generation:
            url += f"&generation={generation}"
        headers = {"Accept-Encoding": "identity", "User-Agent": str(self._client._connection.user_agent)}
        if start or end is not None:
            headers["Range"] = f"bytes={start}-{'' if end is None else end - 1}"
        with self._translated("read", path):
            response: requests.Response = self._client._http.get(url, headers=headers, stream=True)
            if response.status_code in (200, 206):
                return response
            response.close()
            if response.status_code == 416:
                return None
            if response.status_code == 404:
                raise PathNotFoundError(path, driver=DRIVER_NAME)
            raise StorageDriverError(
                f"read {path}: service answered {response.status_code} ({response.reason})", driver=DRIVER_NAME
            )

    def pages(
        self, prefix: str, path: str, *, delimiter: bool, page_size: int = LIST_PAGE_SIZE, start_offset: str = ""
    ) -> Iterator[Page]:
        """The listing below ``prefix`` in name order, a page at a time; ``delimiter`` groups at the next ``/``.

        ``start_offset`` starts the listing at that object name (inclusive), for walks that resume.
        """
        with self._translated("list", path):
            listing = self._client.list_blobs(
                self._settings.bucket,
                prefix=prefix,
                delimiter="/" if delimiter else None,
                page_size=page_size,
                start_offset=start_offset or None,
                retry=self._retry,
            )
            for page in listing.pages:
                objects = [_info(blob) for blob in page]
                yield Page(objects, sorted(str(prefix) for prefix in page.prefixes))

    # -- writing -------------------------------------------------------------------------------------------------

    def upload(self, name: str, path: str, content: bytes) -> None:
        """Store ``content`` as the whole object ``name`` in one request (atomic for readers)."""
        with self._translated("write", path):
            self._bucket.blob(name).upload_from_string(content, retry=self._retry, checksum=None)

    def open_writer(self, name: str, path: str) -> BinaryIO:
        """A resumable upload to ``name`` as a writable file: ``chunksize`` bytes per request, the object created
        when it is closed (with the bytes written so far). Errors of its writes and close are the SDK's; wrap them
        with :meth:`translated`."""
        with self._translated("write", path):
            blob = self._bucket.blob(name, chunk_size=self._settings.chunksize)
            writer: BlobWriter = blob.open(
                "wb", chunk_size=self._settings.chunksize, ignore_flush=True, retry=self._retry, checksum=None
            )
        return cast("BinaryIO", writer)

    @contextlib.contextmanager
    def translated(self, action: str, path: str) -> Generator[None, None, None]:
        """Translate the SDK errors of the block the way every method here does."""
        with self._translated(action, path):
            yield

    def compose(self, name: str, path: str, sources: list[str], generation: int) -> None:
        """Make ``name`` the concatenation of ``sources`` (at most 32), the first read only at ``generation``."""
        with self._translated("compose", path):
            self._bucket.blob(name).compose(
                [self._bucket.blob(source) for source in sources],
                if_source_generation_match=[generation] + [None] * (len(sources) - 1),
                retry=self._retry,
            )

    def rewrite(self, source: str, name: str, path: str) -> int:
        """Copy the object ``source`` to ``name`` on the server, as many rewrite calls as the service asks for.

        Returns the number of calls made. Raises PathNotFoundError(path) when the source is missing.
        """
        source_blob = self._bucket.blob(source)
        target = self._bucket.blob(name)
        with self._translated("move", path):
            return rewrite_all(lambda token: target.rewrite(source_blob, token=token, retry=self._retry))

    def delete(self, name: str, path: str) -> bool:
        """Delete the object ``name``; False when there was none."""
        try:
            with self._translated("delete", path):
                self._bucket.delete_blob(name, retry=self._retry)
        except PathNotFoundError:
            return False
        return True

    def delete_many(self, names: list[str], path: str, executor: Executor) -> int:
        """Delete ``names`` concurrently on ``executor``; return how many existed. The first failure is raised."""
        results = list(executor.map(lambda name: self.delete(name, path), names))
        return sum(results)

    # -- URLs ----------------------------------------------------------------------------------------------------

    def signed_url(self, name: str, expiry: timedelta, method: str) -> str | None:
        """A V4 signed URL for ``method`` on the object ``name``, valid for ``expiry``; None when the credentials
        hold no private key to sign with (only a key given as ``keyfile`` or ``credentials`` signs)."""
        if self._signer is None:
            return None
        return str(
            self._bucket.blob(name).generate_signed_url(
                version="v4", expiration=expiry, method=method, credentials=self._signer
            )
        )


def rewrite_all(call: Any) -> int:
    """Drive a rewrite to its end: ``call(token)`` returns ``(token, bytes_done, total)``; repeat while a token
    comes back (large objects, or a different location or storage class, take several calls). Returns the calls."""
    calls = 1
    token, _, _ = call(None)
    while token is not None:
        token, _, _ = call(token)
        calls += 1
    return calls
