"""The client's side of the handshake (the program is :func:`registry_storage.client.calls.handshake`)."""

from __future__ import annotations

from collections.abc import Sequence

from .calls import DriverInfo
from .calls import handshake as handshake_program
from .connection import Connection


def handshake(connection: Connection, offered: Sequence[str], fallback_name: str, timeout: float) -> DriverInfo:
    """Run the handshake on ``connection``, offering ``offered``, within ``timeout`` seconds; return what the driver
    announced.

    ``fallback_name`` names the driver if it announces no name. Raises IncompatibleVersionError when the driver
    finds no common version (error 1008) or chooses one the client does not speak, ProtocolError for a malformed
    answer, and DriverExitedError or DeadlineExceededError when the driver dies or stays silent.
    """
    return connection.run(handshake_program(connection.core, offered, fallback_name, timeout))


__all__ = ["DriverInfo", "handshake"]
