"""Local S3 and Azure services for the benchmarks: a moto server and an in-memory Azurite on 127.0.0.1.

Both run as child processes on a free port and are stopped when their ``with`` block ends, on error too (SIGTERM
to the benchmark becomes SystemExit through :func:`stop_on_sigterm`, so the blocks unwind then as well). The start
logic mirrors the test harness (tests/s3/conftest.py, tests/azure/conftest.py) without depending on pytest.
"""

from __future__ import annotations

import contextlib
import os
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
from types import FrameType
from typing import IO, Any

REPOSITORY = Path(__file__).resolve().parents[1]
LOCAL_AZURITE = REPOSITORY / ".tools" / "node_modules" / ".bin" / "azurite-blob"
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
"""Azurite's well-known development account and key."""

START_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0
START_ATTEMPTS = 3


class ServerError(RuntimeError):
    """A service could not be found or did not start; the message carries the end of its output."""


def stop_on_sigterm() -> None:
    """Turn SIGTERM into SystemExit, so that ``with`` blocks (and the servers they run) unwind on it."""

    def handle(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, handle)


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
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


def _start(command: list[str], probe_url: str, workdir: str, output: IO[bytes]) -> subprocess.Popen[bytes] | None:
    """Run ``command`` in its own process group until ``probe_url`` answers; None when it exits first."""
    process = subprocess.Popen(
        command, cwd=workdir, stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
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
    name: str, make_command: Callable[[int], list[str]], make_probe: Callable[[int], str]
) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """Start a service on a free port (retrying when the port was taken meanwhile); stop its group at the end."""
    with tempfile.TemporaryDirectory(prefix=f"{name}-") as workdir, tempfile.TemporaryFile() as output:
        for _ in range(START_ATTEMPTS):
            port = free_port()
            try:
                process = _start(make_command(port), make_probe(port), workdir, output)
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


@contextlib.contextmanager
def moto_server() -> Iterator[str]:
    """Run ``moto_server`` (installed beside this Python) on 127.0.0.1; yield its endpoint URL."""
    executable = Path(sys.executable).with_name("moto_server")
    if not executable.exists():
        raise ServerError(f"moto_server is not installed beside {sys.executable} (install moto[server])")
    with _serving(
        "moto",
        lambda port: [str(executable), "-H", "127.0.0.1", "-p", str(port)],
        lambda port: f"http://127.0.0.1:{port}/moto-api/",
    ) as (_, port):
        yield f"http://127.0.0.1:{port}"


def moto_reset(endpoint: str) -> None:
    """Drop every bucket and object of the moto server at ``endpoint`` (frees the temporary files of big objects)."""
    request = urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST", data=b"")
    with urllib.request.urlopen(request, timeout=60) as response:
        response.read()


# -- Azurite ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Azurite:
    """A running Azurite blob service: its account endpoint, port and process id."""

    service_url: str
    port: int
    pid: int
    account_name: str = AZURITE_ACCOUNT
    account_key: str = AZURITE_KEY

    def parameters(self, container: str, **extra: Any) -> dict[str, Any]:
        """Azure driver parameters for ``container`` on this service, plus ``extra``."""
        return {
            "accountname": self.account_name,
            "accountkey": self.account_key,
            "container": container,
            "serviceurl": self.service_url,
            **extra,
        }


def find_azurite() -> str | None:
    """The path of ``azurite-blob``: the project's ``.tools`` install first, then ``$PATH``."""
    if LOCAL_AZURITE.exists():
        return str(LOCAL_AZURITE)
    return shutil.which("azurite-blob")


@contextlib.contextmanager
def azurite_server() -> Iterator[Azurite]:
    """Run an in-memory Azurite blob service on 127.0.0.1 (telemetry off); its process group is stopped at the end."""
    executable = find_azurite()
    if executable is None:
        raise ServerError(f"azurite-blob is not installed (looked in {LOCAL_AZURITE.parent} and on $PATH): make setup")

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
