"""The driver process's life (protocol.md sections 1, 2, 10 and 11): stdio, logs, exit statuses, parent death."""

from __future__ import annotations

import contextlib
import os
import pty
import re
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from registry_storage.wire import FrameDecoder, dumps, encode_frame, loads

from .conftest import Spawn
from .rawclient import TIMEOUT, RawClient, driver_command
from .test_streams import check_base_plus_prefix, open_gate

LOG_LINE = re.compile(r"^(DEBUG|INFO|WARNING|ERROR|CRITICAL) [\w.]+: ")
HANDSHAKE = {"jsonrpc": "2.0", "method": "handshake", "params": {"versions": ["1.0"]}, "id": 1}


def run_driver(arguments: list[str], **kwargs: object) -> subprocess.CompletedProcess[bytes]:
    """Run a driver program to completion with stdin on an empty pipe."""
    return subprocess.run(arguments, input=b"", capture_output=True, timeout=TIMEOUT, check=False, **kwargs)  # type: ignore[call-overload, no-any-return]


# -- stdout carries frames only -----------------------------------------------------------------------------


def test_stray_output_goes_to_stderr_and_the_channel_stays_clean(gated: RawClient) -> None:
    assert gated.call("put_content", {"path": "/a"}, b"abc").result is None
    for _ in range(3):
        assert gated.call("stat", {"path": "/a"}).result["size"] == 3
    assert gated.call("ping").result == {}
    gated.close_stdin()
    assert gated.wait() == 0
    stderr = gated.stderr_lines(wait=True)
    assert stderr.count("stray print during stat /a") == 3
    assert stderr.count("stray os.write to fd 1") == 3
    assert stderr.count("stray C puts") == 3


def test_every_log_line_has_a_level_prefix(spawn: Spawn) -> None:
    client = spawn(driver_command("inmemory"))
    client.handshake()
    client.call("stat", {"path": "/missing"})
    client.send_bytes(b"Content-Length: x\r\n\r\n")
    client.next_reply()
    client.close_stdin()
    assert client.wait() == 0
    lines = client.stderr_lines(wait=True)
    assert lines
    assert all(LOG_LINE.match(line) for line in lines), lines
    assert "INFO registry_storage.host: protocol 1.0 with rawclient 0" in lines


# -- ending -------------------------------------------------------------------------------------------------


def test_end_of_input_exits_0(spawn: Spawn) -> None:
    before = spawn(driver_command("inmemory"))
    before.close_stdin()
    assert before.wait() == 0
    after = spawn(driver_command("inmemory"))
    after.handshake()
    assert after.call("put_content", {"path": "/a"}, b"x").result is None
    after.close_stdin()
    assert after.wait() == 0


def test_end_of_input_waits_for_pending_answers(gated: RawClient) -> None:
    pending = gated.start("stat", {"path": "/gated/x"})
    gated.close_stdin()
    assert not gated.answered(pending)
    open_gate(gated)
    assert gated.result(pending).error["code"] == 1001
    assert gated.wait() == 0


def test_shutdown_is_answered_after_every_pending_answer_then_exits_0(gated: RawClient) -> None:
    pending = [gated.start("stat", {"path": f"/gated/{index}"}) for index in range(3)]
    shutdown = gated.start("shutdown")
    assert not gated.answered(shutdown)
    open_gate(gated)
    replies = [gated.result(request_id) for request_id in pending]
    final = gated.result(shutdown)
    assert final.result is None
    assert final.sequence > max(reply.sequence for reply in replies)
    assert gated.wait() == 0


def test_shutdown_cancels_open_write_streams(spawn: Spawn, tmp_path: Path) -> None:
    command = driver_command("filesystem", {"rootdirectory": str(tmp_path / "store")})
    client = spawn(command)
    client.handshake()
    stream = client.call("write_stream.open", {"path": "/f", "offset": 0}).result["stream"]
    sent = os.urandom(200_000)
    for start in range(0, len(sent), 50_000):
        assert client.call("stream.write", {"stream": stream}, sent[start : start + 50_000]).result is None
    assert client.call("shutdown").result is None
    assert client.wait() == 0
    again = spawn(command)
    again.handshake()
    check_base_plus_prefix(again.call("get_content", {"path": "/f"}).attachment, b"", sent)


def test_sigterm_stops_gracefully_with_143(spawn: Spawn, tmp_path: Path) -> None:
    command = driver_command("filesystem", {"rootdirectory": str(tmp_path / "store")})
    client = spawn(command)
    client.handshake()
    stream = client.call("write_stream.open", {"path": "/f", "offset": 0}).result["stream"]
    assert client.call("stream.write", {"stream": stream}, b"partial").result is None
    os.kill(client.process.pid, signal.SIGTERM)
    assert client.wait() == 143
    again = spawn(command)
    again.handshake()
    check_base_plus_prefix(again.call("get_content", {"path": "/f"}).attachment, b"", b"partial")


