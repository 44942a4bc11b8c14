"""Bad requests and failures on the wire (protocol.md sections 4 and 8): codes, data fields, and the host serving on."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from registry_storage.wire import dumps

from .conftest import Spawn
from .gated_driver import SECRET
from .rawclient import RawClient, driver_command


def assert_protocol_error(reply_error: dict[str, Any], code: int, driver: str = "inmemory") -> str:
    """Check a ProtocolError answer's code and data; returns its reason."""
    assert reply_error["code"] == code, reply_error
    data = reply_error["data"]
    assert set(data) == {"type", "driver", "reason"}, data
    assert data["type"] == "ProtocolError"
    assert data["driver"] == driver
    assert isinstance(data["reason"], str)
    assert data["reason"]
    return str(data["reason"])


def test_unknown_method_gets_32601_and_the_host_keeps_serving(inmemory: RawClient) -> None:
    reply = inmemory.call("no.such.method", {"path": "/a"})
    assert reply.message["id"] is not None
    assert reply.error["message"] == "Method not found"
    assert assert_protocol_error(reply.error, -32601) == "unknown method: no.such.method"
    assert inmemory.call("ping").result == {}


@pytest.mark.parametrize(
    ("method", "params", "reason"),
    [
        ("stat", {}, "missing a required argument: 'path'"),
        ("stat", {"path": 5}, "path must be a string, not a number"),
        ("stat", {"path": None}, "path must be a string, not null"),
        ("get_content", {"path": ["/a"]}, "path must be a string, not an array"),
        ("put_content", {"path": {"a": 1}}, "path must be a string, not an object"),
        ("move", {"source": "/a"}, "missing a required argument: 'destination'"),
        ("move", {"source": "/a", "destination": False}, "destination must be a string, not a boolean"),
        ("url_for", {"path": "/a", "options": []}, "options must be an object, not an array"),
        ("read_stream.open", {"path": "/a"}, "missing a required argument: 'offset'"),
        ("stream.read", {"stream": "1", "size": 10}, "stream must be an integer stream id, not a string"),
        ("stream.read", {"stream": 1, "size": 0}, "size must be an integer from 1 to 4194304, not 0"),
        ("stream.read", {"stream": 1, "size": 4194305}, "size must be an integer from 1 to 4194304"),
        ("stream.read", {"stream": 1, "size": 1.5}, "size must be an integer from 1 to 4194304, not 1.5"),
        ("stream.write", {}, "missing a required argument: 'stream'"),
        ("stat", ["/a"], "params must be an object"),
        ("stat", "/a", "params must be an object"),
    ],
)
def test_bad_params_get_32602(inmemory: RawClient, method: str, params: Any, reason: str) -> None:
    reply = inmemory.call(method, params)
    assert reply.error["message"] == "Invalid params"
    assert reason in assert_protocol_error(reply.error, -32602)
    assert inmemory.call("ping").result == {}


def test_unknown_params_are_ignored(inmemory: RawClient) -> None:
    assert inmemory.call("put_content", {"path": "/a", "future": {"x": 1}}, b"abc").result is None
    assert inmemory.call("stat", {"path": "/a", "follow": True}).result["size"] == 3


def test_missing_params_member_means_an_empty_object(inmemory: RawClient) -> None:
    inmemory.send({"jsonrpc": "2.0", "method": "ping", "id": 99})
    assert inmemory.next_reply().message == {"jsonrpc": "2.0", "result": {}, "id": 99}


