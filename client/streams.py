"""Streams over the protocol (protocol.md section 7): a pipelined reader and a windowed writer.

A read stream pulls chunks with ``stream.read``, keeping up to ``stream_window`` requests in flight so the pipe never
idles, and holds at most that many chunks. It starts with one request and widens the window as full chunks arrive,
so a small file costs one round trip and no wasted request. A write stream pushes chunks with ``stream.write`` and
waits for the oldest answer whenever ``stream_window`` are unanswered, which bounds memory on both sides.
"""

from __future__ import annotations

import contextlib
import io
import threading
from collections import deque
from collections.abc import Iterator
from typing import Any

from registry_storage.errors import DeadlineExceededError, DriverExitedError, ProtocolError, StorageDriverError

from .connection import Connection, PendingCall

_Buffer = Any  # a writable bytes-like (bytearray, memoryview, array...), as io's readinto accepts


def _stream_id(result: object, driver: str) -> int:
    stream = result.get("stream") if isinstance(result, dict) else None
    if not isinstance(stream, int) or isinstance(stream, bool):
        raise ProtocolError(f"a stream was opened without an integer stream id: {result!r}", driver=driver)
    return stream


def _cancel(connection: Connection, stream: int, timeout: float, *, wait: bool = True) -> None:
    """Send ``stream.cancel`` and, with ``wait``, wait up to ``timeout`` for its answer.

    Errors are dropped: the stream is being given up anyway. After a deadline the answer is not awaited, so the
    DeadlineExceededError reaches the caller promptly even when the driver hangs.
    """
    if connection.failure is not None:
        return
    with contextlib.suppress(StorageDriverError):
        pending = connection.submit("stream.cancel", {"stream": stream}, timeout=timeout)
        if wait:
            connection.result(pending)
        else:
            connection.abandon(pending)


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

    def __init__(
        self,
        connection: Connection,
        stream: int,
        *,
        chunk_bytes: int,
        window: int,
        cancel_timeout: float,
        owner: object = None,
    ) -> None:
        super().__init__()
        self._connection = connection
        self._stream = stream
        self._chunk_bytes = chunk_bytes
        self._window = max(1, window)
        self._cancel_timeout = cancel_timeout
        self._owner = owner  # keeps the proxy (and so its child) alive while the stream is in use
        self._in_flight: deque[PendingCall] = deque()
        self._data: bytes | bytearray = b""
        self._position = 0
        self._received = 0
        self._at_end = False
        self._error: BaseException | None = None
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
        result, _ = connection.call("read_stream.open", {"path": path, "offset": offset})
        limits = connection.peer_limits
        return cls(
            connection,
            _stream_id(result, connection.driver),
            chunk_bytes=min(chunk_bytes, limits.max_chunk_bytes),
            window=limits.stream_window,
            cancel_timeout=cancel_timeout,
            owner=owner,
        )

    @property
    def stream_id(self) -> int:
        """The id the driver gave this stream."""
        return self._stream

    # -- pulling chunks ------------------------------------------------------------------------------------------

    def _top_up(self) -> None:
        wanted = min(self._window, self._received + 1)
        while len(self._in_flight) < wanted:
            params = {"stream": self._stream, "size": self._chunk_bytes}
            self._in_flight.append(self._connection.submit("stream.read", params))

    def _next_chunk(self) -> bool:
        """Make the next chunk current; False at the end of the stream."""
        if self._error is not None:
            raise self._error
        while not self._at_end:
            try:
                self._top_up()
                result, attachment = self._connection.result(self._in_flight.popleft())
            except BaseException as error:
                self._give_up(error)
                raise
            self._received += 1
            if isinstance(result, dict) and result.get("eof") is True:
                self._at_end = True
                self._abandon_in_flight()
            else:
                self._top_up_quietly()
            if attachment:
                self._data = attachment
                self._position = 0
                return True
        return False

    def _top_up_quietly(self) -> None:
        """Ask for more while the caller consumes this chunk; a failure here shows at the next wait."""
        with contextlib.suppress(StorageDriverError):
            self._top_up()

    def _abandon_in_flight(self) -> None:
        while self._in_flight:
            self._connection.abandon(self._in_flight.popleft())

    def _give_up(self, error: BaseException) -> None:
        self._error = error
        self._abandon_in_flight()
        if not self._at_end and not isinstance(error, DriverExitedError):
            wait = not isinstance(error, DeadlineExceededError)
            _cancel(self._connection, self._stream, self._cancel_timeout, wait=wait)
        self._at_end = True

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
                if not self._at_end:
                    self._at_end = True
                    self._abandon_in_flight()
                    _cancel(self._connection, self._stream, self._cancel_timeout)
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

    Chunks are split to at most ``chunk_bytes`` (and the driver's ``max_chunk_bytes``); at most ``stream_window``
    ``stream.write`` requests are unanswered at once. If anything fails midway (the source raises, the driver
    answers an error, a deadline passes), the stream is cancelled with ``stream.cancel`` and the error propagates
    unchanged. The cancel's answer is awaited (up to ``cancel_timeout``, also after a deadline), so the driver has
    kept the base plus a prefix when this returns and a caller resuming at once sees the final size.
    """
    result, _ = connection.call("write_stream.open", {"path": path, "offset": offset})
    stream = _stream_id(result, connection.driver)
    limits = connection.peer_limits
    limit = max(1, min(chunk_bytes, limits.max_chunk_bytes))
    window = max(1, limits.stream_window)
    params = {"stream": stream}
    in_flight: deque[PendingCall] = deque()
    closing = False
    try:
        for chunk in chunks:
            view = memoryview(chunk) if len(chunk) > limit else None
            for start in range(0, len(chunk), limit):
                if len(in_flight) >= window:
                    connection.result(in_flight.popleft())
                piece = chunk if view is None else view[start : start + limit]
                in_flight.append(connection.submit("stream.write", params, piece))
        while in_flight:
            connection.result(in_flight.popleft())
        closing = True
        result, _ = connection.call("stream.close", params)
    except BaseException as error:
        while in_flight:
            connection.abandon(in_flight.popleft())
        # a close that passed its deadline may still be writing: cancel it too, and await the cancel even after a
        # deadline, so the driver has settled when the caller sees the error
        unsettled = not closing or isinstance(error, DeadlineExceededError)
        if unsettled and not isinstance(error, DriverExitedError):
            _cancel(connection, stream, cancel_timeout)
        raise
    written = result.get("written") if isinstance(result, dict) else None
    if not isinstance(written, int) or isinstance(written, bool):
        raise ProtocolError(f"stream.close answered {result!r}, expected {{'written': n}}", driver=connection.driver)
    return written
