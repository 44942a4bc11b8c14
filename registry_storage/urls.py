"""The ``expiry`` option of ``url_for``, read the same way by every driver that signs URLs (S3, GCS, Azure)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from .errors import InvalidParameterError

DEFAULT_URL_LIFETIME = timedelta(minutes=20)
"""How long a URL stays valid when ``expiry`` is not given."""
_SHORTEST = timedelta(seconds=1)


def url_lifetime(
    value: object,
    *,
    driver: str,
    accepted: list[str],
    longest: timedelta | None = None,
    now: datetime | None = None,
) -> timedelta:
    """How long a URL stays valid for the ``expiry`` option ``value``.

    ``value`` is a number of seconds, a timedelta, an aware datetime or RFC 3339 text (the moment the URL expires),
    or None for :data:`DEFAULT_URL_LIFETIME`. ``now`` is the moment the URL is signed (the current time unless
    given). Raises InvalidParameterError for the option ``expiry`` (naming the ``accepted`` options and
    ``driver``) for any other type, text that is no RFC 3339 time, a time without a time zone, and a lifetime under
    1 second or over ``longest``.
    """
    now = now or datetime.now(timezone.utc)

    def bad(reason: str) -> InvalidParameterError:
        return InvalidParameterError("expiry", reason, accepted, driver=driver)

    if value is None:
        lifetime = DEFAULT_URL_LIFETIME
    elif isinstance(value, bool):
        raise bad(f"expected seconds, a duration or a time, got {value!r}")
    elif isinstance(value, (int, float)):
        lifetime = timedelta(seconds=value)
    elif isinstance(value, timedelta):
        lifetime = value
    elif isinstance(value, (str, datetime)):
        moment = value
        if isinstance(moment, str):
            try:
                moment = datetime.fromisoformat(moment.strip().replace("Z", "+00:00").replace("z", "+00:00"))
            except ValueError:
                raise bad(f"expected an RFC 3339 time, got {value!r}") from None
        if moment.tzinfo is None:
            raise bad(f"the time needs a time zone, got {value!r}")
        lifetime = moment - now
    else:
        raise bad(f"expected seconds, a duration or a time, got {type(value).__name__}")
    if lifetime < _SHORTEST or (longest is not None and lifetime > longest):
        allowed = f"1 s to {longest}" if longest is not None else "at least 1 s"
        raise bad(f"the URL would be valid for {lifetime}; the allowed range is {allowed}")
    return lifetime


__all__ = ["DEFAULT_URL_LIFETIME", "url_lifetime"]
