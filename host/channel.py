"""The I/O edge of the host: frames in from one file descriptor, frames out to another.

:class:`FrameReader` reads the client's bytes with a :class:`~registry_storage.wire.FrameDecoder`; a large body
(a 1 MiB stream chunk) is read with ``os.read`` straight into the bytes objects it is made of, so its bytes are copied
once, from the pipe to their final place, unless it arrives in several reads (then once more, to join them).
:class:`FrameWriter` writes each frame (header, message, attachment) with ``os.writev`` under a lock, so frames from
many threads never interleave. Nothing here knows JSON-RPC.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import select
import threading
from collections.abc import Iterator

from registry_storage.wire import Frame, FrameDecoder, FrameError, encode_frame

PIPE_SIZE = 1 << 20
"""Pipe buffer size asked for on the protocol pipes (the default unprivileged maximum on Linux)."""

READ_SIZE = 256 << 10
"""Bytes read at once while a header or a small body is being assembled."""

_F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)


def enlarge_pipe(fd: int, size: int = PIPE_SIZE) -> None:
    """Ask for a ``size``-byte pipe buffer on ``fd``; silently keeps the default when ``fd`` is no pipe or it fails."""
    with contextlib.suppress(OSError):
        fcntl.fcntl(fd, _F_SETPIPE_SZ, size)


class FrameReader:
    """Decoded frames from ``fd``, in order, until end of file or :meth:`stop`.

    Malformed and oversized frames come out as :class:`~registry_storage.wire.FrameError` events; an oversized frame
    is skipped as it arrives, never held in memory. Iterate from one thread only; :meth:`stop` may be called from
    any thread (or a signal handler) and ends the iteration at the next wait for input.
    """

    def __init__(self, fd: int, decoder: FrameDecoder) -> None:
        self._fd = fd
        self._decoder = decoder
        self._scratch = bytearray(READ_SIZE)
        self._scratch_view = memoryview(self._scratch)
        self._wake_read, self._wake_write = os.pipe()
        os.set_blocking(self._wake_write, False)
        self._poll = select.poll()
        self._poll.register(fd, select.POLLIN)
        self._poll.register(self._wake_read, select.POLLIN)
        self._stopped = threading.Event()

    def stop(self) -> None:
        """End the iteration: the reader returns instead of waiting for more input. Safe to call more than once."""
        self._stopped.set()
        with contextlib.suppress(OSError):
            os.write(self._wake_write, b"\0")

    @property
    def stopped(self) -> bool:
        """True once :meth:`stop` was called."""
        return self._stopped.is_set()

    def drained(self) -> bool:
        """True when no further input is waiting: nothing buffered in the decoder and nothing readable on the fd."""
        if self._decoder.buffered:
            return False
        return not any(fd == self._fd for fd, _ in self._poll.poll(0))

    def close(self) -> None:
        """Release the wake-up pipe (the protocol fd stays open; its owner closes it)."""
        for fd in (self._wake_read, self._wake_write):
            with contextlib.suppress(OSError):
                os.close(fd)

    def __iter__(self) -> Iterator[Frame | FrameError]:
        decoder = self._decoder
        while True:
            event = decoder.next_event()
            if event is not None:
                yield event
                continue
            if not self._wait():
                return
            size = decoder.direct_read_size()
            if size is not None:
                piece = self._read(size)
                if not piece:
                    return
                decoder.received(piece)
            else:
                count = self._read_into(self._scratch_view)
                if not count:
                    return
                decoder.feed(self._scratch_view[:count])

    def _wait(self) -> bool:
        """Block until input (or end of file) is ready; False once stopped."""
        while not self._stopped.is_set():
            for fd, _ in self._poll.poll():
                if fd == self._fd:
                    return not self._stopped.is_set()
        return False

    def _read(self, size: int) -> bytes:
        """Up to ``size`` bytes of what is available; ``b""`` at end of file or when the fd broke."""
        try:
            return os.read(self._fd, size)
        except OSError:
            return b""

    def _read_into(self, target: memoryview) -> int:
        """Read what is available into ``target``; 0 at end of file or when the fd broke."""
        try:
            return os.readv(self._fd, [target])
        except OSError:
            return 0


class FrameWriter:
    """Writes whole frames to ``fd``; thread-safe, frames never interleave.

    :meth:`write` raises ``OSError`` (``BrokenPipeError`` when the client closed its end) and leaves the channel
    unusable; the caller stops serving.
    """

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._lock = threading.Lock()

    def write(self, message: bytes, attachment: bytes | bytearray | memoryview = b"") -> None:
        """Write one frame: ``message`` (JSON) and ``attachment`` (raw bytes, may be empty)."""
        pieces = encode_frame(message, attachment)
        with self._lock:
            _write_all(self._fd, pieces)


def _write_all(fd: int, pieces: list[bytes | memoryview]) -> None:
    """``os.writev`` every piece, continuing after partial writes."""
    while pieces:
        written = os.writev(fd, pieces)
        while pieces and written >= len(pieces[0]):
            written -= len(pieces[0])
            pieces.pop(0)
        if written:
            pieces[0] = memoryview(pieces[0])[written:]


__all__ = ["PIPE_SIZE", "FrameReader", "FrameWriter", "enlarge_pipe"]
