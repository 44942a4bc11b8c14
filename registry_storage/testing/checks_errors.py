"""Checks of what errors carry, and of ``url_for``."""

from __future__ import annotations

import urllib.parse
import urllib.request

from registry_storage.errors import (
    InvalidOffsetError,
    InvalidPathError,
    PathNotFoundError,
    StorageDriverError,
    UnsupportedMethodError,
)
from registry_storage.testing.expectations import (
    describe_error,
    expect,
    expect_bytes,
    expect_equal,
    expect_raises,
    fail,
    shorten,
)
from registry_storage.testing.registry import CheckContext, CheckGroup

group = CheckGroup("errors")

URL_TIMEOUT = 30.0
"""Seconds allowed for fetching a URL from url_for."""


@group.check
def path_not_found_error_is_a_file_not_found_error(context: CheckContext) -> None:
    """PathNotFoundError is also a FileNotFoundError and a StorageDriverError, so either ``except`` catches it."""
    driver, path = context.driver, context.path("absent")
    error = expect_raises(FileNotFoundError, lambda: driver.get_content(path), f"get_content({path!r})")
    expect(
        isinstance(error, PathNotFoundError) and isinstance(error, StorageDriverError),
        f"expected a PathNotFoundError (a StorageDriverError), got {describe_error(error)}",
    )


@group.check
def errors_carry_the_driver_name_and_their_fields(context: CheckContext) -> None:
    """Each error names its driver (non-empty ``driver``) and carries its fields (``path``, ``offset``)."""
    driver, path = context.driver, context.path("file")
    driver.put_content(path, b"x")
    missing = context.path("absent")
    not_found = expect_raises(PathNotFoundError, lambda: driver.stat(missing), f"stat({missing!r})")
    invalid = expect_raises(InvalidPathError, lambda: driver.stat("/a/"), "stat('/a/')")
    offset = expect_raises(InvalidOffsetError, lambda: driver.read_stream(path, -7), f"read_stream({path!r}, -7)")
    expect_equal(not_found.fields(), {"path": missing}, "PathNotFoundError.fields()")
    expect_equal(invalid.path, "/a/", "InvalidPathError.path")
    expect_equal(offset.fields(), {"path": path, "offset": -7}, "InvalidOffsetError.fields()")
    names = {type(error).__name__: error.driver for error in (not_found, invalid, offset)}
    expect(all(isinstance(name, str) and name for name in names.values()), f"driver names: {names}")


@group.check
def url_for_returns_a_url_or_raises_unsupported_method(context: CheckContext) -> None:
    """url_for of a file returns a URL string with a scheme, or raises UnsupportedMethodError."""
    driver, path = context.driver, context.path("file")
    driver.put_content(path, b"x")
    try:
        url = driver.url_for(path)
    except UnsupportedMethodError as error:
        expect(bool(error.driver), "UnsupportedMethodError should name its driver")
        return
    expect(isinstance(url, str), f"url_for({path!r}): expected a str, got {shorten(url)}")
    parsed = urllib.parse.urlsplit(url)
    expect(bool(parsed.scheme) and bool(parsed.netloc or parsed.path), f"url_for({path!r}): not a URL: {url!r}")


@group.check
def url_for_gives_a_url_that_serves_the_content(context: CheckContext) -> None:
    """An http(s) URL from url_for answers a GET with the file's exact content (unsupported: nothing to prove)."""
    driver, path = context.driver, context.path("file")
    content = context.data(1000)
    driver.put_content(path, content)
    try:
        url = driver.url_for(path)
    except UnsupportedMethodError:
        return
    if not isinstance(url, str) or urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        return  # the URL's form is the previous check's business; only http(s) can be fetched here
    try:
        with urllib.request.urlopen(url, timeout=URL_TIMEOUT) as response:
            body = response.read(len(content) + 1)
    except OSError as error:
        fail(f"GET of url_for({path!r}) = {shorten(url, 120)} failed: {describe_error(error)}")
    expect_bytes(body, content, f"body of GET url_for({path!r})")
