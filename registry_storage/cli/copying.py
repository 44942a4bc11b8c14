"""The copy engine behind ``cp`` and ``sync``: plan file transfers, run them in parallel, verify sizes.

A transfer streams one file from a source driver to a destination driver in chunks of at most 1 MiB, so memory
stays bounded whatever the file size. A transfer with an ``offset`` resumes a partial destination file: it reads the
source from ``offset`` and writes with ``write_stream(path, offset, ...)``, which keeps the first ``offset`` bytes.
``sync`` plans such a resume for every destination file shorter than its source, which is how an interrupted sync
completes where it stopped.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field

from registry_storage.cli.common import CommandError, rebase
from registry_storage.cli.progress import ByteBar, Progress
from registry_storage.driver import StorageDriver
from registry_storage.errors import OperationCancelledError, PathNotFoundError
from registry_storage.fileinfo import FileInfo
from registry_storage.streams import CHUNK_SIZE, SupportsRead

MIN_LIMITED_CHUNK = 64 << 10


@dataclass(frozen=True)
class Transfer:
    """Copy the file ``source`` (``size`` bytes) to ``destination``, starting at byte ``offset`` (> 0: a resume)."""

    source: str
    destination: str
    size: int
    offset: int = 0

    @property
    def remaining(self) -> int:
        """The bytes this transfer moves."""
        return self.size - self.offset


@dataclass
class Plan:
    """The transfers a copy needs, and how many source files were already complete at the destination."""

    source_root: str
    destination_root: str
    transfers: list[Transfer] = field(default_factory=list)
    up_to_date: int = 0
    expected: dict[str, int] = field(default_factory=dict)
    """Every destination path of the copy and the size it must have when the copy is done."""

    @property
    def bytes(self) -> int:
        """The bytes the transfers move."""
        return sum(transfer.remaining for transfer in self.transfers)

    @property
    def resumed(self) -> int:
        """How many transfers resume a partial destination file."""
        return sum(1 for transfer in self.transfers if transfer.offset)


def source_files(driver: StorageDriver, root: str) -> list[FileInfo]:
    """The files to copy: ``root`` itself when it is a file, else every file below it (depth-first order).

    Raises PathNotFoundError when ``root`` does not exist.
    """
    info = driver.stat(root)
    if not info.is_dir:
        return [info]
    return [entry for entry in driver.walk(root) if not entry.is_dir]


def file_sizes(driver: StorageDriver, root: str) -> dict[str, int]:
    """The size of every file at or below ``root``, by path; empty when ``root`` does not exist."""
    try:
        info = driver.stat(root)
    except PathNotFoundError:
        return {}
    if not info.is_dir:
        return {root: info.size}
    return {entry.path: entry.size for entry in driver.walk(root) if not entry.is_dir}


def plan_copy(files: Iterable[FileInfo], source_root: str, destination_root: str) -> Plan:
    """Copy every file in full, replacing whatever is at its destination."""
    plan = Plan(source_root, destination_root)
    for info in files:
        target = rebase(info.path, source_root, destination_root)
        plan.transfers.append(Transfer(info.path, target, info.size))
        plan.expected[target] = info.size
    return plan


def plan_sync(files: Iterable[FileInfo], source_root: str, destination_root: str, existing: dict[str, int]) -> Plan:
    """Copy the files missing at the destination or differing in size.

    ``existing`` maps destination paths to their sizes. A destination file shorter than its source is taken as an
    interrupted copy and resumed from its size; a longer one is copied again in full.
    """
    plan = Plan(source_root, destination_root)
    for info in files:
        target = rebase(info.path, source_root, destination_root)
        plan.expected[target] = info.size
        have = existing.get(target)
        if have == info.size:
            plan.up_to_date += 1
        elif have is not None and have < info.size:
            plan.transfers.append(Transfer(info.path, target, info.size, offset=have))
        else:
            plan.transfers.append(Transfer(info.path, target, info.size))
    return plan


class RateLimit:
    """Keeps the bytes moved by every transfer together under ``bytes_per_second``; thread-safe.

    ``clock`` and ``sleep`` default to ``time.monotonic`` and ``time.sleep``.
    """

    def __init__(
        self,
        bytes_per_second: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if bytes_per_second <= 0:
            raise ValueError("a rate limit must be positive")
        self.bytes_per_second = bytes_per_second
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._started = clock()
        self._moved = 0

    @property
    def chunk_size(self) -> int:
        """A chunk size that keeps about ten pauses a second at this rate."""
        return int(max(MIN_LIMITED_CHUNK, min(CHUNK_SIZE, self.bytes_per_second / 10)))

    def take(self, count: int) -> None:
        """Account for ``count`` bytes, sleeping as long as the total is ahead of the allowed rate."""
        with self._lock:
            self._moved += count
            due = self._started + self._moved / self.bytes_per_second
        delay = due - self._clock()
        if delay > 0:
            self._sleep(delay)


class Copier:
    """Runs a plan's transfers from ``source`` to ``destination`` with ``jobs`` transfers at a time.

    Stops at the first failure: transfers not started are dropped, running ones stop at their next chunk (each
    leaves a prefix a later sync resumes from), and the failure is raised.
    """

    def __init__(
        self,
        source: StorageDriver,
        destination: StorageDriver,
        *,
        jobs: int = 1,
        progress: Progress | None = None,
        rate_limit: RateLimit | None = None,
    ) -> None:
        if jobs < 1:
            raise ValueError("jobs must be at least 1")
        self.source = source
        self.destination = destination
        self.jobs = jobs
        self.progress = progress or Progress(False)
        self.rate_limit = rate_limit
        self._stop = threading.Event()
        self._done_lock = threading.Lock()
        self._done = 0

    def run(self, transfers: Sequence[Transfer]) -> None:
        """Run every transfer; raises the first failure (a driver error, or CommandError for a short copy)."""
        if not transfers:
            return
        if len(transfers) == 1:
            transfer = transfers[0]
            with self.progress.bar(transfer.source, transfer.size, transfer.offset) as bar:
                self._copy(transfer, [bar])
            return
        total = sum(transfer.remaining for transfer in transfers)
        with self.progress.bar(f"{len(transfers)} files", total) as overall:
            overall.note(f"0/{len(transfers)} files")
            with ThreadPoolExecutor(self.jobs, thread_name_prefix="transfer") as pool:
                futures = [pool.submit(self._copy_counted, transfer, overall, len(transfers)) for transfer in transfers]
                self._wait(futures)

    def _wait(self, futures: list[Future[None]]) -> None:
        try:
            done, _ = wait(futures, return_when=FIRST_EXCEPTION)
        except BaseException:
            self._abandon(futures)
            raise
        failed = [future for future in futures if future in done and future.exception() is not None]
        if failed:
            self._abandon(futures)
            error = failed[0].exception()
            assert error is not None
            raise error

    def _abandon(self, futures: list[Future[None]]) -> None:
        """Drop the transfers not started and make the running ones stop at their next chunk."""
        self._stop.set()
        for future in futures:
            future.cancel()

    def _copy_counted(self, transfer: Transfer, overall: ByteBar, count: int) -> None:
        with self.progress.bar(transfer.source, transfer.size, transfer.offset, leave=False) as bar:
            self._copy(transfer, [bar, overall])
        with self._done_lock:
            self._done += 1
            overall.note(f"{self._done}/{count} files")

    def _copy(self, transfer: Transfer, bars: list[ByteBar]) -> None:
        """Copy one file; raises CommandError when the destination does not end at the source's size."""
        if transfer.size == 0:
            self.destination.put_content(transfer.destination, b"")
            return
        with self.source.read_stream(transfer.source, transfer.offset) as stream:
            chunks = self._chunks(stream, bars)
            written = self.destination.write_stream(transfer.destination, transfer.offset, chunks)
        if transfer.offset + written != transfer.size:
            raise CommandError(
                f"{transfer.source}: copied {transfer.offset + written} bytes to {transfer.destination}, expected "
                f"{transfer.size}; did the source change during the copy?"
            )

    def _chunks(self, stream: SupportsRead, bars: list[ByteBar]) -> Iterator[bytes]:
        size = self.rate_limit.chunk_size if self.rate_limit else CHUNK_SIZE
        while True:
            if self._stop.is_set():
                raise OperationCancelledError("copy")
            chunk = stream.read(size)
            if not chunk:
                return
            yield chunk
            for bar in bars:
                bar.advance(len(chunk))
            if self.rate_limit:
                self.rate_limit.take(len(chunk))


def verify_sizes(driver: StorageDriver, plan: Plan) -> None:
    """Check that every destination file of ``plan`` has its source's size; CommandError listing the first few not."""
    actual = file_sizes(driver, plan.destination_root)
    wrong = [
        f"{path} is missing, expected {size} bytes"
        if actual.get(path) is None
        else f"{path} has {actual[path]} bytes, expected {size}"
        for path, size in plan.expected.items()
        if actual.get(path) != size
    ]
    if wrong:
        more = f" (and {len(wrong) - 3} more)" if len(wrong) > 3 else ""
        raise CommandError(f"size check failed: {'; '.join(wrong[:3])}{more}")
