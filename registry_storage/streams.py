"""Byte sources for ``write_stream`` and helpers that move bytes in bounded chunks."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Protocol, Union, runtime_checkable

CHUNK_SIZE = 1 << 20
"""Default size of one chunk moved by a stream: 1 MiB."""


@runtime_checkable
class SupportsRead(Protocol):
    """A binary file-like that ``write_stream`` can read from."""

    def read(self, size: int = -1, /) -> bytes: ...


ByteSource = Union[SupportsRead, Iterable[bytes], bytes, bytearray, memoryview]
"""What ``write_stream`` accepts: a binary file-like, an iterable of byte chunks, or one bytes-like value."""


def iter_chunks(source: ByteSource, chunk_size: int = CHUNK_SIZE) -> Iterator[bytes]:
    """Yield the bytes of ``source`` in order, as non-empty chunks of at most about ``chunk_size`` bytes.

    A file-like is read with ``read(chunk_size)`` until it returns ``b""``; an iterable's items are yielded as they
    come (empty items skipped, larger items passed through whole). Errors raised by the source propagate to the
    caller at the point they happen, which is what lets a driver keep the prefix it already wrote.
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        if len(source):
            yield bytes(source)
        return
    if isinstance(source, SupportsRead):
        while True:
            chunk = source.read(chunk_size)
            if not chunk:
                return
            yield bytes(chunk)
    else:
        for chunk in source:
            if not isinstance(chunk, (bytes, bytearray, memoryview)):
                raise TypeError(f"write_stream source yielded {type(chunk).__name__}, expected bytes")
            if len(chunk):
                yield bytes(chunk)


def zeros(count: int, chunk_size: int = CHUNK_SIZE) -> Iterator[bytes]:
    """Yield ``count`` zero bytes in chunks of at most ``chunk_size``, never building the whole gap in memory."""
    block = bytes(min(count, chunk_size))
    while count > 0:
        piece = block if count >= len(block) else block[:count]
        yield piece
        count -= len(piece)
