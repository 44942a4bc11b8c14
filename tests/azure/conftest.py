"""An Azurite blob service on 127.0.0.1 for the Azure driver tests, started once per session and always stopped.

Azurite comes from npm (``make setup`` installs it into ``.tools/``); the harness finds ``azurite-blob`` there or on
``$PATH`` and fails, naming the fix, when it is missing. It runs in its own process group, so stopping the group
leaves no node process behind. Every test gets a container of its own, deleted afterwards.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import pytest
from azure.storage.blob import BlobServiceClient, ContainerClient

import registry_storage
from registry_storage.driver import StorageDriver

REPOSITORY = Path(__file__).resolve().parents[2]
LOCAL_AZURITE = REPOSITORY / ".tools" / "node_modules" / ".bin" / "azurite-blob"
ACCOUNT_NAME = "devstoreaccount1"
ACCOUNT_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
"""Azurite's well-known development account and key."""

START_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0
START_ATTEMPTS = 3


@dataclass(frozen=True)
class Azurite:
    """A running Azurite blob service: its account endpoint and credentials."""

    service_url: str
    port: int
    pid: int
    account_name: str = ACCOUNT_NAME
    account_key: str = ACCOUNT_KEY

    @property
    def connection_string(self) -> str:
        """A connection string for the account, as an operator would paste it."""
        return (
            f"DefaultEndpointsProtocol=http;AccountName={self.account_name};AccountKey={self.account_key};"
            f"BlobEndpoint={self.service_url};"
        )

    def parameters(self, container: str, **extra: Any) -> dict[str, Any]:
        """Driver parameters for ``container`` on this service, plus ``extra``."""
        return {
            "accountname": self.account_name,
            "accountkey": self.account_key,
            "container": container,
            "serviceurl": self.service_url,
            **extra,
        }

    def service(self) -> BlobServiceClient:
        """A plain SDK client on the account, to set up and inspect what the driver cannot show."""
        return BlobServiceClient(
            self.service_url, credential={"account_name": self.account_name, "account_key": self.account_key}
        )


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

    def service_url(self, account: str = ACCOUNT_NAME) -> str:
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
        self._accepting.join(STOP_TIMEOUT)
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


def find_azurite() -> str | None:
    """The path of ``azurite-blob``: the project's ``.tools`` install first, then ``$PATH``."""
    if LOCAL_AZURITE.exists():
        return str(LOCAL_AZURITE)
    return shutil.which("azurite-blob")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _answers(url: str) -> bool:
    """True once the service answers HTTP at all (an unsigned request gets an error status, which is an answer)."""
    try:
        with urllib.request.urlopen(f"{url}?comp=list", timeout=2):
            return True
    except urllib.error.HTTPError:
        return True
    except (urllib.error.URLError, OSError):
        return False


def _stop_group(process: subprocess.Popen[bytes]) -> None:
    """Stop the process group of ``process`` (Azurite and any node child): SIGTERM, then SIGKILL."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            break
        try:
            process.wait(STOP_TIMEOUT)
            break
        except subprocess.TimeoutExpired:
            continue
    # the group may outlive its leader for a moment; make sure nothing of it is left
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


def _tail(output: IO[bytes]) -> str:
    output.seek(0)
    return output.read().decode(errors="replace")[-4000:]


def _start(executable: str, workdir: str, output: IO[bytes]) -> tuple[subprocess.Popen[bytes], int] | None:
    """Start Azurite on a free port; None when it exited at once (the port was taken meanwhile)."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}/{ACCOUNT_NAME}"
    command = [executable, "--blobHost", "127.0.0.1", "--blobPort", str(port), "--inMemoryPersistence"]
    command += ["--skipApiVersionCheck", "--loose", "--disableTelemetry"]
    process = subprocess.Popen(
        command, cwd=workdir, stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
    )
    deadline = time.monotonic() + START_TIMEOUT
    while not _answers(url):
        if process.poll() is not None:
            _stop_group(process)
            return None
        if time.monotonic() > deadline:
            _stop_group(process)
            pytest.fail(f"Azurite did not answer on {url} within {START_TIMEOUT:g} s:\n{_tail(output)}", pytrace=False)
        time.sleep(0.1)
    return process, port


@contextlib.contextmanager
def running_azurite() -> Iterator[Azurite]:
    """Run a fresh in-memory Azurite blob service on 127.0.0.1; its whole process group is stopped at the end.

    Fails the test, naming ``make setup``, when Azurite is not installed, and shows its output when it does not
    start.
    """
    executable = find_azurite()
    if executable is None:
        pytest.fail(
            f"azurite-blob is not installed (looked in {LOCAL_AZURITE.parent} and on $PATH): run `make setup`",
            pytrace=False,
        )
    with tempfile.TemporaryDirectory(prefix="azurite-") as workdir, tempfile.TemporaryFile() as output:
        started = None
        for _ in range(START_ATTEMPTS):
            started = _start(executable, workdir, output)
            if started is not None:
                break
        if started is None:
            pytest.fail(f"Azurite exited at start {START_ATTEMPTS} times:\n{_tail(output)}", pytrace=False)
        process, port = started
        try:
            yield Azurite(f"http://127.0.0.1:{port}/{ACCOUNT_NAME}", port, process.pid)
        finally:
            _stop_group(process)


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
