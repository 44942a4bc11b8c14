"""The proxy's life with a scripted driver (fake_driver.py): versions, crashes, restarts, deadlines, logs, secrets.

The fake serves one request at a time and misbehaves on request, which is what lets these tests make a driver crash
inside a method, hang, log at every level or announce a protocol version the client does not speak.
"""

from __future__ import annotations

import logging
import os
import select
import signal
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
import pytest

import registry_storage
from registry_storage import factory
from registry_storage.errors import (
    DeadlineExceededError,
    DriverExitedError,
    IncompatibleVersionError,
    InvalidParameterError,
    InvalidStorageDriverError,
    PathNotFoundError,
    StorageDriverError,
)
from registry_storage.observability.calls import unwrap

if TYPE_CHECKING:  # mypy reads the package from its folder; installed, it is registry_storage.client
    from client import ProxyDriver, ProxyReadStream, launch
else:
    from registry_storage.client import ProxyDriver, ProxyReadStream, launch

FAKE_DRIVER = Path(__file__).with_name("fake_driver.py")
QUICK_STOP = 1.0
"""Seconds for each stop step: the fake stops at once, so a test that waits this long has found a bug."""


def write_executable(directory: Path, name: str = "registry-storage-fake") -> Path:
    """A tiny executable ``name`` in ``directory`` that runs fake_driver.py with this Python."""
    executable = directory / name
    executable.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{FAKE_DRIVER}" "$@"\n', encoding="utf-8")
    executable.chmod(executable.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return executable


@pytest.fixture
def fake(tmp_path: Path) -> str:
    """Path of an executable running the fake driver."""
    return str(write_executable(tmp_path))


@pytest.fixture
def proxies() -> Iterator[list[ProxyDriver]]:
    """Proxies a test starts; all are closed afterwards so no child outlives the test."""
    started: list[ProxyDriver] = []
    yield started
    for proxy in started:
        proxy.close()


def start(proxies: list[ProxyDriver], executable: str, parameters: dict[str, Any], **options: Any) -> ProxyDriver:
    proxy = launch(executable, "fake", parameters, **{"stop_timeout": QUICK_STOP, **options})
    proxies.append(proxy)
    return proxy


def exited(pid: int, timeout: float) -> bool:
    """True when process ``pid`` is gone (exited, or already reaped) within ``timeout`` seconds."""
    try:
        handle = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        readable, _, _ = select.select([handle], [], [], timeout)
        return bool(readable)
    finally:
        os.close(handle)


def read_pid(pidfile: Path) -> int:
    return int(pidfile.read_text(encoding="ascii"))


# -- versions ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("chosen", ["2.0", "1.9", "1.3", "0.1", "one"])
def test_a_version_the_client_does_not_speak_raises_and_stops_the_driver(
    fake: str, tmp_path: Path, chosen: str
) -> None:
    pidfile = tmp_path / "pid"
    with pytest.raises(IncompatibleVersionError) as raised:
        launch(fake, "fake", {"version": chosen, "pidfile": str(pidfile)}, stop_timeout=QUICK_STOP)
    assert raised.value.offered == ["1.2"]
    assert raised.value.chosen == chosen
    assert raised.value.driver == "fake"
    assert exited(read_pid(pidfile), 0.0)


def test_a_driver_that_finds_no_common_version_raises_incompatible_version(fake: str, tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    with pytest.raises(IncompatibleVersionError) as raised:
        launch(fake, "fake", {"pidfile": str(pidfile)}, protocol_versions=("0.9",), stop_timeout=QUICK_STOP)
    assert raised.value.offered == ["0.9"]
    assert raised.value.chosen is None
    assert exited(read_pid(pidfile), 0.0)


def test_a_real_driver_refuses_a_client_offering_only_an_unknown_major() -> None:
    executable = factory.find_executable("inmemory")
    assert executable is not None
    with pytest.raises(IncompatibleVersionError) as raised:
        launch(executable, "inmemory", {}, protocol_versions=("0.9",), stop_timeout=QUICK_STOP)
    assert raised.value.offered == ["0.9"]
    assert raised.value.chosen is None
    assert raised.value.driver == "inmemory"


def test_the_handshake_tells_the_driver_name_and_capabilities(fake: str, proxies: list[ProxyDriver]) -> None:
    proxy = start(proxies, fake, {"name": "scripted"})
    assert proxy.name == "scripted"
    assert proxy.session.info.protocol_version == "1.0"
    assert proxy.session.info.can("concurrent")
    assert not proxy.session.info.can("walk")


# -- a driver that dies --------------------------------------------------------------------------------------------


def test_a_crash_inside_a_call_fails_it_promptly_with_status_and_stderr(fake: str, proxies: list[ProxyDriver]) -> None:
    proxy = start(proxies, fake, {"crash_in": "stat", "exit_status": 7})
    proxy.put_content("/a", b"x")
    started = time.monotonic()
    with pytest.raises(DriverExitedError) as raised:
        proxy.stat("/a")
    assert time.monotonic() - started < 5.0
    assert raised.value.returncode == 7
    assert "ERROR fake: crashing in stat" in raised.value.stderr_tail
    assert raised.value.driver == "fake"
    with pytest.raises(DriverExitedError) as later:
        proxy.get_content("/a")
    assert later.value.returncode == 7


def test_a_crash_inside_a_read_stream_fails_the_read(fake: str, proxies: list[ProxyDriver]) -> None:
    proxy = start(proxies, fake, {"crash_in": "stream.read", "crash_after": 3}, chunk_bytes=1024)
    proxy.put_content("/big", os.urandom(64 * 1024))
    with proxy.read_stream("/big") as stream:
        first = stream.read(1024)
        assert len(first) == 1024
        with pytest.raises(DriverExitedError) as raised:
            stream.read()
    assert raised.value.returncode == 7
    assert "crashing in stream.read" in raised.value.stderr_tail


def test_a_crash_inside_a_write_stream_fails_the_write(fake: str, proxies: list[ProxyDriver]) -> None:
    proxy = start(proxies, fake, {"crash_in": "stream.write", "crash_after": 2})
    with pytest.raises(DriverExitedError) as raised:
        proxy.write_stream("/big", 0, iter([b"a" * 1000] * 10))
    assert raised.value.returncode == 7


def test_every_pending_call_fails_when_the_driver_is_killed(fake: str, proxies: list[ProxyDriver]) -> None:
    proxy = start(proxies, fake, {"hang_in": "ping"})
    proxy.put_content("/a", b"x")
    failures: list[BaseException] = []

    def call(method: Callable[[], object]) -> None:
        try:
            method()
        except BaseException as error:
            failures.append(error)

    threads = [threading.Thread(target=call, args=(proxy.ping,))]
    threads += [threading.Thread(target=call, args=(partial(proxy.stat, "/a"),)) for _ in range(8)]
    for thread in threads:
        thread.start()
    os.kill(proxy.pid, signal.SIGKILL)
    for thread in threads:
        thread.join(10.0)
    assert not any(thread.is_alive() for thread in threads)
    assert len(failures) == len(threads)
    assert all(isinstance(failure, DriverExitedError) for failure in failures)
    assert {getattr(failure, "returncode", None) for failure in failures} == {128 + signal.SIGKILL}


def test_restart_starts_a_new_driver_for_later_calls(fake: str, proxies: list[ProxyDriver]) -> None:
    proxy = start(proxies, fake, {"crash_in": "stat"}, restart=True)
    first_pid = proxy.pid
    with pytest.raises(DriverExitedError):
        proxy.stat("/a")
    proxy.put_content("/a", b"after the restart")
    assert proxy.get_content("/a") == b"after the restart"
    assert proxy.pid != first_pid
    assert exited(first_pid, 0.0)


def test_a_start_up_failure_line_naming_a_bad_parameter_raises_invalid_parameter_error(tmp_path: Path) -> None:
    executable = tmp_path / "registry-storage-strict"
    data = {"type": "InvalidParameterError", "driver": "strict", "parameter": "colour", "reason": "unknown"}
    error = {"code": 1006, "message": "parameter 'colour': unknown", "data": {**data, "accepted": ["size"]}}
    (tmp_path / "line").write_text(
        "INFO strict: starting\nERROR registry-storage-strict: " + orjson.dumps(error).decode()
    )
    executable.write_text(f"#!/bin/sh\ncat {tmp_path / 'line'} >&2\nexit 2\n")
    executable.chmod(0o755)
    with pytest.raises(InvalidParameterError) as raised:
        launch(str(executable), "strict", {"colour": 1}, stop_timeout=QUICK_STOP)
    assert (raised.value.parameter, raised.value.reason, raised.value.accepted) == ("colour", "unknown", ["size"])
    assert raised.value.driver == "strict"
    assert isinstance(raised.value.__cause__, DriverExitedError)
    assert raised.value.__cause__.returncode == 2


def test_the_python_drivers_bad_parameters_raise_invalid_parameter_error_through_the_proxy(tmp_path: Path) -> None:
    with pytest.raises(InvalidParameterError) as raised:
        registry_storage.create("filesystem", {"root": "/tmp"}, out_of_process=True)
    assert raised.value.parameter == "root"
    assert raised.value.accepted == ["maxthreads", "rootdirectory"]
    assert raised.value.driver == "filesystem"


def test_bad_parameters_fail_the_start_with_the_drivers_message(tmp_path: Path) -> None:
    executable = tmp_path / "registry-storage-broken"
    executable.write_text("#!/bin/sh\necho 'registry-storage-broken: parameter bogus is unknown' >&2\nexit 2\n")
    executable.chmod(0o755)
    with pytest.raises(DriverExitedError) as raised:
        launch(str(executable), "broken", {"bogus": 1}, stop_timeout=QUICK_STOP)
    assert raised.value.returncode == 2
    assert "parameter bogus is unknown" in str(raised.value)


def test_an_executable_that_cannot_run_raises_invalid_storage_driver(tmp_path: Path) -> None:
    with pytest.raises(InvalidStorageDriverError):
        launch(str(tmp_path / "missing"), "missing", {})


# -- deadlines -------------------------------------------------------------------------------------------------------


def test_a_call_to_a_hanging_driver_raises_deadline_exceeded_promptly(fake: str, proxies: list[ProxyDriver]) -> None:
    proxy = start(proxies, fake, {"hang_in": "stat"}, timeout=0.5)
    proxy.put_content("/a", b"x")
    started = time.monotonic()
    with pytest.raises(DeadlineExceededError) as raised:
        proxy.stat("/a")
    assert time.monotonic() - started < 3.0
    assert raised.value.method == "stat"
    assert raised.value.timeout == 0.5
    assert isinstance(raised.value, TimeoutError)


def test_a_read_from_a_hanging_driver_raises_deadline_exceeded_promptly(fake: str, proxies: list[ProxyDriver]) -> None:
    proxy = start(proxies, fake, {"hang_in": "stream.read"}, timeout=0.5)
    proxy.put_content("/a", b"x" * 100)
    stream = proxy.read_stream("/a")
    started = time.monotonic()
    with pytest.raises(DeadlineExceededError) as raised:
        stream.read()
    assert time.monotonic() - started < 3.0
    assert raised.value.method == "stream.read"
    with pytest.raises(DeadlineExceededError):
        stream.read()  # a stream that failed stays failed


def test_close_stops_a_hanging_driver(fake: str, tmp_path: Path) -> None:
    proxy = launch(fake, "fake", {"hang_in": "stat"}, timeout=0.2, stop_timeout=0.5)
    pid = proxy.pid
    with pytest.raises(DeadlineExceededError):
        proxy.stat("/a")
    proxy.close()
    assert exited(pid, 0.0)
    assert proxy.session.process.returncode is not None


# -- lifecycle -------------------------------------------------------------------------------------------------------


def test_close_leaves_no_child_process(fake: str) -> None:
    proxy = launch(fake, "fake", {})
    pid = proxy.pid
    handle = os.pidfd_open(pid)
    try:
        proxy.close()
        readable, _, _ = select.select([handle], [], [], 0.0)
        assert readable
    finally:
        os.close(handle)
    assert proxy.session.process.returncode == 0
    assert exited(pid, 0.0)
    with pytest.raises(StorageDriverError, match="closed"):
        proxy.stat("/a")
    proxy.close()


def test_the_context_manager_closes_the_proxy(fake: str) -> None:
    with launch(fake, "fake", {}) as proxy:
        pid = proxy.pid
        proxy.put_content("/a", b"x")
    assert exited(pid, 0.0)


def test_a_killed_parent_leaves_no_child() -> None:
    parent_code = (
        "import threading\n"
        "from registry_storage import factory\n"
        "proxy = factory.create('inmemory', {}, out_of_process=True)\n"
        "print(proxy.pid, flush=True)\n"
        "threading.Event().wait()\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", parent_code], stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None
        child = int(parent.stdout.readline())
        handle = os.pidfd_open(child)
    finally:
        parent.kill()
        parent.wait()
    try:
        readable, _, _ = select.select([handle], [], [], 2.0)
        if not readable:
            signal.pidfd_send_signal(handle, signal.SIGKILL)
        assert readable, f"driver {child} still running 2 s after its parent was killed"
    finally:
        os.close(handle)


# -- logging -----------------------------------------------------------------------------------------------------------


def test_stderr_lines_reach_logging_at_their_level(
    fake: str, proxies: list[ProxyDriver], caplog: pytest.LogCaptureFixture
) -> None:
    lines = [
        "DEBUG fake.store: a debug line",
        "INFO fake: an info line",
        "WARNING fake: a warning line",
        "ERROR fake: an error line",
        "CRITICAL fake: a critical line",
        "a stray print",
    ]
    caplog.set_level(logging.DEBUG, logger="registry_storage.driver.fake")
    proxy = start(proxies, fake, {"log": lines})
    proxy.ping()
    proxy.close()  # stopping waits for the end of stderr, so every line has been logged
    records = [(record.levelno, record.getMessage()) for record in caplog.records if record.name.endswith(".fake")]
    assert records == [
        (logging.DEBUG, "fake.store: a debug line"),
        (logging.INFO, "fake: an info line"),
        (logging.WARNING, "fake: a warning line"),
        (logging.ERROR, "fake: an error line"),
        (logging.CRITICAL, "fake: a critical line"),
        (logging.WARNING, "a stray print"),
    ]


# -- parameters and secrets ----------------------------------------------------------------------------------------


def test_secrets_reach_the_driver_but_not_its_command_line(fake: str, proxies: list[ProxyDriver]) -> None:
    parameters = {
        "bucket": "visible-bucket",
        "secretkey": "secret-value-1",
        "AccountKey": "secret-value-2",
        "connection_string": "secret-value-3",
        "sas_token": "secret-value-4",
        "opaque": "secret-value-5",
        "port": 9000,
    }
    proxy = start(proxies, fake, parameters, secret_parameters=["opaque"])
    command_line = Path(f"/proc/{proxy.pid}/cmdline").read_bytes()
    environment = Path(f"/proc/{proxy.pid}/environ").read_bytes()
    assert b"visible-bucket" in command_line
    for secret in (b"secret-value-1", b"secret-value-2", b"secret-value-3", b"secret-value-4", b"secret-value-5"):
        assert secret not in command_line
        assert secret not in environment
    assert orjson.loads(proxy.get_content("/fake/parameters")) == parameters


def test_env_option_reaches_the_driver_and_an_inherited_parameters_file_does_not(
    fake: str, proxies: list[ProxyDriver], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    stray = tmp_path / "stray.json"
    stray.write_text('{"injected": true}')
    monkeypatch.setenv("REGISTRY_STORAGE_PARAMETERS_FILE", str(stray))
    proxy = start(proxies, fake, {"bucket": "b"}, env={"FAKE_SETTING": "on"})
    assert b"FAKE_SETTING=on" in Path(f"/proc/{proxy.pid}/environ").read_bytes()
    assert orjson.loads(proxy.get_content("/fake/parameters")) == {"bucket": "b"}


# -- limits ------------------------------------------------------------------------------------------------------------


def test_put_content_over_the_drivers_attachment_limit_raises_a_clear_error(
    fake: str, proxies: list[ProxyDriver]
) -> None:
    proxy = start(proxies, fake, {"limits": {"max_attachment_bytes": 1024}})
    with pytest.raises(StorageDriverError, match=r"max_attachment_bytes .*write_stream"):
        proxy.put_content("/a", bytes(1025))
    proxy.put_content("/a", bytes(1024))
    assert proxy.stat("/a").size == 1024


def test_get_content_over_the_attachment_limit_falls_back_to_a_read_stream(
    fake: str, proxies: list[ProxyDriver]
) -> None:
    proxy = start(proxies, fake, {"get_content_limit": 100}, chunk_bytes=64)
    content = os.urandom(1000)
    proxy.put_content("/a", content)
    assert proxy.get_content("/a") == content
    with pytest.raises(PathNotFoundError):
        proxy.get_content("/missing")


def test_write_chunks_are_split_to_the_drivers_chunk_limit(fake: str, proxies: list[ProxyDriver]) -> None:
    proxy = start(proxies, fake, {"limits": {"max_chunk_bytes": 1000, "stream_window": 2}})
    content = os.urandom(10_500)
    assert proxy.write_stream("/a", 0, [content]) == len(content)
    assert proxy.get_content("/a") == content


# -- streams -----------------------------------------------------------------------------------------------------------


def test_closing_a_read_stream_early_cancels_it_on_the_driver(fake: str, proxies: list[ProxyDriver]) -> None:
    proxy = start(proxies, fake, {}, chunk_bytes=100)
    proxy.put_content("/a", os.urandom(10_000))
    with proxy.read_stream("/a") as observed:
        stream = unwrap(observed)
        assert isinstance(stream, ProxyReadStream)
        stream.read(10)
    with proxy.read_stream("/a") as whole:
        assert len(whole.read()) == 10_000
    assert orjson.loads(proxy.get_content("/fake/events")) == {"cancelled": [stream.stream_id]}


def test_a_failing_source_cancels_the_write_stream_and_its_error_propagates(
    fake: str, proxies: list[ProxyDriver]
) -> None:
    proxy = start(proxies, fake, {})

    class SourceError(Exception):
        pass

    def source() -> Iterator[bytes]:
        yield b"a" * 100
        yield b"b" * 100
        raise SourceError("the source broke")

    with pytest.raises(SourceError, match="the source broke"):
        proxy.write_stream("/a", 0, source())
    assert orjson.loads(proxy.get_content("/fake/events")) == {"cancelled": [1]}
    assert proxy.get_content("/a") == b"a" * 100 + b"b" * 100


# -- factory ---------------------------------------------------------------------------------------------------------


def test_the_factory_runs_an_executable_found_on_the_drivers_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    write_executable(second, "registry-storage-tiny")
    monkeypatch.setenv(factory.DRIVERS_PATH_VARIABLE, os.pathsep.join([str(first), str(second)]))
    assert factory.find_executable("tiny") == str(second / "registry-storage-tiny")
    with factory.create("tiny", {"name": "tiny"}) as driver:
        assert isinstance(driver, ProxyDriver)
        assert driver.name == "tiny"
        driver.put_content("/a", b"found")
        assert driver.get_content("/a") == b"found"


def test_the_factory_prefers_the_drivers_path_to_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    on_path, on_drivers_path = tmp_path / "bin", tmp_path / "drivers"
    on_path.mkdir()
    on_drivers_path.mkdir()
    write_executable(on_path, "registry-storage-tiny")
    write_executable(on_drivers_path, "registry-storage-tiny")
    monkeypatch.setenv("PATH", f"{on_path}{os.pathsep}{os.environ.get('PATH', '')}")
    monkeypatch.setenv(factory.DRIVERS_PATH_VARIABLE, str(on_drivers_path))
    assert factory.find_executable("tiny") == str(on_drivers_path / "registry-storage-tiny")
    monkeypatch.delenv(factory.DRIVERS_PATH_VARIABLE)
    assert factory.find_executable("tiny") == str(on_path / "registry-storage-tiny")


def test_the_factory_names_what_it_looked_for_when_nothing_matches(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(factory.DRIVERS_PATH_VARIABLE, raising=False)
    with pytest.raises(InvalidStorageDriverError, match="registry-storage-nosuchdriver"):
        factory.create("nosuchdriver", {})


def test_launch_rejects_an_unknown_option() -> None:
    with pytest.raises(TypeError, match="no_such_option"):
        launch("/bin/true", "x", {}, no_such_option=1)
