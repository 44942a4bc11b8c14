"""The stream ``read_stream`` returns: the body of one GET, read as it arrives, in bounded memory."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

from registry_storage.errors import StorageDriverError

from .parameters import DRIVER_NAME

if TYPE_CHECKING:
    from botocore.response import StreamingBody

READ_BUFFER_SIZE = 256 * 1024
"""Bytes buffered by the stream: the most it holds beyond what the caller asked for."""


class ObjectBodyReader(io.RawIOBase):
    """A raw, read-only stream over the body of one S3 GET response.

    A failure while reading (a reset connection, a timeout, a body shorter than announced) raises StorageDriverError
    with the botocore or urllib3 error as its cause. Closing the stream closes the HTTP response.
    """

    def __init__(self, body: StreamingBody, path: str) -> None:
        super().__init__()
        self._body = body
        self._path = path

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        """Read up to ``len(buffer)`` bytes into ``buffer``; 0 at the end of the body."""
        if self.closed:
            raise ValueError("I/O operation on closed stream")
        try:
            data = self._body.read(len(buffer))
        except Exception as error:
            raise StorageDriverError(f"reading {self._path} from S3 failed: {error}", driver=DRIVER_NAME) from error
        count = len(data)
        buffer[:count] = data
        return count

    def readall(self) -> bytes:
        """Read the rest of the body in one call (``read()`` with no size), not in small pieces."""
        if self.closed:
            raise ValueError("I/O operation on closed stream")
        try:
            return self._body.read()
        except Exception as error:
            raise StorageDriverError(f"reading {self._path} from S3 failed: {error}", driver=DRIVER_NAME) from error

    def close(self) -> None:
        if not self.closed:
            try:
                self._body.close()
            finally:
                super().close()


def open_body(body: StreamingBody, path: str) -> io.BufferedReader:
    """Wrap the body of a GET response for ``path`` as a buffered binary stream (read, readinto, close, with)."""
    return io.BufferedReader(ObjectBodyReader(body, path), buffer_size=READ_BUFFER_SIZE)


def empty_stream() -> io.BytesIO:
    """A stream that is at EOF at once (``read_stream`` at or past the end of a file)."""
    return io.BytesIO(b"")
