"""The Node.js driver in examples/node-driver, checked over the protocol.

The whole conformance suite runs against ``registry-storage-nodefs`` through the Python client, and a few raw-frame
tests cover what the client never sends: malformed frames, the handshake rules, parameters and exit statuses.
"""

from __future__ import annotations

import json
import os
import pty
import select
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from registry_storage.client import launch
from registry_storage.driver import StorageDriver
from registry_storage.testing import ConformanceSuite
from registry_storage.wire.frames import Frame, FrameDecoder, encode_frame
from registry_storage.wire.handshake import Limits

EXECUTABLE = Path(__file__).resolve().parents[2] / "examples" / "node-driver" / "registry-storage-nodefs"

pytestmark = pytest.mark.skipif(
    shutil.which("node") is None, reason="node is not on PATH: the Node.js driver cannot run"
)


class TestNodeDriverConformance(ConformanceSuite):
    """Every conformance check against the Node.js driver, rooted in an empty temporary directory, in protocol 1.1
    (pages, ``start_after`` and ``put_content.open`` in use)."""

    @pytest.fixture
    def storage_driver(self, tmp_path: Path) -> Iterator[StorageDriver]:
        with launch(str(EXECUTABLE), "nodefs", {"rootdirectory": str(tmp_path)}) as driver:
            assert driver.session.info.protocol_version == "1.1"
            yield driver


class TestNodeDriverAt10Conformance(ConformanceSuite):
    """Every conformance check through the 1.1 client against the Node.js driver kept at protocol 1.0: the client
    uses 1.0 features only (``start_after`` applied by the proxy, whole answers)."""

    @pytest.fixture
    def storage_driver(self, tmp_path: Path) -> Iterator[StorageDriver]:
        env = {"REGISTRY_STORAGE_NODEFS_PROTOCOL": "1.0"}
        with launch(str(EXECUTABLE), "nodefs", {"rootdirectory": str(tmp_path)}, env=env) as driver:
            assert driver.session.info.protocol_version == "1.0"
            yield driver


class TestOldClientWithNodeDriverConformance(ConformanceSuite):
    """Every conformance check through a client offering only 1.0 against the Node.js driver at 1.1."""

    @pytest.fixture
    def storage_driver(self, tmp_path: Path) -> Iterator[StorageDriver]:
        params = {"rootdirectory": str(tmp_path)}
        with launch(str(EXECUTABLE), "nodefs", params, protocol_versions=("1.0",)) as driver:
            assert driver.session.info.protocol_version == "1.0"
            yield driver


def test_large_content_and_long_listings_through_the_node_driver_in_1_1(tmp_path: Path) -> None:
    limits = Limits(max_message_bytes=4096)  # the client's: the driver must page to stay under it
    with launch(str(EXECUTABLE), "nodefs", {"rootdirectory": str(tmp_path)}, limits=limits) as driver:
        names = [f"/d/file-{index:04}" for index in range(300)]
        for name in names:
            driver.put_content(name, b"x")
        assert driver.list("/d") == names
        assert [info.path for info in driver.walk("/d", start_after=names[99])] == names[100:]


# -- raw frames ----------------------------------------------------------------------------------------------------


def frame(message: dict[str, Any] | bytes, attachment: bytes = b"") -> bytes:
    body = message if isinstance(message, bytes) else json.dumps(message).encode()
    return b"".join(bytes(part) for part in encode_frame(body, attachment))


def request(method: str, params: Any, id: int) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "method": method, "params": params, "id": id}


