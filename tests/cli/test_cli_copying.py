"""The copy engine on its own: planning, resuming, stopping at the first failure, rate limits, size checks."""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from datetime import datetime, timezone
from io import BufferedIOBase

import pytest

import registry_storage
from registry_storage.cli import copying
from registry_storage.cli.common import CommandError
from registry_storage.cli.copying import Copier, Plan, RateLimit, Transfer, plan_copy, plan_sync, verify_sizes
from registry_storage.driver import StorageDriver
from registry_storage.errors import PathNotFoundError, StorageDriverError
from registry_storage.fileinfo import FileInfo
from registry_storage.streams import CHUNK_SIZE

NOW = datetime(2024, 1, 1, tzinfo=timezone.utc)


def _file(path: str, size: int) -> FileInfo:
    return FileInfo(path, size, NOW, is_dir=False)


def test_plan_sync_decides_per_file_by_size() -> None:
    files = [_file("/src/same", 5), _file("/src/short", 10), _file("/src/long", 3), _file("/src/new", 4)]
    existing = {"/dst/same": 5, "/dst/short": 4, "/dst/long": 9}
    plan = plan_sync(files, "/src", "/dst", existing)
    assert plan.transfers == [
        Transfer("/src/short", "/dst/short", 10, offset=4),
        Transfer("/src/long", "/dst/long", 3),
        Transfer("/src/new", "/dst/new", 4),
    ]
    assert (plan.up_to_date, plan.resumed, plan.bytes) == (1, 1, 6 + 3 + 4)
    assert plan.expected == {"/dst/same": 5, "/dst/short": 10, "/dst/long": 3, "/dst/new": 4}


def test_plan_copy_maps_the_root_and_a_single_file() -> None:
    tree = plan_copy([_file("/a/b", 1), _file("/a/c/d", 2)], "/", "/backup")
    assert [item.destination for item in tree.transfers] == ["/backup/a/b", "/backup/a/c/d"]
    single = plan_copy([_file("/a/b", 1)], "/a/b", "/x")
    assert single.transfers == [Transfer("/a/b", "/x", 1)]


@pytest.fixture
def memory() -> Iterator[StorageDriver]:
    with registry_storage.create("inmemory") as driver:
        yield driver


def test_a_resumed_transfer_keeps_the_destination_prefix(memory: StorageDriver) -> None:
    memory.put_content("/src", b"0123456789")
    memory.put_content("/dst", b"abcd")
    Copier(memory, memory).run([Transfer("/src", "/dst", 10, offset=4)])
    assert memory.get_content("/dst") == b"abcd456789"


class FailingReads(StorageDriver):
    """An in-memory store whose streams for ``broken`` fail after the first chunk, counting every stream opened."""

    name = "failing"

    def __init__(self, inner: StorageDriver, broken: str) -> None:
        self.inner = inner
        self.broken = broken
        self.opened: list[str] = []
        self.lock = threading.Lock()

    def _read_stream(self, path: str, offset: int) -> BufferedIOBase:
        with self.lock:
            self.opened.append(path)
        if path != self.broken:
            return self.inner.read_stream(path, offset)
        stream = self.inner.read_stream(path, offset)
        first = stream.read(1 << 20)

        class Broken(io.BufferedIOBase):
            served = False

            def read(self, size: int | None = -1, /) -> bytes:
                if not self.served:
                    self.served = True
                    return first
                raise StorageDriverError("connection reset", driver="failing")

        return Broken()

    def _get_content(self, path: str) -> bytes:
        return self.inner.get_content(path)

    def _put_content(self, path: str, content: bytes) -> None:
        self.inner.put_content(path, content)

    def _write_stream(self, path: str, offset: int, chunks: Iterator[bytes]) -> int:
        return self.inner.write_stream(path, offset, chunks)

    def _stat(self, path: str) -> FileInfo:
        return self.inner.stat(path)

    def _list(self, path: str) -> list[str]:
        return self.inner.list(path)

    def _move(self, source: str, destination: str) -> None:
        self.inner.move(source, destination)

    def _delete(self, path: str) -> None:
        self.inner.delete(path)


def test_the_first_failure_stops_the_copy_and_leaves_a_resumable_prefix(memory: StorageDriver) -> None:
    size = 3 << 20
    for name in ("a", "b", "c"):
        memory.put_content(f"/src/{name}", bytes([ord(name)]) * size)
    source = FailingReads(memory, "/src/a")
    transfers = [Transfer(f"/src/{name}", f"/dst/{name}", size) for name in ("a", "b", "c")]
    with pytest.raises(StorageDriverError, match="connection reset"):
        Copier(source, memory, jobs=1).run(transfers)
    assert source.opened == ["/src/a"]
    assert memory.stat("/dst/a").size == 1 << 20
    plan = plan_sync([_file(t.source, size) for t in transfers], "/src", "/dst", {"/dst/a": 1 << 20})
    Copier(memory, memory, jobs=2).run(plan.transfers)
    assert plan.resumed == 1
    for name in ("a", "b", "c"):
        assert memory.get_content(f"/dst/{name}") == bytes([ord(name)]) * size


def test_a_source_shorter_than_planned_fails_the_copy(memory: StorageDriver) -> None:
    memory.put_content("/src", b"12345")
    with pytest.raises(CommandError, match="copied 5 bytes to /dst, expected 8"):
        Copier(memory, memory).run([Transfer("/src", "/dst", 8)])


def test_a_vanished_source_raises_not_found(memory: StorageDriver) -> None:
    with pytest.raises(PathNotFoundError):
        Copier(memory, memory, jobs=2).run([Transfer("/gone", "/dst", 8), Transfer("/gone2", "/dst2", 8)])


def test_verify_sizes_names_missing_and_wrong_files(memory: StorageDriver) -> None:
    memory.put_content("/dst/a", b"123")
    plan = Plan("/src", "/dst", expected={"/dst/a": 3})
    verify_sizes(memory, plan)
    plan.expected.update({"/dst/b": 2, "/dst/a": 4})
    with pytest.raises(CommandError, match=r"/dst/a has 3 bytes, expected 4; /dst/b is missing, expected 2 bytes"):
        verify_sizes(memory, plan)


class FakeClock:
    """Stands in for time.monotonic and time.sleep: sleeping moves the clock."""

    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_a_rate_limit_sleeps_until_the_total_is_within_the_rate() -> None:
    clock = FakeClock()
    limit = RateLimit(1000, clock=clock.monotonic, sleep=clock.sleep)
    for _ in range(5):
        limit.take(500)
    assert clock.now == pytest.approx(102.5)
    assert limit.chunk_size == copying.MIN_LIMITED_CHUNK
    assert RateLimit(1 << 30).chunk_size == CHUNK_SIZE
