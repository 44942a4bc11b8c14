"""The stream ``read_stream`` returns: the body of one GET, read as it arrives, in bounded memory (see
:mod:`registry_storage.bodyreader`)."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, cast

from registry_storage.bodyreader import open_body
from registry_storage.errors import StorageDriverError

from .parameters import DRIVER_NAME

if TYPE_CHECKING:
    import requests


def open_response(response: requests.Response, path: str) -> io.BufferedReader:
    """A streamed GET response for ``path`` as a buffered binary stream (read, readinto, close, with).

    A failure while reading (a reset connection, a timeout, a body shorter than announced) raises StorageDriverError
    with the transport's error as its cause. Closing the stream closes the response.
    """
    raw = response.raw

    def read(size: int | None) -> bytes:
        return cast(bytes, raw.read(size))

    def failed(error: Exception) -> StorageDriverError:
        return StorageDriverError(f"reading {path} from GCS failed: {error}", driver=DRIVER_NAME)

    return open_body(read, response.close, failed)