class RawDriver:
    """The driver as a child process, spoken to in raw frames."""

    def __init__(self, root: Path, argv: list[str] | None = None) -> None:
        args = argv if argv is not None else [json.dumps({"rootdirectory": str(root)})]
        self.process = subprocess.Popen(
            [str(EXECUTABLE), *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        self.decoder = FrameDecoder()

    def write(self, data: bytes) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(data)
        self.process.stdin.flush()

    def receive(self, timeout: float = 10.0) -> tuple[dict[str, Any], bytes]:
        assert self.process.stdout is not None
        while True:
            event = self.decoder.next_event()
            if isinstance(event, Frame):
                return json.loads(event.message), bytes(event.attachment)
            assert event is None, event
            ready, _, _ = select.select([self.process.stdout], [], [], timeout)
            assert ready, "no answer from the driver"
            data = os.read(self.process.stdout.fileno(), 1 << 20)
            assert data, "the driver closed stdout"
            self.decoder.feed(data)

    def call(self, method: str, params: Any, id: int, attachment: bytes = b"") -> dict[str, Any]:
        self.write(frame(request(method, params, id), attachment))
        answer, _ = self.receive()
        assert answer["id"] == id
        return answer

    def handshake(self) -> None:
        answer = self.call("handshake", {"versions": ["1.0"], "client": {"name": "test", "version": "0"}}, 1)
        assert answer["result"]["version"] == "1.0"

    def close(self) -> tuple[int, str]:
        assert self.process.stdin is not None
        assert self.process.stderr is not None
        self.process.stdin.close()
        status = self.process.wait(10)
        return status, self.process.stderr.read().decode()


@pytest.fixture
def raw(tmp_path: Path) -> Iterator[RawDriver]:
    driver = RawDriver(tmp_path)
    yield driver
    if driver.process.poll() is None:
        driver.close()


def test_handshake_rules(raw: RawDriver) -> None:
    early = raw.call("ping", {}, 1)
    assert early["error"]["code"] == -32002
    assert early["error"]["data"]["type"] == "ProtocolError"
    none = raw.call("handshake", {"versions": ["2.0", "0.9"]}, 2)
    assert none["error"]["code"] == 1008
    assert none["error"]["data"] == {
        "type": "IncompatibleVersionError",
        "driver": "nodefs",
        "offered": ["2.0", "0.9"],
        "chosen": None,
    }
    # The driver answers the highest version at most its own among the majors it implements.
    answer = raw.call("handshake", {"versions": ["2.0", "1.7"]}, 3)
    assert answer["result"]["version"] == "1.1"
    assert answer["result"]["capabilities"]["url_for"] is False
    assert answer["result"]["limits"]["max_chunk_bytes"] == 4 * 1024 * 1024
    assert raw.call("handshake", {"versions": ["1.0"]}, 4)["error"]["code"] == -32002
    assert raw.call("ping", {}, 5) == {"jsonrpc": "2.0", "result": {}, "id": 5}
    assert raw.call("shutdown", {}, 6)["result"] is None
    assert raw.process.wait(10) == 0


def test_bad_frames_are_answered_and_skipped(raw: RawDriver) -> None:
    raw.handshake()
    ping = frame(request("ping", {}, 9))
    cases = [
        (b"Content-Length: abc\r\n\r\n", -32600),
        (b"X-Other: 1\r\n\r\n{}\r\n", -32600),
        (b"x" * 5000 + b"\r\n", -32600),
        (b"Content-Length: 20000000\r\n\r\n" + b"x" * 20_000_000, -32600),
        (frame(b"{not json"), -32700),
        (frame(b"\xff\xfe"), -32700),
        (frame({"jsonrpc": "1.0", "method": "ping", "id": 3}), -32600),
        (frame(b"[]"), -32600),
    ]
    for bad, code in cases:
        raw.write(bad + ping)
        error, _ = raw.receive()
        assert error["id"] is None
        assert error["error"]["code"] == code, (bad[:40], error)
        assert error["error"]["data"]["type"] == "ProtocolError"
        assert raw.receive()[0] == {"jsonrpc": "2.0", "result": {}, "id": 9}


def test_split_and_merged_frames_keep_attachments_binary(raw: RawDriver) -> None:
    raw.handshake()
    content = bytes(range(256)) * 64 + b"\r\n\r\nContent-Length: 3\r\n\r\n"
    data = frame(request("put_content", {"path": "/bin/a"}, 2), content) + frame(request("stat", {"path": "/"}, 3))
    for start in range(0, len(data), 7):  # one frame split across many writes, two frames in one
        raw.write(data[start : start + 7])
    answers = {raw.receive()[0]["id"] for _ in range(2)}
    assert answers == {2, 3}
    raw.write(frame(request("get_content", {"path": "/bin/a"}, 4)))
    answer, attachment = raw.receive()
    assert answer["result"] == {"size": len(content)}
    assert attachment == content


def test_invalid_params_and_paths(raw: RawDriver) -> None:
    raw.handshake()
    assert raw.call("stat", [], 2)["error"]["code"] == -32602
    assert raw.call("stat", {}, 3)["error"]["code"] == -32602
    assert raw.call("stat", {"path": 5}, 9)["error"]["code"] == -32602
    bad = raw.call("stat", {"path": "/a/../b"}, 4)["error"]
    assert bad["code"] == 1002
    assert bad["data"]["path"] == "/a/../b"
    assert raw.call("get_content", {"path": "/"}, 5)["error"]["code"] == 1002
    assert raw.call("nope", {}, 6)["error"]["code"] == -32601
    offset = raw.call("read_stream.open", {"path": "/a", "offset": -1}, 7)["error"]
    assert offset["code"] == 1003
    assert offset["data"]["offset"] == -1
    assert raw.call("url_for", {"path": "/a", "options": {}}, 8)["error"]["data"]["type"] == "UnsupportedMethodError"


def test_stream_window_and_cancel(raw: RawDriver) -> None:
    raw.handshake()
    stream = raw.call("write_stream.open", {"path": "/w", "offset": 0}, 2)["result"]["stream"]
    # Five writes in one go: the fifth is over the window of 4, so the driver cancels the stream.
    raw.write(b"".join(frame(request("stream.write", {"stream": stream}, 10 + i), b"x" * 10) for i in range(5)))
    codes = {}
    for _ in range(5):
        answer, _ = raw.receive()
        codes[answer["id"]] = answer["error"]["code"] if "error" in answer else 0
    assert codes[14] == 1009
    assert set(codes.values()) <= {0, 1007, 1009}
    closed = raw.call("stream.close", {"stream": stream}, 20)["error"]
    assert closed["code"] == 1007
    assert closed["data"]["operation"] == "write_stream"
    assert raw.call("stream.close", {"stream": stream}, 21)["result"] is None  # now unknown: not an error
    size = raw.call("stat", {"path": "/w"}, 22)["result"]["size"]
    assert size == 10 * list(codes.values()).count(0)  # base + the chunks that were written
    read = raw.call("read_stream.open", {"path": "/w", "offset": 0}, 23)["result"]["stream"]
    assert raw.call("stream.cancel", {"stream": read}, 24)["result"] is None
    assert raw.call("stream.read", {"stream": read, "size": 10}, 25)["error"]["code"] == 1009


def test_stream_read_size_outside_the_chunk_limit_is_invalid_params(raw: RawDriver) -> None:
    raw.handshake()
    raw.call("put_content", {"path": "/r"}, 2, b"abc")
    stream = raw.call("read_stream.open", {"path": "/r", "offset": 0}, 3)["result"]["stream"]
    for size, request_id in ((0, 4), (4 * 1024 * 1024 + 1, 5)):
        assert raw.call("stream.read", {"stream": stream, "size": size}, request_id)["error"]["code"] == -32602
    answer = raw.call("stream.read", {"stream": stream, "size": 4 * 1024 * 1024}, 6)
    assert answer["result"] == {"eof": True}


def test_answers_respect_the_client_limits(raw: RawDriver) -> None:
    limits = {"max_message_bytes": 400}
    assert "result" in raw.call("handshake", {"versions": ["1.0"], "limits": limits}, 1)
    for i in range(20):
        assert raw.call("put_content", {"path": f"/many/file-{i:03}"}, 2 + i, b"x")["result"] is None
    too_big = raw.call("walk", {"path": "/"}, 30)["error"]
    assert too_big["code"] == 1009
    assert too_big["data"]["type"] == "ProtocolError"


def test_nothing_is_read_after_shutdown(raw: RawDriver, tmp_path: Path) -> None:
    raw.handshake()
    raw.write(frame(request("shutdown", {}, 2)) + frame(request("put_content", {"path": "/late"}, 3), b"x"))
    assert raw.receive()[0] == {"jsonrpc": "2.0", "result": None, "id": 2}
    assert raw.process.wait(10) == 0
    assert not (tmp_path / "late").exists()


def test_stdin_eof_cancels_write_streams(raw: RawDriver, tmp_path: Path) -> None:
    raw.handshake()
    stream = raw.call("write_stream.open", {"path": "/s", "offset": 0}, 2)["result"]["stream"]
    assert raw.call("stream.write", {"stream": stream}, 3, b"abc")["result"] is None
    status, _ = raw.close()
    assert status == 0
    assert (tmp_path / "s").read_bytes() == b"abc"


def test_parameters_and_usage(tmp_path: Path) -> None:
    def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(EXECUTABLE), *args],
            check=False,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=30,
            env={**os.environ, **(env or {})},
        )

    unknown = run(json.dumps({"rootdirectory": str(tmp_path), "colour": "blue"}))
    assert unknown.returncode == 2
    assert unknown.stdout == ""
    assert unknown.stderr.count("\n") == 1
    prefix = "ERROR registry-storage-nodefs: "
    assert unknown.stderr.startswith(prefix)
    error = json.loads(unknown.stderr[len(prefix) :])
    assert error["code"] == 1006
    assert error["data"]["parameter"] == "colour"
    assert error["data"]["accepted"] == ["rootdirectory"]
    assert run("[1]").returncode == 2
    secrets = tmp_path / "params.json"
    secrets.write_text(json.dumps({"rootdirectory": 5}))
    from_file = run("{}", env={"REGISTRY_STORAGE_PARAMETERS_FILE": str(secrets)})
    assert from_file.returncode == 2
    assert "rootdirectory" in from_file.stderr
    usage = run("--help")
    assert usage.returncode == 0
    assert "usage:" in usage.stdout


def test_terminal_stdin_is_refused(tmp_path: Path) -> None:
    leader, follower = pty.openpty()
    try:
        process = subprocess.run(
            [str(EXECUTABLE), json.dumps({"rootdirectory": str(tmp_path)})],
            check=False,
            stdin=follower,
            capture_output=True,
            text=True,
            timeout=30,
        )
    finally:
        os.close(leader)
        os.close(follower)
    assert process.returncode == 2
    assert "usage:" in process.stderr
    assert process.stdout == ""
