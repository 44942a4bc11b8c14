"""Local S3 and Azure services for the benchmarks: a moto server and an in-memory Azurite on 127.0.0.1.

They come from :mod:`registry_storage.testing.servers`: child processes on a free port, stopped when their ``with``
block ends, on error too (SIGTERM to the benchmark becomes SystemExit through :func:`stop_on_sigterm`, so the
blocks unwind then as well).
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator
from types import FrameType

from registry_storage.testing.servers import Azurite, ServerError, moto_api
from registry_storage.testing.servers import azurite as azurite_server
from registry_storage.testing.servers import moto_server as _moto_server

__all__ = ["Azurite", "ServerError", "azurite_server", "moto_reset", "moto_server", "stop_on_sigterm"]


def stop_on_sigterm() -> None:
    """Turn SIGTERM into SystemExit, so that ``with`` blocks (and the servers they run) unwind on it."""

    def handle(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, handle)


@contextlib.contextmanager
def moto_server() -> Iterator[str]:
    """Run ``moto_server`` on 127.0.0.1; yield its endpoint URL."""
    with _moto_server() as moto:
        yield moto.endpoint


def moto_reset(endpoint: str) -> None:
    """Drop every bucket and object of the moto server at ``endpoint`` (frees the temporary files of big objects)."""
    moto_api(endpoint, "reset")
