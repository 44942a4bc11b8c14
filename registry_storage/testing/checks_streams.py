"""Checks of streaming: ``read_stream`` at every kind of offset and ``write_stream`` from every kind of source."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable, Iterator
from functools import partial

from registry_storage.errors import InvalidOffsetError, PathNotFoundError
from registry_storage.testing.checks_content import SAMPLES
from registry_storage.testing.expectations import (
    READ_PIECE,
    expect,
    expect_bytes,
    expect_content,
    expect_equal,
    expect_raises,
    expect_sequence,
    expect_stream,
    fail,
    read_all,
)
from registry_storage.testing.registry import MIB, CheckContext, CheckGroup

group = CheckGroup("streams")

CHUNK = 32
"""Size of each of the three distinct chunks the offset checks read from."""


def _write_read_round_trip(make: Callable[[CheckContext], bytes]) -> Callable[[CheckContext], None]:
    def check(context: CheckContext) -> None:
        driver, path, content = context.driver, context.path("file"), make(context)
        written = driver.write_stream(path, 0, io.BytesIO(content))
        expect_equal(written, len(content), f"write_stream({path!r}, 0, ...) result")
        with driver.read_stream(path) as stream:
            expect_stream(stream, content, f"read_stream({path!r}) after write_stream")
        expect_equal(driver.stat(path).size, len(content), f"stat({path!r}).size after write_stream")

    return check


for _sample, _make in SAMPLES.items():
    group.add(
        f"write_stream_then_read_stream_returns_{_sample}",
        _write_read_round_trip(_make),
        f"read_stream returns exactly what write_stream stored ({_sample.replace('_', ' ')}).",
    )


def _three_chunks(context: CheckContext) -> tuple[str, bytes]:
    """Store three distinct 32-byte chunks at ``<root>/chunks``; return the path and the content."""
    path = context.path("chunks")
    content = b"".join(context.chunks(3, CHUNK))
    context.driver.put_content(path, content)
    return path, content


@group.check
def read_stream_from_chunk_boundaries_returns_the_rest(context: CheckContext) -> None:
    """read_stream at offsets 0, 32 and 64 of three distinct 32-byte chunks returns exactly the bytes from there."""
    driver = context.driver
    path, content = _three_chunks(context)
    for offset in (0, CHUNK, 2 * CHUNK):
        with driver.read_stream(path, offset) as stream:
            expect_stream(stream, content[offset:], f"read_stream({path!r}, {offset})")


@group.check
def read_stream_at_the_last_byte_returns_one_byte(context: CheckContext) -> None:
    """read_stream at offset size-1 returns the last byte only."""
    driver = context.driver
    path, content = _three_chunks(context)
    offset = len(content) - 1
    with driver.read_stream(path, offset) as stream:
        expect_stream(stream, content[offset:], f"read_stream({path!r}, {offset})")


@group.check
def read_stream_at_the_size_is_at_eof_at_once(context: CheckContext) -> None:
    """read_stream at offset == size is a stream at EOF at once (no error)."""
    driver = context.driver
    path, content = _three_chunks(context)
    with driver.read_stream(path, len(content)) as stream:
        expect_stream(stream, b"", f"read_stream({path!r}, {len(content)})")


@group.check
def read_stream_past_the_end_is_at_eof_at_once(context: CheckContext) -> None:
    """read_stream at an offset beyond the size is a stream at EOF at once (no error)."""
    driver = context.driver
    path, content = _three_chunks(context)
    for offset in (len(content) + 1, len(content) + 10 * MIB):
        with driver.read_stream(path, offset) as stream:
            expect_stream(stream, b"", f"read_stream({path!r}, {offset})")


@group.check
def read_stream_at_negative_offset_raises_invalid_offset(context: CheckContext) -> None:
    """read_stream at offset -1 raises InvalidOffsetError carrying the path and the offset."""
    driver = context.driver
    path, _ = _three_chunks(context)
    error = expect_raises(InvalidOffsetError, lambda: driver.read_stream(path, -1), f"read_stream({path!r}, -1)")
    expect_equal((error.path, error.offset), (path, -1), "(path, offset) of the InvalidOffsetError")


@group.check
def read_stream_of_a_missing_path_raises_path_not_found(context: CheckContext) -> None:
    """read_stream at offset 0 of a missing path raises PathNotFoundError carrying that path."""
    driver, path = context.driver, context.path("absent")
    driver.put_content(context.path("present"), b"x")
    error = expect_raises(PathNotFoundError, lambda: driver.read_stream(path, 0), f"read_stream({path!r}, 0)")
    expect_equal(error.path, path, "PathNotFoundError.path")


@group.check
def read_stream_of_a_missing_path_at_a_positive_offset_raises_path_not_found(context: CheckContext) -> None:
    """read_stream at a positive offset of a missing path raises PathNotFoundError, not an empty stream."""
    driver, path = context.driver, context.path("absent")
    driver.put_content(context.path("present"), b"x")
    for offset in (1, 100):
        error = expect_raises(
            PathNotFoundError,
            partial(driver.read_stream, path, offset),
            f"read_stream({path!r}, {offset})",
        )
        expect_equal(error.path, path, "PathNotFoundError.path")


@group.check
def read_stream_of_a_directory_raises_path_not_found(context: CheckContext) -> None:
    """read_stream of a directory raises PathNotFoundError: no file is there."""
    driver, directory = context.driver, context.path("dir")
    driver.put_content(context.path("dir", "file"), b"x")
    error = expect_raises(PathNotFoundError, lambda: driver.read_stream(directory), f"read_stream({directory!r})")
    expect_equal(error.path, directory, "PathNotFoundError.path")


@group.check
def read_stream_supports_read_readinto_close_and_context_manager(context: CheckContext) -> None:
    """The read_stream result is a binary file-like: read(n), readinto, read() to the end, close, ``with``."""
    driver, path = context.driver, context.path("file")
    content = context.data(1000)
    driver.put_content(path, content)
    stream = driver.read_stream(path, 0)
    with stream as entered:
        first = entered.read(10)
        expect(
            isinstance(first, bytes) and 0 < len(first) <= 10,
            f"read(10): expected 1 to 10 bytes, got {first!r}",
        )
        expect_bytes(first, content[: len(first)], "read(10)")
        position = len(first)
        buffer = bytearray(17)
        count = entered.readinto(buffer)
        expect(
            isinstance(count, int) and 0 < count <= len(buffer),
            f"readinto(17-byte buffer): expected 1 to 17, got {count!r}",
        )
        expect_bytes(buffer[:count], content[position : position + count], "readinto(17-byte buffer)")
        position += count
        expect_bytes(read_all(entered, len(content), "read to the end"), content[position:], "read to the end")
        expect_bytes(entered.read(5), b"", "read(5) at the end")
    expect(stream.closed, "the stream should be closed after leaving the with block")
    second = driver.read_stream(path, 990)
    expect_bytes(read_all(second, len(content), "read_stream(path, 990)"), content[990:], "read_stream(path, 990)")
    second.close()
    expect(second.closed, "the stream should be closed after close()")
    second.close()


@group.check
def write_stream_accepts_a_file_like_reader(context: CheckContext) -> None:
    """write_stream reads a binary file-like to its end and returns the number of bytes read."""
    driver, path = context.driver, context.path("file")
    content = context.data(3 * MIB + 123)
    written = driver.write_stream(path, 0, io.BytesIO(content))
    expect_equal(written, len(content), "write_stream result (bytes read from the file-like)")
    expect_content(driver, path, content, f"get_content({path!r})")


@group.check
def write_stream_accepts_an_iterable_of_byte_chunks(context: CheckContext) -> None:
    """write_stream takes an iterable of bytes (a list or a generator, chunks of any size) and returns the count."""
    driver = context.driver
    chunks = [context.data(size) for size in (1, 0, 4096, MIB + 7, 3, 65536)]
    expected = b"".join(chunks)
    listed = context.path("from-list")
    expect_equal(driver.write_stream(listed, 0, list(chunks)), len(expected), "write_stream result for a list")
    expect_content(driver, listed, expected, f"get_content({listed!r})")
    generated = context.path("from-generator")
    written = driver.write_stream(generated, 0, (chunk for chunk in chunks))
    expect_equal(written, len(expected), "write_stream result for a generator")
    expect_content(driver, generated, expected, f"get_content({generated!r})")


@group.check
def write_stream_of_an_empty_reader_creates_an_empty_file(context: CheckContext) -> None:
    """write_stream at offset 0 of a new path with no bytes creates an empty file and returns 0."""
    driver, path = context.driver, context.path("empty")
    expect_equal(driver.write_stream(path, 0, io.BytesIO(b"")), 0, "write_stream result for an empty reader")
    info = driver.stat(path)
    expect_equal((info.size, info.is_dir), (0, False), f"(size, is_dir) of stat({path!r})")
    expect_content(driver, path, b"", f"get_content({path!r})")


@group.check
def write_stream_creates_parent_directories(context: CheckContext) -> None:
    """write_stream creates every missing parent of its path."""
    driver, path = context.driver, context.path("a", "b", "file")
    driver.write_stream(path, 0, [b"xyz"])
    expect_equal(driver.stat(context.path("a", "b")).is_dir, True, "stat(<root>/a/b).is_dir")
    expect_sequence(driver.list(context.path("a", "b")), [path], "list(<root>/a/b)")
    expect_content(driver, path, b"xyz", f"get_content({path!r})")


@group.check
def write_stream_at_offset_zero_replaces_the_content(context: CheckContext) -> None:
    """write_stream at offset 0 of an existing file cuts it to nothing first: the result is the new bytes only."""
    driver, path = context.driver, context.path("file")
    driver.put_content(path, context.data(4096))
    new = context.data(10)
    driver.write_stream(path, 0, [new])
    expect_content(driver, path, new, f"get_content({path!r})")


@group.check
def write_stream_inside_existing_content_cuts_what_follows(context: CheckContext) -> None:
    """write_stream at an offset inside the content keeps the bytes before it and drops every byte after it."""
    driver, path = context.driver, context.path("file")
    old = b"".join(context.chunks(3, CHUNK))
    driver.put_content(path, old)
    new = context.data(10)
    offset = 40
    expect_equal(driver.write_stream(path, offset, [new]), len(new), f"write_stream({path!r}, {offset}, ...) result")
    expect_content(driver, path, old[:offset] + new, f"get_content({path!r})")
    expect_equal(driver.stat(path).size, offset + len(new), f"stat({path!r}).size")


@group.check
def write_stream_after_empty_content_appends(context: CheckContext) -> None:
    """After put_content of b"", write_stream at offset 0 (the size) stores the new bytes."""
    driver, path = context.driver, context.path("file")
    driver.put_content(path, b"")
    size = driver.stat(path).size
    expect_equal(size, 0, f"stat({path!r}).size of empty content")
    chunks = context.chunks(2, 1000)
    driver.write_stream(path, size, [chunks[0]])
    driver.write_stream(path, driver.stat(path).size, [chunks[1]])
    expect_content(driver, path, chunks[0] + chunks[1], f"get_content({path!r})")


@group.check
def write_stream_to_a_new_path_at_an_offset_fills_the_start_with_zeros(context: CheckContext) -> None:
    """write_stream at offset n of a missing path stores n zero bytes followed by the bytes read."""
    driver, path = context.driver, context.path("file")
    new = context.data(16)
    expect_equal(driver.write_stream(path, 5, [new]), len(new), f"write_stream({path!r}, 5, ...) result")
    expect_content(driver, path, bytes(5) + new, f"get_content({path!r})")


def _read_digest(context: CheckContext, path: str, size: int) -> tuple[int, str]:
    """Length and sha256 of the first ``size`` + 1 bytes read from ``path`` (more than ``size`` means too long)."""
    digest = hashlib.sha256()
    total = 0
    with context.driver.read_stream(path) as stream:
        while total <= size:
            piece = stream.read(READ_PIECE)
            if not piece:
                break
            digest.update(piece)
            total += len(piece)
    return total, digest.hexdigest()


def _expect_content(context: CheckContext, path: str, parts: list[bytes]) -> None:
    """Check the size and the bytes (read back by stream, compared by length and sha256) of ``path``."""
    size = sum(len(part) for part in parts)
    expect_equal(context.driver.stat(path).size, size, f"stat({path!r}).size")
    expected = hashlib.sha256()
    for part in parts:
        expected.update(part)
    total, digest = _read_digest(context, path, size)
    if (total, digest) != (size, expected.hexdigest()):
        with context.driver.read_stream(path) as stream:  # read again, whole, to tell where they differ
            expect_bytes(read_all(stream, size, path), b"".join(parts), f"read_stream({path!r})")
        fail(
            f"read_stream({path!r}): expected {size} bytes (sha256 {expected.hexdigest()[:16]}), "
            f"got {total} bytes (sha256 {digest[:16]}) the first time and the expected bytes the second"
        )


@group.check
def write_stream_appends_chunks_at_the_end(context: CheckContext) -> None:
    """Three distinct 10 MiB chunks (1 MiB when quick), each written at offset stat().size, read back in order."""
    driver, path = context.driver, context.path("appended")
    chunks = context.chunks(3, context.options.append_chunk)
    offset = 0
    for index, chunk in enumerate(chunks):
        written = driver.write_stream(path, offset, io.BytesIO(chunk))
        expect_equal(written, len(chunk), f"write_stream result for chunk {index}")
        offset = driver.stat(path).size
        expect_equal(offset, len(chunk) * (index + 1), f"stat({path!r}).size after chunk {index}")
    _expect_content(context, path, chunks)


@group.check
def write_stream_past_the_end_fills_the_gap_with_zeros(context: CheckContext) -> None:
    """write_stream at an offset past the end zero-extends the file first: the gap reads back as zeros."""
    driver, path = context.driver, context.path("gapped")
    first, second = context.chunks(2, context.options.append_chunk)
    gap = context.options.append_chunk // 3 + 7
    driver.write_stream(path, 0, io.BytesIO(first))
    offset = driver.stat(path).size + gap
    expect_equal(driver.write_stream(path, offset, io.BytesIO(second)), len(second), "write_stream result after a gap")
    with driver.read_stream(path, len(first)) as stream:
        expect_stream(stream, bytes(gap) + second, f"read_stream({path!r}, {len(first)}) from the start of the gap")
    _expect_content(context, path, [first, bytes(gap), second])


@group.check
def write_stream_at_negative_offset_raises_invalid_offset(context: CheckContext) -> None:
    """write_stream at offset -1 raises InvalidOffsetError carrying the path and the offset, and creates nothing."""
    driver, path = context.driver, context.path("file")
    error = expect_raises(
        InvalidOffsetError, lambda: driver.write_stream(path, -1, [b"x"]), f"write_stream({path!r}, -1, ...)"
    )
    expect_equal((error.path, error.offset), (path, -1), "(path, offset) of the InvalidOffsetError")
    expect_raises(PathNotFoundError, lambda: driver.stat(path), f"stat({path!r}) after the refused write_stream")


class ReaderFailedError(Exception):
    """Raised by the reader of the interrupted-write check after it gave part of its bytes."""


@group.check
def write_stream_interrupted_by_its_reader_keeps_a_resumable_prefix(context: CheckContext) -> None:
    """A reader that raises midway leaves base + a prefix of what it gave; stat tells it; resuming completes it.

    The content must be exactly the base plus the first k bytes read for some k, stat().size must be base + k, and a
    write_stream at offset stat().size with the remaining bytes must give the full expected content.
    """
    driver, path = context.driver, context.path("resumable")
    base = context.data(100_000)
    driver.put_content(path, base)
    chunks = context.chunks(4, 256 * 1024)
    payload = b"".join(chunks)
    given = 2 * len(chunks[0])

    def breaking_reader() -> Iterator[bytes]:
        yield chunks[0]
        yield chunks[1]
        raise ReaderFailedError("the reader failed on purpose")

    try:
        driver.write_stream(path, len(base), breaking_reader())
    except Exception:  # the reader's own error, or the driver's report of it: either way the write stopped
        pass
    else:
        fail("write_stream with a reader that raised: expected the error to propagate, got none")
    try:
        size = driver.stat(path).size
    except PathNotFoundError:
        fail(f"stat({path!r}) after the interrupted write: expected base + a prefix, got PathNotFoundError")
    kept = size - len(base)
    expect(
        0 <= kept <= given,
        f"stat({path!r}).size after the interrupted write: expected {len(base)} to {len(base) + given}, got {size}",
    )
    expect_content(driver, path, base + payload[:kept], f"get_content({path!r}) after the interruption")
    written = driver.write_stream(path, size, io.BytesIO(payload[kept:]))
    expect_equal(written, len(payload) - kept, "write_stream result of the resumed write")
    expect_content(driver, path, base + payload, f"get_content({path!r}) after resuming at offset {size}")


@group.check
def large_object_round_trips_through_write_stream_and_read_stream(context: CheckContext) -> None:
    """A large object (64 MiB; 4 MiB when quick) written by write_stream in distinct chunks reads back whole."""
    driver, path = context.driver, context.path("large")
    chunks = context.chunks(context.options.large_size // MIB, MIB)
    written = driver.write_stream(path, 0, iter(chunks))
    expect_equal(written, context.options.large_size, "write_stream result")
    _expect_content(context, path, chunks)
