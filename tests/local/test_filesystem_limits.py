"""The filesystem driver at the edges of the operating system: trees deeper than Python's recursion limit, offsets
past the largest file offset, and a write the filesystem refuses to size."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from registry_storage.drivers.filesystem import FilesystemDriver
from registry_storage.errors import PathNotFoundError, StorageDriverError

DEPTH = sys.getrecursionlimit() + 500


@pytest.fixture
def driver(tmp_path: Path) -> Iterator[FilesystemDriver]:
    store = FilesystemDriver(str(tmp_path / "store"))
    yield store
    store.close()
    # shutil.rmtree (and so pytest's own clean-up) recurses once per level; rm does not
    subprocess.run(["rm", "-rf", str(tmp_path / "store")], check=True)


def deep_path(depth: int) -> str:
    return "/d" * depth


def test_walk_of_a_tree_deeper_than_the_recursion_limit(driver: FilesystemDriver) -> None:
    leaf = deep_path(DEPTH) + "/file"
    driver.put_content(leaf, b"deep")
    entries = list(driver.walk("/"))
    assert [entry.path for entry in entries] == [deep_path(depth) for depth in range(1, DEPTH + 1)] + [leaf]
    assert entries[-1].size == 4
    assert not entries[-1].is_dir
    assert all(entry.is_dir for entry in entries[:-1])


def test_delete_of_a_tree_deeper_than_the_recursion_limit(driver: FilesystemDriver, tmp_path: Path) -> None:
    driver.put_content(deep_path(DEPTH) + "/file", b"deep")
    driver.put_content("/keep", b"k")
    driver.delete("/d")
    with pytest.raises(PathNotFoundError):
        driver.stat("/d")
    assert driver.list("/") == ["/keep"]
    assert sorted(path.name for path in (tmp_path / "store").iterdir() if not path.name.endswith("~")) == ["keep"]


@pytest.mark.parametrize("offset", [2**63 - 1, 2**63, 2**64, 10**30])
def test_read_stream_past_the_largest_file_offset_is_at_eof(driver: FilesystemDriver, offset: int) -> None:
    driver.put_content("/a", b"abc")
    with driver.read_stream("/a", offset) as stream:
        assert stream.read() == b""
        assert stream.read(10) == b""


@pytest.mark.parametrize("offset", [2**62, 2**63 - 1, 2**63, 2**64])
def test_a_write_stream_the_filesystem_cannot_size_leaves_nothing(driver: FilesystemDriver, offset: int) -> None:
    with pytest.raises(StorageDriverError) as caught:
        driver.write_stream("/dir/new", offset, [b"x"])
    assert type(caught.value) is StorageDriverError
    with pytest.raises(PathNotFoundError):
        driver.stat("/dir/new")
    with pytest.raises(PathNotFoundError):
        driver.stat("/dir")
    assert driver.list("/") == []


def test_a_write_stream_the_filesystem_cannot_size_keeps_an_existing_file(driver: FilesystemDriver) -> None:
    driver.put_content("/dir/old", b"old content")
    with pytest.raises(StorageDriverError):
        driver.write_stream("/dir/old", 2**62, [b"x"])
    assert driver.get_content("/dir/old") == b"old content"
