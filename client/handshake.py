"""The client's side of the handshake: offer versions, re-check the driver's choice, learn its name and limits."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from registry_storage import __version__
from registry_storage.errors import IncompatibleVersionError, ProtocolError
from registry_storage.wire.handshake import IMPLEMENTATION, Limits, accepts_chosen, parse_version

from .connection import Connection


@dataclass(frozen=True)
class DriverInfo:
    """What the driver said about itself in the handshake (protocol.md section 5)."""

    name: str
    protocol_version: str
    implementation: str = ""
    version: str = ""
    capabilities: Mapping[str, bool] = field(default_factory=dict)
    limits: Limits = field(default_factory=Limits)

    def speaks(self, version: str) -> bool:
        """True when the chosen protocol version is ``version`` (``"major.minor"``) or a later minor of it."""
        chosen, wanted = parse_version(self.protocol_version), parse_version(version)
        return chosen is not None and wanted is not None and chosen[0] == wanted[0] and chosen[1] >= wanted[1]

    def can(self, capability: str) -> bool:
        """True when the driver announced ``capability`` (a missing flag means false)."""
        return self.capabilities.get(capability) is True


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def handshake(connection: Connection, offered: Sequence[str], fallback_name: str, timeout: float) -> DriverInfo:
    """Run the handshake on ``connection``, offering ``offered``, within ``timeout`` seconds; return what the driver
    announced.

    ``fallback_name`` names the driver if it announces no name. Raises IncompatibleVersionError when the driver
    finds no common version (error 1008) or chooses one the client does not speak, ProtocolError for a malformed
    answer, and DriverExitedError or DeadlineExceededError when the driver dies or stays silent.
    """
    versions = list(offered)
    params = {
        "versions": versions,
        "client": {"name": IMPLEMENTATION, "version": __version__},
        "limits": connection.limits.to_wire(),
    }
    result, _ = connection.call("handshake", params, timeout=timeout)
    if not isinstance(result, dict):
        raise ProtocolError(f"handshake answered {type(result).__name__}, expected an object", driver=fallback_name)
    announced = result.get("driver")
    driver: dict[str, Any] = announced if isinstance(announced, dict) else {}
    name = _text(driver.get("name")) or fallback_name
    chosen = result.get("version")
    if not accepts_chosen(chosen, versions):
        raise IncompatibleVersionError(versions, chosen if isinstance(chosen, str) else None, driver=name)
    capabilities = result.get("capabilities")
    return DriverInfo(
        name=name,
        protocol_version=str(chosen),
        implementation=_text(driver.get("implementation")),
        version=_text(driver.get("version")),
        capabilities={str(key): value is True for key, value in capabilities.items()}
        if isinstance(capabilities, dict)
        else {},
        limits=Limits.from_wire(result.get("limits")),
    )
