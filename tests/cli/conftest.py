"""Fixtures for the CLI tests: run ``registry-storage`` (in this process or as the console script) against stores.

``store`` is parametrized over the filesystem and in-memory drivers, each in process and out of process. The CLI
chooses the store through its own options (``Store.options``) and opens its own driver; the test holds a second
handle on the same store (``Store.driver``) to seed it and to look at the result. An in-memory store lives only as
long as its driver, so for ``inmemory`` the CLI's driver opening is redirected to one shared driver (in process, or
a proxy to one child), which also checks that the CLI asked for the right process.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from io import BufferedIOBase
from pathlib import Path
from typing import Any
from unittest import mock

import pytest

import registry_storage
from registry_storage.cli import common, main
from registry_storage.cli.selection import DriverSpec, open_driver
from registry_storage.driver import PathList, StorageDriver
from registry_storage.errors import PathNotFoundError
from registry_storage.fileinfo import FileInfo

CONSOLE_TIMEOUT = 120.0
STORE_KINDS = ["filesystem", "filesystem-out", "inmemory", "inmemory-out"]


@dataclass(frozen=True)
class Outcome:
    """What one run of the command line did: exit status, stdout bytes, stderr text."""

    status: int
    stdout: bytes
    stderr: str

    @property
    def text(self) -> str:
        """stdout decoded as UTF-8."""
        return self.stdout.decode()

    def json(self) -> Any:
        """stdout parsed as JSON."""
        return json.loads(self.stdout)


class Cli:
    """Runs ``registry_storage.cli.main`` in this process with stdin given and stdout and stderr captured."""

    def __call__(self, *args: str, stdin: bytes = b"") -> Outcome:
        out = io.BytesIO()
        stdout = io.TextIOWrapper(out, encoding="utf-8", write_through=True)
        stderr = io.StringIO()
        stdin_stream = io.TextIOWrapper(io.BytesIO(stdin), encoding="utf-8")
        with (
            mock.patch.object(sys, "stdout", stdout),
            mock.patch.object(sys, "stderr", stderr),
            mock.patch.object(sys, "stdin", stdin_stream),
        ):
            try:
                status = main(list(args))
            except SystemExit as exit_:
                status = exit_.code if isinstance(exit_.code, int) else 1
            stdout.flush()
        return Outcome(status, out.getvalue(), stderr.getvalue())


def console_path() -> str:
    """The ``registry-storage`` console script of the environment running the tests."""
    return str(Path(sys.executable).with_name("registry-storage"))


def run_console(*args: str, stdin: bytes = b"", env: dict[str, str] | None = None) -> Outcome:
    """Run the ``registry-storage`` console script as a child process and wait for it."""
    done = subprocess.run(
        [console_path(), *args],
        input=stdin,
        capture_output=True,
        timeout=CONSOLE_TIMEOUT,
        check=False,
        env={**os.environ, **(env or {})},
    )
    return Outcome(done.returncode, done.stdout, done.stderr.decode(errors="replace"))


class Borrowed(StorageDriver):
    """A driver that forwards every call to ``inner`` and leaves it open when closed."""

    def __init__(self, inner: StorageDriver) -> None:
        self.inner = inner
        self.name = inner.name

    def _get_content(self, path: str) -> bytes:
        return self.inner.get_content(path)

    def _put_content(self, path: str, content: bytes) -> None:
        self.inner.put_content(path, content)

    def _read_stream(self, path: str, offset: int) -> BufferedIOBase:
        return self.inner.read_stream(path, offset)

    def _write_stream(self, path: str, offset: int, chunks: Iterator[bytes]) -> int:
        return self.inner.write_stream(path, offset, chunks)

    def _stat(self, path: str) -> FileInfo:
        return self.inner.stat(path)

    def _list(self, path: str) -> PathList:
        return self.inner.list(path)

    def _walk(self, path: str, start_after: str | None = None) -> Iterator[FileInfo]:
        return self.inner.walk(path, start_after)

    def _move(self, source: str, destination: str) -> None:
        self.inner.move(source, destination)

    def _delete(self, path: str) -> None:
        self.inner.delete(path)

    def close(self) -> None:
        return


@dataclass
class Store:
    """A store under test: how the CLI chooses it, and a driver on the same store for the test's own use."""

    kind: str
    driver: StorageDriver
    parameters: dict[str, str] = field(default_factory=dict)
    out_of_process: bool = False

    def options(self, prefix: str = "") -> list[str]:
        """The CLI options choosing this store, named ``--<prefix>driver`` etc."""
        chosen = [f"--{prefix}driver", self.kind]
        for key, value in self.parameters.items():
            chosen += [f"--{prefix}param", f"{key}={value}"]
        if self.out_of_process:
            chosen.append(f"--{prefix}out-of-process")
        return chosen

    def seed(self, files: dict[str, bytes]) -> None:
        """Store each file."""
        for path, content in files.items():
            self.driver.put_content(path, content)

    def files(self, root: str = "/") -> dict[str, bytes]:
        """Every file at or below ``root`` and its content; empty when nothing is there."""
        try:
            entries = [entry.path for entry in self.driver.walk(root) if not entry.is_dir]
        except PathNotFoundError:
            return {}
        return {path: self.driver.get_content(path) for path in entries}

    def exists(self, path: str) -> bool:
        """True when something is at ``path``."""
        try:
            self.driver.stat(path)
        except PathNotFoundError:
            return False
        return True


def filesystem_store(root: Path, *, out_of_process: bool = False) -> Store:
    """A filesystem store at ``root``; the caller closes its driver."""
    parameters = {"rootdirectory": str(root)}
    driver = registry_storage.create("filesystem", parameters)
    return Store("filesystem", driver, parameters, out_of_process)


@pytest.fixture
def cli() -> Cli:
    """Runs the command line in this process."""
    return Cli()


@pytest.fixture
def console_script() -> str:
    """The path of the ``registry-storage`` console script."""
    return console_path()


@pytest.fixture
def console() -> Callable[..., Outcome]:
    """Runs the ``registry-storage`` console script as a child process."""
    return run_console


@pytest.fixture(params=STORE_KINDS)
def store(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    """An empty store: filesystem or inmemory, in process or out of process."""
    kind = str(request.param)
    out_of_process = kind.endswith("-out")
    if kind.startswith("filesystem"):
        chosen = filesystem_store(tmp_path / "store", out_of_process=out_of_process)
        with chosen.driver:
            yield chosen
        return
    shared = registry_storage.create("inmemory", out_of_process=out_of_process)

    def open_shared(spec: DriverSpec) -> StorageDriver:
        if spec.name != "inmemory" or spec.executable:
            return open_driver(spec)
        if spec.out_of_process != out_of_process:
            raise AssertionError(f"the CLI asked for inmemory with out_of_process={spec.out_of_process}")
        return Borrowed(shared)

    monkeypatch.setattr(common, "open_driver", open_shared)
    with shared:
        yield Store("inmemory", shared, {}, out_of_process)


@pytest.fixture
def other_store(tmp_path: Path) -> Iterator[Store]:
    """A second store, on the filesystem driver in process, for copies between drivers."""
    chosen = filesystem_store(tmp_path / "other")
    with chosen.driver:
        yield chosen
