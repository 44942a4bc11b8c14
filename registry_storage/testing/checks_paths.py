"""Checks of the path rules: every valid path works; every method rejects every invalid path and touches nothing.

A path matches ``^(/[A-Za-z0-9._-]+)+$``, has no ``.`` or ``..`` component and no component over 255 characters;
only ``stat``, ``list`` and ``walk`` accept ``/``.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from functools import partial
from typing import NamedTuple

from registry_storage.driver import StorageDriver
from registry_storage.errors import InvalidPathError, PathNotFoundError
from registry_storage.testing.expectations import (
    expect_content,
    expect_equal,
    expect_raises,
    expect_sequence,
    shorten,
)
from registry_storage.testing.registry import CheckContext, CheckGroup

group = CheckGroup("paths")

INVALID_PATHS = [
    "",
    "abc",
    "a/b",
    "//a",
    "/a//b",
    "/a/",
    "/a/../b",
    "/..",
    "/./a",
    "/a/.",
    "/a\x00b",
    "/a b",
    "/a\tb",
    "/a\\b",
    "/ü",
    "/日本",
    "/a:b",
    "/" + "x" * 300,
    "/a/" + "y" * 256,
]
"""Paths every method must reject with InvalidPathError (``/`` is added for the methods that refuse the root)."""

VALID_COMPONENTS = [
    "ABCXYZ",
    "abcxyz",
    "0123456789",
    "dot.in.name",
    "...",
    ".hidden",
    "a..b",
    "-",
    "_",
    "trailing.",
    "MiXeD-Case_9.z",
    "x" * 255,
]
"""Components that make valid paths, including the longest allowed (255 characters)."""

PathCall = Callable[[StorageDriver, str, str], object]
"""Calls one method with the invalid path (second argument); the third is a valid path of an existing file."""


class PathMethod(NamedTuple):
    """One method that takes a path, as the checks call it."""

    check: str
    """Name of the check proving the method rejects invalid paths."""
    method: str
    """How the method appears in failure messages."""
    call: PathCall
    accepts_root: bool


METHODS = [
    PathMethod("get_content_rejects_invalid_paths", "get_content", lambda d, path, _: d.get_content(path), False),
    PathMethod("put_content_rejects_invalid_paths", "put_content", lambda d, path, _: d.put_content(path, b"x"), False),
    PathMethod("read_stream_rejects_invalid_paths", "read_stream", lambda d, path, _: d.read_stream(path), False),
    PathMethod(
        "write_stream_rejects_invalid_paths",
        "write_stream",
        lambda d, path, _: d.write_stream(path, 0, io.BytesIO(b"x")),
        False,
    ),
    PathMethod("stat_rejects_invalid_paths", "stat", lambda d, path, _: d.stat(path), True),
    PathMethod("list_rejects_invalid_paths", "list", lambda d, path, _: d.list(path), True),
    PathMethod("walk_rejects_invalid_paths", "walk", lambda d, path, _: list(d.walk(path)), True),
    PathMethod(
        "move_rejects_invalid_source_paths", "move (source)", lambda d, path, valid: d.move(path, valid + "-x"), False
    ),
    PathMethod(
        "move_rejects_invalid_destination_paths",
        "move (destination)",
        lambda d, path, valid: d.move(valid, path),
        False,
    ),
    PathMethod("delete_rejects_invalid_paths", "delete", lambda d, path, _: d.delete(path), False),
    PathMethod("url_for_rejects_invalid_paths", "url_for", lambda d, path, _: d.url_for(path), False),
]
"""Every method that takes a path; ``move`` twice, once per argument."""


def _rejects_invalid_paths(method: PathMethod) -> Callable[[CheckContext], None]:
    def check(context: CheckContext) -> None:
        driver, sentinel = context.driver, context.path("sentinel")
        content = context.data(32)
        driver.put_content(sentinel, content)
        paths = INVALID_PATHS if method.accepts_root else [*INVALID_PATHS, "/"]
        for path in paths:
            error = expect_raises(
                InvalidPathError,
                partial(method.call, driver, path, sentinel),
                f"{method.method} of invalid path {shorten(path, 40)}",
            )
            expect_equal(error.path, path, f"InvalidPathError.path from {method.method}")
        after = f"after {method.method} of invalid paths"
        expect_sequence(driver.list("/"), [context.root], f'list("/") {after}')
        expect_sequence(driver.list(context.root), [sentinel], f"list(<root>) {after}")
        expect_content(driver, sentinel, content, f"get_content({sentinel!r}) {after}")

    return check


for _method in METHODS:
    group.add(
        _method.check,
        _rejects_invalid_paths(_method),
        f"{_method.method} raises InvalidPathError carrying the path for every invalid path"
        f"{'' if _method.accepts_root else ' and for /'}, and creates, changes or deletes nothing.",
    )


@group.check
def root_is_accepted_by_stat_list_and_walk(context: CheckContext) -> None:
    """stat, list and walk accept ``/`` (the other methods refuse it: see the *_rejects_invalid_paths checks)."""
    driver = context.driver
    driver.put_content(context.path("file"), b"x")
    expect_equal(driver.stat("/").is_dir, True, 'stat("/").is_dir')
    expect_sequence(driver.list("/"), [context.root], 'list("/")')
    expect_sequence([info.path for info in driver.walk("/")], [context.root, context.path("file")], 'walk("/")')


@group.check
def valid_paths_are_accepted(context: CheckContext) -> None:
    """Paths made of every allowed character, dotted names, a 255-character component and deep nesting all work."""
    driver = context.driver
    paths = [context.path(component) for component in VALID_COMPONENTS]
    deep = context.path("deep", *(f"level{index}" for index in range(12)), "file")
    contents = {path: context.data(8) for path in [*paths, deep]}
    for path, content in contents.items():
        driver.put_content(path, content)
    for path, content in contents.items():
        expect_content(driver, path, content, f"get_content({path!r})")
        expect_equal(driver.stat(path).size, len(content), f"stat({path!r}).size")
    expect_sequence(driver.list(context.root), sorted([*paths, context.path("deep")]), "list(<root>)")


@group.check
def valid_paths_work_with_every_writing_method(context: CheckContext) -> None:
    """The longest component (255 characters) and dotted names work with write_stream, move and delete too."""
    driver = context.driver
    for index, name in enumerate(["w" * 255, "...", ".hidden", "a..b"]):
        source = context.path(f"dir{index}", name)
        destination = context.path(f"moved{index}", name[:-1] + "z")
        content = context.data(64)
        expect_equal(driver.write_stream(source, 0, [content]), len(content), f"write_stream({source!r}) result")
        appended = context.data(16)
        driver.write_stream(source, len(content), io.BytesIO(appended))
        driver.move(source, destination)
        expect_content(driver, destination, content + appended, f"get_content({destination!r}) after move")
        driver.delete(destination)
        expect_raises(PathNotFoundError, partial(driver.stat, destination), f"stat({destination!r}) after delete")
    expect_raises(PathNotFoundError, partial(driver.stat, context.root), "stat(<root>) after deleting every file")
