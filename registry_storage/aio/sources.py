"""Byte sources for the async ``write_stream``: bytes, sync or async iterables of bytes, sync or async readers."""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterable, AsyncIterator, Iterable
from typing import Any, Protocol, Union, runtime_checkable

from registry_storage.streams import CHUNK_SIZE, SupportsRead


@runtime_checkable
class SupportsAsyncRead(Protocol):
    """An async binary reader: ``await reader.read(n)`` returns at most ``n`` bytes, ``b""`` at the end."""

    async def read(self, size: int = -1, /) -> bytes: ...


AsyncByteSource = Union[
    bytes, bytearray, memoryview, Iterable[bytes], AsyncIterable[bytes], SupportsAsyncRead, SupportsRead
]
"""What the async ``write_stream`` accepts."""


def _checked(chunk: object) -> bytes:
    if not isinstance(chunk, (bytes, bytearray, memoryview)):
        raise TypeError(f"write_stream source yielded {type(chunk).__name__}, expected bytes")
    return bytes(chunk)


async def aiter_chunks(source: AsyncByteSource, chunk_size: int = CHUNK_SIZE) -> AsyncIterator[bytes]:
    """Yield the bytes of ``source`` in order as non-empty chunks; the source's errors propagate where they happen.

    A reader (sync or async ``read``) is read ``chunk_size`` bytes at a time; an iterable's items pass through
    whole. Raises TypeError for a source of another kind or an item that is not bytes.
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        if len(source):
            yield bytes(source)
        return
    read: Any = getattr(source, "read", None)
    if callable(read):
        while True:
            chunk = read(chunk_size)
            if inspect.isawaitable(chunk):
                chunk = await chunk
            if not chunk:
                return
            yield _checked(chunk)
    elif isinstance(source, AsyncIterable):
        async for chunk in source:
            if len(_checked(chunk)):
                yield bytes(chunk)
    elif isinstance(source, Iterable):
        for chunk in source:
            if len(_checked(chunk)):
                yield bytes(chunk)
    else:
        raise TypeError(f"write_stream cannot read from a {type(source).__name__}")
