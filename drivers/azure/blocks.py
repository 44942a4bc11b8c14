"""BlockWriter: ``write_stream`` on a block blob, with bounded memory and the prefix guarantee.

A write at ``offset`` builds the new block list from the base, then the bytes read:

- committed blocks that lie wholly before ``offset`` are kept as they are (no bytes move);
- the rest of the old content up to ``offset`` (the partial block, or the whole prefix of a blob written in one
  request) is read back in bounded ranges and staged again;
- a gap past the old end is staged as zero blocks cut from one reused buffer;
- then the bytes read are cut into blocks of ``block_size`` and staged, at most ``concurrency`` at once.

The block list is committed at the end in one request, so readers see the old or the new content. When the write is
interrupted after it began (the reader raises, a staging request fails, the call is interrupted), the bytes read so
far are staged and the longest run of staged blocks that follows the base is committed before the error propagates:
the content is then the base plus the first k bytes read, and ``stat`` tells k. A write from offset 0 whose bytes
fit in one block is a single upload.

Memory: the writer holds at most ``concurrency`` blocks in flight, the block being filled and one chunk of the reader;
the SDK holds one more copy of each block in flight while it sends it. In all about
``(2 * concurrency + 2) * block_size`` bytes (40 MiB with the defaults), whatever the size of the write.
"""

from __future__ import annotations

import contextvars
import logging
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Executor, Future, wait
from contextlib import suppress
from dataclasses import dataclass
from typing import Protocol

from registry_storage.fileinfo import FileInfo

logger = logging.getLogger("registry_storage.drivers.azure")

BLOCK_ID_LENGTH = 48
"""Length of every block id this driver writes: the service wants equal-length ids within a blob."""


@dataclass(frozen=True)
class CommittedBlock:
    """One committed block of a block blob, as Get Block List reports it."""

    block_id: str
    size: int


class BlockStore(Protocol):
    """What the writer needs from the store (see :class:`registry_storage.drivers.azure.store.BlobStore`)."""

    def file_info(self, path: str) -> FileInfo | None: ...

    def committed_blocks(self, path: str) -> list[CommittedBlock]: ...

    def read_range(self, path: str, start: int, end: int) -> Iterator[bytes]: ...

    def upload(self, path: str, content: bytes) -> None: ...

    def stage_block(self, path: str, block_id: str, data: bytes) -> None: ...

    def commit_blocks(self, path: str, block_ids: list[str]) -> None: ...


def block_ids() -> Iterator[str]:
    """Fresh block ids of :data:`BLOCK_ID_LENGTH` characters: a random token, then a counter."""
    token = uuid.uuid4().hex
    counter = 0
    while True:
        yield f"{token}{counter:016d}"
        counter += 1


class _BlockCutter:
    """Cuts a stream of chunks into blocks of ``size`` bytes (the last one shorter); counts the bytes read.

    A chunk larger than a block is sliced without copying its rest, so a huge chunk costs one copy per block.
    """

    def __init__(self, chunks: Iterator[bytes], size: int) -> None:
        self._chunks = chunks
        self._size = size
        self._parts: deque[bytes | memoryview] = deque()
        self._held = 0
        self.bytes_read = 0

    def next_block(self) -> bytes | None:
        """The next block, or None at the end; a reader error propagates and leaves the bytes read held."""
        while self._held < self._size:
            chunk = next(self._chunks, None)
            if chunk is None:
                break
            self._parts.append(chunk)
            self._held += len(chunk)
            self.bytes_read += len(chunk)
        if not self._held:
            return None
        if self._held <= self._size:
            return self.held()
        block: list[bytes | memoryview] = []
        needed = self._size
        while needed:
            part = self._parts.popleft()
            if len(part) > needed:
                view = memoryview(part)
                part, rest = view[:needed], view[needed:]
                self._parts.appendleft(rest)
            block.append(part)
            needed -= len(part)
        self._held -= self._size
        return b"".join(block)

    def held(self) -> bytes:
        """The bytes read but not yet returned in a block, taken out of the cutter."""
        parts = self._parts
        self._parts, self._held = deque(), 0
        return b"".join(parts)


