"""``url_for`` options of the S3 driver: the expiry and method of a presigned URL."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from registry_storage.errors import InvalidParameterError
from registry_storage.urls import url_lifetime

from .parameters import DRIVER_NAME

LONGEST_URL_LIFETIME = timedelta(days=7)
"""The longest validity of a Signature Version 4 presigned URL."""
METHODS = {"GET": "get_object", "HEAD": "head_object"}
OPTIONS = ["expiry", "method"]


def _bad(option: str, reason: str) -> InvalidParameterError:
    return InvalidParameterError(option, reason, OPTIONS, driver=DRIVER_NAME)


def expires_in(expiry: Any, now: datetime | None = None) -> int:
    """Whole seconds a URL stays valid for the ``expiry`` option (see :func:`registry_storage.urls.url_lifetime`;
    at most 7 days). Raises InvalidParameterError for a bad one."""
    lifetime = url_lifetime(expiry, driver=DRIVER_NAME, accepted=OPTIONS, longest=LONGEST_URL_LIFETIME, now=now)
    return int(lifetime.total_seconds())


def client_method(method: Any) -> str:
    """The boto3 client method to presign for the HTTP ``method`` option (GET, the default, or HEAD)."""
    name = "GET" if method is None else str(method).upper()
    if name not in METHODS:
        raise _bad("method", f"expected GET or HEAD, got {method!r}")
    return METHODS[name]
