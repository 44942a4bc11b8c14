"""Checks of thread safety: concurrent readers, concurrent writers, and put_content atomic for readers.

Each check runs its workers in daemon threads and waits for them at most THREAD_DEADLINE seconds, so a driver that
deadlocks fails the check instead of hanging the run.
"""

from __future__ import annotations

import hashlib
import io
import threading
import time
from collections.abc import Callable, Sequence
from functools import partial

from registry_storage.errors import StorageDriverError
from registry_storage.testing.expectations import (
    ConformanceFailure,
    describe_error,
    expect,
    expect_bytes,
    expect_content,
    expect_equal,
    expect_sequence,
    fail,
    read_all,
)
from registry_storage.testing.registry import MIB, CheckContext, CheckGroup

group = CheckGroup("concurrency")

THREADS = 8
"""Number of concurrent readers, and of concurrent writers."""

THREAD_DEADLINE = 600.0
"""Seconds a concurrency check waits for its threads before failing."""

READS_PER_READER = 4
"""Reads at random offsets each concurrent reader issues."""

ATOMIC_VERSIONS = 6
"""Distinct contents the atomicity check's writer cycles through."""

ATOMIC_WRITES = 30
"""put_content calls the atomicity check's writer makes."""


def run_concurrently(tasks: Sequence[Callable[[], None]], what: str) -> None:
    """Run every task in its own daemon thread, all at once; wait at most THREAD_DEADLINE seconds for all.

    Raises ConformanceFailure for the first task that failed (its own failure, or a description of what it raised),
    and when some task is still running at the deadline.
    """
    errors: list[BaseException | None] = [None] * len(tasks)
    start = threading.Barrier(len(tasks))

    def worker(index: int) -> None:
        try:
            start.wait(timeout=THREAD_DEADLINE)
            tasks[index]()
        except BaseException as error:
            errors[index] = error

    threads = [
        threading.Thread(target=worker, args=(index,), name=f"conformance-{index}", daemon=True)
        for index in range(len(tasks))
    ]
    deadline = time.monotonic() + THREAD_DEADLINE
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    running = sum(thread.is_alive() for thread in threads)
    if running:
        fail(f"{what}: {running} of {len(threads)} threads still running after {THREAD_DEADLINE:g} s")
    for index, error in enumerate(errors):
        if isinstance(error, ConformanceFailure):
            raise ConformanceFailure(f"{what}, thread {index}: {error}") from error
        if error is not None:
            raise ConformanceFailure(f"{what}, thread {index} raised {describe_error(error)}") from error


@group.check
def concurrent_readers_at_random_offsets_see_the_expected_bytes(context: CheckContext) -> None:
    """8 threads each read a 32 MiB object (4 MiB when quick) at random offsets, at once: every read is exact."""
    driver, path = context.driver, context.path("shared")
    size = context.options.concurrent_read_size
    content = context.data(size)
    driver.put_content(path, content)
    plans = [
        [(offset, min(MIB, size - offset)) for offset in (context.rng.randrange(size) for _ in range(READS_PER_READER))]
        for _ in range(THREADS)
    ]
    plans[0][0] = (0, MIB)
    plans[1][0] = (size - 1, 1)

    def reader(plan: list[tuple[int, int]]) -> None:
        for offset, length in plan:
            with driver.read_stream(path, offset) as stream:
                piece = bytearray()
                while len(piece) < length:
                    chunk = stream.read(length - len(piece))
                    if not chunk:
                        break
                    piece += chunk
            expect_bytes(piece, content[offset : offset + length], f"{length} bytes from read_stream(path, {offset})")

    run_concurrently([partial(reader, plan) for plan in plans], "concurrent readers")


@group.check
def concurrent_writers_to_distinct_paths_each_store_their_content(context: CheckContext) -> None:
    """8 threads write objects of different sizes (up to 16 MiB; 2 MiB when quick) at once; each reads back whole."""
    driver = context.driver
    largest = context.options.concurrent_write_max
    sizes = [largest, largest * 3 // 4, largest // 2, largest // 4, MIB + 1, 300_000, 4096, 1]
    objects = {context.path(f"object-{index}"): context.data(size) for index, size in enumerate(sizes)}

    def writer(path: str, content: bytes) -> None:
        written = driver.write_stream(path, 0, io.BytesIO(content))
        expect_equal(written, len(content), f"write_stream({path!r}) result")

    run_concurrently(
        [partial(writer, path, content) for path, content in objects.items()],
        "concurrent writers",
    )
    expect_sequence(driver.list(context.root), sorted(objects), "list(<root>) after the concurrent writes")
    for path, content in objects.items():
        expect_equal(driver.stat(path).size, len(content), f"stat({path!r}).size")
        with driver.read_stream(path) as stream:
            expect_bytes(read_all(stream, len(content), path), content, f"read_stream({path!r})")


@group.check
def put_content_is_atomic_for_concurrent_readers(context: CheckContext) -> None:
    """While one thread replaces a file again and again, readers (get_content and read_stream) see whole versions.

    Every read returns exactly one of the versions written, never a mix, a truncation or PathNotFoundError.
    """
    driver, path = context.driver, context.path("contended")
    versions = [context.data(MIB // 4 + index * 200_000) for index in range(ATOMIC_VERSIONS)]
    known = {hashlib.sha256(version).hexdigest(): index for index, version in enumerate(versions)}
    driver.put_content(path, versions[0])
    done = threading.Event()
    reads = [0] * THREADS

    def writer() -> None:
        try:
            for write in range(1, ATOMIC_WRITES + 1):
                driver.put_content(path, versions[write % ATOMIC_VERSIONS])
        finally:
            done.set()

    def reader(index: int) -> None:
        while True:
            finished = done.is_set()
            try:
                if index % 2:
                    with driver.read_stream(path) as stream:
                        content = read_all(stream, len(versions[-1]), f"read_stream({path!r})")
                else:
                    content = driver.get_content(path)
            except StorageDriverError as error:
                fail(f"read {reads[index]} while put_content replaced the file raised {describe_error(error)}")
            digest = hashlib.sha256(content).hexdigest()
            expect(
                digest in known,
                f"read {reads[index]} returned {len(content)} bytes that are none of the {len(versions)} versions "
                f"written (sizes {[len(version) for version in versions]})",
            )
            reads[index] += 1
            if finished:
                return

    run_concurrently([writer, *(partial(reader, index) for index in range(THREADS - 1))], "atomic put")
    expect_content(driver, path, versions[ATOMIC_WRITES % ATOMIC_VERSIONS], "content after the last write")
