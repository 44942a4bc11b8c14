"""The stream a cloud driver's ``read_stream`` returns: the body of one HTTP response, read as it arrives.

S3, GCS and Azure read a file from an offset with one GET and hand its body to the caller as a binary file-like,
in bounded memory whatever the size of the file. They differ only in the object that reads the body (botocore's
``StreamingBody``, urllib3's response), so :class:`BodyReader` takes the three functions it needs:

- ``read(n)``: at most ``n`` bytes, ``b""`` at the end, the length checked by the transport; ``read(None)``: the rest;
- ``close()``: close the response;
- ``failed(error)``: the driver's :class:`~registry_storage.errors.StorageDriverError` for a transport error.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import TYPE_CHECKING

from .errors import StorageDriverError

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

READ_BUFFER_SIZE = 256 * 1024
"""Bytes buffered by the stream: the most it holds beyond what the caller asked for. Reads of at least this size go
straight to the body without passing through the buffer."""


class BodyReader(io.RawIOBase):
    """A raw, read-only, non-seekable stream over one response body.

    A failure while reading (a reset connection, a timeout, a body shorter than announced) raises what ``failed``
    makes of it, with the transport's error as its cause. Closing the stream closes the response.
    """

    def __init__(
        self,
        read: Callable[[int | None], bytes],
        close: Callable[[], None],
        failed: Callable[[Exception], StorageDriverError],
    ) -> None:
        super().__init__()
        self._read = read
        self._close = close
        self._failed = failed

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer, /) -> int:
        """Read up to ``len(buffer)`` bytes into ``buffer``; 0 only at the end of the body."""
        self._check_open()
        target = memoryview(buffer).cast("B")
        try:
            data = self._read(len(target))
        except Exception as error:
            raise self._failed(error) from error
        count = len(data)
        target[:count] = data
        return count

    def readall(self) -> bytes:
        """The rest of the body, read in one call rather than in small pieces."""
        self._check_open()
        try:
            return self._read(None)
        except Exception as error:
            raise self._failed(error) from error

    def close(self) -> None:
        if not self.closed:
            try:
                self._close()
            finally:
                super().close()

    def _check_open(self) -> None:
        if self.closed:
            raise ValueError("I/O operation on closed stream")


def open_body(
    read: Callable[[int | None], bytes], close: Callable[[], None], failed: Callable[[Exception], StorageDriverError]
) -> io.BufferedReader:
    """A buffered binary stream (read, readinto, close, ``with``) over one response body; the caller closes it."""
    return io.BufferedReader(BodyReader(read, close, failed), buffer_size=READ_BUFFER_SIZE)


def empty_stream() -> io.BytesIO:
    """A stream that is at EOF at once (``read_stream`` at or past the end of a file)."""
    return io.BytesIO(b"")
