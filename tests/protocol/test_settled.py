"""Points protocol.md 1.1 settles that 1.0 left open, checked on the Python host byte by byte where observable."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import Spawn
from .rawclient import RawClient, driver_command


@pytest.fixture
def client(spawn: Spawn) -> RawClient:
    started = spawn(driver_command("inmemory"))
    assert started.handshake(["1.1"]).result["version"] == "1.1"
    return started


def test_shutdown_before_a_handshake_is_refused_and_the_driver_keeps_serving(spawn: Spawn) -> None:
    early = spawn(driver_command("inmemory"))
    assert early.call("shutdown", {}).error["code"] == -32002
    assert early.handshake(["1.1"]).result["version"] == "1.1"
    assert early.call("ping", {}).result == {}


@pytest.mark.parametrize("offset", ["5", True, 5.0, 1e2, -1, None, [0]])
def test_an_offset_that_is_not_a_non_negative_integer_is_1003(client: RawClient, offset: Any) -> None:
    client.call("put_content", {"path": "/f"}, b"abc")
    for method in ("read_stream.open", "write_stream.open"):
        error = client.call(method, {"path": "/f", "offset": offset}).error
        assert error["code"] == 1003, error
        assert error["data"]["type"] == "InvalidOffsetError"


def test_minus_zero_is_offset_zero_and_a_missing_offset_is_invalid_params(client: RawClient) -> None:
    client.call("put_content", {"path": "/f"}, b"abc")
    body = b'{"jsonrpc":"2.0","method":"read_stream.open","params":{"path":"/f","offset":-0},"id":90}'
    client.send_bytes(b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
    opened = client.next_reply().message
    assert opened["id"] == 90
    assert "stream" in opened["result"], opened
    assert client.call("read_stream.open", {"path": "/f"}).error["code"] == -32602


def test_params_may_be_omitted_for_ping_and_shutdown(client: RawClient) -> None:
    client.send({"jsonrpc": "2.0", "method": "ping", "id": 91})
    assert client.next_reply().message == {"jsonrpc": "2.0", "result": {}, "id": 91}
    client.send({"jsonrpc": "2.0", "method": "stat", "id": 92})
    assert client.next_reply().message["error"]["code"] == -32602
    client.send({"jsonrpc": "2.0", "method": "shutdown", "id": 93})
    assert client.next_reply().message == {"jsonrpc": "2.0", "result": None, "id": 93}
    assert client.wait() == 0


def test_a_notification_other_than_cancel_is_never_answered(client: RawClient) -> None:
    client.notify("ping", {})
    client.notify("stat", {"path": "/missing"})
    assert client.call("ping", {}).result == {}  # the next frame is this answer, not one to the notifications


def test_after_stream_cancel_the_stream_is_unknown(client: RawClient) -> None:
    client.call("put_content", {"path": "/f"}, b"abcdef")
    stream = client.call("read_stream.open", {"path": "/f", "offset": 0}).result["stream"]
    assert client.call("stream.cancel", {"stream": stream}).result is None
    assert client.call("stream.read", {"stream": stream, "size": 2}).error["code"] == 1009
    assert client.call("stream.close", {"stream": stream}).result is None
    assert client.call("stream.cancel", {"stream": stream}).result is None


def test_a_bad_frame_is_answered_with_a_null_id_even_when_the_id_is_readable(client: RawClient) -> None:
    body = b'{"jsonrpc":"2.0","method":"ping","params":{},"id":94}'
    client.send_bytes(b"Content-Length: %d\r\nContent-Length: %d\r\n\r\n" % (len(body), len(body)) + body)
    reply = client.next_reply().message
    assert (reply["id"], reply["error"]["code"]) == (None, -32600)
    assert client.call("ping", {}).result == {}