@pytest.mark.parametrize("body", [b"{not json", b"", b'{"jsonrpc": "2.0", "method": "ping", "id": 1', b"\xff\xfe"])
def test_invalid_json_gets_32700_with_id_null(inmemory: RawClient, body: bytes) -> None:
    inmemory.send_bytes(b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
    reply = inmemory.next_reply()
    assert reply.message["id"] is None
    assert reply.error["message"] == "Parse error"
    assert "not JSON" in assert_protocol_error(reply.error, -32700)
    assert inmemory.call("ping").result == {}


@pytest.mark.parametrize(
    "message",
    [
        [1, 2],
        [{"jsonrpc": "2.0", "method": "ping", "id": 5}],
        "ping",
        42,
        None,
        {"jsonrpc": "1.0", "method": "ping", "id": 5},
        {"method": "ping", "id": 5},
        {"jsonrpc": "2.0", "method": 5, "id": 5},
        {"jsonrpc": "2.0", "id": 5},
        {"jsonrpc": "2.0", "method": "ping", "id": [5]},
        {"jsonrpc": "2.0", "method": "ping", "id": True},
        {"jsonrpc": "2.0", "result": None, "id": 5},
    ],
)
def test_json_that_is_not_a_request_gets_32600_with_id_null(inmemory: RawClient, message: Any) -> None:
    body = dumps(message)
    inmemory.send_bytes(b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
    reply = inmemory.next_reply()
    assert reply.message["id"] is None
    assert reply.error["message"] == "Invalid request"
    assert "not a JSON-RPC 2.0 request" in assert_protocol_error(reply.error, -32600)
    assert inmemory.call("ping").result == {}


def test_a_notification_gets_no_answer_but_runs(inmemory: RawClient) -> None:
    inmemory.notify("put_content", {"path": "/n"})
    inmemory.notify("no_such_method")
    assert inmemory.call("stat", {"path": "/n"}).result["size"] == 0
    assert inmemory.no_reply()


HOSTILE_PATHS = [
    "",
    "relative/path",
    "/../etc/passwd",
    "/a/../../etc/passwd",
    "/a/./b",
    "/.",
    "/..",
    "/a//b",
    "/a/",
    "//",
    "/a\x00b",
    "/a\\b",
    "/a b",
    "/ä",
    "/a:b",
    "/" + "x" * 256,
    "/a/" + "y" * 256,
]


@pytest.mark.parametrize("driver", ["inmemory", "filesystem"])
def test_hostile_paths_get_1002_before_storage_is_touched(spawn: Spawn, tmp_path: Path, driver: str) -> None:
    root = tmp_path / "store"
    parameters = {"rootdirectory": str(root)} if driver == "filesystem" else {}
    client = spawn(driver_command(driver, parameters))
    client.handshake()
    calls: list[tuple[str, dict[str, Any]]] = []
    for path in HOSTILE_PATHS:
        calls += [
            ("put_content", {"path": path}),
            ("get_content", {"path": path}),
            ("stat", {"path": path}),
            ("list", {"path": path}),
            ("delete", {"path": path}),
            ("write_stream.open", {"path": path, "offset": 0}),
            ("read_stream.open", {"path": path, "offset": 0}),
            ("move", {"source": "/ok", "destination": path}),
            ("move", {"source": path, "destination": "/ok"}),
        ]
    calls += [("put_content", {"path": "/"}), ("get_content", {"path": "/"}), ("delete", {"path": "/"})]
    for method, params in calls:
        error = client.call(method, params, b"escaped").error
        assert error["code"] == 1002, (method, params, error)
        data = error["data"]
        assert set(data) == {"type", "driver", "path", "reason"}
        assert data["type"] == "InvalidPathError"
        assert data["driver"] == driver
        assert data["path"] in params.values()
    assert client.call("list", {"path": "/"}).result == {"paths": []}
    if driver == "filesystem":
        assert [entry.name for entry in tmp_path.iterdir()] == ["store"]
        assert not any(entry.is_file() for entry in root.rglob("*"))


def test_every_driver_error_code_carries_its_fields(gated: RawClient) -> None:
    """One answer per code of protocol.md section 8 that a method can provoke, with exactly its data fields."""
    assert gated.call("put_content", {"path": "/file"}, b"content").result is None
    assert gated.call("put_content", {"path": "/dir/child"}, b"").result is None

    def data_of(method: str, params: dict[str, Any], code: int) -> dict[str, Any]:
        error = gated.call(method, params).error
        assert error["code"] == code, error
        assert isinstance(error["message"], str)
        assert error["message"]
        assert error["data"]["driver"] == "gated"
        return dict(error["data"])

    assert data_of("list", {"path": "/boom"}, -32603) == {"type": "StorageDriverError", "driver": "gated"}
    assert data_of("delete", {"path": "/backend"}, 1000) == {"type": "StorageDriverError", "driver": "gated"}
    assert data_of("stat", {"path": "/missing"}, 1001) == {
        "type": "PathNotFoundError",
        "driver": "gated",
        "path": "/missing",
    }
    assert data_of("get_content", {"path": "/dir"}, 1001)["path"] == "/dir"
    assert data_of("move", {"source": "/gone", "destination": "/x"}, 1001)["path"] == "/gone"
    invalid = data_of("stat", {"path": "/a/../b"}, 1002)
    assert invalid["type"] == "InvalidPathError"
    assert invalid["path"] == "/a/../b"
    assert "'..'" in invalid["reason"]
    assert data_of("read_stream.open", {"path": "/file", "offset": -1}, 1003) == {
        "type": "InvalidOffsetError",
        "driver": "gated",
        "path": "/file",
        "offset": -1,
    }
    assert data_of("write_stream.open", {"path": "/file", "offset": "5"}, 1003)["offset"] == "5"
    assert data_of("read_stream.open", {"path": "/file", "offset": 2.5}, 1003)["offset"] == 2.5
    conflict = data_of("put_content", {"path": "/file/below"}, 1004)
    assert conflict["type"] == "PathConflictError"
    assert conflict["path"] == "/file/below"
    assert conflict["reason"]
    assert data_of("move", {"source": "/dir", "destination": "/elsewhere"}, 1004)["path"] == "/dir"
    assert data_of("write_stream.open", {"path": "/dir", "offset": 0}, 1004)["path"] == "/dir"
    parameter = data_of("url_for", {"path": "/file", "options": {"expiry": 0}}, 1006)
    assert parameter == {
        "type": "InvalidParameterError",
        "driver": "gated",
        "parameter": "expiry",
        "reason": "must be a whole number of seconds from 1",
        "accepted": ["expiry"],
    }
    assert gated.call("url_for", {"path": "/file", "options": {"expiry": 5}}).result == {
        "url": "memory:///file?expiry=5"
    }
    assert data_of("stream.read", {"stream": 99, "size": 10}, 1009) == {
        "type": "ProtocolError",
        "driver": "gated",
        "reason": "unknown stream 99",
    }
    stream = gated.call("write_stream.open", {"path": "/file", "offset": 0}).result["stream"]
    assert gated.call("stream.cancel", {"stream": stream}).result is None
    assert data_of("stream.write", {"stream": stream}, 1009)["reason"] == f"unknown stream {stream}"
    assert gated.call("ping").result == {}


def test_unexpected_failures_do_not_leak_internals(gated: RawClient) -> None:
    reply = gated.call("list", {"path": "/boom"})
    assert reply.error == {
        "code": -32603,
        "message": "Internal error",
        "data": {"type": "StorageDriverError", "driver": "gated"},
    }
    assert SECRET not in str(reply.message)
    gated.close_stdin()
    assert gated.wait() == 0
    stderr = gated.stderr_lines(wait=True)
    assert any("RuntimeError" in line and SECRET in line for line in stderr), stderr
    assert any(line.startswith("ERROR registry_storage.host:   File ") for line in stderr), stderr


def test_url_for_on_a_driver_without_urls_gets_1005(inmemory: RawClient) -> None:
    assert inmemory.call("put_content", {"path": "/a"}, b"x").result is None
    error = inmemory.call("url_for", {"path": "/a"}).error
    assert error["code"] == 1005
    assert error["data"] == {"type": "UnsupportedMethodError", "driver": "inmemory", "method": "url_for"}


def test_content_over_the_clients_attachment_limit_gets_1009(spawn: Spawn) -> None:
    client = spawn(driver_command("inmemory"))
    client.handshake(limits={"max_attachment_bytes": 1000, "max_message_bytes": 400})
    assert client.call("put_content", {"path": "/big"}, b"b" * 1001).result is None
    reason = assert_protocol_error(client.call("get_content", {"path": "/big"}).error, 1009)
    assert "max_attachment_bytes" in reason
    for index in range(20):
        assert client.call("put_content", {"path": f"/dir/entry-with-a-long-name-{index:04}"}, b"").result is None
    reason = assert_protocol_error(client.call("walk", {"path": "/"}).error, 1009)
    assert "max_message_bytes" in reason
    assert client.call("get_content", {"path": "/dir/entry-with-a-long-name-0000"}).attachment == b""
