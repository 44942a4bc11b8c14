#!/usr/bin/env python3
"""A test driver executable: the in-memory driver with misbehaviour on chosen paths, served with ``serve()``.

Run as ``python gated_driver.py '<json options>'``; options: ``max_streams``, ``stream_window`` (the limits it
announces) and ``workers`` (the host's pool size). What it does differently from the in-memory driver:

- ``stat`` writes stray output to stdout first: a Python ``print``, a raw ``os.write(1, ...)`` and a C ``puts``;
- calls on paths below ``/gated`` (``stat``, and ``write_stream`` for each chunk) wait until the process receives
  SIGUSR1, which opens the gate for good; a write waiting with a chunk writes ``gated: holding a chunk of <path>``
  to stderr first, so a test knows the driver holds it;
- ``list("/boom")`` fails with an unexpected RuntimeError carrying a secret; ``delete("/backend")`` fails with a
  plain StorageDriverError (a backend failure);
- ``url_for`` raises InvalidParameterError for an ``expiry`` below 1, else returns a fake URL.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
from collections.abc import Iterator
from typing import Any

import orjson

from registry_storage.drivers.inmemory import InMemoryDriver
from registry_storage.errors import InvalidParameterError, StorageDriverError
from registry_storage.fileinfo import FileInfo
from registry_storage.host import serve
from registry_storage.host.lifecycle import terminate
from registry_storage.wire import Limits

SECRET = "s3cr3t-internals"
HOLDING = "gated: holding a chunk of"
"""The stderr line (then the path) written when a write on a gated path takes a chunk and waits at the gate."""


class GatedDriver(InMemoryDriver):
    """The in-memory driver with the test behaviours listed in the module docstring."""

    name = "gated"

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()
        self._libc = ctypes.CDLL(None)

    def _stat(self, path: str) -> FileInfo:
        print(f"stray print during stat {path}")
        os.write(1, b"stray os.write to fd 1\n")
        self._libc.puts(b"stray C puts")
        self._libc.fflush(None)
        if path.startswith("/gated"):
            self.gate.wait()
        return super()._stat(path)

    def _write_stream(self, path: str, offset: int, chunks: Iterator[bytes]) -> int:
        if path.startswith("/gated"):
            chunks = self._gated(chunks, path)
        return super()._write_stream(path, offset, chunks)

    def _gated(self, chunks: Iterator[bytes], path: str) -> Iterator[bytes]:
        for chunk in chunks:
            if not self.gate.is_set():
                sys.stderr.write(f"{HOLDING} {path}\n")
                sys.stderr.flush()
            self.gate.wait()
            yield chunk

    def _list(self, path: str) -> list[str]:
        if path == "/boom":
            raise RuntimeError(f"unexpected failure with {SECRET}")
        return super()._list(path)

    def _delete(self, path: str) -> None:
        if path == "/backend":
            raise StorageDriverError("backend failed: connection reset")
        super()._delete(path)

    def _url_for(self, path: str, **options: Any) -> str:
        expiry = options.get("expiry", 60)
        if not isinstance(expiry, int) or expiry < 1:
            raise InvalidParameterError("expiry", "must be a whole number of seconds from 1", ["expiry"])
        return f"memory://{path}?expiry={expiry}"


def main() -> None:
    options: dict[str, Any] = orjson.loads(sys.argv[1]) if len(sys.argv) > 1 else {}
    driver = GatedDriver()
    signal.signal(signal.SIGUSR1, lambda signum, frame: driver.gate.set())
    limits = Limits(
        max_streams=options.get("max_streams", Limits.max_streams),
        stream_window=options.get("stream_window", Limits.stream_window),
    )
    terminate(serve(driver, limits=limits, workers=options.get("workers", 8)))


if __name__ == "__main__":
    main()
