"""Behaviour of the local drivers beyond the shared contract.

Filesystem: the root is a wall (symbolic links are refused, nothing is created outside), empty parents are pruned,
temporary files never show, puts are atomic for concurrent readers, gaps are sparse, no descriptor leaks.
In-memory: streams read a snapshot, gaps cost no memory, modification times always move forward.
"""

from __future__ import annotations

import io
import itertools
import os
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest

from registry_storage.driver import StorageDriver
from registry_storage.drivers.filesystem import DEFAULT_ROOT, STAGING_DIRECTORY, FilesystemDriver
from registry_storage.drivers.inmemory import InMemoryDriver
from registry_storage.errors import (
    InvalidParameterError,
    InvalidPathError,
    PathConflictError,
    PathNotFoundError,
    StorageDriverError,
)

MiB = 1 << 20


def snapshot(directory: Path) -> dict[str, object]:
    """Everything below ``directory``: file contents, directories and link targets, by relative path."""
    found: dict[str, object] = {}
    for path in sorted(directory.rglob("*")):
        name = path.relative_to(directory).as_posix()
        if path.is_symlink():
            found[name] = ("link", os.readlink(path))
        elif path.is_dir():
            found[name] = "directory"
        else:
            found[name] = path.read_bytes()
    return found


def store_entries(root: Path) -> list[str]:
    """What is on disk below the root, the staging directory aside."""
    return [name for name in snapshot(root) if not name.startswith(STAGING_DIRECTORY)]


