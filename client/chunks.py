"""The chunk a proxy read stream is serving, shared by the threaded and the asyncio read streams.

A read stream holds the last chunk the driver sent and how far it was read; a read takes views of it and hands back
``bytes``. A whole chunk taken at once is handed back as the very bytes object the channel read (no copy), which is
what a ``read(chunk_size)`` loop does.
"""

from __future__ import annotations


class ChunkCursor:
    """The current chunk and the position in it; not thread-safe (the streams serialise their reads)."""

    __slots__ = ("_data", "_position")

    def __init__(self) -> None:
        self._data: bytes | bytearray = b""
        self._position = 0

    def load(self, chunk: bytes | bytearray) -> None:
        """Make ``chunk`` current, read from its start."""
        self._data = chunk
        self._position = 0

    def clear(self) -> None:
        """Drop the current chunk (when the stream closes)."""
        self.load(b"")

    @property
    def available(self) -> int:
        """Bytes of the current chunk not read yet."""
        return len(self._data) - self._position

    def take(self, size: int) -> memoryview:
        """Up to ``size`` bytes of the current chunk, without copying."""
        start = self._position
        self._position = min(len(self._data), start + size)
        return memoryview(self._data)[start : self._position]

    def find_line_end(self) -> int:
        """Bytes from the position up to and including the next ``\\n``, or all that is available."""
        end = self._data.find(b"\n", self._position) + 1 or len(self._data)
        return end - self._position


def joined(parts: list[memoryview]) -> bytes:
    """``parts`` as one bytes object: a view of a whole bytes chunk is that chunk itself, anything else one copy."""
    if len(parts) == 1:
        whole = parts[0].obj
        if type(whole) is bytes and parts[0].nbytes == len(whole):
            return whole
        return parts[0].tobytes()
    return b"".join(parts)
