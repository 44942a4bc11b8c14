"""Checks of whole-content storage: ``put_content`` and ``get_content``."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from registry_storage.errors import PathConflictError, PathNotFoundError
from registry_storage.testing.expectations import (
    expect,
    expect_bytes,
    expect_content,
    expect_equal,
    expect_raises,
    expect_sequence,
)
from registry_storage.testing.registry import MIB, CheckContext, CheckGroup

group = CheckGroup("content")

NON_UTF8 = b"\xff\xfe\xc3\x28" + bytes(range(256))
"""Bytes that are not valid UTF-8 (a lone 0xff, a broken two-byte sequence, every byte value)."""

SAMPLES: dict[str, Callable[[CheckContext], bytes]] = {
    "a_single_byte": lambda context: b"a",
    "utf8_text": lambda context: "ß".encode(),
    "32_bytes": lambda context: context.data(32),
    "1_mib": lambda context: context.data(MIB),
    "non_utf8_bytes": lambda context: NON_UTF8,
}
"""Contents every write path must store exactly, by the name used in the check names."""


def _put_get_round_trip(make: Callable[[CheckContext], bytes]) -> Callable[[CheckContext], None]:
    def check(context: CheckContext) -> None:
        driver, path, content = context.driver, context.path("file"), make(context)
        driver.put_content(path, content)
        expect_content(driver, path, content, f"get_content({path!r}) after put_content")
        expect_equal(driver.stat(path).size, len(content), f"stat({path!r}).size after put_content")

    return check


for _sample, _make in SAMPLES.items():
    group.add(
        f"put_content_then_get_content_returns_{_sample}",
        _put_get_round_trip(_make),
        f"get_content returns exactly what put_content stored ({_sample.replace('_', ' ')}).",
    )


@group.check
def put_content_of_empty_content_stores_an_empty_file(context: CheckContext) -> None:
    """put_content with b"" creates a file of size 0 whose content is b""."""
    driver, path = context.driver, context.path("empty")
    driver.put_content(path, b"")
    expect_content(driver, path, b"", f"get_content({path!r})")
    info = driver.stat(path)
    expect_equal((info.size, info.is_dir), (0, False), f"(size, is_dir) of stat({path!r})")
    expect_sequence(driver.list(context.root), [path], f"list({context.root!r})")


@group.check
def put_content_with_shorter_content_truncates_the_file(context: CheckContext) -> None:
    """A put_content replaces the whole content: a shorter one leaves nothing of the longer one behind."""
    driver, path = context.driver, context.path("file")
    driver.put_content(path, context.data(4096))
    shorter = context.data(10)
    driver.put_content(path, shorter)
    expect_content(driver, path, shorter, f"get_content({path!r}) after a shorter put_content")
    expect_equal(driver.stat(path).size, len(shorter), f"stat({path!r}).size after a shorter put_content")


@group.check
def put_content_creates_parent_directories(context: CheckContext) -> None:
    """put_content creates every missing parent; each one then stats as a directory and lists its child."""
    driver = context.driver
    path = context.path("a", "b", "c", "file")
    driver.put_content(path, b"x")
    for directory, child in (
        (context.root, context.path("a")),
        (context.path("a"), context.path("a", "b")),
        (context.path("a", "b"), context.path("a", "b", "c")),
        (context.path("a", "b", "c"), path),
    ):
        info = driver.stat(directory)
        expect_equal((info.is_dir, info.size), (True, 0), f"(is_dir, size) of stat({directory!r})")
        expect_sequence(driver.list(directory), [child], f"list({directory!r})")


@group.check
def get_content_of_a_missing_path_raises_path_not_found(context: CheckContext) -> None:
    """get_content of a path that does not exist raises PathNotFoundError carrying that path."""
    driver = context.driver
    driver.put_content(context.path("present"), b"x")
    for path in (context.path("absent"), context.path("absent", "deeper"), context.top("absent")):
        error = expect_raises(PathNotFoundError, partial(driver.get_content, path), f"get_content({path!r})")
        expect_equal(error.path, path, f"PathNotFoundError.path from get_content({path!r})")


@group.check
def get_content_of_a_directory_raises_path_not_found(context: CheckContext) -> None:
    """get_content of a directory raises PathNotFoundError: a directory has no content."""
    driver = context.driver
    driver.put_content(context.path("dir", "file"), b"x")
    for path in (context.root, context.path("dir")):
        error = expect_raises(PathNotFoundError, partial(driver.get_content, path), f"get_content({path!r})")
        expect_equal(error.path, path, f"PathNotFoundError.path from get_content({path!r})")


@group.check
def get_content_below_a_file_raises_path_not_found(context: CheckContext) -> None:
    """get_content of a path below a file raises PathNotFoundError (nothing can be below a file)."""
    driver, file = context.driver, context.path("file")
    driver.put_content(file, b"x")
    path = f"{file}/child"
    error = expect_raises(PathNotFoundError, lambda: driver.get_content(path), f"get_content({path!r})")
    expect_equal(error.path, path, f"PathNotFoundError.path from get_content({path!r})")


@group.check
def put_content_below_a_file_raises_path_conflict_and_changes_nothing(context: CheckContext) -> None:
    """put_content of a path below an existing file raises PathConflictError; the file stays as it was."""
    driver, file = context.driver, context.path("file")
    content = context.data(32)
    driver.put_content(file, content)
    for path in (f"{file}/child", f"{file}/deeper/child"):
        expect_raises(PathConflictError, partial(driver.put_content, path, b"y"), f"put_content({path!r})")
        expect_content(driver, file, content, f"get_content({file!r}) after put_content({path!r})")
        expect_equal(driver.stat(file).is_dir, False, f"stat({file!r}).is_dir after put_content({path!r})")
    expect_sequence(driver.list(context.root), [file], f"list({context.root!r})")


@group.check
def put_content_onto_a_directory_raises_path_conflict_and_changes_nothing(context: CheckContext) -> None:
    """put_content of a path that is a directory raises PathConflictError; what is below it stays as it was."""
    driver, directory = context.driver, context.path("dir")
    inner = context.path("dir", "file")
    content = context.data(32)
    driver.put_content(inner, content)
    expect_raises(PathConflictError, lambda: driver.put_content(directory, b"y"), f"put_content({directory!r})")
    expect_equal(driver.stat(directory).is_dir, True, f"stat({directory!r}).is_dir after the refused put_content")
    expect_content(driver, inner, content, f"get_content({inner!r}) after the refused put_content")


@group.check
def large_object_round_trips_through_put_content_and_get_content(context: CheckContext) -> None:
    """A large object (64 MiB; 4 MiB when quick) stored with put_content comes back whole from get_content."""
    driver, path = context.driver, context.path("large")
    content = context.data(context.options.large_size)
    driver.put_content(path, content)
    expect_equal(driver.stat(path).size, len(content), f"stat({path!r}).size")
    returned = driver.get_content(path)
    expect(isinstance(returned, bytes), f"get_content should return bytes, got {type(returned).__name__}")
    expect_bytes(returned, content, f"get_content({path!r})")
