"""``url_for`` options of the S3 driver: the expiry and method of a presigned URL."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from registry_storage.errors import InvalidParameterError

from .parameters import DRIVER_NAME

DEFAULT_EXPIRY = timedelta(minutes=20)
MAX_EXPIRY = timedelta(days=7)
"""The longest validity of a Signature Version 4 presigned URL."""
METHODS = {"GET": "get_object", "HEAD": "head_object"}


def _bad(option: str, reason: str) -> InvalidParameterError:
    return InvalidParameterError(option, reason, ["expiry", "method"], driver=DRIVER_NAME)


def expires_in(expiry: Any, now: datetime | None = None) -> int:
    """Seconds a URL stays valid for the ``expiry`` option.

    ``expiry`` is a number of seconds, a timedelta, an aware datetime or an RFC 3339 string (the moment the URL
    expires), or None for 20 minutes. Raises InvalidParameterError unless it gives 1 second to 7 days.
    """
    now = now or datetime.now(timezone.utc)
    if expiry is None:
        duration = DEFAULT_EXPIRY
    elif isinstance(expiry, bool):
        raise _bad("expiry", f"expected seconds, a duration or a time, got {expiry!r}")
    elif isinstance(expiry, (int, float)):
        duration = timedelta(seconds=expiry)
    elif isinstance(expiry, timedelta):
        duration = expiry
    elif isinstance(expiry, (str, datetime)):
        moment = expiry
        if isinstance(moment, str):
            try:
                moment = datetime.fromisoformat(moment.strip().replace("Z", "+00:00").replace("z", "+00:00"))
            except ValueError:
                raise _bad("expiry", f"expected an RFC 3339 time, got {expiry!r}") from None
        if moment.tzinfo is None:
            raise _bad("expiry", f"the time needs a time zone, got {expiry!r}")
        duration = moment - now
    else:
        raise _bad("expiry", f"expected seconds, a duration or a time, got {type(expiry).__name__}")
    seconds = int(duration.total_seconds())
    if not 1 <= seconds <= MAX_EXPIRY.total_seconds():
        raise _bad(
            "expiry", f"the URL would be valid for {seconds} s; the allowed range is 1..{MAX_EXPIRY.days * 86400}"
        )
    return seconds


def client_method(method: Any) -> str:
    """The boto3 client method to presign for the HTTP ``method`` option (GET, the default, or HEAD)."""
    name = "GET" if method is None else str(method).upper()
    if name not in METHODS:
        raise _bad("method", f"expected GET or HEAD, got {method!r}")
    return METHODS[name]
