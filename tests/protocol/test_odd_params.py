"""Odd but legal params (protocol.md section 6): unknown members are ignored, whatever their names, and a value of
any shape gets its documented error, never -32603."""

from __future__ import annotations

import pytest

from .rawclient import RawClient, Reply


def nested(depth: int) -> bytes:
    """JSON text of ``depth`` arrays, one inside the other (deeper than a JSON serializer writes)."""
    return b"[" * depth + b"]" * depth


def call_with(client: RawClient, method: str, params: bytes) -> Reply:
    """Call ``method`` with ``params``, the JSON text of an object written by hand."""
    request_id = client.new_id()
    message = b'{"jsonrpc":"2.0","id":%d,"method":"%s","params":%s}' % (request_id, method.encode(), params)
    return client.result(client.start_raw(message, request_id))


@pytest.mark.parametrize("member", ["call", "self", "_", "function", "args", "kwargs"])
def test_unknown_params_are_ignored_whatever_their_name(inmemory: RawClient, member: str) -> None:
    assert inmemory.call("put_content", {"path": "/a", member: 1}, b"abc").result is None
    assert inmemory.call("stat", {"path": "/a", member: 1}).result["size"] == 3
    assert inmemory.call("get_content", {"path": "/a", member: 1}).attachment == b"abc"
    assert inmemory.call("ping", {member: 1}).result == {}


@pytest.mark.parametrize("option", ["options", "call", "method", "expiry"])
def test_url_for_options_of_any_other_name_reach_the_driver(inmemory: RawClient, option: str) -> None:
    assert inmemory.call("put_content", {"path": "/a"}, b"x").result is None
    error = inmemory.call("url_for", {"path": "/a", "options": {option: "/b"}}).error
    assert error["code"] == 1005, error
    assert error["data"] == {"type": "UnsupportedMethodError", "driver": "inmemory", "method": "url_for"}


@pytest.mark.parametrize("option", ["path", "self"])
def test_url_for_options_named_like_its_arguments_get_1006(inmemory: RawClient, option: str) -> None:
    error = inmemory.call("url_for", {"path": "/a", "options": {option: "/b"}}).error
    assert error["code"] == 1006, error
    assert error["data"]["type"] == "InvalidParameterError"
    assert error["data"]["parameter"] == option
    assert inmemory.call("ping").result == {}


@pytest.mark.parametrize("depth", [1, 252, 1000])
def test_a_deeply_nested_offset_gets_1003(inmemory: RawClient, depth: int) -> None:
    error = call_with(inmemory, "read_stream.open", b'{"path":"/a","offset":%s}' % nested(depth)).error
    assert error["code"] == 1003, error
    assert error["data"]["type"] == "InvalidOffsetError"
    assert error["data"]["path"] == "/a"
    assert inmemory.call("ping").result == {}


@pytest.mark.parametrize("depth", [1, 252, 1000])
def test_a_deeply_nested_size_gets_32602(inmemory: RawClient, depth: int) -> None:
    error = call_with(inmemory, "stream.read", b'{"stream":1,"size":%s}' % nested(depth)).error
    assert error["code"] == -32602, error
    assert error["data"]["reason"] == "size must be an integer from 1 to 4194304, not an array"
    assert inmemory.call("ping").result == {}


@pytest.mark.parametrize("depth", [252, 1000])
@pytest.mark.parametrize(("method", "member"), [("stat", "path"), ("stream.close", "stream"), ("move", "source")])
def test_a_deeply_nested_value_anywhere_gets_32602(inmemory: RawClient, depth: int, method: str, member: str) -> None:
    params = b'{"%s":%s,"destination":"/b"}' % (member.encode(), nested(depth))
    error = call_with(inmemory, method, params).error
    assert error["code"] == -32602, error
    assert inmemory.call("ping").result == {}
