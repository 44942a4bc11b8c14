"""Streams through the proxy against a real driver child: many at once, file-like reading, early close, failures."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import pytest

from registry_storage.errors import ProtocolError
from registry_storage.observability.calls import unwrap

if TYPE_CHECKING:  # mypy reads the package from its folder; installed, it is registry_storage.client
    from client import ProxyDriver, ProxyReadStream, launch
else:
    from registry_storage.client import ProxyDriver, ProxyReadStream, launch

from registry_storage.factory import find_executable

STREAMS = 64
"""Streams in flight at once through one proxy."""

STREAM_CHUNK = 64 << 10
"""Chunk size of the many-streams test: large enough for direct reads, small enough to keep 64 windows cheap."""

BARRIER_TIMEOUT = 120.0


def pattern(index: int, size: int) -> bytes:
    """Content that differs per stream and per chunk, so a misplaced chunk changes the checksum."""
    seed = hashlib.sha256(b"stream %d" % index).digest()
    blocks = (hashlib.sha256(seed + b"%d" % block).digest() for block in range(size // 32 + 1))
    return b"".join(blocks)[:size]


@pytest.fixture
def proxy() -> Iterator[ProxyDriver]:
    executable = find_executable("inmemory")
    assert executable is not None, "registry-storage-inmemory is not installed"
    with launch(executable, "inmemory", {}, chunk_bytes=STREAM_CHUNK) as driver:
        yield driver


def run_all(tasks: list[Callable[[], None]]) -> None:
    """Run every task in its own thread and re-raise the first failure."""
    errors: list[BaseException] = []

    def guarded(task: Callable[[], None]) -> None:
        try:
            task()
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=guarded, args=(task,), daemon=True) for task in tasks]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(BARRIER_TIMEOUT)
    assert not any(thread.is_alive() for thread in threads), "a stream thread is still running"
    if errors:
        raise errors[0]


def test_64_write_and_read_streams_in_flight_at_once(proxy: ProxyDriver) -> None:
    sizes = [STREAM_CHUNK * 12 + 7 * index for index in range(STREAMS)]
    expected = [hashlib.sha256(pattern(index, size)).hexdigest() for index, size in enumerate(sizes)]
    all_open = threading.Barrier(STREAMS, timeout=BARRIER_TIMEOUT)

    def writer(index: int) -> Callable[[], None]:
        def source() -> Iterator[bytes]:
            content = pattern(index, sizes[index])
            yield content[:STREAM_CHUNK]
            all_open.wait()  # every write stream is open and has a chunk in flight
            for start in range(STREAM_CHUNK, len(content), STREAM_CHUNK // 2):
                yield content[start : start + STREAM_CHUNK // 2]

        def task() -> None:
            assert proxy.write_stream(f"/streams/{index}", 0, source()) == sizes[index]

        return task

    run_all([writer(index) for index in range(STREAMS)])
    all_open.reset()
    digests: list[str] = [""] * STREAMS

    def reader(index: int) -> Callable[[], None]:
        def task() -> None:
            digest = hashlib.sha256()
            with proxy.read_stream(f"/streams/{index}") as stream:
                digest.update(stream.read(1000))
                all_open.wait()  # every read stream is open and pulling
                for block in iter(lambda: stream.read(STREAM_CHUNK), b""):
                    digest.update(block)
            digests[index] = digest.hexdigest()

        return task

    run_all([reader(index) for index in range(STREAMS)])
    assert digests == expected


def test_a_read_stream_is_a_binary_file(proxy: ProxyDriver) -> None:
    """Every way of reading, across the boundaries of the STREAM_CHUNK chunks."""
    content = b"".join(b"line %d\n" % number for number in range(50_000))
    proxy.put_content("/lines", content)
    with proxy.read_stream("/lines", 3) as stream:
        assert stream.readable()
        assert stream.read(0) == b""
        assert stream.read(4) == content[3:7]
        assert stream.readline() == content[7 : content.index(b"\n", 7) + 1]
        position = content.index(b"\n", 7) + 1
        buffer = bytearray(STREAM_CHUNK + 100)
        assert stream.readinto(buffer) == len(buffer)
        assert bytes(buffer) == content[position : position + len(buffer)]
        position += len(buffer)
        assert stream.read1(10) == content[position : position + 10]
        position += 10
        assert stream.read() == content[position:]
        assert stream.read() == b""
        assert stream.readinto(bytearray(10)) == 0
    assert stream.closed
    with pytest.raises(ValueError, match="closed"):
        stream.read()
    with proxy.read_stream("/lines") as lines:
        assert list(lines) == content.splitlines(keepends=True)


def test_a_read_stream_at_or_past_the_end_is_empty(proxy: ProxyDriver) -> None:
    proxy.put_content("/a", b"abc")
    for offset in (3, 4, 1 << 40):
        with proxy.read_stream("/a", offset) as stream:
            assert stream.read() == b""


def test_closing_a_read_stream_early_ends_it_on_the_driver(proxy: ProxyDriver) -> None:
    proxy.put_content("/a", pattern(1, STREAM_CHUNK * 8))
    connection = proxy.session.connection
    with proxy.read_stream("/a") as observed_finished, proxy.read_stream("/a") as observed_open:
        finished, open_stream = unwrap(observed_finished), unwrap(observed_open)
        assert isinstance(finished, ProxyReadStream)
        assert isinstance(open_stream, ProxyReadStream)
        finished.read(10)
        open_stream.read(10)
        finished.close()
        with pytest.raises(ProtocolError):
            connection.call("stream.read", {"stream": finished.stream_id, "size": 10})
        result, attachment = connection.call("stream.read", {"stream": open_stream.stream_id, "size": 10})
        assert result == {"eof": False}
        assert len(attachment) == 10


def test_a_failing_source_keeps_a_resumable_prefix(proxy: ProxyDriver) -> None:
    proxy.put_content("/a", b"base-content")

    class SourceError(Exception):
        pass

    def source() -> Iterator[bytes]:
        yield b"x" * STREAM_CHUNK
        yield b"y" * STREAM_CHUNK
        raise SourceError("the source broke")

    with pytest.raises(SourceError):
        proxy.write_stream("/a", 4, source())
    size = proxy.stat("/a").size
    assert 4 <= size <= 4 + 2 * STREAM_CHUNK
    assert proxy.get_content("/a") == (b"base" + b"x" * STREAM_CHUNK + b"y" * STREAM_CHUNK)[:size]
    assert proxy.write_stream("/a", size, [b"z"]) == 1
