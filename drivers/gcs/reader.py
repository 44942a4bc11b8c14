"""The stream ``read_stream`` returns: the body of one GET, read as it arrives, in bounded memory."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

from registry_storage.errors import StorageDriverError

from .parameters import DRIVER_NAME

if TYPE_CHECKING:
    import requests

READ_BUFFER_SIZE = 256 * 1024
"""Bytes buffered by the stream: the most it holds beyond what the caller asked for."""


class ResponseReader(io.RawIOBase):
    """A raw, read-only stream over the body of one HTTP response.

    A failure while reading (a reset connection, a timeout, a body shorter than announced) raises StorageDriverError
    with the transport's error as its cause. Closing the stream closes the response.
    """

    def __init__(self, response: requests.Response, path: str) -> None:
        super().__init__()
        self._response = response
        self._path = path

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        """Read up to ``len(buffer)`` bytes into ``buffer``; 0 at the end of the body."""
        if self.closed:
            raise ValueError("I/O operation on closed stream")
        try:
            data = self._response.raw.read(len(buffer))
        except Exception as error:
            raise StorageDriverError(f"reading {self._path} from GCS failed: {error}", driver=DRIVER_NAME) from error
        count = len(data)
        buffer[:count] = data
        return count

    def readall(self) -> bytes:
        """Read the rest of the body in one call, not in small pieces."""
        if self.closed:
            raise ValueError("I/O operation on closed stream")
        try:
            data: bytes = self._response.raw.read()
        except Exception as error:
            raise StorageDriverError(f"reading {self._path} from GCS failed: {error}", driver=DRIVER_NAME) from error
        return data

    def close(self) -> None:
        if not self.closed:
            try:
                self._response.close()
            finally:
                super().close()


def open_response(response: requests.Response, path: str) -> io.BufferedReader:
    """Wrap a streamed GET response for ``path`` as a buffered binary stream (read, readinto, close, with)."""
    return io.BufferedReader(ResponseReader(response, path), buffer_size=READ_BUFFER_SIZE)