class _Staging:
    """The new block list of one blob: kept ids and staged blocks, with at most ``concurrency`` requests in flight."""

    def __init__(self, stage: Callable[[str, bytes], None], executor: Executor, concurrency: int) -> None:
        self._stage = stage
        self._executor = executor
        self._concurrency = concurrency
        self._ids = block_ids()
        self._blocks: list[tuple[str, Future[None] | None]] = []
        self._in_flight: set[Future[None]] = set()
        self._base_length = 0

    def keep(self, block_id: str) -> None:
        """Reuse the committed block ``block_id`` as the next block."""
        self._blocks.append((block_id, None))

    def stage(self, data: bytes) -> None:
        """Stage ``data`` as the next block; waits while too many are in flight and raises an earlier failure."""
        while len(self._in_flight) >= self._concurrency:
            done, self._in_flight = wait(self._in_flight, return_when=FIRST_COMPLETED)
            for future in done:
                future.result()
        block_id = next(self._ids)
        # in the caller's context, so the staging shares the call's retry budget
        future = self._executor.submit(contextvars.copy_context().run, self._stage, block_id, data)
        self._blocks.append((block_id, future))
        self._in_flight.add(future)

    def end_of_base(self) -> None:
        """Mark every block so far as the base: an interrupted write commits nothing unless all of it is staged."""
        self._base_length = len(self._blocks)

    def block_list(self) -> list[str]:
        """Every block id in order, once all are staged; raises the first staging failure."""
        for _, future in self._blocks:
            if future is not None:
                future.result()
        return [block_id for block_id, _ in self._blocks]

    def staged_prefix(self) -> list[str] | None:
        """The longest run of staged blocks from the start, once no request is in flight; None if short of the base."""
        wait(self._in_flight)
        prefix: list[str] = []
        for block_id, future in self._blocks:
            if future is not None and future.exception() is not None:
                break
            prefix.append(block_id)
        return prefix if len(prefix) >= self._base_length else None


class BlockWriter:
    """Writes one stream of chunks into the block blob at ``path`` (see the module docstring)."""

    def __init__(self, store: BlockStore, path: str, block_size: int, concurrency: int, executor: Executor) -> None:
        self._store = store
        self._path = path
        self._block_size = block_size
        self._concurrency = concurrency
        self._executor = executor

    def write(self, offset: int, chunks: Iterator[bytes]) -> int:
        """Write ``chunks`` at ``offset`` over the old content cut or zero-extended to it; return the bytes read."""
        cutter = _BlockCutter(chunks, self._block_size)
        staging = _Staging(self._stage_block, self._executor, self._concurrency)
        if offset == 0:
            try:
                first = cutter.next_block()
            except BaseException:
                self._salvage(lambda: self._store.upload(self._path, cutter.held()))
                raise
            if first is None or len(first) < self._block_size:
                self._store.upload(self._path, first or b"")
                return cutter.bytes_read
            staging.end_of_base()
            block: bytes | None = first
        else:
            self._stage_base(staging, offset)
            staging.end_of_base()
            block = None
        try:
            if block is not None:
                staging.stage(block)
            while (block := cutter.next_block()) is not None:
                staging.stage(block)
            block_list = staging.block_list()
        except BaseException:
            self._salvage(lambda: self._commit_prefix(staging, cutter))
            raise
        self._store.commit_blocks(self._path, block_list)
        return cutter.bytes_read

    def _stage_block(self, block_id: str, data: bytes) -> None:
        self._store.stage_block(self._path, block_id, data)

    def _stage_base(self, staging: _Staging, offset: int) -> None:
        """Put the old content cut or zero-extended to ``offset`` at the head of the new block list."""
        info = self._store.file_info(self._path)
        size = info.size if info is not None else 0
        kept_end = 0
        if size:
            for committed in self._store.committed_blocks(self._path):
                if len(committed.block_id) != BLOCK_ID_LENGTH or kept_end + committed.size > offset:
                    break
                staging.keep(committed.block_id)
                kept_end += committed.size
        for piece in self._store.read_range(self._path, kept_end, min(offset, size)):
            staging.stage(piece)
        gap = offset - size
        if gap > 0:
            zero_block = bytes(min(gap, self._block_size))
            while gap > 0:
                staging.stage(zero_block if gap >= len(zero_block) else bytes(gap))
                gap -= len(zero_block)
        staging.block_list()

    def _salvage(self, keep: Callable[[], None]) -> None:
        """Run ``keep`` (storing the prefix written so far) while an error propagates; a failure of its own is
        logged, never raised, so the caller gets the first error, the one that interrupted the write."""
        try:
            keep()
        except Exception as error:
            logger.warning("keeping the written prefix of %s failed too: %s", self._path, error)

    def _commit_prefix(self, staging: _Staging, cutter: _BlockCutter) -> None:
        """After an interruption: stage the bytes held, then commit the staged run that follows the base."""
        held = cutter.held()
        if held:
            with suppress(Exception):  # a staging failure here leaves the held bytes out; the original error propagates
                staging.stage(held)
        prefix = staging.staged_prefix()
        if prefix is not None:
            self._store.commit_blocks(self._path, prefix)
