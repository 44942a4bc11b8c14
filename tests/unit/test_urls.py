"""The ``expiry`` option of ``url_for`` as every URL-signing driver reads it (registry_storage.urls)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from registry_storage.errors import InvalidParameterError
from registry_storage.urls import DEFAULT_URL_LIFETIME, url_lifetime

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=timezone.utc)
WEEK = timedelta(days=7)


@pytest.mark.parametrize(
    ("value", "lifetime"),
    [
        (None, DEFAULT_URL_LIFETIME),
        (600, timedelta(minutes=10)),
        (1.5, timedelta(seconds=1.5)),
        (timedelta(hours=2), timedelta(hours=2)),
        (NOW + timedelta(hours=1), timedelta(hours=1)),
        ("2026-12-02T13:00:00Z", timedelta(hours=1)),
        ("2026-12-02T14:00:00+01:00", timedelta(hours=1)),
        (WEEK, WEEK),
    ],
)
def test_every_accepted_form_gives_its_lifetime(value: object, lifetime: timedelta) -> None:
    assert url_lifetime(value, driver="d", accepted=["expiry"], longest=WEEK, now=NOW) == lifetime


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (True, "expected seconds, a duration or a time"),
        ([60], "expected seconds, a duration or a time, got list"),
        ("tomorrow", "expected an RFC 3339 time"),
        (datetime(2026, 12, 2, 13, 0), "the time needs a time zone"),
        (0, "the allowed range is 1 s to 7 days"),
        (NOW - timedelta(seconds=5), "the allowed range is 1 s to 7 days"),
        (WEEK + timedelta(seconds=1), "the allowed range is 1 s to 7 days"),
    ],
)
def test_anything_else_is_an_invalid_expiry_naming_the_driver(value: object, reason: str) -> None:
    with pytest.raises(InvalidParameterError) as raised:
        url_lifetime(value, driver="d", accepted=["expiry", "method"], longest=WEEK, now=NOW)
    assert raised.value.parameter == "expiry"
    assert reason in raised.value.reason
    assert raised.value.accepted == ["expiry", "method"]
    assert raised.value.driver == "d"


def test_without_a_longest_lifetime_only_the_shortest_is_checked() -> None:
    assert url_lifetime(timedelta(days=30), driver="d", accepted=["expiry"], now=NOW) == timedelta(days=30)
    with pytest.raises(InvalidParameterError, match="at least 1 s"):
        url_lifetime(0.5, driver="d", accepted=["expiry"], now=NOW)
