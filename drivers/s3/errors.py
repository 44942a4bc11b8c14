"""Translate botocore failures into the registry-storage error tree.

Only a missing key is "not found"; everything else (a missing bucket, access denied, throttling, 5xx, a network or
timeout failure) is a StorageDriverError with the botocore exception chained as its cause.
"""

from __future__ import annotations

from registry_storage.errors import PathNotFoundError, StorageDriverError

from .parameters import DRIVER_NAME

NOT_FOUND_CODES = frozenset({"NoSuchKey", "404", "NotFound"})
"""Error codes of a missing key. HEAD answers a bare 404 also for a missing bucket, so callers that conclude "not
found" from a HEAD confirm it with a listing, which names a missing bucket (NoSuchBucket)."""


def error_code(error: BaseException) -> str | None:
    """The S3 error code of a botocore ClientError (``NoSuchKey``, ``404``...), or None for any other failure."""
    response = getattr(error, "response", None)
    if not isinstance(response, dict):
        return None
    code = response.get("Error", {}).get("Code")
    return str(code) if code is not None else None


def is_missing_key(error: BaseException) -> bool:
    """True when ``error`` says the key does not exist (never for transport failures or a missing bucket)."""
    return error_code(error) in NOT_FOUND_CODES


def is_invalid_range(error: BaseException) -> bool:
    """True when ``error`` is S3's answer to a range that starts at or past the end of the object (HTTP 416)."""
    return error_code(error) == "InvalidRange"


def translate(error: BaseException, operation: str, path: str) -> StorageDriverError:
    """The StorageDriverError to raise (``from error``) for a failed S3 ``operation`` on ``path``."""
    if is_missing_key(error):
        return PathNotFoundError(path, driver=DRIVER_NAME)
    code = error_code(error)
    if code:
        message = getattr(error, "response", {}).get("Error", {}).get("Message") or str(error)
        reason = f"{code}: {message}"
    else:
        reason = f"{type(error).__name__}: {error}"
    return StorageDriverError(f"S3 {operation} failed for {path}: {reason}", driver=DRIVER_NAME)