def test_a_broken_output_exits_3() -> None:
    process = subprocess.Popen(
        driver_command("inmemory"), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        assert process.stdin is not None
        assert process.stdout is not None
        process.stdout.close()
        process.stdin.write(b"".join(bytes(piece) for piece in encode_frame(dumps(HANDSHAKE))))
        process.stdin.flush()
        assert process.wait(TIMEOUT) == 3
        assert process.stderr is not None
        assert b"ERROR registry_storage.host: the protocol output broke" in process.stderr.read()
    finally:
        process.kill()
        process.wait()


# -- the parent's death -------------------------------------------------------------------------------------

PARENT = textwrap.dedent(
    """
    import os, subprocess, sys, time
    stdin_fd, stdout_fd = int(sys.argv[1]), int(sys.argv[2])
    child = subprocess.Popen(sys.argv[3:], stdin=stdin_fd, stdout=stdout_fd, pass_fds=())
    print(child.pid, flush=True)
    child.wait()
    """
)


def process_gone(pid: int) -> bool:
    """True when ``pid`` no longer runs (gone, or a zombie waiting to be reaped)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return True
    return state in ("Z", "X")


@pytest.fixture
def driver_pids() -> Iterator[list[int]]:
    pids: list[int] = []
    yield pids
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="parent-death signal and /proc are Linux")
def test_the_driver_exits_within_2_s_when_its_parent_is_killed(driver_pids: list[int]) -> None:
    """The driver's stdin stays open (this test holds the write end), so only the parent's death can stop it."""
    to_driver_read, to_driver_write = os.pipe()
    from_driver_read, from_driver_write = os.pipe()
    command = [sys.executable, "-c", PARENT, str(to_driver_read), str(from_driver_write), *driver_command("inmemory")]
    parent = subprocess.Popen(command, stdout=subprocess.PIPE, pass_fds=(to_driver_read, from_driver_write))
    try:
        os.close(to_driver_read)
        os.close(from_driver_write)
        assert parent.stdout is not None
        driver_pid = int(parent.stdout.readline())
        driver_pids.append(driver_pid)
        os.write(to_driver_write, b"".join(bytes(piece) for piece in encode_frame(dumps(HANDSHAKE))))
        decoder = FrameDecoder()
        while (event := decoder.next_event()) is None:
            decoder.feed(os.read(from_driver_read, 65536))
        assert loads(getattr(event, "message", b"{}"))["result"]["version"] == "1.0"
        parent.kill()
        parent.wait(TIMEOUT)
        deadline = time.monotonic() + 2.0
        while not process_gone(driver_pid) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert process_gone(driver_pid), "the driver outlived its parent by more than 2 s"
    finally:
        parent.kill()
        parent.wait()
        os.close(to_driver_write)
        os.close(from_driver_read)


# -- start-up: parameters, terminals, help ------------------------------------------------------------------


def _startup_error(stderr: bytes, name: str) -> dict[str, Any]:
    """The error object of the ONE start-up failure line a driver wrote (protocol.md section 2)."""
    lines = stderr.decode().splitlines()
    assert len(lines) == 1, lines
    prefix = f"ERROR registry-storage-{name}: "
    assert lines[0].startswith(prefix), lines
    error: dict[str, Any] = orjson.loads(lines[0][len(prefix) :])
    return error


@pytest.mark.parametrize(
    ("name", "arguments", "message"),
    [
        ("inmemory", ["{bad json"], "argv[1] is not valid JSON"),
        ("inmemory", ["[1, 2]"], "argv[1] must be a JSON object of parameters, not list"),
        ("inmemory", ['"rootdirectory"'], "argv[1] must be a JSON object of parameters, not str"),
        ("inmemory", ['{"nope": 1}'], "parameter 'nope': unknown parameter"),
        ("filesystem", ['{"rootdirectory": 5}'], "parameter 'rootdirectory'"),
        ("filesystem", ['{"root": "/tmp"}'], "accepted parameters: maxthreads, rootdirectory"),
        ("inmemory", ["{}", "{}"], "expected at most one argument"),
    ],
)
def test_bad_parameters_exit_2_with_one_line(name: str, arguments: list[str], message: str) -> None:
    completed = run_driver([*driver_command(name), *arguments])
    assert completed.returncode == 2
    assert completed.stdout == b""
    error = _startup_error(completed.stderr, name)
    assert error["code"] == 1006
    assert error["data"]["type"] == "InvalidParameterError"
    assert error["data"]["driver"] == name
    assert message in error["message"]


def test_a_bad_parameter_line_names_the_parameter_and_the_accepted_ones() -> None:
    completed = run_driver([*driver_command("filesystem"), '{"root": "/tmp"}'])
    assert completed.returncode == 2
    data = _startup_error(completed.stderr, "filesystem")["data"]
    assert (data["parameter"], data["accepted"]) == ("root", ["maxthreads", "rootdirectory"])
    assert "unknown" in data["reason"]


def test_an_unreadable_parameters_file_exits_2(tmp_path: Path) -> None:
    env = {**os.environ, "REGISTRY_STORAGE_PARAMETERS_FILE": str(tmp_path / "missing.json")}
    completed = run_driver(driver_command("inmemory", {}), env=env)
    assert completed.returncode == 2
    error = _startup_error(completed.stderr, "inmemory")
    assert error["message"] == (
        f"cannot read the parameters file {tmp_path / 'missing.json'}: No such file or directory"
    )
    assert error["data"]["parameter"] == "REGISTRY_STORAGE_PARAMETERS_FILE"
    (tmp_path / "bad.json").write_text("[]")
    env["REGISTRY_STORAGE_PARAMETERS_FILE"] = str(tmp_path / "bad.json")
    completed = run_driver(driver_command("inmemory", {}), env=env)
    assert completed.returncode == 2
    assert "must be a JSON object" in _startup_error(completed.stderr, "inmemory")["message"]


def test_the_parameters_file_is_merged_over_argv(spawn: Spawn, tmp_path: Path) -> None:
    parameters_file = tmp_path / "secret.json"
    parameters_file.write_text(dumps({"rootdirectory": str(tmp_path / "from-file")}).decode())
    env = {**os.environ, "REGISTRY_STORAGE_PARAMETERS_FILE": str(parameters_file)}
    client = spawn(driver_command("filesystem", {"rootdirectory": str(tmp_path / "from-argv")}), env=env)
    client.handshake()
    assert client.call("put_content", {"path": "/x"}, b"here").result is None
    assert (tmp_path / "from-file" / "x").read_bytes() == b"here"
    assert not (tmp_path / "from-argv" / "x").exists()


def test_on_a_terminal_it_explains_itself_and_exits_2() -> None:
    controller, terminal = pty.openpty()
    try:
        completed = subprocess.run(
            driver_command("inmemory"), stdin=terminal, capture_output=True, timeout=TIMEOUT, check=False
        )
    finally:
        os.close(terminal)
        os.close(controller)
    assert completed.returncode == 2
    assert completed.stdout == b""
    text = completed.stderr.decode()
    assert "registry-storage-inmemory is a registry-storage driver" in text
    assert "protocol 1.2" in text
    assert "stdin and stdout" in text
    assert "registry-storage check inmemory" in text


def test_help_goes_to_stdout_and_exits_0() -> None:
    completed = run_driver([*driver_command("filesystem"), "--help"])
    assert completed.returncode == 0
    assert completed.stderr == b""
    text = completed.stdout.decode()
    assert "registry-storage-filesystem is a registry-storage driver" in text
    assert """registry-storage-filesystem '{"rootdirectory": "/var/lib/registry"}'""" in text


def test_python_dash_m_runs_a_named_driver(spawn: Spawn) -> None:
    client = spawn([sys.executable, "-m", "registry_storage.host", "inmemory", "{}"])
    assert client.handshake().result["driver"]["name"] == "inmemory"
    assert client.call("list", {"path": "/"}).result == {"paths": []}
    client.close_stdin()
    assert client.wait() == 0


def test_python_dash_m_without_a_name_prints_usage_and_exits_2() -> None:
    completed = run_driver([sys.executable, "-m", "registry_storage.host"])
    assert completed.returncode == 2
    assert b"usage: python -m registry_storage.host <driver name>" in completed.stderr
    unknown = run_driver([sys.executable, "-m", "registry_storage.host", "no-such-driver"])
    assert unknown.returncode == 2
    assert unknown.stderr.decode().startswith("ERROR registry-storage-no-such-driver: ")
    assert "storage driver 'no-such-driver'" in _startup_error(unknown.stderr, "no-such-driver")["message"]


@pytest.mark.parametrize(
    ("name", "module", "parameters"),
    [
        ("s3", "boto3", {"bucket": "b", "region": "us-east-1"}),
        ("azure", "azure", {"accountname": "a", "accountkey": "a2V5", "container": "registry"}),
    ],
)
def test_a_driver_whose_extra_is_missing_exits_1_as_a_broken_install(
    tmp_path: Path, name: str, module: str, parameters: dict[str, Any]
) -> None:
    blocked = tmp_path / "blocked" / module
    blocked.mkdir(parents=True)
    (blocked / "__init__.py").write_text(f'raise ImportError("No module named {module}")\n')
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "blocked")}
    completed = run_driver(driver_command(name, parameters), env=env)
    assert completed.returncode == 1
    error = _startup_error(completed.stderr, name)
    assert f"registry-storage[{name}]" in error["message"]
