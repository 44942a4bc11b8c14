"""The stream ``read_stream`` returns: a buffered binary reader over a blob's chunked download.

:class:`ChunkReader` is a raw stream that hands out the chunks of one download in order (each chunk is one ranged
request, fetched when the previous one is used up), so memory stays at about one chunk plus the buffer whatever the
size of the blob. :func:`open_reader` wraps it in an :class:`io.BufferedReader`.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

READ_BUFFER_SIZE = 256 * 1024
"""Buffer of the reader returned by ``read_stream``."""


class ChunkReader(io.RawIOBase):
    """A read-only, non-seekable raw stream over an iterator of byte chunks; closing it ends the download."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        super().__init__()
        self._chunks = chunks
        self._current = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer, /) -> int:
        """Copy the next bytes into ``buffer``; 0 only at the end. Errors of the download propagate."""
        self._check_open()
        if not self._current:
            chunk = self._next_chunk()
            if chunk is None:
                return 0
            self._current = memoryview(chunk)
        target = memoryview(buffer).cast("B")
        count = min(len(target), len(self._current))
        target[:count] = self._current[:count]
        self._current = self._current[count:]
        return count

    def readall(self) -> bytes:
        """Everything left, joined once."""
        self._check_open()
        pieces = [bytes(self._current)] if self._current else []
        self._current = memoryview(b"")
        while (chunk := self._next_chunk()) is not None:
            pieces.append(chunk)
        return b"".join(pieces)

    def close(self) -> None:
        if not self.closed:
            close = getattr(self._chunks, "close", None)
            if close is not None:
                close()
            self._current = memoryview(b"")
        super().close()

    def _next_chunk(self) -> bytes | None:
        for chunk in self._chunks:
            if chunk:
                return chunk
        return None

    def _check_open(self) -> None:
        if self.closed:
            raise ValueError("I/O operation on closed stream")


def open_reader(chunks: Iterator[bytes]) -> io.BufferedReader:
    """A buffered binary reader over ``chunks``; the caller closes it."""
    return io.BufferedReader(ChunkReader(chunks), buffer_size=READ_BUFFER_SIZE)
