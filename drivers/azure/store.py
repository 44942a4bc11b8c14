"""BlobStore: the one module that talks to azure-storage-blob, in terms of driver paths.

It maps a path to a blob name under the root directory (``/a/b`` is ``<root>/a/b``, the directory ``/a`` is the
prefix ``<root>/a/``), makes each SDK call and turns every SDK error into a storage error: a missing blob
(``BlobNotFound``) becomes :class:`PathNotFoundError`, anything else, a missing container and every transport or
authentication failure included, becomes :class:`StorageDriverError` with the SDK error as its cause.

This module imports the SDK when it is imported; the driver imports it only when a driver is built, so the package
imports without the ``[azure]`` extra.
"""

from __future__ import annotations

import contextlib
import io
import time
from collections.abc import Generator, Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any, cast

import requests
from azure.core.credentials import AzureNamedKeyCredential
from azure.core.exceptions import (
    AzureError,
    ClientAuthenticationError,
    HttpResponseError,
    ResourceExistsError,
    ResourceNotFoundError,
)
from azure.core.pipeline.transport import RequestsTransport
from azure.storage.blob import (
    BlobBlock,
    BlobProperties,
    BlobSasPermissions,
    BlobServiceClient,
    ContainerClient,
    generate_blob_sas,
)
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from registry_storage.bodyreader import empty_stream, open_body
from registry_storage.errors import InvalidParameterError, PathNotFoundError, StorageDriverError
from registry_storage.fileinfo import EPOCH, FileInfo
from registry_storage.paths import ROOT

from .blocks import CommittedBlock
from .parameters import DRIVER_NAME, MIB, PAGE_SIZE, AzureSettings
from .retry import BudgetedRetry, call_budget
from .walking import BlobEntry

BATCH_SIZE = 256
"""Blobs per batch delete request: the most one batch may hold."""

DOWNLOAD_CHUNK_SIZE = 4 * MIB
"""Bytes fetched by one ranged request where the SDK downloader is used: ``get_content`` of a large blob (that many
at once) and the old content a write at an offset stages again. ``read_stream`` makes one streamed GET instead."""

COPY_POLL_LIMIT = 600.0
"""Seconds a server-side copy may stay pending before the move gives up."""

_CONNECTION_POOL_SIZE = 64

FOLDER_METADATA = "hdi_isfolder"
"""The metadata key with which Data Lake (hierarchical namespace) accounts mark a blob as a folder."""

RESPONSE_READ_SIZE = 256 * 1024
"""Bytes read from the socket at a time while a response body streams in: the SDK's own default. A transport passed
in keeps azure-core's default of 4 KiB instead, which makes every download cost several times the CPU."""


def _describe(error: AzureError) -> str:
    if isinstance(error, HttpResponseError) and error.status_code is not None:
        code = f" {_error_code(error)}" if _error_code(error) else ""
        return f"service answered {error.status_code}{code} ({error.reason})"
    first_line = str(error.message).strip().splitlines()
    return f"{type(error).__name__}: {first_line[0] if first_line else 'no detail'}"


def _http_response(pipeline_response: Any, deserialized: object, headers: object) -> Any:
    """The ``cls`` hook of a generated operation that keeps the transport's response (its body not yet read)."""
    return pipeline_response.http_response


def is_marked_folder(properties: BlobProperties) -> bool:
    """True when the blob is a folder placeholder marked with ``hdi_isfolder=true``."""
    return marks_folder((properties.metadata or {}).get(FOLDER_METADATA))


def marks_folder(value: object) -> bool:
    """True for the ``hdi_isfolder`` metadata value (from properties or an ``x-ms-meta-`` header) of a folder."""
    return str(value or "").lower() == "true"


