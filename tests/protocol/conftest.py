"""Fixtures that start driver processes for the raw protocol tests and always stop them."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from .rawclient import RawClient, driver_command

GATED_DRIVER = Path(__file__).with_name("gated_driver.py")

Spawn = Callable[..., RawClient]


def gated_command(**options: Any) -> list[str]:
    """The command line of the gated test driver (gated_driver.py) with ``options``."""
    return [sys.executable, str(GATED_DRIVER), orjson.dumps(options).decode()]


@pytest.fixture
def spawn() -> Iterator[Spawn]:
    """Start driver processes with ``spawn(command, ...)``; each is stopped (process group killed) afterwards."""
    clients: list[RawClient] = []

    def start(command: list[str], **kwargs: Any) -> RawClient:
        client = RawClient(command, **kwargs)
        clients.append(client)
        return client

    yield start
    for client in clients:
        client.finish()


@pytest.fixture
def inmemory(spawn: Spawn) -> RawClient:
    """A fresh ``registry-storage-inmemory`` after a successful handshake."""
    client = spawn(driver_command("inmemory"))
    assert client.handshake().result["version"] == "1.0"
    return client


@pytest.fixture
def gated(spawn: Spawn) -> RawClient:
    """A fresh gated test driver (see gated_driver.py) after a successful handshake."""
    client = spawn(gated_command())
    assert client.handshake().result["version"] == "1.0"
    return client


@pytest.fixture
def filesystem(spawn: Spawn, tmp_path: Path) -> RawClient:
    """A fresh ``registry-storage-filesystem`` on ``tmp_path / "store"`` after a successful handshake."""
    client = spawn(driver_command("filesystem", {"rootdirectory": str(tmp_path / "store")}))
    assert client.handshake().result["version"] == "1.0"
    return client
