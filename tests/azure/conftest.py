"""An Azurite blob service on 127.0.0.1 for the Azure driver tests, started once per session and always stopped.

Azurite comes from npm (``make setup`` installs it into ``.tools/``); the harness finds ``azurite-blob`` there or on
``$PATH`` and fails, naming the fix, when it is missing. It runs in its own process group, so stopping the group
leaves no node process behind. Every test gets a container of its own, deleted afterwards.
"""

from __future__ import annotations

import contextlib
import re
import socket
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from azure.storage.blob import BlobServiceClient, ContainerClient

import registry_storage
from registry_storage.driver import StorageDriver
from registry_storage.testing import servers
from registry_storage.testing.servers import Azurite

__all__ = ["Azurite", "RecordingProxy"]
"""What the test modules import from here for their annotations."""


_REQUEST_LINE = re.compile(rb"(GET|PUT|HEAD|DELETE|POST) (/\S*) HTTP/1\.1\r\n")


class RecordingProxy:
    """A TCP forwarder to Azurite on 127.0.0.1 that records the HTTP requests it carries and can be cut.

    Drivers pointed at :attr:`service_url` behave as with Azurite itself (shared-key signatures do not cover the
    port); :meth:`requests` shows what they asked for; :meth:`cut` drops every connection and refuses new ones, the
    way a network failure looks to a client.
    """

    def __init__(self, target_port: int) -> None:
        self._target_port = target_port
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._sent: list[bytearray] = []
        self._cut = False
        self._accepting = threading.Thread(target=self._accept, daemon=True)
        self._accepting.start()

    def service_url(self, account: str = servers.AZURITE_ACCOUNT) -> str:
        """The account endpoint through the proxy."""
        return f"http://127.0.0.1:{self.port}/{account}"

    def requests(self) -> list[tuple[str, str]]:
        """Every ``(method, target)`` sent through the proxy so far (batch bodies' inner requests included)."""
        with self._lock:
            streams = [bytes(sent) for sent in self._sent]
        return [
            (method.decode(), target.decode()) for sent in streams for method, target in _REQUEST_LINE.findall(sent)
        ]

    def requests_by_connection(self, marker: str) -> list[int]:
        """For each connection so far, how many of its requests have ``marker`` in their target."""
        with self._lock:
            streams = [bytes(sent) for sent in self._sent]
        return [sum(marker in target.decode() for _, target in _REQUEST_LINE.findall(sent)) for sent in streams]

    def clear(self) -> None:
        """Forget the requests recorded so far."""
        with self._lock:
            for sent in self._sent:
                sent.clear()

    def cut(self) -> None:
        """Close the listener and every connection: from now on a client gets connection errors."""
        with self._lock:
            self._cut = True
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept on Linux
        self._listener.close()
        self._accepting.join(servers.STOP_TIMEOUT)
        with self._lock:
            for connection in self._sockets:
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)
                connection.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self._target_port))
            sent = bytearray()
            with self._lock:
                if self._cut:
                    client.close()
                    server.close()
                    return
                self._sockets += [client, server]
                self._sent.append(sent)
            threading.Thread(target=self._pump, args=(client, server, sent), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, None), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket, record: bytearray | None) -> None:
        try:
            while data := source.recv(1 << 16):
                if record is not None:
                    with self._lock:
                        record += data
                target.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, target):
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)


@contextlib.contextmanager
def running_azurite() -> Iterator[Azurite]:
    """Run a fresh in-memory Azurite blob service on 127.0.0.1; its whole process group is stopped at the end.

    Fails the test, naming ``make setup``, when Azurite is not installed, and shows its output when it does not
    start.
    """
    try:
        with servers.azurite() as service:
            yield service
    except servers.ServerError as error:
        pytest.fail(str(error), pytrace=False)


@pytest.fixture(scope="session")
def azurite() -> Iterator[Azurite]:
    """The Azurite service shared by the session's tests."""
    with running_azurite() as service:
        yield service


@pytest.fixture(scope="module")
def fresh_azurite() -> Iterator[Azurite]:
    """An Azurite of the test module's own: Azurite slows down with every blob it holds (deleted ones for minutes)."""
    with running_azurite() as service:
        yield service


@pytest.fixture
def azurite_proxy(azurite: Azurite) -> Iterator[RecordingProxy]:
    """A recording, cuttable TCP proxy in front of the session's Azurite."""
    proxy = RecordingProxy(azurite.port)
    yield proxy
    proxy.cut()


@pytest.fixture
def fresh_azurite_proxy(fresh_azurite: Azurite) -> Iterator[RecordingProxy]:
    """A recording, cuttable TCP proxy in front of the module's own Azurite."""
    proxy = RecordingProxy(fresh_azurite.port)
    yield proxy
    proxy.cut()


@pytest.fixture(scope="session")
def azure_service(azurite: Azurite) -> Iterator[BlobServiceClient]:
    """A plain SDK client on the Azurite account."""
    with azurite.service() as service:
        yield service


@pytest.fixture
def container(azure_service: BlobServiceClient) -> Iterator[ContainerClient]:
    """A container name no other test uses, not created yet (the driver creates it); deleted afterwards."""
    client = azure_service.get_container_client(f"test-{uuid.uuid4().hex[:16]}")
    yield client
    if client.exists():
        client.delete_container()


@pytest.fixture
def azure_parameters(azurite: Azurite, container: ContainerClient) -> dict[str, Any]:
    """Parameters of a driver on a fresh container, as an operator would write them (JSON values and strings)."""
    return azurite.parameters(container.container_name, maxretries="2")


@pytest.fixture
def azure_driver(azure_parameters: dict[str, Any]) -> Iterator[StorageDriver]:
    """An Azure driver, made by the factory, on a fresh container; closed after the test."""
    with registry_storage.create("azure", azure_parameters) as driver:
        yield driver
