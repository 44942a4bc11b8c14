"""The S3 calls the driver makes, on one bucket, with botocore failures translated.

Each method names the ``path`` it works for, so that errors carry it: a missing key becomes PathNotFoundError(path);
everything else becomes StorageDriverError with the botocore error chained. The client is shared by every thread.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from registry_storage.errors import StorageDriverError

from .errors import is_missing_key, translate
from .parameters import DRIVER_NAME, S3Settings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import (
        CompletedPartTypeDef,
        GetObjectOutputTypeDef,
        HeadObjectOutputTypeDef,
        ObjectTypeDef,
    )

logger = logging.getLogger(__name__)

LIST_PAGE_SIZE = 1000
"""Keys per ListObjectsV2 page, and keys per DeleteObjects batch: the most S3 allows."""


def write_arguments(settings: S3Settings) -> dict[str, Any]:
    """The arguments every object write carries: storage class, server-side encryption, canned ACL."""
    arguments: dict[str, Any] = {}
    if settings.storageclass != "NONE":
        arguments["StorageClass"] = settings.storageclass
    if settings.encrypt:
        if settings.keyid:
            arguments["ServerSideEncryption"] = "aws:kms"
            arguments["SSEKMSKeyId"] = settings.keyid
        else:
            arguments["ServerSideEncryption"] = "AES256"
    if settings.objectacl:
        arguments["ACL"] = settings.objectacl
    return arguments


def _blob(body: bytes | bytearray) -> bytes:
    """``body`` as the stubs type it; botocore also takes a bytearray as it is, which saves copying a part."""
    return cast("bytes", body)


@dataclass(frozen=True)
class Listing:
    """One page of a listing: the keys (``Contents``) and, with a delimiter, the common prefixes."""

    objects: list[ObjectTypeDef]
    prefixes: list[str]


@dataclass
class Bucket:
    """One bucket, seen through a shared boto3 client."""

    client: S3Client
    name: str
    write_args: dict[str, Any] = field(default_factory=dict)

    # -- reading -------------------------------------------------------------------------------------------------

    def head(self, key: str, path: str) -> HeadObjectOutputTypeDef | None:
        """The object's metadata, or None when no object has this key.

        A bare 404 also answers for a missing bucket: a caller that concludes "not found" from None must have made
        a listing too, which reports a missing bucket as an error.
        """
        try:
            return self.client.head_object(Bucket=self.name, Key=key)
        except Exception as error:
            if is_missing_key(error):
                return None
            raise translate(error, "HeadObject", path) from error

    def get(
        self, key: str, path: str, *, start: int = 0, end: int | None = None, etag: str | None = None
    ) -> GetObjectOutputTypeDef:
        """GET the object from byte ``start`` to ``end`` (exclusive; None: to the end), only if its ETag is ``etag``.

        Raises PathNotFoundError(path) when the key is missing; a range past the end raises StorageDriverError whose
        cause is the InvalidRange ClientError (see :func:`~registry_storage.drivers.s3.errors.is_invalid_range`).
        """
        arguments: dict[str, Any] = {}
        if start or end is not None:
            arguments["Range"] = f"bytes={start}-{'' if end is None else end - 1}"
        if etag is not None:
            arguments["IfMatch"] = etag
        try:
            return self.client.get_object(Bucket=self.name, Key=key, **arguments)
        except Exception as error:
            raise translate(error, "GetObject", path) from error

    def pages(
        self,
        prefix: str,
        path: str,
        *,
        delimiter: bool,
        page_size: int = LIST_PAGE_SIZE,
        start_after: str | None = None,
    ) -> Iterator[Listing]:
        """Yield the pages of ListObjectsV2 below ``prefix``, in key order; ``delimiter`` groups at the next ``/``;
        ``start_after`` (a whole key) starts the listing after that key."""
        arguments: dict[str, Any] = {"Bucket": self.name, "Prefix": prefix, "MaxKeys": page_size}
        if start_after is not None:
            arguments["StartAfter"] = start_after
        if delimiter:
            arguments["Delimiter"] = "/"
        while True:
            try:
                page = self.client.list_objects_v2(**arguments)
            except Exception as error:
                raise translate(error, "ListObjectsV2", path) from error
            yield Listing(
                objects=list(page.get("Contents", [])),
                prefixes=[entry["Prefix"] for entry in page.get("CommonPrefixes", []) if "Prefix" in entry],
            )
            token = page.get("NextContinuationToken")
            if not page.get("IsTruncated") or not token:
                return
            arguments["ContinuationToken"] = token

    # -- writing -------------------------------------------------------------------------------------------------

    def put(self, key: str, path: str, body: bytes | bytearray) -> None:
        """Store ``body`` as the whole object in one PUT (atomic for readers)."""
        try:
            self.client.put_object(Bucket=self.name, Key=key, Body=_blob(body), **self.write_args)
        except Exception as error:
            raise translate(error, "PutObject", path) from error

    def copy(self, source_key: str, key: str, path: str) -> None:
        """Copy the object ``source_key`` (at most 5 GiB) to ``key`` on the server, with the write arguments."""
        try:
            self.client.copy_object(
                Bucket=self.name, Key=key, CopySource={"Bucket": self.name, "Key": source_key}, **self.write_args
            )
        except Exception as error:
            raise translate(error, "CopyObject", path) from error

    def delete(self, key: str, path: str) -> None:
        """Delete one key (no error when it is already gone)."""
        try:
            self.client.delete_object(Bucket=self.name, Key=key)
        except Exception as error:
            raise translate(error, "DeleteObject", path) from error

    def delete_batch(self, keys: list[str], path: str) -> None:
        """Delete up to 1,000 keys in one DeleteObjects request; raise StorageDriverError if any key failed."""
        try:
            response = self.client.delete_objects(
                Bucket=self.name, Delete={"Objects": [{"Key": key} for key in keys], "Quiet": True}
            )
        except Exception as error:
            raise translate(error, "DeleteObjects", path) from error
        failures = response.get("Errors", [])
        if failures:
            first = failures[0]
            raise StorageDriverError(
                f"S3 DeleteObjects failed for {len(failures)} keys below {path}, first {first.get('Key')!r}: "
                f"{first.get('Code')}: {first.get('Message')}",
                driver=DRIVER_NAME,
            )

    # -- multipart uploads ---------------------------------------------------------------------------------------

    def create_upload(self, key: str, path: str) -> str:
        """Start a multipart upload to ``key``; return its upload id."""
        try:
            return self.client.create_multipart_upload(Bucket=self.name, Key=key, **self.write_args)["UploadId"]
        except Exception as error:
            raise translate(error, "CreateMultipartUpload", path) from error

    def upload_part(self, key: str, path: str, upload_id: str, number: int, body: bytes | bytearray) -> str:
        """Upload part ``number`` of an upload; return its ETag."""
        try:
            response = self.client.upload_part(
                Bucket=self.name, Key=key, UploadId=upload_id, PartNumber=number, Body=_blob(body)
            )
        except Exception as error:
            raise translate(error, f"UploadPart {number}", path) from error
        return response["ETag"]

    def copy_part(
        self,
        key: str,
        path: str,
        *,
        upload_id: str,
        number: int,
        source_key: str,
        start: int,
        end: int,
        etag: str | None = None,
    ) -> str:
        """Copy bytes ``start`` to ``end`` (exclusive) of ``source_key`` as part ``number`` on the server.

        With ``etag``, the copy happens only while the source still has that ETag. Returns the part's ETag.
        """
        arguments: dict[str, Any] = {}
        if etag is not None:
            arguments["CopySourceIfMatch"] = etag
        try:
            response = self.client.upload_part_copy(
                Bucket=self.name,
                Key=key,
                UploadId=upload_id,
                PartNumber=number,
                CopySource={"Bucket": self.name, "Key": source_key},
                CopySourceRange=f"bytes={start}-{end - 1}",
                **arguments,
            )
        except Exception as error:
            raise translate(error, f"UploadPartCopy {number}", path) from error
        return response["CopyPartResult"]["ETag"]

    def complete_upload(self, key: str, path: str, upload_id: str, etags: list[str]) -> None:
        """Complete an upload from its parts 1..n (``etags[i]`` is the ETag of part i + 1)."""
        parts: list[CompletedPartTypeDef] = [{"PartNumber": i + 1, "ETag": etag} for i, etag in enumerate(etags)]
        try:
            self.client.complete_multipart_upload(
                Bucket=self.name, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts}
            )
        except Exception as error:
            raise translate(error, "CompleteMultipartUpload", path) from error

    def abort_upload(self, key: str, path: str, upload_id: str) -> None:
        """Abort an upload and drop its parts; log, never raise, when that fails (the caller is already failing)."""
        try:
            self.client.abort_multipart_upload(Bucket=self.name, Key=key, UploadId=upload_id)
        except Exception as error:
            logger.warning("could not abort the multipart upload %s of %s: %s", upload_id, path, error)
