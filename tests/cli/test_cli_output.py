"""Human sizes, times and one-line errors."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from registry_storage.cli.output import human_size, human_time, one_line, rfc3339
from registry_storage.errors import DriverExitedError, PathNotFoundError


@pytest.mark.parametrize(
    ("size", "text"),
    [(0, "0 B"), (1023, "1023 B"), (1024, "1.0 KiB"), (1536, "1.5 KiB"), (5 << 20, "5.0 MiB"), (3 << 40, "3.0 TiB")],
)
def test_human_size(size: int, text: str) -> None:
    assert human_size(size) == text


def test_times_are_shown_in_utc() -> None:
    moment = datetime(2024, 5, 1, 14, 30, 5, 123456, tzinfo=timezone(timedelta(hours=2)))
    assert rfc3339(moment) == "2024-05-01T12:30:05.123456Z"
    assert human_time(moment) == "2024-05-01 12:30:05"


def test_a_driver_exit_is_one_line_with_the_last_thing_it_said() -> None:
    error = DriverExitedError(2, "INFO starting\nregistry-storage-s3: parameter 'bucket': required\n\n", driver="s3")
    said = "registry-storage-s3: parameter 'bucket': required"
    assert one_line(error) == f"s3: driver process exited with status 2: {said}"
    assert one_line(DriverExitedError(None, driver="x")) == "x: driver process exited with status None"


def test_other_errors_keep_their_first_line() -> None:
    assert one_line(PathNotFoundError("/a", driver="inmemory")) == "inmemory: path not found: /a"
    assert one_line(ValueError("first\nsecond")) == "first"
    assert one_line(KeyboardInterrupt()) == "KeyboardInterrupt"