def _error_code(error: AzureError) -> str:
    """The service's error code: the SDK's parsed one, else the ``x-ms-error-code`` header (generated operations
    called directly raise without parsing it)."""
    code = getattr(error, "error_code", None)
    if not code:
        response = getattr(error, "response", None)
        code = response.headers.get("x-ms-error-code") if response is not None else None
    return str(getattr(code, "value", code) or "")


class BlobStore:
    """The blobs of one container below one root directory, addressed by driver paths.

    Thread-safe: the SDK clients are, and the store keeps no other state. Build it with :meth:`connect`.
    """

    def __init__(self, settings: AzureSettings, service: BlobServiceClient) -> None:
        self._settings = settings
        self._service = service
        self._container: ContainerClient = service.get_container_client(settings.container)
        self._prefix = settings.blob_prefix
        self.page_size = PAGE_SIZE
        """Blobs per listing request (at most :data:`PAGE_SIZE`)."""

    @classmethod
    def connect(cls, settings: AzureSettings) -> BlobStore:
        """Build the store and create its container when missing.

        Raises InvalidParameterError when the service rejects the credentials or the connection string, and
        StorageDriverError (with the cause) when the service cannot be reached or fails.
        """
        session = requests.Session()
        adapter = HTTPAdapter(
            pool_maxsize=_CONNECTION_POOL_SIZE, max_retries=Retry(total=False, redirect=False, raise_on_status=False)
        )
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        options: dict[str, Any] = {
            "transport": RequestsTransport(
                session=session, session_owner=True, connection_data_block_size=RESPONSE_READ_SIZE
            ),
            "retry_policy": BudgetedRetry(
                retry_timeout=settings.retrytimeout,
                initial_backoff=1,
                increment_base=2,
                retry_total=settings.maxretries,
                random_jitter_range=1,
            ),
            "max_single_put_size": settings.blocksize,
            "max_block_size": settings.blocksize,
            "max_single_get_size": DOWNLOAD_CHUNK_SIZE,
            "max_chunk_get_size": DOWNLOAD_CHUNK_SIZE,
        }
        if settings.connectionstring:
            try:
                service = BlobServiceClient.from_connection_string(settings.connectionstring, **options)
            except ValueError:
                session.close()
                raise InvalidParameterError(
                    "connectionstring", "the SDK cannot use it (check its endpoints and keys)", driver=DRIVER_NAME
                ) from None
        else:
            credential = AzureNamedKeyCredential(cast(str, settings.accountname), cast(str, settings.accountkey))
            service = BlobServiceClient(cast(str, settings.account_url), credential=credential, **options)
        store = cls(settings, service)
        try:
            store.create_container()
        except BaseException:
            store.close()
            raise
        return store

    def call(self) -> contextlib.AbstractContextManager[object]:
        """Around one driver call: its requests share one budget of ``retrytimeout`` seconds of retrying."""
        return call_budget(self._settings.retrytimeout)

    def close(self) -> None:
        """Close the HTTP connections; the store must not be used afterwards."""
        self._container.close()
        self._service.close()

    @property
    def endpoint(self) -> str:
        """The URL of the container, for reprs and messages (it carries no secret)."""
        return self._container.url.split("?", 1)[0]

    # -- names -------------------------------------------------------------------------------------------------

    def blob_name(self, path: str) -> str:
        """The blob name of the file at ``path``."""
        return self._prefix + path[1:]

    def directory_prefix(self, path: str) -> str:
        """The blob name prefix of everything below directory ``path``."""
        return self._prefix if path == ROOT else self.blob_name(path) + "/"

    # -- errors ------------------------------------------------------------------------------------------------

    @contextmanager
    def _translated(self, action: str, path: str) -> Generator[None, None, None]:
        try:
            yield
        except ResourceNotFoundError as error:
            if _error_code(error) == "BlobNotFound":
                raise PathNotFoundError(path, driver=DRIVER_NAME) from error
            raise StorageDriverError(f"{action} {path}: {_describe(error)}", driver=DRIVER_NAME) from error
        except AzureError as error:
            raise StorageDriverError(f"{action} {path}: {_describe(error)}", driver=DRIVER_NAME) from error

    # -- container ---------------------------------------------------------------------------------------------

    def create_container(self) -> None:
        """Create the container unless it exists."""
        credentials = "connectionstring" if self._settings.connectionstring else "accountkey"
        try:
            self._container.create_container()
        except ResourceExistsError:
            return
        except HttpResponseError as error:
            if isinstance(error, ClientAuthenticationError) or error.status_code == 403:
                raise InvalidParameterError(
                    credentials, f"the service refused the credentials: {_describe(error)}", driver=DRIVER_NAME
                ) from error
            raise StorageDriverError(
                f"cannot create or open container {self._settings.container!r} at {self.endpoint}: {_describe(error)}",
                driver=DRIVER_NAME,
            ) from error
        except AzureError as error:
            raise StorageDriverError(
                f"cannot create or open container {self._settings.container!r} at {self.endpoint}: {_describe(error)}",
                driver=DRIVER_NAME,
            ) from error

    # -- reading -----------------------------------------------------------------------------------------------

    def file_info(self, path: str) -> FileInfo | None:
        """The size and mod time of the blob at ``path`` (a directory when it is a marked folder), or None."""
        try:
            with self._translated("stat", path):
                properties: BlobProperties = self._container.get_blob_client(self.blob_name(path)).get_blob_properties()
        except PathNotFoundError:
            return None
        if is_marked_folder(properties):
            return FileInfo(path, 0, EPOCH, is_dir=True)
        return FileInfo(path, properties.size, properties.last_modified, is_dir=False)

    def has_children(self, path: str) -> bool:
        """True when at least one blob lies below directory ``path``."""
        with self._translated("list", path):
            names = self._container.list_blob_names(name_starts_with=self.directory_prefix(path), results_per_page=1)
            return next(iter(names), None) is not None

    def download(self, path: str, concurrency: int) -> bytes:
        """The whole content of the blob at ``path``, fetched by ``concurrency`` ranged requests at once."""
        with self._translated("read", path):
            blob = self._container.get_blob_client(self.blob_name(path))
            downloader = blob.download_blob(max_concurrency=concurrency)
            self._refuse_folder(downloader.properties, path)
            return downloader.readall()

    def open_stream(self, path: str, offset: int) -> io.BufferedIOBase:
        """The content of the blob at ``path`` from ``offset``, as the body of one GET read as the caller reads.

        The request is made now, so a missing blob raises PathNotFoundError here; an offset at or past the end gives
        a stream at its end. One response serves one version of the blob, so a blob replaced meanwhile never mixes
        two contents. The SDK's downloader would fetch the blob in ranged requests of ``max_chunk_get_size`` bytes,
        each read whole into memory and then copied out: the SDK's generated ``download`` operation (the one its
        downloader calls, through the same pipeline: credentials, retries, the call's retry budget) streams the
        response instead, and the body is read straight from the connection.
        """
        with self._translated("read", path):
            blob = self._container.get_blob_client(self.blob_name(path))
            try:
                response = blob._client.blob.download(range=f"bytes={offset}-" if offset else None, cls=_http_response)
            except HttpResponseError as error:
                if error.status_code == 416:
                    return self._empty_unless_folder(path)
                raise
        raw = response.internal_response.raw
        if marks_folder(response.headers.get(f"x-ms-meta-{FOLDER_METADATA}")):
            response.internal_response.close()
            raise PathNotFoundError(path, driver=DRIVER_NAME)

        def read(size: int | None) -> bytes:
            return cast(bytes, raw.read(size, decode_content=False))

        def failed(error: Exception) -> StorageDriverError:
            return StorageDriverError(f"reading {path} from Azure failed: {error}", driver=DRIVER_NAME)

        return open_body(read, response.internal_response.close, failed)

    def _refuse_folder(self, properties: BlobProperties, path: str) -> None:
        if is_marked_folder(properties):
            raise PathNotFoundError(path, driver=DRIVER_NAME)

    def _empty_unless_folder(self, path: str) -> io.BufferedIOBase:
        info = self.file_info(path)
        if info is None or info.is_dir:
            raise PathNotFoundError(path, driver=DRIVER_NAME)
        return empty_stream()

    def read_range(self, path: str, start: int, end: int) -> Iterator[bytes]:
        """Bytes ``start`` to ``end`` (exclusive) of the blob at ``path``, in chunks of at most one request each."""
        if end <= start:
            return iter(())
        with self._translated("read", path):
            blob = self._container.get_blob_client(self.blob_name(path))
            downloader = blob.download_blob(offset=start, length=end - start)
            return self._translated_chunks("read", path, downloader.chunks())

    def _translated_chunks(self, action: str, path: str, chunks: Iterable[bytes]) -> Iterator[bytes]:
        with self._translated(action, path):
            yield from chunks

    def committed_blocks(self, path: str) -> list[CommittedBlock]:
        """The committed blocks of the blob at ``path`` in order (empty for a blob written in one request)."""
        with self._translated("read block list of", path):
            committed, _ = self._container.get_blob_client(self.blob_name(path)).get_block_list("committed")
        return [CommittedBlock(str(block.id), int(block.size)) for block in committed]

    # -- writing -----------------------------------------------------------------------------------------------

    def upload(self, path: str, content: bytes) -> None:
        """Replace the blob at ``path`` with ``content`` in one request (the content is at most one block)."""
        with self._translated("write", path):
            self._container.get_blob_client(self.blob_name(path)).upload_blob(content, overwrite=True)

    def stage_block(self, path: str, block_id: str, data: bytes) -> None:
        """Stage ``data`` as the uncommitted block ``block_id`` of the blob at ``path``."""
        with self._translated("stage a block of", path):
            self._container.get_blob_client(self.blob_name(path)).stage_block(block_id, data, length=len(data))

    def commit_blocks(self, path: str, block_ids: list[str]) -> None:
        """Make the blocks ``block_ids``, in order, the whole content of the blob at ``path``."""
        with self._translated("commit blocks of", path):
            blocks = [BlobBlock(block_id) for block_id in block_ids]
            self._container.get_blob_client(self.blob_name(path)).commit_block_list(blocks)

    def copy(self, source: str, destination: str) -> None:
        """Copy the blob at ``source`` to ``destination`` on the server and wait until the copy is complete."""
        source_blob = self._container.get_blob_client(self.blob_name(source))
        target = self._container.get_blob_client(self.blob_name(destination))
        with self._translated("copy", source):
            copy = target.start_copy_from_url(source_blob.url)
        status = str(copy.get("copy_status") or "")
        delay = 0.02
        waited = 0.0
        while status == "pending":
            if waited > COPY_POLL_LIMIT:
                with self._translated("abort copy to", destination):
                    target.abort_copy(str(copy["copy_id"]))
                raise StorageDriverError(
                    f"copy of {source} to {destination} still pending after {COPY_POLL_LIMIT:g} s; aborted",
                    driver=DRIVER_NAME,
                )
            time.sleep(delay)
            waited += delay
            delay = min(delay * 2, 1.0)
            with self._translated("copy", destination):
                status = str(target.get_blob_properties().copy.status or "")
        if status != "success":
            raise StorageDriverError(f"copy of {source} to {destination} ended as {status!r}", driver=DRIVER_NAME)

    def delete_file(self, path: str) -> bool:
        """Delete the blob at ``path``; False when there was none."""
        try:
            with self._translated("delete", path):
                self._container.get_blob_client(self.blob_name(path)).delete_blob()
        except PathNotFoundError:
            return False
        return True

    def delete_below(self, path: str) -> int:
        """Delete every blob below directory ``path``, a listing page at a time; return how many were deleted."""
        deleted = 0
        with self._translated("delete", path):
            pages = self._container.list_blob_names(
                name_starts_with=self.directory_prefix(path), results_per_page=self.page_size
            ).by_page()
            for page in pages:
                names = list(page)
                for start in range(0, len(names), BATCH_SIZE):
                    deleted += self._delete_batch(path, names[start : start + BATCH_SIZE])
        return deleted

    def _delete_batch(self, path: str, names: list[str]) -> int:
        responses = self._container.delete_blobs(*names, raise_on_any_failure=False)
        deleted = 0
        for name, response in zip(names, responses, strict=True):
            if response.status_code == 404:
                continue  # deleted meanwhile
            if response.status_code >= 300:
                raise StorageDriverError(
                    f"delete {path}: the service answered {response.status_code} for blob {name!r}", driver=DRIVER_NAME
                )
            deleted += 1
        return deleted

    # -- listing -----------------------------------------------------------------------------------------------

    def child_names(self, path: str) -> Iterator[str]:
        """The names of the blobs and blob prefixes directly below directory ``path``, by a delimiter listing.

        Names come relative to the directory, prefixes without their trailing ``/``; a name can come twice (a
        blob and a prefix of the same name) and the order is the service's. A folder placeholder ``<dir>/`` of the
        directory itself comes as ``""``; names that break the path rules come too, for the caller to skip.
        """
        prefix = self.directory_prefix(path)
        with self._translated("list", path):
            items = self._container.walk_blobs(name_starts_with=prefix, delimiter="/", results_per_page=self.page_size)
            for item in items:
                yield str(item.name)[len(prefix) :].rstrip("/")

    def entries(self, path: str, name_prefix: str = "", after: str | None = None) -> Iterator[BlobEntry]:
        """Every blob below directory ``path`` by one flat, paginated listing, in the service's name order.

        Names come relative to the directory. With ``name_prefix`` only names starting with it are listed; with
        ``after``, only names above it (the service is asked to start there, and names up to it are dropped in
        case it does not). The first page is fetched now, so errors surface at the call.
        """
        prefix = self.directory_prefix(path)
        options: dict[str, Any] = {} if after is None else {"start_from": prefix + after}
        with self._translated("walk", path):
            blobs = self._container.list_blobs(
                name_starts_with=prefix + name_prefix,
                results_per_page=self.page_size,
                include=["metadata"],
                **options,
            )
            pages = blobs.by_page()
            first = list(next(pages, []))
        return self._entries(path, prefix, first, pages, after)

    def _entries(
        self,
        path: str,
        prefix: str,
        first: list[BlobProperties],
        pages: Iterator[Iterator[BlobProperties]],
        after: str | None,
    ) -> Iterator[BlobEntry]:
        page: Iterable[BlobProperties] = first
        with self._translated("walk", path):
            while True:
                for blob in page:
                    name = str(blob.name)[len(prefix) :]
                    if after is None or name > after:
                        yield BlobEntry(name, int(blob.size), blob.last_modified, is_marked_folder(blob))
                following = next(pages, None)
                if following is None:
                    return
                page = following

    # -- URLs --------------------------------------------------------------------------------------------------

    def signed_url(self, path: str, expiry: datetime) -> str | None:
        """A URL that reads the blob at ``path`` until ``expiry``, signed with the account key (None without one)."""
        credential = self._service.credential
        account_key = getattr(credential, "account_key", None)
        account_name = getattr(credential, "account_name", None)
        if not account_key or not account_name:
            return None
        name = self.blob_name(path)
        signature = generate_blob_sas(
            account_name,
            self._settings.container,
            name,
            account_key=account_key,
            permission=BlobSasPermissions(read=True),
            expiry=expiry,
        )
        url = self._container.get_blob_client(name).url.split("?", 1)[0]
        return f"{url}?{signature}"
