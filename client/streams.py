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
        self._data: bytes | bytearray = b""
        self._position = 0
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
        self._data = chunk
        self._position = 0
        return True

    def _available(self) -> int:
        return len(self._data) - self._position

    def _take(self, size: int) -> memoryview:
        """Up to ``size`` bytes of the current chunk, without copying."""
        start = self._position
        self._position = min(len(self._data), start + size)
        return memoryview(self._data)[start : self._position]

    # -- io.BufferedIOBase ---------------------------------------------------------------------------------------

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1, /) -> bytes:
        """Up to ``size`` bytes (all the rest when negative or None); ``b""`` only at the end."""
        with self._lock:
            _check_open(self)
            wanted = -1 if size is None or size < 0 else size
            parts: list[memoryview] = []
            while wanted:
                if not self._available() and not self._next_chunk():
                    break
                piece = self._take(self._available() if wanted < 0 else wanted)
                parts.append(piece)
                if wanted > 0:
                    wanted -= len(piece)
            return parts[0].tobytes() if len(parts) == 1 else b"".join(parts)

    def read1(self, size: int = -1, /) -> bytes:
        """Up to ``size`` bytes from at most one chunk."""
        with self._lock:
            _check_open(self)
            if size == 0 or (not self._available() and not self._next_chunk()):
                return b""
            return self._take(self._available() if size < 0 else size).tobytes()

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
            filled = 0
            while filled < len(target):
                if not self._available() and ((filled and not whole) or not self._next_chunk()):
                    break
                piece = self._take(len(target) - filled)
                target[filled : filled + len(piece)] = piece
                filled += len(piece)
            return filled

    def readline(self, size: int | None = -1, /) -> bytes:
        """The bytes up to and including the next ``\\n`` (or ``size`` bytes, or the rest)."""
        with self._lock:
            _check_open(self)
            limit = -1 if size is None or size < 0 else size
            parts: list[memoryview] = []
            while limit:
                if not self._available() and not self._next_chunk():
                    break
                end = self._data.find(b"\n", self._position) + 1 or len(self._data)
                count = end - self._position if limit < 0 else min(end - self._position, limit)
                piece = self._take(count)
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
                self._data = b""
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