def run_threads(*targets: Callable[[], None]) -> None:
    """Run ``targets`` at once; re-raise the first error any of them raised."""
    errors: list[BaseException] = []

    def guarded(target: Callable[[], None]) -> None:
        try:
            target()
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=guarded, args=(target,)) for target in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "root"


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A directory next to the root, holding a secret the driver must never read or change."""
    directory = tmp_path / "outside"
    directory.mkdir()
    (directory / "secret").write_bytes(b"secret")
    return directory


@pytest.fixture
def filesystem(root: Path) -> Iterator[FilesystemDriver]:
    driver = FilesystemDriver(str(root))
    yield driver
    driver.close()


@pytest.fixture(params=["inmemory", "filesystem"])
def local_driver(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StorageDriver]:
    driver: StorageDriver = InMemoryDriver() if request.param == "inmemory" else FilesystemDriver(str(tmp_path / "r"))
    with driver:
        yield driver


# -- filesystem: symbolic links and the root ----------------------------------------------------------------------


def test_a_link_to_a_directory_outside_is_refused_for_reads(
    filesystem: FilesystemDriver, root: Path, outside: Path
) -> None:
    (root / "link").symlink_to(outside)
    reads: list[Callable[[], object]] = [
        lambda: filesystem.get_content("/link/secret"),
        lambda: filesystem.read_stream("/link/secret"),
        lambda: filesystem.stat("/link"),
        lambda: filesystem.stat("/link/secret"),
        lambda: filesystem.list("/link"),
        lambda: filesystem.walk("/link"),
    ]
    for read in reads:
        with pytest.raises(PathConflictError, match="symbolic link") as caught:
            read()
        assert caught.value.driver == "filesystem"
    assert filesystem.list("/") == []
    assert list(filesystem.walk("/")) == []


def test_a_link_to_a_directory_outside_is_refused_for_writes(
    filesystem: FilesystemDriver, root: Path, outside: Path
) -> None:
    (root / "link").symlink_to(outside)
    filesystem.put_content("/inside", b"inside")
    before = snapshot(outside)
    writes: list[Callable[[], object]] = [
        lambda: filesystem.put_content("/link/new", b"x"),
        lambda: filesystem.put_content("/link/deeper/new", b"x"),
        lambda: filesystem.put_content("/link/secret", b"overwritten"),
        lambda: filesystem.write_stream("/link/secret", 0, b"overwritten"),
        lambda: filesystem.write_stream("/link/new", 0, b"x"),
        lambda: filesystem.move("/inside", "/link/moved"),
        lambda: filesystem.move("/link/secret", "/stolen"),
        lambda: filesystem.delete("/link/secret"),
    ]
    for write in writes:
        with pytest.raises(PathConflictError, match="symbolic link"):
            write()
    assert snapshot(outside) == before
    assert filesystem.get_content("/inside") == b"inside"
    assert not (root / "stolen").exists()


def test_a_link_to_a_file_outside_is_refused(filesystem: FilesystemDriver, root: Path, outside: Path) -> None:
    (root / "file").symlink_to(outside / "secret")
    filesystem.put_content("/real", b"real")
    operations: list[Callable[[], object]] = [
        lambda: filesystem.get_content("/file"),
        lambda: filesystem.read_stream("/file", 2),
        lambda: filesystem.stat("/file"),
        lambda: filesystem.write_stream("/file", 0, b"overwritten"),
        lambda: filesystem.write_stream("/file", 100, b"x"),
        lambda: filesystem.put_content("/file", b"overwritten"),
        lambda: filesystem.move("/file", "/taken"),
        lambda: filesystem.move("/real", "/file"),
    ]
    for operation in operations:
        with pytest.raises(PathConflictError, match="symbolic link"):
            operation()
    assert (outside / "secret").read_bytes() == b"secret"
    assert (root / "file").is_symlink()
    assert filesystem.list("/") == ["/real"]


def test_a_link_deep_inside_the_root_is_refused_too(filesystem: FilesystemDriver, root: Path, outside: Path) -> None:
    filesystem.put_content("/a/b/file", b"x")
    (root / "a" / "b" / "link").symlink_to(outside)
    with pytest.raises(PathConflictError, match="/a/b/link is a symbolic link"):
        filesystem.put_content("/a/b/link/x/y", b"x")
    with pytest.raises(PathConflictError, match="symbolic link"):
        filesystem.get_content("/a/b/link/secret")
    assert snapshot(outside) == {"secret": b"secret"}
    assert [info.path for info in filesystem.walk("/")] == ["/a", "/a/b", "/a/b/file"]


def test_deleting_a_link_removes_the_link_only(filesystem: FilesystemDriver, root: Path, outside: Path) -> None:
    (root / "a").mkdir()
    (root / "a" / "link").symlink_to(outside)
    filesystem.delete("/a/link")
    assert not (root / "a").exists()
    assert snapshot(outside) == {"secret": b"secret"}


def test_deleting_a_directory_with_a_link_inside_does_not_follow_it(
    filesystem: FilesystemDriver, root: Path, outside: Path
) -> None:
    filesystem.put_content("/a/file", b"x")
    (root / "a" / "link").symlink_to(outside)
    filesystem.delete("/a")
    assert store_entries(root) == []
    assert snapshot(outside) == {"secret": b"secret"}


def test_nothing_is_created_outside_the_root(filesystem: FilesystemDriver, tmp_path: Path, outside: Path) -> None:
    before = snapshot(outside)
    filesystem.put_content("/a/b", b"1")
    filesystem.write_stream("/a/c", 5, [b"2"])
    filesystem.move("/a/b", "/d/e/f")
    with pytest.raises(InvalidPathError):
        filesystem.put_content("/../escaped", b"x")
    with pytest.raises(InvalidPathError):
        filesystem.write_stream("/a/../../escaped", 0, b"x")
    filesystem.delete("/a")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["outside", "root"]
    assert snapshot(outside) == before
    assert store_entries(tmp_path / "root") == ["d", "d/e", "d/e/f"]


@pytest.mark.timeout(30)
def test_a_special_file_is_refused_without_blocking(filesystem: FilesystemDriver, root: Path) -> None:
    os.mkfifo(root / "pipe")
    operations: list[Callable[[], object]] = [
        lambda: filesystem.get_content("/pipe"),
        lambda: filesystem.write_stream("/pipe", 0, b"x"),
        lambda: filesystem.put_content("/pipe", b"x"),
        lambda: filesystem.stat("/pipe"),
    ]
    for operation in operations:
        with pytest.raises(PathConflictError, match="not a regular file"):
            operation()
    assert filesystem.list("/") == []


# -- filesystem: pruning and temporary files ---------------------------------------------------------------------


def test_delete_prunes_empty_parents_but_never_the_root(filesystem: FilesystemDriver, root: Path) -> None:
    filesystem.put_content("/a/b/c/file", b"x")
    filesystem.put_content("/a/keep", b"y")
    filesystem.delete("/a/b/c/file")
    assert store_entries(root) == ["a", "a/keep"]
    filesystem.delete("/a/keep")
    assert store_entries(root) == []
    assert root.is_dir()
    assert filesystem.list("/") == []


def test_deleting_a_directory_prunes_its_empty_parents(filesystem: FilesystemDriver, root: Path) -> None:
    filesystem.put_content("/a/b/c/d", b"x")
    filesystem.put_content("/a/b/c/e/f", b"x")
    filesystem.delete("/a/b/c")
    assert store_entries(root) == []


def test_move_prunes_the_source_parents_and_creates_the_destination_parents(
    filesystem: FilesystemDriver, root: Path
) -> None:
    filesystem.put_content("/a/b/file", b"x")
    filesystem.move("/a/b/file", "/c/d/file")
    assert store_entries(root) == ["c", "c/d", "c/d/file"]
    assert (root / "c" / "d" / "file").read_bytes() == b"x"


def test_a_failed_put_leaves_no_temporary_file(filesystem: FilesystemDriver, root: Path) -> None:
    filesystem.put_content("/dir/file", b"x")
    with pytest.raises(PathConflictError):
        filesystem.put_content("/dir", b"y")
    with pytest.raises(PathConflictError):
        filesystem.put_content("/dir/file/below", b"y")
    assert list((root / STAGING_DIRECTORY).iterdir()) == []
    assert store_entries(root) == ["dir", "dir/file"]


def test_temporary_and_foreign_names_never_show(filesystem: FilesystemDriver, root: Path) -> None:
    filesystem.put_content("/a/file", b"x")
    (root / STAGING_DIRECTORY / "left-by-a-crash.tmp").write_bytes(b"partial")
    (root / "a" / "editor~").write_bytes(b"backup")
    (root / "a" / "with space").write_bytes(b"foreign")
    assert filesystem.list("/") == ["/a"]
    assert filesystem.list("/a") == ["/a/file"]
    assert [info.path for info in filesystem.walk("/")] == ["/a", "/a/file"]
    with pytest.raises(InvalidPathError):
        filesystem.stat("/" + STAGING_DIRECTORY)


def test_temporary_files_never_show_during_concurrent_puts(filesystem: FilesystemDriver) -> None:
    names = {f"/dir/file{index}" for index in range(4)}
    done = threading.Event()
    seen: set[str] = set()

    def put(path: str) -> Callable[[], None]:
        def target() -> None:
            for round_ in range(100):
                filesystem.put_content(path, bytes([round_]) * 1000)

        return target

    def look() -> None:
        while not done.is_set():
            seen.update(filesystem.list("/"))
            seen.update(info.path for info in filesystem.walk("/"))

    looker = threading.Thread(target=look)
    looker.start()
    try:
        run_threads(*(put(path) for path in sorted(names)))
    finally:
        done.set()
        looker.join()
    assert seen <= names | {"/dir"}
    assert filesystem.list("/dir") == sorted(names)


# -- filesystem: atomic puts, streams, times, descriptors -----------------------------------------------------------


def test_put_is_atomic_for_concurrent_readers(filesystem: FilesystemDriver) -> None:
    old, new = b"o" * MiB, b"n" * (MiB // 2)
    filesystem.put_content("/blob", old)
    done = threading.Event()
    results: list[bytes] = []

    def write() -> None:
        try:
            for round_ in range(40):
                filesystem.put_content("/blob", new if round_ % 2 == 0 else old)
        finally:
            done.set()

    def read() -> None:
        while not done.is_set():
            results.append(filesystem.get_content("/blob"))
            with filesystem.read_stream("/blob") as stream:
                results.append(stream.read())

    run_threads(write, read, read)
    assert results
    torn = [len(content) for content in results if content not in (old, new)]
    assert torn == []


def test_an_interrupted_write_stream_keeps_what_was_written(filesystem: FilesystemDriver, root: Path) -> None:
    filesystem.put_content("/f", b"0123456789")

    def chunks() -> Iterator[bytes]:
        yield b"abc"
        yield b"def"
        raise ConnectionResetError("client went away")

    with pytest.raises(ConnectionResetError):
        filesystem.write_stream("/f", 4, chunks())
    assert (root / "f").read_bytes() == b"0123abcdef"
    assert filesystem.stat("/f").size == 10


def test_a_gap_is_sparse_and_reads_as_zeros(filesystem: FilesystemDriver, root: Path) -> None:
    filesystem.put_content("/f", b"head")
    assert filesystem.write_stream("/f", 1 << 30, [b"tail"]) == 4
    status = (root / "f").stat()
    assert status.st_size == (1 << 30) + 4
    assert status.st_blocks * 512 < MiB
    with filesystem.read_stream("/f", 2) as stream:
        assert stream.read(6) == b"ad\0\0\0\0"
    with filesystem.read_stream("/f", 1 << 30) as stream:
        assert stream.read() == b"tail"


def test_read_stream_is_a_buffered_file_positioned_at_the_offset(filesystem: FilesystemDriver) -> None:
    filesystem.put_content("/f", bytes(range(256)))
    with filesystem.read_stream("/f", 200) as stream:
        assert isinstance(stream, io.BufferedIOBase)
        buffer = bytearray(10)
        assert stream.readinto(buffer) == 10
        assert bytes(buffer) == bytes(range(200, 210))
    assert stream.closed


def test_mod_time_is_the_files_mtime_in_utc(filesystem: FilesystemDriver, root: Path) -> None:
    filesystem.put_content("/f", b"x")
    os.utime(root / "f", ns=(0, 1_700_000_000_123_456_789))
    assert filesystem.stat("/f").mod_time == datetime(2023, 11, 14, 22, 13, 20, 123456, tzinfo=timezone.utc)


def test_mod_time_moves_forward_on_every_overwrite(local_driver: StorageDriver) -> None:
    times = []
    for round_ in range(300):
        if round_ < 100:
            local_driver.put_content("/f", b"x")
        elif round_ < 200:
            local_driver.write_stream("/f", 0, [b"y"])
        else:
            local_driver.write_stream("/f", 1, [])
        times.append(local_driver.stat("/f").mod_time)
    assert all(earlier < later for earlier, later in itertools.pairwise(times))


def test_no_descriptor_leaks(filesystem: FilesystemDriver) -> None:
    def descriptors() -> int:
        return len(os.listdir("/proc/self/fd"))

    failing: list[Callable[[], object]] = [
        lambda: filesystem.get_content("/a"),
        lambda: filesystem.read_stream("/missing"),
        lambda: filesystem.put_content("/a/b/c", b"x"),
        lambda: filesystem.write_stream("/a", 0, b"x"),
        lambda: filesystem.list("/a/b"),
    ]
    filesystem.put_content("/a/b", b"x")
    before = descriptors()
    for _ in range(20):
        filesystem.put_content("/a/c/d", b"y")
        filesystem.get_content("/a/b")
        filesystem.read_stream("/a/b", 1).close()
        filesystem.write_stream("/a/e", 3, [b"z"])
        filesystem.stat("/a/c")
        filesystem.list("/a")
        list(filesystem.walk("/"))
        next(filesystem.walk("/"))
        filesystem.move("/a/c/d", "/a/f")
        filesystem.delete("/a/f")
        for operation in failing:
            with pytest.raises(StorageDriverError):
                operation()
    assert descriptors() == before


def test_a_closed_driver_refuses_work(root: Path) -> None:
    driver = FilesystemDriver(str(root))
    driver.close()
    driver.close()
    with pytest.raises(StorageDriverError, match="closed"):
        driver.list("/")


# -- filesystem: parameters --------------------------------------------------------------------------------------


def test_the_root_is_created_when_missing(tmp_path: Path) -> None:
    root = tmp_path / "deep" / "er" / "root"
    driver = FilesystemDriver.from_parameters({"rootdirectory": str(root)})
    driver.put_content("/a", b"x")
    driver.close()
    assert (root / "a").read_bytes() == b"x"


def test_a_relative_root_is_made_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    driver = FilesystemDriver.from_parameters({"rootdirectory": "relative"})
    driver.close()
    assert driver.rootdirectory == str(tmp_path / "relative")
    assert (tmp_path / "relative").is_dir()


def test_the_default_root() -> None:
    assert DEFAULT_ROOT == "/var/lib/registry"
    assert FilesystemDriver.PARAMETERS[0].default == DEFAULT_ROOT


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ({"root": "/tmp/x"}, "unknown parameter"),
        ({"rootdirectory": 5}, "expected a string"),
        ({"rootdirectory": ""}, "expected a directory path"),
        ({"rootdirectory": "/tmp/a\0b"}, "cannot use"),
    ],
)
def test_bad_parameters_are_refused_with_the_accepted_names(parameters: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidParameterError, match=message) as caught:
        FilesystemDriver.from_parameters(parameters)
    assert caught.value.accepted == ["maxthreads", "rootdirectory"]
    assert caught.value.driver == "filesystem"


def test_a_root_that_is_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "file").write_bytes(b"x")
    with pytest.raises(InvalidParameterError, match="cannot use") as caught:
        FilesystemDriver(str(tmp_path / "file"))
    assert caught.value.parameter == "rootdirectory"


# -- in-memory ---------------------------------------------------------------------------------------------------


def test_inmemory_accepts_no_parameters() -> None:
    assert isinstance(InMemoryDriver.from_parameters({}), InMemoryDriver)
    with pytest.raises(InvalidParameterError) as caught:
        InMemoryDriver.from_parameters({"rootdirectory": "/tmp"})
    assert caught.value.accepted == []
    assert caught.value.driver == "inmemory"


def test_inmemory_streams_read_the_content_as_it_was_when_opened() -> None:
    driver = InMemoryDriver()
    driver.write_stream("/f", 0, [b"abc", b"def", b"ghi"])
    stream = driver.read_stream("/f", 1)
    driver.put_content("/f", b"replaced")
    driver.write_stream("/f", 2, [b"XYZ"])
    driver.delete("/f")
    assert stream.read(4) == b"bcde"
    assert stream.read() == b"fghi"
    assert stream.read() == b""


def test_inmemory_appends_after_a_stream_opened_stay_unseen() -> None:
    driver = InMemoryDriver()
    driver.put_content("/f", b"abc")
    with driver.read_stream("/f") as stream:
        driver.write_stream("/f", 3, [b"def"])
        assert stream.read() == b"abc"
    assert driver.get_content("/f") == b"abcdef"


def test_inmemory_streams_seek_and_read_into_buffers() -> None:
    driver = InMemoryDriver()
    driver.write_stream("/f", 0, [bytes(range(0, 100)), bytes(range(100, 200))])
    with driver.read_stream("/f", 95) as stream:
        buffer = bytearray(10)
        assert stream.readinto(buffer) == 10
        assert bytes(buffer) == bytes(range(95, 105))
        assert stream.tell() == 105
        assert stream.seek(-5, io.SEEK_END) == 195
        assert stream.read() == bytes(range(195, 200))
        assert stream.seek(10) == 10
        assert stream.read1(3) == bytes([10, 11, 12])
    with pytest.raises(ValueError, match="closed"):
        stream.read()


@pytest.mark.parametrize("step", [0, -1000], ids=["frozen", "backwards"])
def test_inmemory_mod_time_moves_forward_even_when_the_clock_does_not(
    monkeypatch: pytest.MonkeyPatch, step: int
) -> None:
    driver = InMemoryDriver()
    monkeypatch.setattr(time, "time_ns", itertools.count(1_700_000_000_000_000_000, step).__next__)
    times = []
    for _ in range(50):
        driver.put_content("/f", b"x")
        times.append(driver.stat("/f").mod_time)
        driver.write_stream("/f", 0, [b"y"])
        times.append(driver.stat("/f").mod_time)
    monkeypatch.undo()
    assert all(earlier < later for earlier, later in itertools.pairwise(times))


def test_inmemory_gaps_cost_no_memory() -> None:
    driver = InMemoryDriver()
    driver.put_content("/f", b"head")
    tracemalloc.start()
    try:
        driver.write_stream("/f", 8 << 30, [b"tail"])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * MiB
    assert driver.stat("/f").size == (8 << 30) + 4
    with driver.read_stream("/f", 4 << 30) as stream:
        assert stream.read(8) == bytes(8)
    with driver.read_stream("/f", (8 << 30) - 2) as stream:
        assert stream.read() == b"\0\0tail"


def test_inmemory_cutting_keeps_the_prefix() -> None:
    driver = InMemoryDriver()
    driver.write_stream("/f", 0, [b"abc", b"def", b"ghi"])
    driver.write_stream("/f", 4, [])
    assert driver.get_content("/f") == b"abcd"
    driver.write_stream("/f", 6, [b"!"])
    assert driver.get_content("/f") == b"abcd\0\0!"


# -- both local drivers ------------------------------------------------------------------------------------------


def test_concurrent_puts_and_deletes_leave_no_empty_directory(local_driver: StorageDriver) -> None:
    def worker(index: int) -> Callable[[], None]:
        def target() -> None:
            for round_ in range(30):
                path = f"/shared/{round_ % 3}/deep/file{index}"
                local_driver.put_content(path, b"x")
                local_driver.write_stream(f"/shared/{round_ % 3}/stream{index}", 0, [b"y"])
                local_driver.delete(path)
                local_driver.delete(f"/shared/{round_ % 3}/stream{index}")

        return target

    run_threads(*(worker(index) for index in range(4)))
    assert local_driver.list("/") == []
    with pytest.raises(PathNotFoundError):
        local_driver.stat("/shared")
