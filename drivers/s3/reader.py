"""The stream ``read_stream`` returns: the body of one GET, read as it arrives, in bounded memory (see
:mod:`registry_storage.bodyreader`)."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

from registry_storage import bodyreader
from registry_storage.bodyreader import empty_stream
from registry_storage.errors import StorageDriverError

from .parameters import DRIVER_NAME

if TYPE_CHECKING:
    from botocore.response import StreamingBody

__all__ = ["empty_stream", "open_body"]


def open_body(body: StreamingBody, path: str) -> io.BufferedReader:
    """The body of a GET response for ``path`` as a buffered binary stream (read, readinto, close, with).

    A failure while reading (a reset connection, a timeout, a body shorter than announced) raises StorageDriverError
    with the botocore or urllib3 error as its cause. Closing the stream closes the HTTP response.
    """

    def failed(error: Exception) -> StorageDriverError:
        return StorageDriverError(f"reading {path} from S3 failed: {error}", driver=DRIVER_NAME)

    return bodyreader.open_body(body.read, body.close, failed)
