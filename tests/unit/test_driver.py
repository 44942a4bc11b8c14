"""The StorageDriver base class: validation before any driver code runs, driver names on errors, default walk."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

import pytest

from registry_storage.driver import PathList, StorageDriver
from registry_storage.errors import (
    InvalidOffsetError,
    InvalidPathError,
    PathConflictError,
    PathNotFoundError,
    StorageDriverError,
    UnsupportedMethodError,
)
from registry_storage.fileinfo import FileInfo

WHEN = datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone.utc)


class RecordingDriver(StorageDriver):
    """Records every call that reaches driver code; serves a fixed tree for list and stat."""

    name = "recording"

    def __init__(self, tree: dict[str, list[str]] | None = None) -> None:
        self.calls: list[tuple[str, tuple[Any, ...]]] = []
        self.tree = tree or {}
        self.chunks: list[bytes] = []
        self.closed = 0

    def _record(self, method: str, *arguments: Any) -> None:
        self.calls.append((method, arguments))

    def _get_content(self, path: str) -> bytes:
        self._record("get_content", path)
        return b""

    def _put_content(self, path: str, content: bytes) -> None:
        self._record("put_content", path, content)

    def _read_stream(self, path: str, offset: int) -> io.BufferedIOBase:
        self._record("read_stream", path, offset)
        return io.BytesIO()

    def _write_stream(self, path: str, offset: int, chunks: Iterator[bytes]) -> int:
        self._record("write_stream", path, offset)
        self.chunks = list(chunks)
        return sum(map(len, self.chunks))

    def _stat(self, path: str) -> FileInfo:
        self._record("stat", path)
        if path == "/" or path in self.tree:
            return FileInfo(path, 0, WHEN, is_dir=True)
        return FileInfo(path, 1, WHEN, is_dir=False)

    def _list(self, path: str) -> PathList:
        self._record("list", path)
        if path not in self.tree:
            raise PathNotFoundError(path)
        return self.tree[path]

    def _move(self, source: str, destination: str) -> None:
        self._record("move", source, destination)

    def _delete(self, path: str) -> None:
        self._record("delete", path)

    def close(self) -> None:
        self.closed += 1


class FailingDriver(RecordingDriver):
    """Raises ``error`` from every read."""

    def __init__(self, error: StorageDriverError) -> None:
        super().__init__()
        self.error = error

    def _get_content(self, path: str) -> bytes:
        raise self.error


def every_method_with(path: str) -> list[tuple[str, tuple[Any, ...]]]:
    return [
        ("get_content", (path,)),
        ("put_content", (path, b"x")),
        ("read_stream", (path,)),
        ("write_stream", (path, 0, b"x")),
        ("move", (path, "/ok")),
        ("move", ("/ok", path)),
        ("delete", (path,)),
        ("url_for", (path,)),
        ("stat", (path,)),
        ("list", (path,)),
        ("walk", (path,)),
    ]


@pytest.mark.parametrize(("method", "arguments"), every_method_with("/a/../b"))
def test_an_invalid_path_is_refused_before_driver_code_runs(method: str, arguments: tuple[Any, ...]) -> None:
    driver = RecordingDriver()
    with pytest.raises(InvalidPathError) as caught:
        getattr(driver, method)(*arguments)
    assert caught.value.path == "/a/../b"
    assert caught.value.driver == "recording"
    assert driver.calls == []


@pytest.mark.parametrize(
    ("method", "arguments"), [case for case in every_method_with("/") if case[0] not in {"stat", "list", "walk"}]
)
def test_only_stat_list_and_walk_accept_the_root(method: str, arguments: tuple[Any, ...]) -> None:
    driver = RecordingDriver()
    with pytest.raises(InvalidPathError):
        getattr(driver, method)(*arguments)
    assert driver.calls == []


def test_stat_list_and_walk_accept_the_root() -> None:
    driver = RecordingDriver({"/": []})
    assert driver.stat("/").is_dir
    assert driver.list("/") == []
    assert list(driver.walk("/")) == []
    assert list(driver.walk()) == []


@pytest.mark.parametrize("offset", [-1, True, 1.5, "3", None])
@pytest.mark.parametrize("method", ["read_stream", "write_stream"])
def test_a_bad_offset_is_refused_before_driver_code_runs(method: str, offset: object) -> None:
    driver = RecordingDriver()
    arguments: tuple[Any, ...] = ("/a", offset) if method == "read_stream" else ("/a", offset, b"x")
    with pytest.raises(InvalidOffsetError) as caught:
        getattr(driver, method)(*arguments)
    assert caught.value.fields() == {"path": "/a", "offset": offset}
    assert caught.value.driver == "recording"
    assert driver.calls == []


def test_valid_arguments_reach_the_driver_unchanged() -> None:
    driver = RecordingDriver()
    driver.get_content("/a")
    driver.read_stream("/a", 7)
    driver.move("/a", "/b/c")
    driver.delete("/a")
    assert driver.calls == [
        ("get_content", ("/a",)),
        ("read_stream", ("/a", 7)),
        ("move", ("/a", "/b/c")),
        ("delete", ("/a",)),
    ]


@pytest.mark.parametrize("content", [b"abc", bytearray(b"abc"), memoryview(b"abc")])
def test_put_content_hands_the_driver_bytes(content: bytes) -> None:
    driver = RecordingDriver()
    driver.put_content("/a", content)
    stored = driver.calls[0][1][1]
    assert type(stored) is bytes
    assert stored == b"abc"


@pytest.mark.parametrize("content", ["text", None, 5, [b"a"]])
def test_put_content_refuses_what_is_not_bytes(content: Any) -> None:
    driver = RecordingDriver()
    with pytest.raises(TypeError, match="bytes"):
        driver.put_content("/a", content)
    assert driver.calls == []


@pytest.mark.parametrize(
    "source",
    [b"abcdef", bytearray(b"abcdef"), memoryview(b"abcdef"), io.BytesIO(b"abcdef"), [b"ab", b"", b"cdef"]],
    ids=["bytes", "bytearray", "memoryview", "file", "iterable"],
)
def test_write_stream_hands_the_driver_chunks_of_bytes(source: Any) -> None:
    driver = RecordingDriver()
    assert driver.write_stream("/a", 3, source) == 6
    assert b"".join(driver.chunks) == b"abcdef"
    assert all(type(chunk) is bytes and chunk for chunk in driver.chunks)
    assert driver.calls == [("write_stream", ("/a", 3))]


def test_errors_without_a_driver_name_get_the_drivers_name() -> None:
    driver = FailingDriver(PathConflictError("/a", "a directory is at this path"))
    with pytest.raises(PathConflictError) as caught:
        driver.get_content("/a")
    assert caught.value.driver == "recording"
    assert str(caught.value).startswith("recording: ")


def test_errors_with_a_driver_name_keep_it() -> None:
    driver = FailingDriver(PathNotFoundError("/a", driver="inner"))
    with pytest.raises(PathNotFoundError) as caught:
        driver.get_content("/a")
    assert caught.value.driver == "inner"


def test_other_exceptions_pass_through_untouched() -> None:
    class Broken(RecordingDriver):
        def _delete(self, path: str) -> None:
            raise KeyError(path)

    with pytest.raises(KeyError):
        Broken().delete("/a")


def test_url_for_is_unsupported_by_default() -> None:
    with pytest.raises(UnsupportedMethodError) as caught:
        RecordingDriver().url_for("/a", expiry=60)
    assert caught.value.method == "url_for"
    assert caught.value.driver == "recording"


def test_the_default_walk_is_depth_first_parent_before_children() -> None:
    tree = {"/": ["/a", "/b"], "/a": ["/a/x", "/a/y"], "/a/y": ["/a/y/z"]}
    driver = RecordingDriver(tree)
    assert [info.path for info in driver.walk("/")] == ["/a", "/a/x", "/a/y", "/a/y/z", "/b"]
    assert [info.path for info in driver.walk("/a")] == ["/a/x", "/a/y", "/a/y/z"]


def test_the_default_walk_after_a_hint_never_lists_or_stats_the_subtrees_before_it() -> None:
    tree = {
        "/": ["/a", "/a-b", "/c"],
        "/a": ["/a/x", "/a/y"],
        "/a/x": ["/a/x/1", "/a/x/2"],
        "/a/y": ["/a/y/z"],
        "/c": ["/c/d"],
    }
    driver = RecordingDriver(tree)
    assert [info.path for info in driver.walk("/", start_after="/a/x/1")] == [
        "/a/x/2",
        "/a/y",
        "/a/y/z",
        "/a-b",
        "/c",
        "/c/d",
    ]
    stats = [arguments[0] for method, arguments in driver.calls if method == "stat"]
    lists = [arguments[0] for method, arguments in driver.calls if method == "list"]
    assert stats == ["/a/x/2", "/a/y", "/a/y/z", "/a-b", "/c", "/c/d"]  # only what is yielded
    assert lists == ["/", "/a", "/a/x", "/a/x/1", "/a/y", "/c"]  # the hint's ancestors, the hint, later directories
    driver.calls.clear()
    assert [info.path for info in driver.walk("/", start_after="/a-b")] == ["/c", "/c/d"]
    assert [arguments[0] for _, arguments in driver.calls] == ["/", "/a-b", "/c", "/c", "/c/d"]  # nothing of /a


def test_the_default_walk_after_a_directory_yields_what_is_below_it() -> None:
    driver = RecordingDriver({"/": ["/a", "/b"], "/a": ["/a/x"]})
    assert [info.path for info in driver.walk("/", start_after="/a")] == ["/a/x", "/b"]


def test_walk_refuses_an_invalid_hint_before_any_driver_code_runs() -> None:
    driver = RecordingDriver({"/": ["/a"]})
    with pytest.raises(InvalidPathError):
        driver.walk("/", start_after="a/b")
    assert driver.calls == []


def test_the_default_walk_raises_at_the_call_for_a_missing_directory() -> None:
    driver = RecordingDriver({"/": []})
    with pytest.raises(PathNotFoundError) as caught:
        driver.walk("/missing")
    assert caught.value.driver == "recording"


def test_the_default_walk_skips_what_vanishes_while_walking() -> None:
    class Vanishing(RecordingDriver):
        def _stat(self, path: str) -> FileInfo:
            if path == "/gone":
                raise PathNotFoundError(path)
            return super()._stat(path)

    driver = Vanishing({"/": ["/a", "/gone", "/z"], "/a": ["/a/x"]})
    assert [info.path for info in driver.walk("/")] == ["/a", "/a/x", "/z"]


def test_a_driver_is_a_context_manager_that_closes() -> None:
    driver = RecordingDriver()
    with driver as entered:
        assert entered is driver
        assert driver.closed == 0
    assert driver.closed == 1


def test_repr_names_the_driver() -> None:
    assert repr(RecordingDriver()) == "<RecordingDriver 'recording'>"
