"""Streams over the protocol (protocol.md section 7) for the threaded proxy: a file-like reader and a writer.

The pulling and pushing are :mod:`.calls` programs shared with the asyncio proxy: a read stream keeps up to
``stream_window`` ``stream.read`` requests in flight, widening from one as full chunks arrive; a write stream waits
for the oldest answer whenever ``stream_window`` are unanswered, which bounds memory on both sides.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from typing import Any

from .calls import ReadPuller, write_stream
from .chunks import ChunkCursor, joined
from .connection import Connection

_Buffer = Any  # a writable bytes-like (bytearray, memoryview, array...), as io's readinto accepts


def _check_open(stream: io.IOBase) -> None:
    if stream.closed:
        raise ValueError("I/O operation on closed stream")


class ProxyReadStream(io.BufferedIOBase):
    """A binary file-like reading one driver stream; use :meth:`open`.

    ``read``, ``read1``, ``readinto``, ``readinto1`` and ``readline`` work as on any buffered binary file and raise
    the driver's errors (DriverExitedError, DeadlineExceededError...). Closing before the end sends
    ``stream.cancel`` and waits for it, so the driver releases the stream. One stream may be used from several
    threads; reads are serialised.
    """

    def __init__(self, connection: Connection, puller: ReadPuller, *, owner: object = None) -> None:
        super().__init__()
        self._connection = connection
        self._puller = puller
        self._owner = owner  # keeps the proxy (and so its child) alive while the stream is in use
        self._chunk = ChunkCursor()
        self._lock = threading.Lock()

    @classmethod
    def open(
        cls,
        connection: Connection,
        path: str,
        offset: int,
        *,
        chunk_bytes: int,
        cancel_timeout: float,
        owner: object = None,
    ) -> ProxyReadStream:
        """Open ``path`` at ``offset`` on the driver; raises its error (PathNotFoundError...) at once."""
        opening = ReadPuller.open(connection.core, path, offset, chunk_bytes=chunk_bytes, cancel_timeout=cancel_timeout)
        return cls(connection, connection.run(opening), owner=owner)

    @property
    def stream_id(self) -> int:
        """The id the driver gave this stream."""
        return self._puller.stream

    def _next_chunk(self) -> bool:
        """Make the next chunk current; False at the end of the stream."""
        chunk = self._connection.run(self._puller.next_chunk())
        if chunk is None:
            return False
        self._chunk.load(chunk)
        return True

    # -- io.BufferedIOBase ---------------------------------------------------------------------------------------

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1, /) -> bytes:
        """Up to ``size`` bytes (all the rest when negative or None); ``b""`` only at the end."""
        with self._lock:
            _check_open(self)
            wanted = -1 if size is None or size < 0 else size
            chunk = self._chunk
            parts: list[memoryview] = []
            while wanted:
                if not chunk.available and not self._next_chunk():
                    break
                piece = chunk.take(chunk.available if wanted < 0 else wanted)
                parts.append(piece)
                if wanted > 0:
                    wanted -= len(piece)
            return joined(parts)

    def read1(self, size: int = -1, /) -> bytes:
        """Up to ``size`` bytes from at most one chunk."""
        with self._lock:
            _check_open(self)
            chunk = self._chunk
            if size == 0 or (not chunk.available and not self._next_chunk()):
                return b""
            return joined([chunk.take(chunk.available if size < 0 else size)])

    def readinto(self, buffer: _Buffer, /) -> int:
        """Fill ``buffer`` as far as the stream goes; the count (0 only at the end)."""
        return self._readinto(buffer, whole=True)

    def readinto1(self, buffer: _Buffer, /) -> int:
        """Fill ``buffer`` from at most one chunk; the count (0 only at the end)."""
        return self._readinto(buffer, whole=False)

    def _readinto(self, buffer: _Buffer, *, whole: bool) -> int:
        with self._lock:
            _check_open(self)
            target = memoryview(buffer).cast("B")
            chunk = self._chunk
            filled = 0
            while filled < len(target):
                if not chunk.available and ((filled and not whole) or not self._next_chunk()):
                    break
                piece = chunk.take(len(target) - filled)
                target[filled : filled + len(piece)] = piece
                filled += len(piece)
            return filled

    def readline(self, size: int | None = -1, /) -> bytes:
        """The bytes up to and including the next ``\\n`` (or ``size`` bytes, or the rest)."""
        with self._lock:
            _check_open(self)
            limit = -1 if size is None or size < 0 else size
            chunk = self._chunk
            parts: list[memoryview] = []
            while limit:
                if not chunk.available and not self._next_chunk():
                    break
                line = chunk.find_line_end()
                piece = chunk.take(line if limit < 0 else min(line, limit))
                parts.append(piece)
                limit -= len(piece) if limit > 0 else 0
                if piece[-1] == 0x0A:
                    break
            return b"".join(parts)

    def close(self) -> None:
        """Close the stream; before its end, cancel it on the driver and wait for the answer."""
        if self.closed:
            return
        with self._lock:
            try:
                self._connection.run(self._puller.close())
            finally:
                self._chunk.clear()
                super().close()


def write_chunks(
    connection: Connection,
    path: str,
    offset: int,
    chunks: Iterator[bytes],
    *,
    chunk_bytes: int,
    cancel_timeout: float,
) -> int:
    """Write every chunk to ``path`` at ``offset`` through a write stream; return the bytes written.

    See :func:`registry_storage.client.calls.write_stream`: windowed, cancelled and settled on any failure.
    """
    program = write_stream(connection.core, path, offset, chunk_bytes=chunk_bytes, cancel_timeout=cancel_timeout)
    return connection.run(program, source=chunks)
